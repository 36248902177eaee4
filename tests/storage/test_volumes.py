"""Volumes through a live server with `cs`: a VM's ROOT volume listed, data
volumes created, attached, resized, migrated, detached, destroyed, recovered
and deleted; what CloudStack refuses is refused with a clear error and
nothing changed; pool allocation always equals the volumes on each pool."""

from __future__ import annotations

from typing import Any

import cs
import pytest

from tests.storage.conftest import GiB, custom_offering, deploy, fixed_offering, pools_match_volumes, rows
from tests.vms.conftest import Cloud, Tenant, api_error, unique

pytestmark = pytest.mark.ray


def _host_in(cloud: Cloud, cluster: str) -> dict[str, Any]:
    return next(h for h in cloud.hosts if h["clusterid"] == cluster)


def _volume(api: cs.CloudStack, uuid: str) -> dict[str, Any]:
    return dict(api.listVolumes(id=uuid)["volume"][0])


def test_list_volumes_shows_a_vm_root_volume(live_server: Any, root: cs.CloudStack, cloud: Cloud) -> None:
    vm = deploy(root, cloud)
    vols = root.listVolumes(virtualmachineid=vm["id"])["volume"]
    assert [v["type"] for v in vols] == ["ROOT"]
    v = vols[0]
    assert v["state"] == "Ready" and v["deviceid"] == 0 and v["vmname"] == vm["name"] and v["vmstate"] == "Running"
    assert v["storageid"] in cloud.pools and v["zoneid"] == cloud.zone and v["size"] > 0
    assert v["templateid"] == cloud.template and v["serviceofferingid"] == cloud.offering
    # the filters find it (and only what they should)
    assert [x["id"] for x in root.listVolumes(type="ROOT", id=v["id"])["volume"]] == [v["id"]]
    assert root.listVolumes(type="DATADISK", id=v["id"]) == {}
    assert v["id"] in {x["id"] for x in root.listVolumes(storageid=v["storageid"], listall=True)["volume"]}
    assert v["id"] in {x["id"] for x in root.listVolumes(keyword=v["name"][:6], listall=True)["volume"]}
    assert root.listVolumes(ids=[v["id"]])["count"] == 1
    assert root.listVolumes(name=v["name"], zoneid=cloud.zone)["volume"][0]["id"] == v["id"]
    pools_match_volumes(live_server)


def test_data_volume_lifecycle(live_server: Any, root: cs.CloudStack, cloud: Cloud) -> None:
    c1, c2 = cloud.clusters[0], cloud.clusters[1]
    vm = deploy(root, cloud, host=_host_in(cloud, c1))
    other = deploy(root, cloud, host=_host_in(cloud, c2))
    vol = root.createVolume(name=unique("data"), zoneid=cloud.zone, diskofferingid=custom_offering(root), size=2)
    vol = vol["volume"]
    assert vol["state"] == "Allocated" and vol["size"] == 2 * GiB and "virtualmachineid" not in vol

    att = root.attachVolume(id=vol["id"], virtualmachineid=vm["id"])["volume"]
    assert att["virtualmachineid"] == vm["id"] and att["deviceid"] == 1 and att["state"] == "Ready"
    root_pool = root.listVolumes(virtualmachineid=vm["id"], type="ROOT")["volume"][0]["storageid"]
    assert att["storageid"] == root_pool  # next to the VM's ROOT volume
    before = pools_match_volumes(live_server)

    # refused, and nothing changed
    err = api_error(root.deleteVolume, id=vol["id"])
    assert err["errorcode"] == 431 and "attached" in err["errortext"]
    err = api_error(root.resizeVolume, id=vol["id"], size=1)
    assert err["errorcode"] == 431 and "shrinkok" in err["errortext"]
    root_vol = root.listVolumes(virtualmachineid=vm["id"], type="ROOT")["volume"][0]
    err = api_error(root.detachVolume, id=root_vol["id"])
    assert err["errorcode"] == 431 and "ROOT" in err["errortext"]
    err = api_error(root.attachVolume, id=vol["id"], virtualmachineid=other["id"])
    assert err["errorcode"] == 431 and "already attached" in err["errortext"]
    assert pools_match_volumes(live_server) == before

    # grow, then shrink with sign-off: the pool's allocation follows
    assert root.resizeVolume(id=vol["id"], size=5)["volume"]["size"] == 5 * GiB
    pools_match_volumes(live_server)
    assert root.resizeVolume(id=vol["id"], size=3, shrinkok=True)["volume"]["size"] == 3 * GiB
    pools_match_volumes(live_server)

    det = root.detachVolume(id=vol["id"])["volume"]
    assert "virtualmachineid" not in det and det["state"] == "Ready" and det["storageid"] == root_pool

    # a volume on cluster 1's storage cannot join a VM of cluster 2
    err = api_error(root.attachVolume, id=vol["id"], virtualmachineid=other["id"])
    assert err["errorcode"] == 431 and "another cluster" in err["errortext"], err
    assert "virtualmachineid" not in _volume(root, vol["id"])

    # detached, it moves to cluster 2's pool and may join that VM (device id asked for)
    pool2 = next(p for p in cloud.pools if p != root_pool)
    assert root.migrateVolume(volumeid=vol["id"], storageid=pool2)["volume"]["storageid"] == pool2
    pools_match_volumes(live_server)
    att = root.attachVolume(id=vol["id"], virtualmachineid=other["id"], deviceid=4)["volume"]
    assert att["deviceid"] == 4 and att["virtualmachineid"] == other["id"]
    root.detachVolume(virtualmachineid=other["id"], deviceid=4)

    # destroy, recover, destroy for good
    assert root.destroyVolume(id=vol["id"])["volume"]["state"] == "Destroy"
    assert root.recoverVolume(id=vol["id"])["volume"]["state"] == "Ready"
    root.destroyVolume(id=vol["id"], expunge=True)
    assert root.listVolumes(id=vol["id"]) == {}
    pools_match_volumes(live_server)


