"""The DRS commands through a live server and the `cs` client: CloudStack 4.19's
shapes (`generateclusterdrsplanresponse`, `drsPlan`, `migrations`), the async
execution, listing, and the parameter errors."""

from __future__ import annotations

from typing import Any

import cs
import pytest

from tests.drs.demozone import client, deploy_demo

pytestmark = pytest.mark.ray
PLAN_FIELDS = {"id", "clusterid", "type", "status", "created", "migrations"}


@pytest.fixture(scope="module")
def demo(live_server: Any) -> dict[str, Any]:
    return deploy_demo(live_server)


def _error(fn: Any, **params: Any) -> dict[str, Any]:
    with pytest.raises(cs.CloudStackApiException) as e:
        fn(**params)
    return dict(e.value.error)


def test_generate_list_and_execute(live_server: Any, demo: dict[str, Any]) -> None:
    api = client(live_server)
    cluster = demo["clusters"][0]["id"]
    body = api.generateClusterDrsPlan(id=cluster)
    plan = body["generateclusterdrsplanresponse"]  # CloudStack nests the plan under the response name
    assert PLAN_FIELDS <= set(plan), plan
    assert plan["clusterid"] == cluster and plan["type"] == "MANUAL" and plan["status"] == "UNDER_REVIEW"
    assert isinstance(plan["migrations"], list)
    assert plan["algorithm"] == "balanced" and "threshold" in plan and plan["explanation"]

    listed = api.listClusterDrsPlan(clusterid=cluster)
    assert listed["count"] >= 1 and plan["id"] in [p["id"] for p in listed["drsPlan"]]
    one = api.listClusterDrsPlan(id=plan["id"])["drsPlan"]
    assert len(one) == 1 and one[0]["id"] == plan["id"]
    assert api.listClusterDrsPlan(clusterid=demo["clusters"][1]["id"]).get("drsPlan", []) == []

    # Without migrateto, the newest plan generated and not run is the one executed.
    done = api.executeClusterDrsPlan(id=cluster)
    result = done["drsPlan"]
    assert result["id"] == plan["id"] and result["status"] == "COMPLETED" and result["eventid"]
    assert PLAN_FIELDS <= set(result)
    assert api.listClusterDrsPlan(id=plan["id"])["drsPlan"][0]["status"] == "COMPLETED"
    events = api.listEvents(type="CLUSTER.DRS", listall=True).get("event", [])
    assert result["eventid"] in [e["id"] for e in events]


def test_errors(live_server: Any, demo: dict[str, Any]) -> None:
    api = client(live_server)
    cluster = demo["clusters"][0]["id"]
    err = _error(api.generateClusterDrsPlan, id="6f1c0c36-6b7d-4b0e-9a3e-5c2f6d1e8a11")
    assert err["errorcode"] == 431
    assert _error(api.generateClusterDrsPlan, id=cluster, migrations=-1)["errorcode"] == 431
    err = _error(api.executeClusterDrsPlan, id=cluster, **{
        "migrateto[0].vm": "6f1c0c36-6b7d-4b0e-9a3e-5c2f6d1e8a11", "migrateto[0].host": demo["clusters"][0]["hosts"][0]})
    assert err["errorcode"] == 431 and "Unable to find the vm/host" in err["errortext"]
    assert _error(api.generateClusterDrsPlan)["errorcode"] == 431  # id is required



def test_a_plan_that_moves_vms(live_server: Any, demo: dict[str, Any]) -> None:
    """VMs pinned on one host; the plan the UI shows is executed with `migrateto`, as the UI does."""
    api = client(live_server)
    cluster = demo["clusters"][0]["id"]
    heavy, light = demo["clusters"][0]["hosts"]
    so = next(o for o in api.listServiceOfferings()["serviceoffering"] if o["memory"] == 512)
    tpl = api.listTemplates(templatefilter="featured", zoneid=demo["zoneid"])["template"][0]
    # The zone's system VMs may sit on either host: six VMs outweigh them.
    vms = [api.deployVirtualMachine(zoneid=demo["zoneid"], serviceofferingid=so["id"], templateid=tpl["id"],
                                    hostid=heavy)["virtualmachine"]["id"] for _ in range(6)]
    # The cluster's own tolerance: any imbalance above 0.05 is worth a move here.
    api.updateConfiguration(name="drs.imbalance", value="0.95", clusterid=cluster)
    plan = api.generateClusterDrsPlan(id=cluster, migrations=6)["generateclusterdrsplanresponse"]
    moves = plan["migrations"]
    assert moves and plan["imbalanceafter"] < plan["imbalancebefore"], plan["explanation"]
    for m in moves:
        assert set(m) >= {"virtualmachineid", "virtualmachinename", "sourcehostid", "sourcehostname",
                          "destinationhostid", "destinationhostname"}
        assert m["virtualmachineid"] in vms and m["sourcehostid"] == heavy and m["destinationhostid"] == light
    params = {}
    for i, m in enumerate(moves):
        params[f"migrateto[{i}].vm"] = m["virtualmachineid"]
        params[f"migrateto[{i}].host"] = m["destinationhostid"]
    done = api.executeClusterDrsPlan(id=cluster, **params)["drsPlan"]
    assert done["id"] != plan["id"] and done["status"] == "COMPLETED" and done["type"] == "MANUAL"
    assert [m["jobstatus"] for m in done["migrations"]] == ["SUCCEEDED"] * len(moves)
    where = {v["id"]: v["hostid"] for v in api.listVirtualMachines(ids=",".join(vms), listall=True)["virtualmachine"]}
    assert sorted(where[m["virtualmachineid"]] for m in moves) == [light] * len(moves)
    # The generated plan was not run; it is still waiting for review.
    assert api.listClusterDrsPlan(id=plan["id"])["drsPlan"][0]["status"] == "UNDER_REVIEW"
    for v in vms:
        api.destroyVirtualMachine(id=v, expunge=True)
