"""Pods through `cs`: createPod (with its management IP range), updatePod,
deletePod, listPods, and the refusals CloudStack makes."""

from __future__ import annotations

from typing import Any

import cs
import pytest

from tests.infra.conftest import api_error, db, unique

pytestmark = pytest.mark.ray

POD_FIELDS = {"id", "name", "zoneid", "zonename", "gateway", "netmask", "startip", "endip", "forsystemvms",
              "vlanid", "ipranges", "allocationstate", "hasannotations"}


def _pods_named(live_server: Any, name: str) -> int:
    with db(live_server) as conn:
        return int(conn.execute("SELECT count(*) FROM pod WHERE name = ?", (name,)).fetchone()[0])


def test_create_pod_round_trip(api: cs.CloudStack, zone: dict[str, Any]) -> None:
    name = unique("pod")
    p = api.createPod(zoneid=zone["id"], name=name, gateway="172.16.15.1", netmask="255.255.255.0",
                      startip="172.16.15.2", endip="172.16.15.200")["pod"]
    assert POD_FIELDS <= set(p), POD_FIELDS - set(p)
    assert (p["name"], p["zoneid"], p["zonename"], p["gateway"], p["netmask"]) == (
        name, zone["id"], zone["name"], "172.16.15.1", "255.255.255.0")
    assert (p["startip"], p["endip"], p["forsystemvms"], p["vlanid"]) == (
        ["172.16.15.2"], ["172.16.15.200"], ["0"], ["untagged"])
    assert p["ipranges"] == [{"startip": "172.16.15.2", "endip": "172.16.15.200", "forsystemvms": "0",
                              "vlanid": "untagged", "gateway": "172.16.15.1", "cidr": "172.16.15.0/24"}]
    assert p["allocationstate"] == "Enabled"
    assert api.listPods(id=p["id"])["pod"][0] == p
    assert api.listPods(zoneid=zone["id"])["count"] == 1
    assert api.listPods(name=name, allocationstate="Enabled")["pod"][0]["id"] == p["id"]


def test_end_ip_defaults_to_the_end_of_the_cidr(api: cs.CloudStack, zone: dict[str, Any]) -> None:
    p = api.createPod(zoneid=zone["id"], name=unique("pod"), gateway="172.16.20.1", netmask="255.255.255.0",
                      startip="172.16.20.10")["pod"]
    assert p["endip"] == ["172.16.20.254"]


def test_update_pod(api: cs.CloudStack, pod: dict[str, Any]) -> None:
    new = unique("pod")
    p = api.updatePod(id=pod["id"], name=new, allocationstate="Disabled")["pod"]
    assert (p["name"], p["allocationstate"]) == (new, "Disabled")
    p = api.updatePod(id=pod["id"], netmask="255.255.0.0")["pod"]  # a wider subnet keeps the range inside
    assert p["netmask"] == "255.255.0.0" and p["ipranges"][0]["cidr"] == "172.16.0.0/16"
    err = api_error(api.updatePod, id=pod["id"], gateway="10.9.9.1", netmask="255.255.255.0")
    assert err["errorcode"] == 431
    assert err["errortext"] == "The start address of the some IP range is not in the CIDR subnet."


def test_pod_ip_range_outside_the_gateway_cidr(api: cs.CloudStack, live_server: Any, zone: dict[str, Any]) -> None:
    name = unique("pod")
    err = api_error(api.createPod, zoneid=zone["id"], name=name, gateway="10.0.0.1", netmask="255.255.255.0",
                    startip="172.16.15.2", endip="172.16.15.200")
    assert err["errorcode"] == 431 and err["cserrorcode"] == 4350
    assert err["errortext"] == "The start address of the IP range is not in the CIDR subnet."
    err = api_error(api.createPod, zoneid=zone["id"], name=name, gateway="172.16.15.1", netmask="255.255.255.0",
                    startip="172.16.15.1", endip="172.16.15.20")
    assert err["errortext"] == "The gateway shouldn't overlap start/end ip addresses"
    err = api_error(api.createPod, zoneid=zone["id"], name=name, gateway="172.16.15.1", netmask="255.0.255.0",
                    startip="172.16.15.2")
    assert err["errortext"] == "The netmask is invalid"
    err = api_error(api.createPod, zoneid=zone["id"], name=name, gateway="172.16.15.1", netmask="255.255.255.0",
                    startip="172.16.15.50", endip="172.16.15.20")
    assert err["errortext"] == "The start IP address must have a lower value than the end IP address."
    assert _pods_named(live_server, name) == 0  # nothing half-created


