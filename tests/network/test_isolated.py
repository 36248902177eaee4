"""Isolated guest networks on a live server, through the `cs` client: the
account's default network and its router on the first deploy, VLANs claimed
on implementation and given back by network GC, guest addresses (explicit,
duplicate, exhausted, concurrent), restart and delete."""

from __future__ import annotations

import ipaddress
import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import cs
import pytest

from tests.live import LiveServer
from tests.network.conftest import Tenant, Zone, eventually, fails, unique

pytestmark = pytest.mark.ray
ISOLATED = "DefaultIsolatedNetworkOfferingWithSourceNatService"


def offering(api: cs.CloudStack, name: str) -> str:
    return str(api.listNetworkOfferings(name=name)["networkoffering"][0]["id"])


def new_network(t: Tenant, zone: Zone, offering_name: str = ISOLATED, **params: Any) -> dict[str, Any]:
    name = unique("net")
    return dict(t.api.createNetwork(zoneid=zone.id, name=name, displaytext=name,
                                    networkofferingid=offering(t.api, offering_name), **params)["network"])


def as_admin(root: cs.CloudStack, network_id: str) -> dict[str, Any]:
    """The network as the root admin sees it (with its VLAN)."""
    return dict(root.listNetworks(id=network_id, listall=True)["network"][0])


def routers(root: cs.CloudStack, network_id: str) -> list[dict[str, Any]]:
    return list(root.listRouters(networkid=network_id, listall=True).get("router", []))


def vnet_claims(server: LiveServer, vlan: int, network_id: str) -> int:
    """Claims of `vlan` on the network's physical network (other zones of the session's
    server have VLANs of the same numbers on theirs)."""
    path = server.db_url.split("///", 1)[1]
    with sqlite3.connect(path, timeout=30) as conn:
        return int(conn.execute(
            "SELECT count(*) FROM guest_vnet WHERE vnet = ? AND physical_network_id = "
            "(SELECT physical_network_id FROM network WHERE uuid = ?)", (vlan, network_id)).fetchone()[0])


def test_first_deploy_creates_the_default_network_and_its_router(root: cs.CloudStack, adv: Zone,
                                                                   tenant: Tenant) -> None:
    vm = tenant.deploy(adv)
    assert vm["state"] == "Running"
    (net,) = tenant.api.listNetworks(type="Isolated")["network"]
    assert (net["type"], net["state"], net["account"], net["cidr"]) == ("Isolated", "Implemented", tenant.name,
                                                                        "10.1.1.0/24")
    assert "vlan" not in net and "broadcasturi" not in net  # a user does not see the VLAN
    seen = as_admin(root, net["id"])
    vlan = int(seen["vlan"])
    assert 100 <= vlan <= 199 and seen["broadcasturi"] == f"vlan://{vlan}"
    (nic,) = vm["nic"]
    assert nic["networkid"] == net["id"] and nic["broadcasturi"] == f"vlan://{vlan}"
    assert ipaddress.IPv4Address(nic["ipaddress"]) in ipaddress.IPv4Network(net["cidr"])
    assert nic["ipaddress"] != net["gateway"]
    (r,) = routers(root, net["id"])
    assert r["state"] == "Running" and re.fullmatch(r"r-\d+-VM", r["name"]) and r["account"] == tenant.name
    assert r["guestipaddress"] == net["gateway"] and r["guestnetworkid"] == net["id"]
    assert r["linklocalip"].startswith("169.254.") and r["publicip"].startswith("198.51.100.")
    (ip,) = tenant.api.listPublicIpAddresses()["publicipaddress"]
    assert (ip["ipaddress"], ip["issourcenat"], ip["associatednetworkid"], ip["state"]) == (
        r["publicip"], True, net["id"], "Allocated")
    # The next deploy uses the same network and router.
    vm2 = tenant.deploy(adv)
    assert vm2["nic"][0]["networkid"] == net["id"] and vm2["nic"][0]["ipaddress"] != nic["ipaddress"]
    assert [x["id"] for x in routers(root, net["id"])] == [r["id"]]
    assert len(tenant.api.listNetworks(type="Isolated")["network"]) == 1


