"""Public IP ranges through `cs`: createVlanIpRange on the zone's public
network, overlap and subnet refusals in CloudStack's words, dedication,
deletion, and the addresses a range brings."""

from __future__ import annotations

import uuid
from typing import Any

import cs
import pytest

from tests.infra.conftest import api_error, db, recorded, shape

pytestmark = pytest.mark.ray


def _range(api: cs.CloudStack, zone: dict[str, Any], **kw: Any) -> dict[str, Any]:
    params = {"zoneid": zone["id"], "vlan": "50", "gateway": "192.168.2.1", "netmask": "255.255.255.0",
              "startip": "192.168.2.2", "endip": "192.168.2.200", "forvirtualnetwork": True, **kw}
    return dict(api.createVlanIpRange(**params)["vlan"])


def _ranges_in(live_server: Any, zone: dict[str, Any]) -> int:
    with db(live_server) as conn:
        return int(conn.execute("SELECT count(*) FROM vlan_ip_range v JOIN zone z ON v.zone_id = z.id "
                                "WHERE z.uuid = ? AND v.range_type = 'public' AND v.removed IS NULL",
                                (zone["id"],)).fetchone()[0])


def test_public_range_round_trip(api: cs.CloudStack, live_server: Any, zone: dict[str, Any],
                                 physnet: dict[str, Any]) -> None:
    r = _range(api, zone)
    shape(recorded("VLANService", "createVlanIpRange", "vlan"), r)
    assert (r["vlan"], r["gateway"], r["netmask"], r["cidr"], r["startip"], r["endip"]) == (
        "vlan://50", "192.168.2.1", "255.255.255.0", "192.168.2.0/24", "192.168.2.2", "192.168.2.200")
    assert (r["forvirtualnetwork"], r["forsystemvms"], r["zoneid"], r["physicalnetworkid"]) == (
        True, False, zone["id"], physnet["id"])
    with db(live_server) as conn:
        public_net = conn.execute("SELECT n.uuid FROM network n JOIN zone z ON n.zone_id = z.id WHERE z.uuid = ? "
                                  "AND n.traffic_type = 'Public' AND n.is_system = 1", (zone["id"],)).fetchone()[0]
        free = conn.execute("SELECT count(*) FROM ip_address i JOIN vlan_ip_range v ON i.vlan_range_id = v.id "
                            "WHERE v.uuid = ? AND i.state = 'Free'", (r["id"],)).fetchone()[0]
    assert r["networkid"] == public_net and free == 199
    listed = api.listVlanIpRanges(id=r["id"])["vlaniprange"][0]
    shape(recorded("VLANService", "listVlanIpRanges", "vlaniprange"), listed)
    assert listed == r
    assert api.listVlanIpRanges(zoneid=zone["id"], vlan="50", forvirtualnetwork=True)["count"] == 1
    assert api.listVlanIpRanges(physicalnetworkid=physnet["id"])["vlaniprange"][0]["id"] == r["id"]
    caps = {c["type"]: c for c in api.listCapacity(zoneid=zone["id"], type=4)["capacity"]}
    assert caps[4]["capacitytotal"] == 199 and caps[4]["capacityused"] == 0
    # An untagged range beside it, in another subnet.
    u = _range(api, zone, vlan="untagged", gateway="192.168.9.1", startip="192.168.9.10", endip="192.168.9.19")
    assert u["vlan"] == "untagged"
    assert api.deleteVlanIpRange(id=u["id"]) == {"success": True}
    assert api.listVlanIpRanges(id=u["id"]) == {}
    assert _ranges_in(live_server, zone) == 1