def test_overlapping_pod_cidrs_refused(api: cs.CloudStack, live_server: Any, zone: dict[str, Any],
                                       pod: dict[str, Any]) -> None:
    name = unique("pod")
    err = api_error(api.createPod, zoneid=zone["id"], name=name, gateway="172.16.15.129",
                    netmask="255.255.255.128", startip="172.16.15.130", endip="172.16.15.140")
    assert err["errorcode"] == 431
    assert err["errortext"] == (f"The subnet of the pod you are adding conflicts with the subnet of pod {pod['name']} "
                                f"in zone {zone['name']}. Please specify a different CIDR.")
    err = api_error(api.createPod, zoneid=zone["id"], name=name, gateway="10.1.1.1", netmask="255.255.255.0",
                    startip="10.1.1.2")
    assert "conflicts with the subnet of the Guest IP Network" in err["errortext"]
    assert _pods_named(live_server, name) == 0
    # Pods of another zone may reuse the subnet.
    other = api.createZone(name=unique("zone"), dns1="8.8.8.8", internaldns1="8.8.8.8", networktype="Advanced")["zone"]
    assert api.createPod(zoneid=other["id"], name=name, gateway="172.16.15.1", netmask="255.255.255.0",
                         startip="172.16.15.2")["pod"]["name"] == name


def test_check_pod_cidrs_off_allows_overlap(api: cs.CloudStack, zone: dict[str, Any], pod: dict[str, Any]) -> None:
    api.updateConfiguration(name="check.pod.cidrs", value="false")
    try:
        p = api.createPod(zoneid=zone["id"], name=unique("pod"), gateway="172.16.15.129",
                          netmask="255.255.255.128", startip="172.16.15.201", endip="172.16.15.210")["pod"]
        assert p["gateway"] == "172.16.15.129"
    finally:
        api.updateConfiguration(name="check.pod.cidrs", value="true")


def test_duplicate_pod_name_and_unknown_zone(api: cs.CloudStack, zone: dict[str, Any], pod: dict[str, Any]) -> None:
    err = api_error(api.createPod, zoneid=zone["id"], name=pod["name"], gateway="172.16.30.1",
                    netmask="255.255.255.0", startip="172.16.30.2")
    assert err["errorcode"] == 431 and "already exists in zone" in err["errortext"]
    missing = "0badc0de-0000-4000-8000-000000000000"
    err = api_error(api.createPod, zoneid=missing, name=unique("pod"), gateway="172.16.31.1",
                    netmask="255.255.255.0", startip="172.16.31.2")
    assert err["errorcode"] == 431
    assert err["errortext"] == ("Unable to execute API command createpod due to invalid value. Invalid parameter "
                                f"zoneid value={missing} due to incorrect long value format, or entity does not exist "
                                "or due to incorrect parameter annotation for the field in api cmd class.")


def test_delete_pod_refused_while_it_has_clusters(api: cs.CloudStack, pod: dict[str, Any],
                                                  cluster: dict[str, Any]) -> None:
    err = api_error(api.deletePod, id=pod["id"])
    assert err["errorcode"] == 530
    assert err["errortext"] == "The pod cannot be deleted because there are clusters in this pod."
    api.deleteCluster(id=cluster["id"])
    assert api.deletePod(id=pod["id"]) == {"success": True}
    assert api.listPods(id=pod["id"]) == {}