def test_vlan_is_claimed_on_implement_and_released_by_gc(root: cs.CloudStack, adv: Zone, tenant: Tenant,
                                                         live_server: LiveServer, short_gc: None) -> None:
    net = new_network(tenant, adv)
    assert net["state"] == "Allocated" and "broadcasturi" not in as_admin(root, net["id"])
    vm = tenant.deploy(adv, networkids=net["id"])
    seen = as_admin(root, net["id"])
    vlan = int(seen["vlan"])
    assert seen["state"] == "Implemented" and vnet_claims(live_server, vlan, net["id"]) == 1
    tenant.api.stopVirtualMachine(id=vm["id"])
    shut = eventually(lambda: (n := as_admin(root, net["id"]))["state"] == "Allocated" and n, timeout=30)
    assert shut and "vlan" not in shut and "broadcasturi" not in shut, as_admin(root, net["id"])
    assert vnet_claims(live_server, vlan, net["id"]) == 0
    assert [x["state"] for x in routers(root, net["id"])] == ["Stopped"]
    # Started again: implemented again (a VLAN, maybe another one) and the same router running.
    vm = dict(tenant.api.startVirtualMachine(id=vm["id"])["virtualmachine"])
    seen = as_admin(root, net["id"])
    assert seen["state"] == "Implemented" and vm["nic"][0]["broadcasturi"] == f"vlan://{seen['vlan']}"
    assert [x["state"] for x in routers(root, net["id"])] == ["Running"]


def test_explicit_duplicate_and_exhausted_addresses(root: cs.CloudStack, adv: Zone, tenant: Tenant) -> None:
    net = new_network(tenant, adv, gateway="10.3.0.1", netmask="255.255.255.248")  # .2 to .6 for VMs
    assert (net["cidr"], net["gateway"]) == ("10.3.0.0/29", "10.3.0.1")
    vm = tenant.deploy(adv, networkids=net["id"], ipaddress="10.3.0.5", startvm=False)
    assert vm["nic"][0]["ipaddress"] == "10.3.0.5"
    fails(431, tenant.deploy, zone=adv, networkids=net["id"], ipaddress="10.3.0.5", startvm=False)
    for bad in ("10.3.0.1", "10.3.0.7", "10.3.0.9", "not-an-ip"):
        fails(431, tenant.deploy, zone=adv, networkids=net["id"], ipaddress=bad, startvm=False)
    got = {tenant.deploy(adv, networkids=net["id"], startvm=False)["nic"][0]["ipaddress"] for _ in range(4)}
    assert got == {"10.3.0.2", "10.3.0.3", "10.3.0.4", "10.3.0.6"}
    fails(533, tenant.deploy, zone=adv, networkids=net["id"], startvm=False)
    # Nothing half-created: only the five VMs exist.
    assert tenant.api.listVirtualMachines(networkid=net["id"])["count"] == 5


def test_concurrent_deploys_in_one_network_get_distinct_addresses(root: cs.CloudStack, adv: Zone,
                                                                  tenant: Tenant) -> None:
    net = new_network(tenant, adv)
    with ThreadPoolExecutor(8) as pool:
        vms = list(pool.map(lambda _: tenant.deploy(adv, networkids=net["id"]), range(8)))
    assert {v["state"] for v in vms} == {"Running"}
    addresses = [v["nic"][0]["ipaddress"] for v in vms]
    assert len(set(addresses)) == 8 and net["gateway"] not in addresses
    assert len(routers(root, net["id"])) == 1


def test_networks_implemented_at_once_get_distinct_vlans(root: cs.CloudStack, adv: Zone, tenant: Tenant) -> None:
    nets = [new_network(tenant, adv) for _ in range(4)]
    with ThreadPoolExecutor(4) as pool:
        vms = list(pool.map(lambda n: tenant.deploy(adv, networkids=n["id"]), nets))
    assert {v["state"] for v in vms} == {"Running"}
    vlans = [as_admin(root, n["id"])["vlan"] for n in nets]
    assert len(set(vlans)) == 4 and all(100 <= int(v) <= 199 for v in vlans)
    found = [routers(root, n["id"]) for n in nets]
    assert all(len(rs) == 1 and rs[0]["state"] == "Running" for rs in found)
    assert len({rs[0]["publicip"] for rs in found}) == 4