def test_overlapping_ranges_refused(api: cs.CloudStack, live_server: Any, zone: dict[str, Any],
                                    physnet: dict[str, Any]) -> None:
    _range(api, zone)
    err = api_error(api.createVlanIpRange, zoneid=zone["id"], vlan="50", gateway="192.168.2.1",
                    netmask="255.255.255.0", startip="192.168.2.150", endip="192.168.2.250")
    assert err["errorcode"] == 431 and err["cserrorcode"] == 4350
    assert err["errortext"] == ("The IP range already has IPs that overlap with the new range. Please specify a "
                                "different start IP/end IP.")
    err = api_error(api.createVlanIpRange, zoneid=zone["id"], vlan="51", gateway="192.168.2.1",
                    netmask="255.255.255.0", startip="192.168.2.201", endip="192.168.2.250")
    assert err["errortext"] == (f"The IP range with tag: vlan://50 in zone {zone['name']} has overlapped with the "
                                "subnet. Please specify a different gateway/netmask.")
    err = api_error(api.createVlanIpRange, zoneid=zone["id"], vlan="50", gateway="192.168.2.254",
                    netmask="255.255.255.0", startip="192.168.2.201", endip="192.168.2.250")
    assert err["errortext"] == ("The IP range has already been added with gateway 192.168.2.1 ,and netmask "
                                "255.255.255.0, Please specify the gateway/netmask if you want to extend ip range")
    # The same subnet and VLAN may grow with addresses not yet in use.
    more = _range(api, zone, startip="192.168.2.201", endip="192.168.2.250")
    assert more["startip"] == "192.168.2.201"
    assert _ranges_in(live_server, zone) == 2


def test_range_must_fit_its_subnet(api: cs.CloudStack, live_server: Any, zone: dict[str, Any],
                                   physnet: dict[str, Any]) -> None:
    for kw in ({"gateway": "192.168.3.1"}, {"netmask": "255.255.255.128"}, {"endip": "192.168.5.10"}):
        err = api_error(api.createVlanIpRange, **{"zoneid": zone["id"], "vlan": "50", "gateway": "192.168.2.1",
                                                  "netmask": "255.255.255.0", "startip": "192.168.2.2",
                                                  "endip": "192.168.2.200", **kw})
        assert err["errorcode"] == 431
        assert err["errortext"] == "Please specify a valid IP range or valid netmask or valid gateway"
    err = api_error(api.createVlanIpRange, zoneid=zone["id"], vlan="50", gateway="192.168.2.1",
                    netmask="255.255.255.0", startip="192.168.2.1", endip="192.168.2.9")
    assert err["errortext"] == "The gateway ip should not be the part of the ip range being added."
    err = api_error(api.createVlanIpRange, zoneid=zone["id"], vlan="150", gateway="192.168.7.1",
                    netmask="255.255.255.0", startip="192.168.7.2", endip="192.168.7.9")
    assert "is already being used for dynamic vlan allocation" in err["errortext"]  # inside 100-200
    assert _ranges_in(live_server, zone) == 0


def test_public_range_needs_public_traffic(api: cs.CloudStack, zone: dict[str, Any]) -> None:
    err = api_error(api.createVlanIpRange, zoneid=zone["id"], vlan="50", gateway="192.168.2.1",
                    netmask="255.255.255.0", startip="192.168.2.2", endip="192.168.2.9")
    assert err["errorcode"] == 431
    assert err["errortext"] == ("Unable to find the default physical network with traffic=Public in the specified "
                                "zone id")


def test_range_overlapping_a_pod_range(api: cs.CloudStack, zone: dict[str, Any], pod: dict[str, Any],
                                       physnet: dict[str, Any]) -> None:
    err = api_error(api.createVlanIpRange, zoneid=zone["id"], vlan="untagged", gateway="172.16.14.1",
                    netmask="255.255.252.0", startip="172.16.15.100", endip="172.16.15.250")
    assert err["errortext"] == ("The Start IP and EndIP address range overlap with private IP :172.16.15.2:"
                                "172.16.15.200")


def test_dedicate_and_release(api: cs.CloudStack, zone: dict[str, Any], physnet: dict[str, Any]) -> None:
    r = _range(api, zone)
    d = api.dedicatePublicIpRange(id=r["id"], domainid=api.listDomains(name="ROOT")["domain"][0]["id"],
                                  account="admin")["vlan"]
    assert (d["account"], d["domain"]) == ("admin", "ROOT")
    err = api_error(api.dedicatePublicIpRange, id=r["id"], domainid=d["domainid"], account="admin")
    assert err["errortext"] == f"Public IP range {r['id']} is already dedicated"
    assert api.releasePublicIpRange(id=r["id"]) == {"success": True}
    assert "account" not in api.listVlanIpRanges(id=r["id"])["vlaniprange"][0]
    err = api_error(api.releasePublicIpRange, id=r["id"])
    assert err["errortext"] == f"Public IP range {r['id']} is not dedicated"


