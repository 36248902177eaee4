"""Host HA through a live server and the `cs` client, as CloudStack's own
simulator test (test_hostha_simulator) drives it: providers, configure, enable
and disable for a host, a cluster and a zone, listHostHAResources, and a host
walked from Available through Suspect to Fenced by
configureSimulatorHAProviderState, read back with listSimulatorHAStateTransitions."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import cs
import pytest

from tests.drs.demozone import client, deploy_demo

pytestmark = pytest.mark.ray
RECORDED = Path("/work/shared/cloudstack/responses/HostService.json")


@pytest.fixture(scope="module")
def demo(live_server: Any) -> dict[str, Any]:
    return deploy_demo(live_server)


def _error(fn: Any, **params: Any) -> dict[str, Any]:
    with pytest.raises(cs.CloudStackApiException) as e:
        fn(**params)
    return dict(e.value.error)


def _hastate(api: cs.CloudStack, host: str) -> str:
    return str(api.listHostHAResources(hostid=host)["hostha"][0]["hastate"])


def _until(fn: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


def test_providers(live_server: Any) -> None:
    api = client(live_server)
    assert api.listHostHAProviders(hypervisor="Simulator")["hostha"] == [{"haprovider": "SimulatorHAProvider"}]
    assert api.listHostHAProviders(hypervisor="KVM")["hostha"][0]["haprovider"] == "KVMHAProvider"
    assert api.listHostHAProviders(hypervisor="VMware") == {}


def test_configure_enable_disable(live_server: Any, demo: dict[str, Any]) -> None:
    api = client(live_server)
    host = demo["clusters"][0]["hosts"][0]
    other = demo["clusters"][0]["hosts"][1]
    assert _error(api.enableHAForHost, hostid=other)["errorcode"] == 431  # no provider configured
    assert _error(api.configureHAForHost, hostid=host, provider="kvmhaprovider")["errorcode"] == 431
    assert _error(api.configureHAForHost, hostid=host, provider="nosuchprovider")["errorcode"] == 431
    cfg = api.configureHAForHost(hostid=host, provider="SimulatorHAProvider")["hostha"]
    assert cfg["hostid"] == host and cfg["haprovider"] == "simulatorhaprovider" and cfg["haenable"] is False
    enabled = api.enableHAForHost(hostid=host)["hostha"]
    want = json.loads(RECORDED.read_text())["enableHAForHost"]["enablehaforhostresponse"]["jobresult"]["hostha"]
    assert set(want) <= set(enabled), enabled
    assert enabled["haenable"] is True and enabled["hastate"] == "Available"
    res = api.listHostHAResources(hostid=host)["hostha"]
    assert res == [{"hostid": host, "haenable": True, "hastate": "Available", "haprovider": "simulatorhaprovider"}]
    assert host in [r["hostid"] for r in api.listHostHAResources()["hostha"]]
    # listHosts nests the same configuration; an unconfigured host shows HA disabled.
    assert api.listHosts(id=host)["host"][0]["hostha"] == {
        "haenable": True, "hastate": "Available", "haprovider": "simulatorhaprovider"}
    assert api.listHosts(id=other)["host"][0]["hostha"] == {"haenable": False, "hastate": "Disabled"}

    cluster, zone = demo["clusters"][0]["id"], demo["zoneid"]
    assert api.disableHAForCluster(clusterid=cluster)["success"] is True
    assert _until(lambda: _hastate(api, host) == "Disabled", 15)
    assert api.enableHAForCluster(clusterid=cluster)["success"] is True
    assert _until(lambda: _hastate(api, host) == "Available", 15)
    assert api.disableHAForZone(zoneid=zone)["success"] is True
    assert _until(lambda: _hastate(api, host) == "Disabled", 15)
    assert api.enableHAForZone(zoneid=zone)["success"] is True
    assert _until(lambda: _hastate(api, host) == "Available", 15)
    disabled = api.disableHAForHost(hostid=host)["hostha"]
    assert disabled["haenable"] is False and disabled["hastate"] == "Disabled"
    assert api.listHosts(id=host)["host"][0]["hostha"] == {
        "haenable": False, "hastate": "Disabled", "haprovider": "simulatorhaprovider"}
    for cmd, key in ((api.enableHAForCluster, "clusterid"), (api.enableHAForZone, "zoneid"),
                     (api.disableHAForHost, "hostid")):
        assert _error(cmd, **{key: "6f1c0c36-6b7d-4b0e-9a3e-5c2f6d1e8a11"})["errorcode"] == 431
    assert _error(api.listHostHAResources, hostid="someinvalidvalue")["errorcode"] == 431


def _transition_to(api: cs.CloudStack, host: str, state: str) -> tuple[Any, Any] | None:
    """The first transition into `state` and the one before it."""
    trs = api.listSimulatorHAStateTransitions(hostid=host).get("simulatorhastatetransition", [])
    for i, t in enumerate(trs):
        if t["hastate"] == state:
            return (trs[i - 1] if i else None), t
    return None


def test_simulated_host_from_suspect_to_fenced(live_server: Any, demo: dict[str, Any]) -> None:
    api = client(live_server)
    host = demo["clusters"][1]["hosts"][1]
    api.configureHAForHost(hostid=host, provider="simulatorhaprovider")
    ok = api.configureSimulatorHAProviderState(hostid=host, health=True, activity=True, recover=True, fence=False)
    assert ok == {"success": True}
    api.enableHAForHost(hostid=host)
    found = _until(lambda: _transition_to(api, host, "available"), 15)
    assert found and (found[1]["event"], found[1]["prevhastate"]) == ("enabled", "disabled")

    api.configureSimulatorHAProviderState(hostid=host, health=False, activity=False, recover=False, fence=True)
    suspect = _until(lambda: _transition_to(api, host, "suspect"), 30)
    assert suspect, api.listSimulatorHAStateTransitions(hostid=host)
    t = suspect[1]
    assert (t["event"], t["prevhastate"], t["activitycounter"], t["recoverycounter"]) == (
        "healthcheckfailed", "available", 0, 0)
    fenced = _until(lambda: _transition_to(api, host, "fenced"), 60)
    assert fenced, api.listSimulatorHAStateTransitions(hostid=host)
    before, t = fenced
    assert (before["event"], before["hastate"], before["prevhastate"]) == (
        "recoveryoperationthresholdexceeded", "fencing", "recovering")
    assert before["recoverycounter"] > 0 and before["activitycounter"] == 0
    assert (t["event"], t["prevhastate"], t["activitycounter"], t["recoverycounter"]) == ("fenced", "fencing", 0, 0)
    events = [x["event"] for x in api.listSimulatorHAStateTransitions(hostid=host)["simulatorhastatetransition"]]
    assert "performactivitycheck" in events and "activitycheckfailureoverthresholdratio" in events
    assert _hastate(api, host) == "Fenced"
