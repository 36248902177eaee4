"""HA through the runtime: crash → investigation → fence → Down → restarts;
partition → Alert only."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from cloudplane.actors.identity import EntityRef
from cloudplane.actors.kinds.host import host_ref
from cloudplane.store.base import new_uuid
from cloudplane.store.tables.capacity import Capacity
from cloudplane.store.tables.compute import VmInstance
from cloudplane.supervisors.hareconciler import HaReconciler
from tests.kinds.test_vm import _values
from tests.simulator.fixtures import Site, site

pytestmark = pytest.mark.ray
VM, CAP = VmInstance.__table__, Capacity.__table__  # type: ignore[attr-defined]


async def _deploy(s: Site, host: str, ha: bool) -> str:
    ref = EntityRef("vm", new_uuid(), s.cluster)
    values = {**await _values(s, ram_mb=512, mhz=100), "ha_enabled": ha}
    await s.rt.run(ref, "create", {"values": values, "start": True, "host": host})
    return ref.id


async def _vms(s: Site) -> dict[str, Any]:
    async with s.rt.engine.connect() as conn:  # type: ignore[union-attr]
        return {r.uuid: r for r in (await conn.execute(select(VM).where(VM.c.type == "User"))).all()}


async def _three_hosts(s: Site) -> list[str]:
    await s.set_config(ping_interval="1", ping_timeout="2")
    hosts = [await s.add_host() for _ in range(3)]
    for h in hosts:
        await s.wait_status(h, "Up")
    return hosts


async def test_crashed_host_vms_restart_elsewhere(ray_cluster: Any, tmp_path: Path) -> None:
    async with site("sqlite", tmp_path) as s:
        hosts = await _three_hosts(s)
        ha_vms = [await _deploy(s, hosts[0], True) for _ in range(3)]
        plain = [await _deploy(s, hosts[0], False) for _ in range(2)]
        dead_id = (await s.host(hosts[0])).id
        await s.rt.run(host_ref(hosts[0], s.cluster), "sim_fault", {"fault": "crash"})
        await s.wait_status(hosts[0], "Down", timeout=60)
        rec = HaReconciler(s.rt)
        for _ in range(300):  # up to a minute: CI shares two cores with much else
            await rec.reconcile()
            vms = await _vms(s)
            if all(vms[v].state == "Running" for v in ha_vms) and all(vms[v].state == "Stopped" for v in plain):
                break
            await asyncio.sleep(0.2)
        vms = await _vms(s)
        async with s.rt.engine.connect() as conn:  # type: ignore[union-attr]
            from cloudplane.store.jobs import AsyncJob
            J = AsyncJob.__table__  # type: ignore[attr-defined]
            jobs = (await conn.execute(select(J.c.op, J.c.status, J.c.result).where(J.c.op == "ha_restart"))).all()
        assert all(vms[v].state == "Running" and vms[v].host_id != dead_id for v in ha_vms), (
            [(vms[v].state, vms[v].host_id, dead_id) for v in ha_vms + plain], jobs)
        assert all(vms[v].state == "Stopped" and vms[v].host_id is None for v in plain)
        # No VM on two hosts: ask every live host about every VM.
        for v in ha_vms:
            on = []
            for h in hosts[1:]:
                ans = await s.rt.run(host_ref(h, s.cluster), "command", {
                    "name": "CheckVirtualMachineCommand", "args": {"vm": vms[v].instance_name}})
                if ans["result"]["state"] == "PowerOn":
                    on.append((await s.host(h)).id)
            assert on == [vms[v].host_id], f"{v} runs on {on}"
        async with s.rt.engine.connect() as conn:  # type: ignore[union-attr]
            used = dict((await conn.execute(select(CAP.c.owner_id, CAP.c.used).where(CAP.c.capacity_type == 0))).all())
            per_host = dict((await conn.execute(select(VM.c.host_id, func.sum(VM.c.ram_mb)).where(
                VM.c.state == "Running").group_by(VM.c.host_id))).all())
        for host_id, mem in used.items():
            assert mem == per_host.get(host_id, 0) * 2**20


async def test_partition_is_alert_and_nothing_moves(ray_cluster: Any, tmp_path: Path) -> None:
    async with site("sqlite", tmp_path) as s:
        hosts = await _three_hosts(s)
        vm = await _deploy(s, hosts[0], True)
        host_id = (await s.host(hosts[0])).id
        await s.rt.run(host_ref(hosts[0], s.cluster), "sim_fault", {"fault": "partition"})
        await s.wait_status(hosts[0], "Alert", timeout=30)
        rec = HaReconciler(s.rt)
        for _ in range(10):
            assert await rec.reconcile() == 0
            await asyncio.sleep(0.3)
        assert (await s.host(hosts[0])).status == "Alert"
        row = (await _vms(s))[vm]
        assert row.state == "Running" and row.host_id == host_id
        await s.rt.run(host_ref(hosts[0], s.cluster), "sim_fault", {"fault": "heal"})
        await s.wait_status(hosts[0], "Up", timeout=30)
        assert (await _vms(s))[vm].host_id == host_id


async def test_vm_vanished_out_of_band_is_handled(ray_cluster: Any, tmp_path: Path) -> None:
    async with site("sqlite", tmp_path) as s:
        hosts = await _three_hosts(s)
        await s.set_config(ha_vm_restart_hostup="true")
        plain = await _deploy(s, hosts[0], False)
        ha = await _deploy(s, hosts[0], True)
        vms = await _vms(s)
        for v in (plain, ha):
            await s.rt.run(host_ref(hosts[0], s.cluster), "sim_fault",
                           {"fault": "kill_vm", "vm": vms[v].instance_name})
        for _ in range(300):  # two ping intervals (1 s), with room for a loaded machine
            vms = await _vms(s)
            if vms[plain].state == "Stopped" and vms[ha].state == "Running":
                break
            await asyncio.sleep(0.2)
        assert vms[plain].state == "Stopped" and vms[plain].host_id is None
        assert vms[ha].state == "Running"  # restarted (ha.vm.restart.hostup)
        ans = await s.rt.run(host_ref(hosts[0], s.cluster), "command", {
            "name": "CheckVirtualMachineCommand", "args": {"vm": vms[plain].instance_name}})
        assert ans["result"]["state"] == "PowerOff"


async def test_maintenance_drains_or_refuses(ray_cluster: Any, tmp_path: Path) -> None:
    from cloudplane.errors import ApiError

    async with site("sqlite", tmp_path) as s:
        hosts = await _three_hosts(s)
        vms = [await _deploy(s, hosts[0], True) for _ in range(4)]
        await s.rt.run(host_ref(hosts[0], s.cluster), "prepare_maintenance", {})
        assert (await s.host(hosts[0])).resource_state == "Maintenance"
        rows = await _vms(s)
        src = (await s.host(hosts[0])).id
        assert all(rows[v].state == "Running" and rows[v].host_id != src for v in vms)
        await s.rt.run(host_ref(hosts[0], s.cluster), "cancel_maintenance", {})
        assert (await s.host(hosts[0])).resource_state == "Enabled"
        for v in vms:  # start the second half from empty hosts
            await s.rt.run(EntityRef("vm", v, s.cluster), "destroy", {"expunge": True})
        # Fill the other hosts' memory so a big VM on host 2 has nowhere to go.
        big = EntityRef("vm", new_uuid(), s.cluster)
        values = {**await _values(s, ram_mb=7 * 1024, mhz=100), "ha_enabled": True}
        await s.rt.run(big, "create", {"values": values, "start": True, "host": hosts[2]})
        for h in hosts[:2]:
            await s.rt.run(EntityRef("vm", new_uuid(), s.cluster), "create", {
                "values": {**await _values(s, ram_mb=5 * 1024, mhz=100)}, "start": True, "host": h})
        with pytest.raises(ApiError):
            await s.rt.run(host_ref(hosts[2], s.cluster), "prepare_maintenance", {})
        assert (await s.host(hosts[2])).resource_state == "ErrorInPrepareForMaintenance"
        row = (await _vms(s))[big.id]
        assert row.state == "Running" and row.host_id == (await s.host(hosts[2])).id
