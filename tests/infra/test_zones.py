"""Zones through `cs`: createZone, updateZone, deleteZone and listZones with
CloudStack's shapes, defaults and refusals."""

from __future__ import annotations

from typing import Any

import cs
import pytest

from tests.infra.conftest import api_error, db, unique

pytestmark = pytest.mark.ray

# The fields a CloudStack 4.18 zone answer carries for an admin (NetworkService.json has none:
# these are the names listApis gives that CloudStack fills for a fresh advanced zone).
ZONE_FIELDS = {"id", "name", "dns1", "internaldns1", "guestcidraddress", "networktype", "securitygroupsenabled",
               "allocationstate", "zonetoken", "dhcpprovider", "localstorageenabled", "tags", "type",
               "hasannotations", "allowuserspecifyvrmtu", "routerprivateinterfacemaxmtu",
               "routerpublicinterfacemaxmtu"}


def test_create_zone_round_trip(api: cs.CloudStack, live_server: Any) -> None:
    name = unique("zone")
    z = api.createZone(name=name, dns1="10.147.28.6", dns2="10.147.28.7", internaldns1="10.147.28.6",
                       networktype="Advanced", guestcidraddress="10.1.1.0/24", domain="sandbox.simulator")["zone"]
    assert ZONE_FIELDS <= set(z), ZONE_FIELDS - set(z)
    assert (z["name"], z["networktype"], z["dns1"], z["dns2"]) == (name, "Advanced", "10.147.28.6", "10.147.28.7")
    assert z["allocationstate"] == "Disabled"  # a new zone waits for its physical networks (since 3.0)
    assert z["securitygroupsenabled"] is False and z["type"] == "Core" and z["domain"] == "sandbox.simulator"
    listed = api.listZones(id=z["id"])
    assert listed["count"] == 1 and listed["zone"][0] == z
    assert api.listZones(name=name)["zone"][0]["id"] == z["id"]
    assert api.listZones(keyword=name[-10:])["zone"][0]["id"] == z["id"]
    # Each zone gets its system networks (Public, Management, Control, Storage).
    with db(live_server) as conn:
        kinds = {r[0] for r in conn.execute(
            "SELECT n.traffic_type FROM network n JOIN zone z ON n.zone_id = z.id WHERE z.uuid = ? AND n.is_system = 1",
            (z["id"],))}
    assert kinds == {"Public", "Management", "Control", "Storage"}


def test_basic_zone_and_network_type_filter(api: cs.CloudStack) -> None:
    z = api.createZone(name=unique("basic"), dns1="8.8.8.8", internaldns1="8.8.8.8", networktype="Basic",
                       securitygroupenabled=True)["zone"]
    assert z["networktype"] == "Basic" and z["securitygroupsenabled"] is True and "guestcidraddress" not in z
    assert z["id"] in {x["id"] for x in api.listZones(networktype="Basic")["zone"]}
    assert z["id"] not in {x["id"] for x in api.listZones(networktype="Advanced").get("zone", [])}


def test_update_zone_fields(api: cs.CloudStack, zone: dict[str, Any]) -> None:
    new = unique("renamed")
    z = api.updateZone(id=zone["id"], name=new, dns2="10.147.28.8", internaldns2="10.147.28.9",
                       guestcidraddress="10.2.0.0/16", domain="cloud.example")["zone"]
    assert (z["name"], z["dns2"], z["internaldns2"], z["guestcidraddress"], z["domain"]) == (
        new, "10.147.28.8", "10.147.28.9", "10.2.0.0/16", "cloud.example")
    assert api.listZones(id=zone["id"])["zone"][0]["name"] == new
    z = api.updateZone(id=zone["id"], allocationstate="Disabled")["zone"]
    assert z["allocationstate"] == "Disabled"


def test_enable_zone_needs_its_traffic_types(api: cs.CloudStack, zone: dict[str, Any]) -> None:
    err = api_error(api.updateZone, id=zone["id"], allocationstate="Enabled")
    assert err["errorcode"] == 431
    assert err["errortext"] == ("Cannot enable this Zone since: Unable to find the default physical network with "
                                "traffic=Management in the specified zone id")
    pn = api.createPhysicalNetwork(zoneid=zone["id"], name=unique("pn"), isolationmethods="VLAN")["physicalnetwork"]
    api.addTrafficType(physicalnetworkid=pn["id"], traffictype="Management", kvmnetworklabel="cloudbr0")
    err = api_error(api.updateZone, id=zone["id"], allocationstate="Enabled")
    assert "traffic=Public" in err["errortext"]
    api.addTrafficType(physicalnetworkid=pn["id"], traffictype="Public")
    z = api.updateZone(id=zone["id"], allocationstate="Enabled")["zone"]
    assert z["allocationstate"] == "Enabled"
    # Storage traffic defaults to the management network's, as CloudStack adds it on enabling.
    types = {t["traffictype"]: t for t in api.listTrafficTypes(physicalnetworkid=pn["id"])["traffictype"]}
    assert set(types) == {"Management", "Public", "Storage"}
    assert types["Storage"]["kvmnetworklabel"] == "cloudbr0"
    # An enabled zone takes no new physical network.
    err = api_error(api.createPhysicalNetwork, zoneid=zone["id"], name=unique("pn"))
    assert err["errorcode"] == 432 and "Zone is currently enabled" in err["errortext"]


