"""listCapacity, listHypervisors, listOsTypes, listOsCategories and listAlerts
through `cs`, over what the other infrastructure commands create."""

from __future__ import annotations

from typing import Any

import cs
import pytest

from tests.infra.conftest import nfs_url, unique

pytestmark = pytest.mark.ray
TiB = 2**40


def test_capacity_per_zone_pod_and_cluster(api: cs.CloudStack, zone: dict[str, Any], pod: dict[str, Any],
                                           cluster: dict[str, Any], physnet: dict[str, Any]) -> None:
    api.createStoragePool(zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"], name=unique("ps"),
                          url=nfs_url())
    api.createVlanIpRange(zoneid=zone["id"], vlan="50", gateway="192.168.2.1", netmask="255.255.255.0",
                          startip="192.168.2.2", endip="192.168.2.11")
    api.addImageStore(zoneid=zone["id"], provider="NFS", url=nfs_url("secondary"))
    caps = api.listCapacity(zoneid=zone["id"])
    by_type = {c["type"]: c for c in caps["capacity"]}
    assert caps["count"] == len(caps["capacity"]) == 5
    assert set(by_type) == {2, 3, 4, 5, 6}
    assert (by_type[2]["capacitytotal"], by_type[2]["name"]) == (TiB, "STORAGE")
    assert by_type[3]["capacitytotal"] == 2 * TiB  # allocated storage shows overprovisioned (factor 2)
    assert (by_type[4]["capacitytotal"], by_type[5]["capacitytotal"], by_type[6]["capacitytotal"]) == (10, 199, TiB)
    for c in caps["capacity"]:
        assert set(c) == {"type", "name", "capacitytotal", "capacityused", "percentused", "zoneid", "zonename"}
        assert c["zoneid"] == zone["id"] and c["percentused"] == "0.00"
    pod_caps = api.listCapacity(podid=pod["id"])["capacity"]
    assert {c["type"] for c in pod_caps} == {2, 3, 5} and all(c["podid"] == pod["id"] for c in pod_caps)
    cl = api.listCapacity(clusterid=cluster["id"])["capacity"]
    assert {c["type"] for c in cl} == {2, 3} and cl[0]["clustername"] == cluster["name"]
    assert [c["type"] for c in api.listCapacity(zoneid=zone["id"], type=6)["capacity"]] == [6]
    assert len(api.listCapacity(zoneid=zone["id"], sortby="usage", pagesize=2, page=1)["capacity"]) == 2
    with_caps = api.listClusters(id=cluster["id"], showcapacities=True)["cluster"][0]
    assert {c["type"] for c in with_caps["capacity"]} == {2, 3}
    assert {c["type"] for c in api.listPods(id=pod["id"], showcapacities=True)["pod"][0]["capacity"]} == {2, 3, 5}


def test_hypervisors(api: cs.CloudStack, zone: dict[str, Any], cluster: dict[str, Any]) -> None:
    assert api.listHypervisors()["hypervisor"] == [{"name": "Simulator"}, {"name": "KVM"}]
    assert api.listHypervisors(zoneid=zone["id"]) == {"count": 1, "hypervisor": [{"name": "Simulator"}]}


def test_os_catalogue(api: cs.CloudStack) -> None:
    cats = {c["name"]: c for c in api.listOsCategories()["oscategory"]}
    assert {"CentOS", "Debian", "Ubuntu", "Windows", "Other", "RedHat"} <= set(cats)
    assert api.listOsCategories(name="Ubuntu")["oscategory"] == [cats["Ubuntu"]]
    centos = api.listOsTypes(description="CentOS 5.6 (64-bit)")["ostype"][0]
    assert set(centos) >= {"id", "description", "oscategoryid", "isuserdefined"}
    assert centos["oscategoryid"] == cats["CentOS"]["id"] and centos["isuserdefined"] is False
    windows = api.listOsTypes(oscategoryid=cats["Windows"]["id"])
    assert windows["count"] >= 5 and all(t["oscategoryid"] == cats["Windows"]["id"] for t in windows["ostype"])
    assert any(t["description"] == "Other (64-bit)" for t in api.listOsTypes(keyword="Other")["ostype"])
    assert api.listOsTypes(id=centos["id"])["ostype"] == [centos]


def test_alerts(api: cs.CloudStack, live_server: Any) -> None:
    from tests.infra.conftest import db

    name = unique("ALERT.TEST")
    with db(live_server) as conn:
        conn.execute("INSERT INTO alert (uuid, version, created, alert_type, name, subject, sent_count, archived) "
                     "VALUES (?, 1, '2026-01-01 00:00:00.000000', 27, ?, 'Management network CIDR is not "
                     "configured originally', 1, 0)", (unique("a"), name))
    got = api.listAlerts(name=name)
    assert got["count"] == 1
    a = got["alert"][0]
    assert (a["type"], a["name"], a["sent"]) == (27, name, "2026-01-01T00:00:00+0000")
    assert a["description"] == "Management network CIDR is not configured originally"
    assert api.listAlerts(type="27", name=name)["count"] == 1
