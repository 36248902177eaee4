"""advdualzone.cfg (what CloudStack's CI deploys on its simulator) replayed in
the order Marvin's deployDataCenter issues its calls: per zone createZone;
createPhysicalNetwork + addTrafficType per traffic type; per provider the
element configured and the provider enabled; updatePhysicalNetwork Enabled
with the VLAN range; createPod; addCluster; createStoragePool per primary
storage; createVlanIpRange for the public ranges; addImageStore; updateZone
Enabled. Hosts are left out (addHost is not this module's), so enabling a zone
starts no system VM.

Names get a unique suffix and storage exports a unique leaf, so the replay
shares nothing with other tests; addresses are the config's own.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import cs
import pytest

from tests.infra.conftest import DATACENTERS, db

pytestmark = pytest.mark.ray


def load_cfg(name: str) -> dict[str, Any]:
    text = "\n".join(line for line in (DATACENTERS / name).read_text().splitlines()
                     if not line.lstrip().startswith("#"))
    return dict(json.loads(text))


def configure_providers(api: cs.CloudStack, pn_id: str, providers: list[dict[str, Any]]) -> None:
    for prov in providers:
        found = api.listNetworkServiceProviders(physicalnetworkid=pn_id, state="Disabled", name=prov["name"])
        nsp = found["networkserviceprovider"][0]
        if prov["name"] in ("VirtualRouter", "VpcVirtualRouter"):
            el = api.listVirtualRouterElements(nspid=nsp["id"])["virtualrouterelement"][0]
            api.configureVirtualRouterElement(id=el["id"], enabled="true")
        elif prov["name"] == "InternalLbVm":
            el = api.listInternalLoadBalancerElements(nspid=nsp["id"])["internalloadbalancerelement"][0]
            api.configureInternalLoadBalancerElement(id=el["id"], enabled="true")
        api.updateNetworkServiceProvider(id=nsp["id"], state="Enabled")


def deploy(api: cs.CloudStack, cfg: dict[str, Any], suffix: str) -> dict[str, Any]:
    made: dict[str, Any] = {"zones": []}
    for z in cfg["zones"]:
        zone = api.createZone(name=f"{z['name']}-{suffix}", dns1=z["dns1"], internaldns1=z["internaldns1"],
                              networktype=z["networktype"], guestcidraddress=z["guestcidraddress"])["zone"]
        rec: dict[str, Any] = {"zone": zone, "physnets": [], "pods": [], "clusters": [], "pools": [], "ranges": [],
                               "stores": []}
        for pnet in z["physical_networks"]:
            pn = api.createPhysicalNetwork(zoneid=zone["id"], name=f"{pnet['name']}-{suffix}",
                                           isolationmethods=pnet["isolationmethods"])["physicalnetwork"]
            for tt in pnet["traffictypes"]:
                api.addTrafficType(physicalnetworkid=pn["id"], traffictype=tt["typ"])
            configure_providers(api, pn["id"], pnet["providers"])
            pn = api.updatePhysicalNetwork(id=pn["id"], state="Enabled", vlan=pnet["vlan"])["physicalnetwork"]
            rec["physnets"].append(pn)
        for p in z["pods"]:
            pod = api.createPod(zoneid=zone["id"], name=f"{p['name']}-{suffix}", gateway=p["gateway"],
                                netmask=p["netmask"], startip=p["startip"], endip=p["endip"])["pod"]
            rec["pods"].append(pod)
            for c in p["clusters"]:
                cl = api.addCluster(zoneid=zone["id"], podid=pod["id"], clustername=f"{c['clustername']}-{suffix}",
                                    clustertype=c["clustertype"], hypervisor=c["hypervisor"])["cluster"][0]
                rec["clusters"].append(cl)
                for ps in c["primaryStorages"]:
                    rec["pools"].append(api.createStoragePool(
                        zoneid=zone["id"], podid=pod["id"], clusterid=cl["id"], name=f"{ps['name']}-{suffix}",
                        url=f"{ps['url']}-{suffix}")["storagepool"])
        for r in z["ipranges"]:
            rec["ranges"].append(api.createVlanIpRange(
                zoneid=zone["id"], vlan=r["vlan"], gateway=r["gateway"], netmask=r["netmask"], startip=r["startip"],
                endip=r["endip"], forvirtualnetwork="true")["vlan"])
        for s in z["secondaryStorages"]:
            rec["stores"].append(api.addImageStore(zoneid=zone["id"], provider=s["provider"],
                                                   url=f"{s['url']}-{suffix}")["imagestore"])
        rec["zone"] = api.updateZone(id=zone["id"], allocationstate="Enabled")["zone"]
        made["zones"].append(rec)
    return made


def test_advdualzone_replay(api: cs.CloudStack, live_server: Any) -> None:
    cfg = load_cfg("advdualzone.cfg")
    suffix = uuid.uuid4().hex[:8]
    made = deploy(api, cfg, suffix)
    assert len(made["zones"]) == 2
    for z, rec in zip(cfg["zones"], made["zones"]):
        zone = rec["zone"]
        assert (zone["name"], zone["allocationstate"], zone["networktype"]) == (
            f"{z['name']}-{suffix}", "Enabled", "Advanced")
        assert (zone["dns1"], zone["internaldns1"], zone["guestcidraddress"]) == (
            z["dns1"], z["internaldns1"], z["guestcidraddress"])
        pn = api.listPhysicalNetworks(zoneid=zone["id"])["physicalnetwork"]
        assert len(pn) == 1 and (pn[0]["state"], pn[0]["vlan"]) == ("Enabled", z["physical_networks"][0]["vlan"])
        enabled = {p["name"] for p in api.listNetworkServiceProviders(physicalnetworkid=pn[0]["id"],
                                                                      state="Enabled")["networkserviceprovider"]}
        assert {"VirtualRouter", "VpcVirtualRouter", "InternalLbVm"} <= enabled
        types = {t["traffictype"] for t in api.listTrafficTypes(physicalnetworkid=pn[0]["id"])["traffictype"]}
        assert types == {"Guest", "Management", "Public", "Storage"}  # Storage follows Management on enabling
        pods = api.listPods(zoneid=zone["id"])["pod"]
        assert [(p["name"], p["startip"], p["endip"]) for p in pods] == [
            (f"{p['name']}-{suffix}", [p["startip"]], [p["endip"]]) for p in z["pods"]]
        clusters = api.listClusters(zoneid=zone["id"])["cluster"]
        assert sorted(c["name"] for c in clusters) == sorted(
            f"{c['clustername']}-{suffix}" for p in z["pods"] for c in p["clusters"])
        assert all(c["hypervisortype"] == "Simulator" for c in clusters)
        pools = api.listStoragePools(zoneid=zone["id"])["storagepool"]
        assert len(pools) == 4 and all(p["state"] == "Up" and p["type"] == "NetworkFilesystem" for p in pools)
        ranges = api.listVlanIpRanges(zoneid=zone["id"])["vlaniprange"]
        r = z["ipranges"][0]
        assert [(x["vlan"], x["startip"], x["endip"]) for x in ranges] == [
            (f"vlan://{r['vlan']}", r["startip"], r["endip"])]
        assert api.listImageStores(zoneid=zone["id"])["count"] == 1
        caps = {c["type"]: c["capacitytotal"] for c in api.listCapacity(zoneid=zone["id"])["capacity"]}
        assert caps[2] == 4 * 2**40 and caps[4] == 199 and caps[5] == 199
    with db(live_server) as conn:  # both zones have the built-in templates ready
        for rec in made["zones"]:
            n = conn.execute("SELECT count(*) FROM template_zone tz JOIN zone z ON tz.zone_id = z.id "
                             "WHERE z.uuid = ? AND tz.download_state = 'DOWNLOADED'", (rec["zone"]["id"],)).fetchone()
            assert n[0] == 2


def test_replayed_zone_tears_down_in_reverse(api: cs.CloudStack) -> None:
    cfg = load_cfg("advdualzone.cfg")
    cfg["zones"] = cfg["zones"][:1]
    rec = deploy(api, cfg, uuid.uuid4().hex[:8])["zones"][0]
    zid = rec["zone"]["id"]
    api.updateZone(id=zid, allocationstate="Disabled")
    for p in rec["pools"]:
        api.deleteStoragePool(id=p["id"])
    for c in rec["clusters"]:
        api.deleteCluster(id=c["id"])
    for p in rec["pods"]:
        api.deletePod(id=p["id"])
    for r in rec["ranges"]:
        api.deleteVlanIpRange(id=r["id"])
    for s in rec["stores"]:
        api.deleteImageStore(id=s["id"])
    for pn in rec["physnets"]:
        api.deletePhysicalNetwork(id=pn["id"])
    assert api.deleteZone(id=zid) == {"success": True}
    assert api.listZones(id=zid) == {}
    assert zid not in {c["zoneid"] for c in api.listCapacity().get("capacity", [])}