def test_attached_volume_migrates_between_pools_of_its_cluster(live_server: Any, root: cs.CloudStack,
                                                             cloud: Cloud) -> None:
    c1 = cloud.clusters[0]
    cluster = root.listClusters(id=c1)["cluster"][0]
    extra = root.createStoragePool(zoneid=cloud.zone, podid=cluster["podid"], clusterid=c1, name=unique("pool"),
                                   url=f"nfs://192.0.2.10/export/{unique('p')}", scope="cluster")["storagepool"]
    vm = deploy(root, cloud, host=_host_in(cloud, c1))
    vol = root.createVolume(name=unique("data"), zoneid=cloud.zone, diskofferingid=fixed_offering(root)["id"],
                            virtualmachineid=vm["id"])["volume"]
    assert vol["virtualmachineid"] == vm["id"]
    c1_pools = {p["id"] for p in root.listStoragePools(clusterid=c1)["storagepool"]}
    assert extra["id"] in c1_pools and vol["storageid"] in c1_pools
    dst = next(p for p in c1_pools if p != vol["storageid"])
    err = api_error(root.migrateVolume, volumeid=vol["id"], storageid=dst)
    assert err["errorcode"] == 431 and "livemigrate" in err["errortext"]
    moved = root.migrateVolume(volumeid=vol["id"], storageid=dst, livemigrate=True)["volume"]
    assert moved["storageid"] == dst and moved["virtualmachineid"] == vm["id"]
    other_cluster_pool = next(p for p in cloud.pools if p not in c1_pools)
    err = api_error(root.migrateVolume, volumeid=vol["id"], storageid=other_cluster_pool, livemigrate=True)
    assert err["errorcode"] == 431 and "another cluster" in err["errortext"]
    pools_match_volumes(live_server)


def test_bad_volume_requests_leave_nothing(live_server: Any, root: cs.CloudStack, cloud: Cloud) -> None:
    live = "SELECT id FROM volume WHERE removed IS NULL"
    n = len(rows(live_server, live))
    assert api_error(root.createVolume, name="x", zoneid=cloud.zone)["errorcode"] == 431  # no offering
    err = api_error(root.createVolume, name="x", zoneid=cloud.zone, diskofferingid=custom_offering(root))
    assert err["errorcode"] == 431 and "size" in err["errortext"]
    vm = deploy(root, cloud)
    root.destroyVirtualMachine(id=vm["id"])  # a Destroyed VM takes no volume: the new one must not stay
    err = api_error(root.createVolume, name="x", zoneid=cloud.zone, diskofferingid=fixed_offering(root)["id"],
                    virtualmachineid=vm["id"])
    assert err["errorcode"] == 431 and "Destroyed" in err["errortext"]
    assert len(rows(live_server, live)) == n + 1  # only the VM's ROOT volume
    pools_match_volumes(live_server)


def test_users_cannot_touch_other_accounts_volumes(live_server: Any, root: cs.CloudStack, cloud: Cloud,
                                                   tenant: Any) -> None:
    alice: Tenant = tenant()
    bob: Tenant = tenant()
    vol = alice.api.createVolume(name=unique("a"), zoneid=cloud.zone, diskofferingid=fixed_offering(root)["id"])
    vid = vol["volume"]["id"]
    assert [v["id"] for v in alice.api.listVolumes()["volume"]] == [vid]
    assert bob.api.listVolumes() == {}
    assert bob.api.listVolumes(id=vid) == {}
    for fn, args in ((bob.api.createSnapshot, {"volumeid": vid}), (bob.api.deleteVolume, {"id": vid}),
                     (bob.api.resizeVolume, {"id": vid, "size": 9})):
        assert api_error(fn, **args)["errorcode"] == 432
    assert _volume(alice.api, vid)["state"] == "Allocated"
