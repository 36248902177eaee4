"""Primary and secondary storage through `cs`: pools named after their export,
sizes, tags, enable/disable and maintenance, image stores that make the
built-in templates ready in their zone, staging stores."""

from __future__ import annotations

import uuid
from typing import Any

import cs
import pytest

from cloudplane.actors.kinds.ipranges import name_uuid
from tests.infra.conftest import api_error, db, nfs_url, recorded, shape, unique

pytestmark = pytest.mark.ray
TiB = 2**40


def test_cluster_pool_round_trip(api: cs.CloudStack, zone: dict[str, Any], pod: dict[str, Any],
                                 cluster: dict[str, Any]) -> None:
    url = nfs_url()
    host, path = "10.147.28.6", url.split(":", 2)[2]
    name = unique("ps")
    sp = api.createStoragePool(zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"], name=name, url=url,
                               tags="ssd,fast")["storagepool"]
    shape(recorded("PoolService", "createStoragePool", "storagepool"), sp)
    assert sp["id"] == name_uuid(host + path)  # CloudStack names an NFS pool after its export
    assert (sp["ipaddress"], sp["path"], sp["type"], sp["scope"], sp["state"]) == (
        host, path, "NetworkFilesystem", "CLUSTER", "Up")
    assert (sp["clusterid"], sp["podid"], sp["zoneid"], sp["hypervisor"]) == (
        cluster["id"], pod["id"], zone["id"], "Simulator")
    assert (sp["disksizetotal"], sp["disksizeallocated"], sp["disksizeused"]) == (TiB, 0, 0)
    assert sp["tags"] == "ssd,fast" and sp["overprovisionfactor"] == "2.0"
    listed = api.listStoragePools(id=sp["id"])["storagepool"][0]
    shape(recorded("PoolService", "listStoragePools", "storagepool"), listed)
    assert listed == sp
    assert api.listStoragePools(clusterid=cluster["id"], scope="cluster")["count"] == 1
    assert api.listStoragePools(ipaddress=host, path=path)["storagepool"][0]["id"] == sp["id"]
    tags = [t for t in api.listStorageTags(keyword="fast")["storagetag"] if t["name"] == "fast"]
    assert tags and set(tags[0]) == {"id", "name", "poolid"}
    # The same export cannot be added twice while the first pool is there.
    err = api_error(api.createStoragePool, zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"],
                    name=unique("ps"), url=url)
    assert err["errorcode"] == 530 and err["errortext"] == "Another active pool with the same uuid already exists"
    assert api.deleteStoragePool(id=sp["id"]) == {"success": True}
    assert api.listStoragePools(id=sp["id"]) == {}
    again = api.createStoragePool(zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"], name=name, url=url)
    assert again["storagepool"]["id"] != sp["id"]  # a removed pool's id is not reused


def test_pool_size_update_and_enable(api: cs.CloudStack, zone: dict[str, Any], pod: dict[str, Any],
                                     cluster: dict[str, Any]) -> None:
    sp = api.createStoragePool(zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"], name=unique("ps"),
                               url=nfs_url(), capacitybytes=5 * 2**30)["storagepool"]
    assert sp["disksizetotal"] == 5 * 2**30
    sp = api.updateStoragePool(id=sp["id"], capacitybytes=10 * 2**30, tags="gold")["storagepool"]
    assert (sp["disksizetotal"], sp["tags"]) == (10 * 2**30, "gold")
    sp = api.updateStoragePool(id=sp["id"], enabled=False)["storagepool"]
    assert sp["state"] == "Disabled"
    sp = api.updateStoragePool(id=sp["id"], enabled=True, tags="")["storagepool"]
    assert sp["state"] == "Up" and "tags" not in sp
    err = api_error(api.updateStoragePool, id=sp["id"], capacitybytes=0)
    assert err["errorcode"] == 431


def test_storage_maintenance_is_async(api: cs.CloudStack, zone: dict[str, Any], pod: dict[str, Any],
                                      cluster: dict[str, Any]) -> None:
    sp = api.createStoragePool(zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"], name=unique("ps"),
                               url=nfs_url())["storagepool"]
    raw = api.enableStorageMaintenance(id=sp["id"], fetch_result=False)
    assert set(raw) == {"jobid"}
    done = api.queryAsyncJobResult(jobid=raw["jobid"], fetch_result=False)
    while done["jobstatus"] == 0:
        done = api.queryAsyncJobResult(jobid=raw["jobid"], fetch_result=False)
    assert done["jobinstancetype"] == "StoragePool" and done["jobinstanceid"] == sp["id"]
    got = done["jobresult"]["storagepool"]
    shape(recorded("StoragePoolService", "enableStorageMaintenance", "storagepool"), got)
    assert got["state"] == "Maintenance"
    err = api_error(api.updateStoragePool, id=sp["id"], enabled=False)
    assert err["errorcode"] == 431
    assert api.cancelStorageMaintenance(id=sp["id"])["storagepool"]["state"] == "Up"
    err = api_error(api.cancelStorageMaintenance, id=sp["id"])
    assert err["errorcode"] == 431
    assert err["errortext"] == (f"Primary storage with id {sp['id']} is not ready to complete migration, as the "
                                "status is:Up")


def test_zone_wide_pool(api: cs.CloudStack, zone: dict[str, Any]) -> None:
    err = api_error(api.createStoragePool, zoneid=zone["id"], scope="zone", name=unique("zps"), url=nfs_url())
    assert err["errorcode"] == 431 and err["errortext"] == "hypervisor type can't be null, if scope is zone"
    sp = api.createStoragePool(zoneid=zone["id"], scope="zone", hypervisor="KVM", name=unique("zps"),
                               url=nfs_url())["storagepool"]
    assert (sp["scope"], sp["hypervisor"]) == ("ZONE", "KVM") and "clusterid" not in sp
    assert api.listStoragePools(zoneid=zone["id"], scope="ZONE")["storagepool"][0]["id"] == sp["id"]


def test_bad_pool_input(api: cs.CloudStack, live_server: Any, zone: dict[str, Any], pod: dict[str, Any],
                        cluster: dict[str, Any]) -> None:
    name = unique("ps")
    err = api_error(api.createStoragePool, zoneid=zone["id"], podid=pod["id"], name=name, url=nfs_url())
    assert err["errortext"] == "cluster id can't be null, if scope is cluster"
    err = api_error(api.createStoragePool, zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"], name=name,
                    url="ftp://10.1.1.1/export")
    assert err["errorcode"] == 431 and "not supported" in err["errortext"]
    err = api_error(api.createStoragePool, zoneid=zone["id"], podid=pod["id"], clusterid=str(uuid.uuid4()),
                    name=name, url=nfs_url())
    assert err["errorcode"] == 431 and "clusterid value=" in err["errortext"]
    with db(live_server) as conn:
        assert conn.execute("SELECT count(*) FROM storage_pool WHERE name = ?", (name,)).fetchone()[0] == 0


def test_image_store_makes_builtin_templates_ready(api: cs.CloudStack, live_server: Any,
                                                   zone: dict[str, Any]) -> None:
    url = f"nfs://10.147.28.6:/export/home/sandbox/{unique('sec')}"
    s = api.addImageStore(zoneid=zone["id"], url=url, provider="NFS")["imagestore"]
    shape(recorded("ImageStoreService", "addImageStore", "imagestore"), s)
    assert (s["name"], s["url"], s["protocol"], s["providername"], s["scope"], s["readonly"]) == (
        url, url, "nfs", "NFS", "ZONE", False)
    assert (s["zoneid"], s["zonename"]) == (zone["id"], zone["name"])
    listed = api.listImageStores(zoneid=zone["id"])
    assert listed["count"] == 1 and listed["imagestore"][0] == s
    shape(recorded("ImageStoreService", "listImageStores", "imagestore"), listed["imagestore"][0])
    with db(live_server) as conn:
        ready = dict(conn.execute(
            "SELECT t.name, tz.download_state FROM template_zone tz JOIN template t ON tz.template_id = t.id "
            "JOIN zone z ON tz.zone_id = z.id WHERE z.uuid = ?", (zone["id"],)).fetchall())
    assert ready == {"SystemVM Template (simulator)": "DOWNLOADED",
                     "CentOS 5.6 (64-bit) no GUI (Simulator)": "DOWNLOADED"}
    err = api_error(api.deleteZone, id=zone["id"])
    assert err["errortext"] == "The zone cannot be deleted because there are Secondary storages in this zone"
    assert api.deleteImageStore(id=s["id"]) == {"success": True}
    assert api.listImageStores(zoneid=zone["id"]) == {}
    assert api.deleteZone(id=zone["id"])["success"] is True


def test_staging_store_and_bad_store_input(api: cs.CloudStack, zone: dict[str, Any]) -> None:
    url = f"nfs://10.147.28.6:/export/home/sandbox/{unique('cache')}"
    s = api.createSecondaryStagingStore(zoneid=zone["id"], url=url)["secondarystorage"]
    assert (s["url"], s["providername"], s["scope"]) == (url, "NFS", "ZONE")
    assert api.listSecondaryStagingStores(zoneid=zone["id"])["imagestore"][0]["id"] == s["id"]
    assert api.listImageStores(zoneid=zone["id"]) == {}  # a staging store is no image store
    assert api.deleteSecondaryStagingStore(id=s["id"]) == {"success": True}
    err = api_error(api.addImageStore, zoneid=zone["id"], url=url, provider="Floppy")
    assert err["errorcode"] == 431
    err = api_error(api.addImageStore, url=url, provider="NFS")
    assert err["errorcode"] == 431