def test_delete_range_with_addresses_in_use(api: cs.CloudStack, live_server: Any, zone: dict[str, Any],
                                            physnet: dict[str, Any]) -> None:
    r = _range(api, zone)
    with db(live_server) as conn:  # another kind would hand the address out; here the store stands in
        conn.execute("UPDATE ip_address SET state = 'Allocated' WHERE public_ip = '192.168.2.2' AND vlan_range_id = "
                     "(SELECT id FROM vlan_ip_range WHERE uuid = ?)", (r["id"],))
    err = api_error(api.deleteVlanIpRange, id=r["id"])
    assert err["errortext"] == "The IP range can't be deleted because it has allocated public IP addresses."
    caps = {c["type"]: c for c in api.listCapacity(zoneid=zone["id"])["capacity"]}
    assert caps[4]["capacityused"] == 1 and caps[4]["percentused"] == f"{100 / 199:.2f}"
    err = api_error(api.deletePhysicalNetwork, id=physnet["id"])
    assert "there are public IP addresses allocated for this physical network" in err["errortext"]
    with db(live_server) as conn:
        conn.execute("UPDATE ip_address SET state = 'Free' WHERE vlan_range_id = "
                     "(SELECT id FROM vlan_ip_range WHERE uuid = ?)", (r["id"],))
    assert api.deleteVlanIpRange(id=r["id"]) == {"success": True}


def _shared_network(live_server: Any, zone: dict[str, Any], physnet: dict[str, Any], vlan: int) -> str:
    """A shared guest network row (scaffolding until the network commands exist)."""
    u = str(uuid.uuid4())
    with db(live_server) as conn:
        zid = conn.execute("SELECT id FROM zone WHERE uuid = ?", (zone["id"],)).fetchone()[0]
        pn = conn.execute("SELECT id FROM physical_network WHERE uuid = ?", (physnet["id"],)).fetchone()[0]
        off = conn.execute("SELECT id FROM network_offering WHERE name = 'DefaultSharedNetworkOffering'").fetchone()[0]
        acct = conn.execute("SELECT id, domain_id FROM account WHERE name = 'admin'").fetchone()
        conn.execute("INSERT INTO network (uuid, version, created, name, traffic_type, guest_type, state, zone_id, "
                     "physical_network_id, network_offering_id, account_id, domain_id, acl_type, "
                     "broadcast_domain_type, broadcast_uri, is_system, restart_required, specify_ip_ranges, display) "
                     "VALUES (?, 1, '2026-01-01 00:00:00.000000', ?, 'Guest', 'Shared', 'Setup', ?, ?, ?, ?, ?, "
                     "'Domain', 'Vlan', ?, 0, 0, 1, 1)",
                     (u, f"shared-{u[:8]}", zid, pn, off, acct[0], acct[1], f"vlan://{vlan}"))
    return u


def test_guest_range_of_a_shared_network(api: cs.CloudStack, live_server: Any, zone: dict[str, Any],
                                         physnet: dict[str, Any]) -> None:
    net = _shared_network(live_server, zone, physnet, 300)
    r = api.createVlanIpRange(networkid=net, gateway="10.50.0.1", netmask="255.255.255.0", startip="10.50.0.10",
                              endip="10.50.0.20")["vlan"]
    assert (r["forvirtualnetwork"], r["networkid"], r["vlan"], r["zoneid"]) == (False, net, "vlan://300", zone["id"])
    assert api.listVlanIpRanges(networkid=net)["vlaniprange"][0]["id"] == r["id"]
    err = api_error(api.createVlanIpRange, networkid=net, gateway="10.50.0.1", netmask="255.255.255.0",
                    startip="10.50.0.15", endip="10.50.0.30")
    assert "already has IPs that overlap" in err["errortext"]
    # Another shared network (another VLAN) may use the same subnet.
    other = _shared_network(live_server, zone, physnet, 301)
    assert api.createVlanIpRange(networkid=other, gateway="10.50.0.1", netmask="255.255.255.0",
                                 startip="10.50.0.10", endip="10.50.0.20")["vlan"]["vlan"] == "vlan://301"
    with db(live_server) as conn:  # guest addresses are the network's to hand out, not public rows
        assert conn.execute("SELECT count(*) FROM ip_address i JOIN vlan_ip_range v ON i.vlan_range_id = v.id "
                            "WHERE v.uuid = ?", (r["id"],)).fetchone()[0] == 0
