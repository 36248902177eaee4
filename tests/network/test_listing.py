"""What listNetworks, listNetworkOfferings and listPublicIpAddresses show, to
whom, with CloudStack's filters and field names (checked against recorded
CloudStack answers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cs
import pytest

from tests.network.conftest import Tenant, Zone, client, fails, unique
from tests.network.test_isolated import ISOLATED, new_network, offering

pytestmark = pytest.mark.ray
RECORDED = Path(__file__).resolve().parents[3] / "shared" / "cloudstack" / "responses"


def recorded(service: str, command: str, key: str) -> dict[str, Any]:
    path = RECORDED / f"{service}.json"
    if not path.exists():
        pytest.skip(f"recorded CloudStack answers are not beside the repository ({RECORDED})")
    inner = next(iter(json.loads(path.read_text())[command].values()))
    inner = inner.get("jobresult", inner)
    obj = inner[key]
    return dict(obj[0] if isinstance(obj, list) else obj)


def missing(want: dict[str, Any], got: dict[str, Any]) -> set[str]:
    return set(want) - set(got) - {"jobid", "jobstatus"}


def test_field_names_are_cloudstacks(root: cs.CloudStack, adv: Zone, tenant: Tenant) -> None:
    net = new_network(tenant, adv)
    assert not missing(recorded("NetworkService", "createNetwork", "network"), net)
    (listed,) = tenant.api.listNetworks(id=net["id"])["network"]
    assert not missing(recorded("NetworkService", "listNetworks", "network"), listed)
    off = root.listNetworkOfferings(name=ISOLATED)["networkoffering"][0]
    assert not missing(recorded("NetworkOfferingService", "listNetworkOfferings", "networkoffering"), off)
    ip = tenant.api.associateIpAddress(networkid=net["id"])["ipaddress"]
    assert not missing(recorded("AddressService", "associateIpAddress", "ipaddress"), ip)
    assert {s["name"] for s in net["service"]} >= {"SourceNat", "Dhcp", "Dns", "Firewall"}
    assert net["networkdomain"].startswith("cs") and net["related"] == net["id"]


def test_network_offerings_and_their_filters(root: cs.CloudStack, tenant: Tenant) -> None:
    names = {o["name"] for o in tenant.api.listNetworkOfferings()["networkoffering"]}
    assert {ISOLATED, "DefaultSharedNetworkOffering", "DefaultL2NetworkOffering"} <= names
    assert not any(n.startswith("System-") for n in names)
    isolated = {o["name"] for o in tenant.api.listNetworkOfferings(guestiptype="isolated")["networkoffering"]}
    assert ISOLATED in isolated and "DefaultSharedNetworkOffering" not in isolated
    snat = {o["name"] for o in root.listNetworkOfferings(supportedservices="SourceNat")["networkoffering"]}
    assert ISOLATED in snat and "DefaultIsolatedNetworkOffering" not in snat
    no_snat = {o["name"] for o in root.listNetworkOfferings(sourcenatsupported=False)["networkoffering"]}
    assert not snat & no_snat and "DefaultIsolatedNetworkOffering" in no_snat
    (off,) = root.listNetworkOfferings(name=ISOLATED)["networkoffering"]
    assert off["guestiptype"] == "Isolated" and off["availability"] == "Required" and off["state"] == "Enabled"
    assert {"name": "VirtualRouter"} in next(s for s in off["service"] if s["name"] == "SourceNat")["provider"]


def test_network_filters(root: cs.CloudStack, adv: Zone, tenant: Tenant) -> None:
    iso = new_network(tenant, adv)
    l2 = new_network(tenant, adv, "DefaultL2NetworkOffering")
    mine = tenant.api.listNetworks(type="L2")["network"]
    assert [n["id"] for n in mine] == [l2["id"]]
    ids = {n["id"] for n in tenant.api.listNetworks(supportedservices="SourceNat")["network"]}
    assert iso["id"] in ids and l2["id"] not in ids
    assert [n["id"] for n in tenant.api.listNetworks(keyword=iso["name"])["network"]] == [iso["id"]]
    usable = {n["id"] for n in tenant.api.listNetworks(canusefordeploy=True)["network"]}
    assert {iso["id"], l2["id"]} <= usable
    assert tenant.api.listNetworks(vpcid=iso["id"]) == {}
    system = root.listNetworks(issystem=True, zoneid=adv.id)["network"]
    assert {"Public", "Management", "Control", "Storage"} <= {n["traffictype"] for n in system}
    fails(432, tenant.api.listNetworks, issystem=True)
    fails(432, tenant.api.createNetwork, zoneid=adv.id, name="n", displaytext="n",
          networkofferingid=offering(root, ISOLATED), vlan=120)  # a user may not choose the VLAN
    page = root.listNetworks(listall=True, zoneid=adv.id, page=1, pagesize=1)
    assert len(page["network"]) == 1 and page["count"] >= 2


def test_domain_networks_are_seen_below_their_domain(root: cs.CloudStack, adv: Zone, tenant: Tenant,
                                                     live_server: Any) -> None:
    dom = root.createDomain(name=unique("dom"))["domain"]
    name = unique("inside")
    acct = root.createAccount(username=name, password="pw-" + name, email=f"{name}@example.org", firstname="I",
                              lastname=name, accounttype=0, domainid=dom["id"])["account"]
    keys = root.registerUserKeys(id=acct["user"][0]["id"])["userkeys"]
    inside = client(live_server, keys["apikey"], keys["secretkey"])
    name = unique("domnet")
    net = root.createNetwork(zoneid=adv.id, name=name, displaytext=name, vlan=310, gateway="10.60.0.1",
                             netmask="255.255.255.0", startip="10.60.0.2", endip="10.60.0.9", domainid=dom["id"],
                             networkofferingid=offering(root, "DefaultSharedNetworkOffering"))["network"]
    assert net["domainid"] == dom["id"] and net["acltype"] == "Domain"
    assert net["id"] in {n["id"] for n in inside.listNetworks()["network"]}
    assert net["id"] not in {n["id"] for n in tenant.api.listNetworks().get("network", [])}
    fails(432, tenant.deploy, zone=adv, networkids=net["id"])
    account_net = root.createNetwork(zoneid=adv.id, name=unique("acctnet"), displaytext="a", vlan=311,
                                     gateway="10.61.0.1", netmask="255.255.255.0", account=acct["name"],
                                     domainid=dom["id"],
                                     networkofferingid=offering(root, "DefaultSharedNetworkOffering"))["network"]
    assert account_net["acltype"] == "Account" and account_net["account"] == acct["name"]
    assert account_net["id"] in {n["id"] for n in inside.listNetworks()["network"]}
