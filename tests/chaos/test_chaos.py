"""Chaos: faults during a workload, then the invariants that must always hold."""

from __future__ import annotations

import asyncio
import os
import random
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from cloudplane.actors.identity import EntityRef
from cloudplane.actors.kinds.host import host_ref
from cloudplane.actors.runtime import Runtime
from cloudplane.store.base import new_uuid
from cloudplane.store.jobs import AsyncJob, JobStatus
from cloudplane.store.tables.capacity import Capacity
from cloudplane.store.tables.compute import VmInstance
from cloudplane.store.tables.infra import Host
from cloudplane.supervisors.hareconciler import HaReconciler
from tests.kinds.test_vm import _values
from tests.simulator.fixtures import Site, site

pytestmark = [pytest.mark.ray, pytest.mark.slow]
VM, CAP, H, J = (t.__table__ for t in (VmInstance, Capacity, Host, AsyncJob))  # type: ignore[attr-defined]
TRANSITIONAL = ("Starting", "Stopping", "Migrating", "Expunging")


async def _workload_step(s: Site, rng: random.Random, vms: list[str], jobs: list[str]) -> None:
    r = rng.random()
    if r < 0.45 or len(vms) < 4:
        ref = EntityRef("vm", new_uuid(), s.cluster)
        values = {**await _values(s, ram_mb=rng.choice((256, 512, 1024)), mhz=100), "ha_enabled": rng.random() < 0.6}
        jobs.append(await s.rt.submit(ref, "create", {"values": values, "start": True}))
        vms.append(ref.id)
        return
    ref = EntityRef("vm", rng.choice(vms), s.cluster)
    op = rng.choice(["stop", "start", "migrate", "reboot"])
    jobs.append(await s.rt.submit(ref, op, {}))


async def _fault(s: Site, rng: random.Random, hosts: list[str], partitioned: set[str]) -> str:
    kind = rng.choice(["crash", "partition", "heal", "disconnect", "shard"])
    h = rng.choice(hosts)
    ref = host_ref(h, s.cluster)
    if kind == "shard":
        await s.rt.crash_shard(s.rt.shard_for(ref))
    elif kind == "partition":
        partitioned.add(h)
        await s.rt.run(ref, "sim_fault", {"fault": "partition"}, timeout=60)
    elif kind == "heal" and partitioned:
        h = partitioned.pop()
        await s.rt.run(host_ref(h, s.cluster), "sim_fault", {"fault": "heal"}, timeout=60)
    elif kind == "crash":
        await s.rt.run(ref, "sim_fault", {"fault": "crash"}, timeout=60)
    elif kind == "disconnect":
        await s.rt.run(ref, "sim_fault", {"fault": "disconnect"}, timeout=60)
    return f"{kind} {h[:8]}"


async def _replace_management_node(s: Site) -> Runtime:
    """The management node dies; another takes over the same shards and database."""
    await s.rt.stop(kill_shards=False)
    fresh = Runtime(s.rt.settings, namespace=s.rt.namespace, reconcile_interval_s=1.0)
    await fresh.start()
    return fresh


async def _quiesce(s: Site, jobs: list[str], ha: HaReconciler, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await ha.reconcile()
        async with s.rt.engine.connect() as conn:  # type: ignore[union-attr]
            pending = (await conn.execute(select(func.count()).select_from(J).where(
                J.c.status == JobStatus.PENDING))).scalar_one()
            held = (await conn.execute(select(func.count()).select_from(VM.join(H, VM.c.host_id == H.c.id)).where(
                H.c.status == "Down", VM.c.state.in_(("Running", "Starting", "Stopping", "Migrating")),
                VM.c.removed.is_(None)))).scalar_one()
            # Settles and restarts after a power report are not jobs: wait for them too (not for ever).
            moving = (await conn.execute(select(func.count()).select_from(VM).where(
                VM.c.state.in_(TRANSITIONAL), VM.c.removed.is_(None)))).scalar_one()
        if pending == 0 and held == 0 and moving == 0:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"not quiet after {timeout}s: {pending} jobs pending, {held} VMs on Down hosts, "
                         f"{moving} VMs in a transitional state")


