"""CloudStack's own simulator HA recipe (test_vm_ha), through the API with `cs`:
configureSimulator mocks fail CheckHealthCommand, PingCommand and
CheckVirtualMachineCommand on the VM's host, PingTestCommand in the pod and
CheckOnHostCommand on the neighbours; the HA VM is then Running on another host
of the cluster soon after ping.interval × ping.timeout.

Half the recipe is not enough: while the neighbours can still see the host it
stays in Alert and nothing moves; each mock must have been consulted."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.ha.conftest import PING_INTERVAL, PING_TIMEOUT, HaCloud, until

pytestmark = [pytest.mark.ray, pytest.mark.slow]
SLACK_S = 30.0  # investigation, fencing and the restart, on a machine shared with much else


def _vm(c: HaCloud, vm: str) -> dict[str, Any]:
    return dict(c.api.listVirtualMachines(id=vm)["virtualmachine"][0])


def _host_state(c: HaCloud, host: str) -> str:
    return str(c.api.listHosts(id=host)["host"][0]["state"])


def test_simulator_ha_recipe(ha_cloud: HaCloud) -> None:
    c, api = ha_cloud, ha_cloud.api
    cluster = c.clusters[0]
    victim, neighbours = cluster["hosts"][0], cluster["hosts"][1:]
    vm = api.deployVirtualMachine(zoneid=c.zone, templateid=c.template, serviceofferingid=c.ha_offering,
                                  hostid=victim, name=f"ha-{uuid.uuid4().hex[:8]}")["virtualmachine"]
    assert vm["state"] == "Running" and vm["hostid"] == victim
    mocks: dict[str, list[int]] = {}

    def mock(name: str, **scope: str) -> None:
        m = api.configureSimulator(name=name, value="result:fail", **scope)["mock"]
        mocks.setdefault(name, []).append(int(m["id"]))

    try:
        # The host stops answering, but its neighbours still see it: Alert, and nothing moves.
        for name in ("CheckHealthCommand", "PingCommand", "CheckVirtualMachineCommand"):
            mock(name, hostid=victim)
        mock("PingTestCommand", podid=c.pod)
        t0 = time.monotonic()
        assert until(lambda: _host_state(c, victim) == "Alert", 30), _host_state(c, victim)
        time.sleep(PING_INTERVAL * PING_TIMEOUT + 1)  # time for a second investigation
        assert _host_state(c, victim) == "Alert"
        held = _vm(c, vm["id"])
        assert held["state"] == "Running" and held["hostid"] == victim

        # The rest of the recipe: the neighbours cannot see it either. Confirmed dead, fenced, restarted.
        for n in neighbours:
            mock("CheckOnHostCommand", hostid=n)
        t1 = time.monotonic()
        moved = until(lambda: (lambda v: v["state"] == "Running" and v.get("hostid") in neighbours and v)(
            _vm(c, vm["id"])), PING_INTERVAL * PING_TIMEOUT + SLACK_S)
        took = time.monotonic() - t1
        assert moved, _vm(c, vm["id"])
        assert _host_state(c, victim) == "Down"
        assert api.listVirtualMachines(hostid=victim, listall=True).get("virtualmachine", []) == []
        fired = {name: [int(api.querySimulatorMock(id=i)["mock"]["fired"]) for i in ids] for name, ids in mocks.items()}
        for name in ("CheckHealthCommand", "PingCommand", "CheckVirtualMachineCommand", "PingTestCommand"):
            assert all(f >= 1 for f in fired[name]), fired  # every witness was asked, and failed
        assert any(f >= 1 for f in fired["CheckOnHostCommand"]), fired
        alerts = [a["description"] for a in api.listAlerts().get("alert", [])]
        assert any("is Down (fenced" in s for s in alerts), alerts
        print(f"alert after {t1 - t0:.1f}s; restarted {took:.1f}s after the neighbours lost sight of it")
    finally:
        for ids in mocks.values():
            for i in ids:
                api.cleanupSimulatorMock(id=i)
