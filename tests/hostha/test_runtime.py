"""Host HA through the runtime: the shard's evaluator drives a simulated host from
Available to Fenced as the simulated provider's flags say, records every
transition, and once the host is fenced its HA VMs run elsewhere; switches of the
cluster and the zone take a host's HA off and on; the providers' drivers."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from cloudplane.actors.identity import EntityRef
from cloudplane.actors.kinds.host import host_ref
from cloudplane.actors.kinds.hostha import HostView, KvmProvider, SimulatorProvider, haconfig_ref
from cloudplane.errors import ParamError
from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.tables.compute import VmInstance
from cloudplane.store.tables.drs import HaConfig, HaStateTransition, SimulatorHaState
from tests.kinds.test_vm import _values
from tests.simulator.fixtures import Site, site

pytestmark = pytest.mark.ray
VM, HA, TR, SIM = (t.__table__ for t in (VmInstance, HaConfig, HaStateTransition, SimulatorHaState))  # type: ignore[attr-defined]


def _view(**kw: Any) -> HostView:
    base: dict[str, Any] = dict(id=1, uuid="h", cluster_uuid="c", status="Up", resource_state="Enabled",
                                hypervisor="Simulator", removed=False, switches_on=True,
                                sim={"health": True, "activity": True, "recover": True, "fence": True})
    return HostView(**{**base, **kw})


def test_provider_eligibility() -> None:
    sim = SimulatorProvider()
    assert sim.eligible(_view()) == (True, "")
    assert not sim.eligible(_view(resource_state="Maintenance"))[0]
    assert not sim.eligible(_view(resource_state="Disabled"))[0]
    assert not sim.eligible(_view(hypervisor="KVM"))[0]
    ok, why = KvmProvider().eligible(_view(hypervisor="KVM"))
    assert not ok and "out-of-band" in why


async def _ha_row(s: Site, host: str) -> Any:
    async with s.rt.engine.connect() as conn:  # type: ignore[union-attr]
        return (await conn.execute(select(HA).where(HA.c.uuid == host))).one()


async def _wait_state(s: Site, host: str, state: str, timeout: float = 40.0) -> Any:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        row = await _ha_row(s, host)
        if row.ha_state == state:
            return row
        await asyncio.sleep(0.1)
    raise AssertionError(f"host {host} not {state} after {timeout}s: {(await _ha_row(s, host)).ha_state}")


async def _flags(s: Site, host: str, **flags: bool) -> None:
    host_id = (await s.host(host)).id
    async with s.rt.engine.begin() as conn:  # type: ignore[union-attr]
        await conn.execute(SIM.delete().where(SIM.c.host_id == host_id))
        await conn.execute(insert(SIM).values(host_id=host_id, transitions_from=0, updated=utcnow(), **flags))


async def _enable(s: Site, host: str) -> dict[str, Any]:
    host_id = (await s.host(host)).id
    ref = haconfig_ref(host, s.cluster)
    await s.rt.run(ref, "configure", {"resource_id": host_id, "provider": "simulatorhaprovider"})
    return dict(await s.rt.run(ref, "switch", {"resource_type": "Host", "resource_id": host_id, "enabled": True}))


async def _deploy(s: Site, host: str, ha: bool) -> str:
    ref = EntityRef("vm", new_uuid(), s.cluster)
    await s.rt.run(ref, "create", {"values": {**await _values(s, ram_mb=512, mhz=100), "ha_enabled": ha},
                                   "start": True, "host": host})
    return ref.id


async def test_a_dead_host_goes_from_suspect_to_fenced_and_its_vms_move(ray_cluster: Any, tmp_path: Path,
                                                                          backend: str) -> None:
    async with site(backend, tmp_path) as s:
        hosts = [await s.add_host() for _ in range(3)]
        for h in hosts:
            await s.wait_status(h, "Up")
        ha_vms = [await _deploy(s, hosts[0], True) for _ in range(2)]
        plain = await _deploy(s, hosts[0], False)
        dead_id = (await s.host(hosts[0])).id
        with pytest.raises(ParamError):  # no provider configured yet
            await s.rt.run(haconfig_ref(hosts[0], s.cluster), "switch",
                           {"resource_type": "Host", "resource_id": dead_id, "enabled": True})
        await _flags(s, hosts[0], health=True, activity=True, recover=True, fence=True)
        view = await _enable(s, hosts[0])
        assert view["haenable"] is True and view["hastate"] == "Available" and view["haprovider"] == "simulatorhaprovider"
        await asyncio.sleep(1.5)
        assert (await _ha_row(s, hosts[0])).ha_state == "Available"  # healthy: stays

        await _flags(s, hosts[0], health=False, activity=False, recover=False, fence=True)
        await _wait_state(s, hosts[0], "Fenced")
        async with s.rt.engine.connect() as conn:  # type: ignore[union-attr]
            trs = (await conn.execute(select(TR).where(TR.c.config_id == (await _ha_row(s, hosts[0])).id)
                                      .order_by(TR.c.id))).all()
        path = [(t.prev_state, t.event, t.state) for t in trs]
        assert path[0] == ("Disabled", "Enabled", "Available")
        assert path[1] == ("Available", "HealthCheckFailed", "Suspect")
        assert ("Suspect", "PerformActivityCheck", "Checking") in path
        assert ("Checking", "TooFewActivityCheckSamples", "Suspect") in path
        assert ("Checking", "ActivityCheckFailureOverThresholdRatio", "Recovering") in path
        assert path[-2:] == [("Recovering", "RecoveryOperationThresholdExceeded", "Fencing"),
                             ("Fencing", "Fenced", "Fenced")]
        assert trs[-2].recovery_counter > 0 and trs[-2].activity_counter == 0
        assert (trs[-1].recovery_counter, trs[-1].activity_counter) == (0, 0)

        # Fenced: the simulated host is powered off; its HA VMs run elsewhere, the other is stopped.
        with pytest.raises(Exception):
            await s.rt.run(host_ref(hosts[0], s.cluster), "command",
                           {"name": "CheckVirtualMachineCommand", "args": {"vm": "x"}, "timeout": 2.0})
        for _ in range(100):
            async with s.rt.engine.connect() as conn:  # type: ignore[union-attr]
                vms = {r.uuid: r for r in (await conn.execute(select(VM).where(VM.c.type == "User"))).all()}
            if all(vms[v].state == "Running" for v in ha_vms) and vms[plain].state == "Stopped":
                break
            await asyncio.sleep(0.2)
        assert all(vms[v].state == "Running" and vms[v].host_id not in (None, dead_id) for v in ha_vms)
        assert vms[plain].state == "Stopped" and vms[plain].host_id is None
        # A fenced host stays Fenced while it is not healthy, whatever the flags say.
        await _flags(s, hosts[0], health=True, activity=True, recover=True, fence=True)
        await asyncio.sleep(1.5)
        assert (await _ha_row(s, hosts[0])).ha_state == "Fenced"


async def test_cluster_and_zone_switches(ray_cluster: Any, tmp_path: Path) -> None:
    async with site("sqlite", tmp_path) as s:
        h = await s.add_host()
        await s.wait_status(h, "Up")
        assert (await _enable(s, h))["hastate"] == "Available"
        cluster, zone = haconfig_ref(s.cluster, s.cluster), haconfig_ref(s.zone, s.zone)
        await s.rt.run(cluster, "switch", {"resource_type": "Cluster", "resource_id": s.ids["cluster"],
                                           "enabled": False})
        row = await _wait_state(s, h, "Disabled", timeout=10)
        assert row.enabled  # the host's own switch is still on
        await s.rt.run(cluster, "switch", {"resource_type": "Cluster", "resource_id": s.ids["cluster"],
                                           "enabled": True})
        await _wait_state(s, h, "Available", timeout=10)
        await s.rt.run(zone, "switch", {"resource_type": "Zone", "resource_id": s.ids["zone"], "enabled": False})
        await _wait_state(s, h, "Disabled", timeout=10)
        await s.rt.run(zone, "switch", {"resource_type": "Zone", "resource_id": s.ids["zone"], "enabled": True})
        await _wait_state(s, h, "Available", timeout=10)
        view = await s.rt.run(haconfig_ref(h, s.cluster), "switch", {
            "resource_type": "Host", "resource_id": (await s.host(h)).id, "enabled": False})
        assert view == {"id": h, "haenable": False, "hastate": "Disabled", "haprovider": "simulatorhaprovider"}
        # Maintenance makes a host ineligible.
        await _enable(s, h)
        await s.rt.run(host_ref(h, s.cluster), "update", {"allocationstate": "Disable"})
        await _wait_state(s, h, "Ineligible", timeout=10)
        await s.rt.run(host_ref(h, s.cluster), "update", {"allocationstate": "Enable"})
        await _wait_state(s, h, "Available", timeout=10)