def test_associate_and_disassociate_public_addresses(root: cs.CloudStack, adv: Zone, tenant: Tenant) -> None:
    net = new_network(tenant, adv)
    # The first address a network gets is its source NAT; its router then uses it.
    first = tenant.api.associateIpAddress(networkid=net["id"])["ipaddress"]
    assert first["issourcenat"] is True and first["associatednetworkid"] == net["id"]
    tenant.deploy(adv, networkids=net["id"])
    (r,) = routers(root, net["id"])
    assert r["publicip"] == first["ipaddress"]
    extra = tenant.api.associateIpAddress(networkid=net["id"])["ipaddress"]
    assert extra["issourcenat"] is False and extra["state"] == "Allocated"
    listed = tenant.api.listPublicIpAddresses(associatednetworkid=net["id"])["publicipaddress"]
    assert {i["ipaddress"] for i in listed} == {first["ipaddress"], extra["ipaddress"]}
    fails(431, tenant.api.associateIpAddress, networkid=net["id"], ipaddress=extra["ipaddress"])
    fails(431, tenant.api.disassociateIpAddress, id=first["id"])
    tenant.api.disassociateIpAddress(id=extra["id"])
    assert [i["id"] for i in tenant.api.listPublicIpAddresses(associatednetworkid=net["id"])["publicipaddress"]] == [
        first["id"]]
    (freed,) = root.listPublicIpAddresses(ipaddress=extra["ipaddress"], zoneid=adv.id, allocatedonly=False)[
        "publicipaddress"]
    assert freed["state"] == "Free" and "account" not in freed
    # Asking for a given free address works too.
    again = tenant.api.associateIpAddress(networkid=net["id"], ipaddress=extra["ipaddress"])["ipaddress"]
    assert again["ipaddress"] == extra["ipaddress"]


def test_delete_is_refused_while_vms_have_nics(root: cs.CloudStack, adv: Zone, tenant: Tenant,
                                               live_server: LiveServer) -> None:
    net = new_network(tenant, adv)
    vm = tenant.deploy(adv, networkids=net["id"])
    vlan = int(as_admin(root, net["id"])["vlan"])
    (r,) = routers(root, net["id"])
    fails(530, tenant.api.deleteNetwork, id=net["id"])
    assert as_admin(root, net["id"])["state"] == "Implemented"
    root.destroyVirtualMachine(id=vm["id"], expunge=True)
    tenant.api.deleteNetwork(id=net["id"])
    assert "network" not in tenant.api.listNetworks(id=net["id"])
    assert routers(root, net["id"]) == [] and "router" not in root.listRouters(id=r["id"], listall=True)
    (ip,) = root.listPublicIpAddresses(ipaddress=r["publicip"], zoneid=adv.id, allocatedonly=False)["publicipaddress"]
    assert ip["state"] == "Free"
    assert vnet_claims(live_server, vlan, net["id"]) == 0


def test_restart_and_router_commands(root: cs.CloudStack, adv: Zone, tenant: Tenant) -> None:
    net = new_network(tenant, adv)
    fails(431, tenant.api.restartNetwork, id=net["id"])  # not implemented yet
    tenant.deploy(adv, networkids=net["id"])
    (r1,) = routers(root, net["id"])
    tenant.api.restartNetwork(id=net["id"])
    (r2,) = routers(root, net["id"])
    assert r2["id"] == r1["id"] and r2["state"] == "Running"
    tenant.api.restartNetwork(id=net["id"], cleanup=True)
    (r3,) = routers(root, net["id"])
    assert r3["id"] != r1["id"] and r3["state"] == "Running" and r3["publicip"] == r1["publicip"]
    assert root.stopRouter(id=r3["id"])["router"]["state"] == "Stopped"
    assert root.startRouter(id=r3["id"])["router"]["state"] == "Running"
    assert root.rebootRouter(id=r3["id"])["router"]["state"] == "Running"
    root.destroyRouter(id=r3["id"])
    assert routers(root, net["id"]) == []
    # The network's next VM start brings a new router.
    tenant.deploy(adv, networkids=net["id"])
    (r4,) = routers(root, net["id"])
    assert r4["id"] not in (r1["id"], r3["id"]) and r4["state"] == "Running"
    fails(432, tenant.api.listRouters)


def test_update_and_tenancy(root: cs.CloudStack, adv: Zone, tenant: Tenant, new_tenant: Any) -> None:
    net = new_network(tenant, adv)
    updated = tenant.api.updateNetwork(id=net["id"], name="renamed", displaytext="Renamed")["network"]
    assert (updated["name"], updated["displaytext"]) == ("renamed", "Renamed")
    stranger: Tenant = new_tenant()
    assert net["id"] not in {n["id"] for n in stranger.api.listNetworks().get("network", [])}
    fails(432, stranger.api.deleteNetwork, id=net["id"])
    fails(432, stranger.api.associateIpAddress, networkid=net["id"])
    fails(432, stranger.deploy, zone=adv, networkids=net["id"])
    assert net["id"] in {n["id"] for n in root.listNetworks(listall=True)["network"]}
    assert net["id"] not in {n["id"] for n in root.listNetworks().get("network", [])}  # admin's own only