def test_delete_zone_refused_while_it_has_pods(api: cs.CloudStack, zone: dict[str, Any],
                                               pod: dict[str, Any]) -> None:
    err = api_error(api.deleteZone, id=zone["id"])
    assert err["errorcode"] == 530 and err["cserrorcode"] == 4250
    assert err["errortext"] == "The zone cannot be deleted because there are pods in this zone."
    assert api.listZones(id=zone["id"])["count"] == 1
    api.deletePod(id=pod["id"])
    assert api.deleteZone(id=zone["id"]) == {"success": True}
    assert api.listZones(id=zone["id"]) == {}


def test_delete_zone_refused_while_it_has_physical_networks(api: cs.CloudStack, zone: dict[str, Any],
                                                            physnet: dict[str, Any]) -> None:
    err = api_error(api.deleteZone, id=zone["id"])
    assert err["errortext"] == "The zone cannot be deleted because there are physical networks in this zone."
    api.deletePhysicalNetwork(id=physnet["id"])
    assert api.deleteZone(id=zone["id"])["success"] is True


def test_bad_zone_input(api: cs.CloudStack, zone: dict[str, Any]) -> None:
    err = api_error(api.createZone, name=zone["name"], dns1="8.8.8.8", internaldns1="8.8.8.8",
                    networktype="Advanced")
    assert err["errorcode"] == 431
    assert err["errortext"] == "A zone with that name already exists. Please specify a unique zone name."
    err = api_error(api.createZone, name=unique("z"), dns1="not-an-ip", internaldns1="8.8.8.8",
                    networktype="Advanced")
    assert err["errortext"] == "Please enter a valid IP address for DNS1"
    err = api_error(api.createZone, name=unique("z"), dns1="8.8.8.8", internaldns1="8.8.8.8",
                    networktype="Advanced", allocationstate="Sideways")
    assert err["errortext"] == "Unable to resolve Allocation State 'Sideways' to a supported state"
    missing = "6b6f0bb0-0000-4000-8000-000000000000"
    for fn in (api.updateZone, api.deleteZone):
        err = api_error(fn, id=missing)
        assert err["errorcode"] == 431 and f"value={missing}" in err["errortext"]
        assert "entity does not exist" in err["errortext"]


def test_users_see_enabled_zones_without_admin_fields(api: cs.CloudStack, live_server: Any,
                                                      zone: dict[str, Any]) -> None:
    name = unique("zuser")
    acct = api.createAccount(username=name, password="pw", email=f"{name}@example.org", firstname="Z",
                             lastname="U", accounttype=0)["account"]
    keys = api.registerUserKeys(id=acct["user"][0]["id"])["userkeys"]
    user = cs.CloudStack(endpoint=live_server.url, key=keys["apikey"], secret=keys["secretkey"], timeout=30)
    assert zone["id"] not in {z["id"] for z in user.listZones().get("zone", [])}  # disabled
    enabled = api.createZone(name=unique("open"), dns1="8.8.8.8", internaldns1="8.8.8.8", networktype="Advanced",
                             allocationstate="Enabled")["zone"]
    mine = {z["id"]: z for z in user.listZones()["zone"]}
    assert enabled["id"] in mine
    assert "allocationstate" not in mine[enabled["id"]] and "zonetoken" not in mine[enabled["id"]]
    err = api_error(user.createZone, name=unique("z"), dns1="8.8.8.8", internaldns1="8.8.8.8",
                    networktype="Advanced")
    assert err["errorcode"] == 432


def test_show_capacities(api: cs.CloudStack, zone: dict[str, Any], pod: dict[str, Any]) -> None:
    z = api.listZones(id=zone["id"], showcapacities=True)["zone"][0]
    private = [c for c in z["capacity"] if c["type"] == 5]
    assert private and private[0]["capacitytotal"] == 199 and private[0]["name"] == "PRIVATE_IP"
    assert private[0]["zoneid"] == zone["id"] and private[0]["percentused"] == "0.00"


def test_zone_dedicated_to_a_domain(api: cs.CloudStack) -> None:
    root = api.listDomains(name="ROOT")["domain"][0]
    z = api.createZone(name=unique("private"), dns1="8.8.8.8", internaldns1="8.8.8.8", networktype="Advanced",
                       domainid=root["id"])["zone"]
    assert (z["domainid"], z["domainname"]) == (root["id"], "ROOT")
    assert api.listZones(domainid=root["id"], id=z["id"])["count"] == 1
    z = api.updateZone(id=z["id"], ispublic=True)["zone"]
    assert "domainid" not in z
