"""Shared and L2 guest networks, and basic zones, on a live server: addresses
from a shared network's IP range, NICs without addresses in L2 networks, and
a basic zone's VMs in their pod's guest range."""

from __future__ import annotations

import ipaddress

import cs
import pytest

from tests.network.conftest import Tenant, Zone, advanced_config, deploy_zone, fails, unique
from tests.network.test_isolated import as_admin, new_network, offering, routers

pytestmark = pytest.mark.ray


def shared(root: cs.CloudStack, zone: Zone, vlan: int, third: int, **params: object) -> dict[str, object]:
    name = unique("shared")
    return dict(root.createNetwork(zoneid=zone.id, name=name, displaytext=name, vlan=vlan,
                                   networkofferingid=offering(root, "DefaultSharedNetworkOffering"),
                                   gateway=f"10.{third}.0.1", netmask="255.255.255.0", **params)["network"])


def test_shared_network_hands_out_its_range(root: cs.CloudStack, adv: Zone, tenant: Tenant) -> None:
    net = shared(root, adv, 300, 50, startip="10.50.0.10", endip="10.50.0.12")
    assert (net["type"], net["state"], net["acltype"], net["vlan"]) == ("Shared", "Setup", "Domain", "300")
    assert net["subdomainaccess"] is True and net["broadcasturi"] == "vlan://300"
    # A zone-wide shared network: users of any domain see it and deploy into it.
    assert net["id"] in {n["id"] for n in tenant.api.listNetworks(type="Shared")["network"]}
    vm = tenant.deploy(adv, networkids=net["id"], ipaddress="10.50.0.11")
    assert vm["state"] == "Running" and vm["nic"][0]["ipaddress"] == "10.50.0.11"
    assert vm["nic"][0]["gateway"] == "10.50.0.1" and vm["nic"][0]["broadcasturi"] == "vlan://300"
    fails(431, tenant.deploy, zone=adv, networkids=net["id"], ipaddress="10.50.0.20")  # in the CIDR, not the range
    fails(431, tenant.deploy, zone=adv, networkids=net["id"], ipaddress="10.50.0.11")
    got = {tenant.deploy(adv, networkids=net["id"], startvm=False)["nic"][0]["ipaddress"] for _ in range(2)}
    assert got == {"10.50.0.10", "10.50.0.12"}
    fails(533, tenant.deploy, zone=adv, networkids=net["id"], startvm=False)
    assert routers(root, net["id"]) == []  # shared networks have no router here
    (listed,) = root.listNetworks(id=net["id"], listall=True, canusefordeploy=False)["network"]
    assert listed["canusefordeploy"] is False  # its range is used up


def test_shared_network_refusals(root: cs.CloudStack, adv: Zone, tenant: Tenant) -> None:
    shared(root, adv, 301, 51)
    fails(431, shared, root=root, zone=adv, vlan=301, third=52)  # the VLAN is taken
    fails(431, tenant.api.createNetwork, zoneid=adv.id, name="x", displaytext="x", vlan=302, gateway="10.53.0.1",
          netmask="255.255.255.0", networkofferingid=offering(tenant.api, "DefaultSharedNetworkOffering"))
    fails(431, root.createNetwork, zoneid=adv.id, name="x", displaytext="x", gateway="10.53.0.1",
          netmask="255.255.255.0", networkofferingid=offering(root, "DefaultSharedNetworkOffering"))  # no vlan
    fails(431, shared, root=root, zone=adv, vlan=303, third=54, startip="10.99.0.5")  # outside its subnet
    # The zone refuses a range that overlaps its public range: nothing is left behind.
    name = unique("clash")
    fails(431, root.createNetwork, zoneid=adv.id, name=name, displaytext=name, vlan=304, gateway="198.51.100.1",
          netmask="255.255.255.0", startip="198.51.100.50", endip="198.51.100.70",
          networkofferingid=offering(root, "DefaultSharedNetworkOffering"))
    assert name not in {n["name"] for n in root.listNetworks(listall=True, zoneid=adv.id)["network"]}
    assert shared(root, adv, 304, 55)["vlan"] == "304"  # its VLAN went back too