async def _check_invariants(s: Site, hosts: list[str]) -> None:
    async with s.rt.engine.connect() as conn:  # type: ignore[union-attr]
        vms = (await conn.execute(select(VM).where(VM.c.type == "User", VM.c.removed.is_(None)))).all()
        statuses = dict((await conn.execute(select(H.c.id, H.c.status))).all())
        used = {(r.owner_id, r.capacity_type): r.used for r in (await conn.execute(
            select(CAP.c.owner_id, CAP.c.capacity_type, CAP.c.used))).all()}
        pending = (await conn.execute(select(func.count()).select_from(J).where(
            J.c.status == JobStatus.PENDING))).scalar_one()
    assert pending == 0, "every job must be terminal"
    assert not [v.uuid for v in vms if v.state in TRANSITIONAL], "no VM may stay in a transitional state"
    # Capacity rows equal the VMs on each host.
    for host_id in statuses:
        mem = sum(v.ram_mb * 2**20 for v in vms if v.host_id == host_id and v.state == "Running")
        cpu = sum(v.cpu_count * v.cpu_speed_mhz for v in vms if v.host_id == host_id and v.state == "Running")
        here = [(v.id, v.uuid[:8], v.state, v.ram_mb, v.last_host_id) for v in vms if v.host_id == host_id]
        assert used.get((host_id, 0), 0) == mem, f"host {host_id}: memory used {used.get((host_id, 0))} != {mem}; VMs {here}"
        assert used.get((host_id, 1), 0) == cpu, f"host {host_id}: cpu used {used.get((host_id, 1))} != {cpu}"
    # Every HA VM is off Down hosts; no Running VM is on a Down host.
    for v in vms:
        if v.state == "Running":
            assert statuses.get(v.host_id) != "Down", f"VM {v.uuid} Running on a Down host"
    # No VM on two hosts: ask every host that can answer about every Running VM.
    live = [h for h in hosts]
    for v in vms:
        if v.state != "Running":
            continue
        on = []
        for h in live:
            try:
                ans = await s.rt.run(host_ref(h, s.cluster), "command", {
                    "name": "CheckVirtualMachineCommand", "args": {"vm": v.instance_name}, "timeout": 2.0},
                    timeout=30)
            except Exception:  # an unreachable (crashed, partitioned) host cannot run anything we could see
                continue
            if ans["ok"] and ans["result"].get("state") == "PowerOn":
                on.append(h)
        assert len(on) <= 1, f"VM {v.uuid} runs on {on}"


SEEDS = [int(x) for x in os.environ.get("CLOUDPLANE_CHAOS_SEEDS", "1,2,3").split(",")]


@pytest.mark.parametrize("seed", SEEDS)
async def test_chaos_keeps_the_invariants(seed: int, ray_cluster: Any, tmp_path: Path) -> None:
    rng = random.Random(seed)
    async with site("sqlite", tmp_path) as s:
        await s.set_config(ping_interval="1", ping_timeout="2", ha_vm_restart_hostup="true",
                           restart_retry_interval="1")
        hosts = [await s.add_host() for _ in range(5)]
        for h in hosts:
            await s.wait_status(h, "Up")
        ha = HaReconciler(s.rt, interval_s=0.5)
        vms: list[str] = []
        jobs: list[str] = []
        partitioned: set[str] = set()
        log: list[str] = []
        for step in range(60):
            await _workload_step(s, rng, vms, jobs)
            if step % 12 == 6:
                log.append(await _fault(s, rng, hosts, partitioned))
            if step == 30:
                s.rt = await _replace_management_node(s)
                ha = HaReconciler(s.rt, interval_s=0.5)  # the new node runs its own reconciler
                log.append("management node replaced")
            if step % 5 == 0:
                await ha.reconcile()
            await asyncio.sleep(0.05)
        for h in list(partitioned):
            await s.rt.run(host_ref(h, s.cluster), "sim_fault", {"fault": "heal"}, timeout=60)
        await _quiesce(s, jobs, ha)
        await _check_invariants(s, hosts)
        async with s.rt.engine.connect() as conn:  # type: ignore[union-attr]
            states = dict((await conn.execute(select(VM.c.state, func.count()).where(
                VM.c.type == "User").group_by(VM.c.state))).all())
        print(f"seed {seed}: faults {log}; VM states {states}")
        assert states.get("Running", 0) > 0 and len(log) >= 5