def test_l2_network_nics_have_no_addresses(root: cs.CloudStack, adv: Zone, tenant: Tenant) -> None:
    net = new_network(tenant, adv, "DefaultL2NetworkOffering")
    assert net["type"] == "L2" and net["state"] == "Allocated" and "cidr" not in net
    fails(431, tenant.api.createNetwork, zoneid=adv.id, name="x", displaytext="x", gateway="10.9.0.1",
          netmask="255.255.255.0", networkofferingid=offering(tenant.api, "DefaultL2NetworkOffering"))
    vm = tenant.deploy(adv, networkids=net["id"])
    assert vm["state"] == "Running" and "ipaddress" not in vm["nic"][0]
    seen = as_admin(root, net["id"])
    assert seen["state"] == "Implemented" and vm["nic"][0]["broadcasturi"] == f"vlan://{seen['vlan']}"
    assert routers(root, net["id"]) == []
    fails(431, tenant.deploy, zone=adv, networkids=net["id"], ipaddress="10.9.0.5", startvm=False)


def test_basic_zone_vms_get_addresses_of_their_pod(root: cs.CloudStack, basic: Zone, tenant: Tenant) -> None:
    (net,) = root.listNetworks(zoneid=basic.id, listall=True)["network"]
    assert (net["type"], net["state"], net["broadcastdomaintype"]) == ("Shared", "Setup", "Native")
    pod_range = (ipaddress.IPv4Address("60.147.41.2"), ipaddress.IPv4Address("60.147.41.30"))
    vm = tenant.deploy(basic)
    assert vm["state"] == "Running" and vm["nic"][0]["networkid"] == net["id"]
    assert pod_range[0] <= ipaddress.IPv4Address(vm["nic"][0]["ipaddress"]) <= pod_range[1]
    assert vm["nic"][0]["gateway"] == "60.147.41.1"
    vm2 = tenant.deploy(basic, ipaddress="60.147.41.25")
    assert vm2["nic"][0]["ipaddress"] == "60.147.41.25"
    fails(431, tenant.deploy, zone=basic, ipaddress="60.147.41.40")
    fails(431, tenant.deploy, zone=basic, ipaddress="60.147.41.25")
    fails(431, root.createNetwork, zoneid=basic.id, name="second", displaytext="second",
          networkofferingid=offering(root, "DefaultSharedNetworkOfferingWithSGService"))


def test_advanced_security_group_zone_network(root: cs.CloudStack, tenant: Tenant) -> None:
    """The Deployer (as Marvin's deployDataCenter) makes an advanced SG zone's guest network from its
    IP range: a shared network with the SG offering, no public ranges, no router."""
    cfg = advanced_config(unique("advsg"))
    z = cfg["zones"][0]
    z.update(securitygroupenabled="true", guestcidraddress=None)
    z["physical_networks"][0]["traffictypes"] = [{"typ": "Guest"}, {"typ": "Management"}]
    z["ipranges"] = [{"startip": "198.51.100.10", "endip": "198.51.100.12", "netmask": "255.255.255.0",
                      "gateway": "198.51.100.1", "vlan": "31"}]
    zone = deploy_zone(root, cfg)
    (net,) = root.listNetworks(zoneid=zone.id, listall=True)["network"]
    assert (net["type"], net["vlan"], net["name"]) == ("Shared", "31", "Shared SG enabled network")
    vm = tenant.deploy(zone, networkids=net["id"])
    assert vm["state"] == "Running" and vm["nic"][0]["ipaddress"] in ("198.51.100.10", "198.51.100.11",
                                                                      "198.51.100.12")
    assert routers(root, net["id"]) == []
