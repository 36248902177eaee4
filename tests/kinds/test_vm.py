"""The VM entity through the runtime: lifecycle, capacity claims, concurrency,
and the system-VM reconciler."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from cloudplane.actors.identity import EntityRef
from cloudplane.errors import ApiError
from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.tables.capacity import Capacity
from cloudplane.store.tables.compute import ServiceOffering, VmInstance
from cloudplane.store.tables.identity import Account
from cloudplane.store.tables.storage import ImageStore
from cloudplane.supervisors.systemvms import SystemVmReconciler
from tests.simulator.fixtures import Site, site

pytestmark = pytest.mark.ray
VM, CAP, SO, A, IS = (t.__table__ for t in (VmInstance, Capacity, ServiceOffering, Account, ImageStore))  # type: ignore[attr-defined]


async def _values(s: Site, ram_mb: int = 1024, mhz: int = 1000) -> dict[str, Any]:
    async with s.rt.engine.connect() as conn:  # type: ignore[union-attr]
        so = (await conn.execute(select(SO.c.id).limit(1))).scalar()
        acct = (await conn.execute(select(A.c.id, A.c.domain_id).where(A.c.name == "admin"))).one()
    return {"name": "vm", "type": "User", "zone_id": s.ids["zone"], "account_id": acct.id, "domain_id": acct.domain_id,
            "service_offering_id": so, "cpu_count": 1, "cpu_speed_mhz": mhz, "ram_mb": ram_mb,
            "hypervisor_type": "Simulator"}


async def _vm(s: Site, uuid: str) -> Any:
    async with s.rt.engine.connect() as conn:  # type: ignore[union-attr]
        return (await conn.execute(select(VM).where(VM.c.uuid == uuid))).one()


async def _used(s: Site) -> dict[tuple[int, int], int]:
    async with s.rt.engine.connect() as conn:  # type: ignore[union-attr]
        return {(r.owner_id, r.capacity_type): r.used for r in (await conn.execute(select(CAP))).all()}


async def test_lifecycle_and_capacity(ray_cluster: Any, tmp_path: Path, backend: str) -> None:
    async with site(backend, tmp_path) as s:
        h = await s.add_host()
        await s.wait_status(h, "Up")
        ref = EntityRef("vm", new_uuid(), s.cluster)
        res = await s.rt.run(ref, "create", {"values": await _values(s), "start": True})
        vm = await _vm(s, ref.id)
        assert res["state"] == "Running" and vm.state == "Running" and vm.instance_name.startswith("i-")
        host_id = (await s.host(h)).id
        assert (await _used(s))[(host_id, 0)] == 1024 * 2**20 and (await _used(s))[(host_id, 1)] == 1000
        await s.rt.run(ref, "reboot", {})
        await s.rt.run(ref, "stop", {})
        assert (await _vm(s, ref.id)).state == "Stopped"
        assert (await _used(s))[(host_id, 0)] == 0
        await s.rt.run(ref, "start", {})
        await s.rt.run(ref, "destroy", {"expunge": True})
        vm = await _vm(s, ref.id)
        assert vm.removed is not None and (await _used(s))[(host_id, 1)] == 0


async def test_concurrent_starts_never_overbook(ray_cluster: Any, tmp_path: Path) -> None:
    async with site("sqlite", tmp_path) as s:
        # Hosts fill up completely: the cluster's 85 % disable threshold is not what this tests.
        await s.set_config(**{"cluster.memory.allocated.capacity.disablethreshold": "1"})
        hosts = [await s.add_host() for _ in range(2)]
        for h in hosts:
            await s.wait_status(h, "Up")
        # Each simulated host has 8 GiB: 2 hosts fit 16 VMs of 1 GiB; ask for 24.
        values = await _values(s, ram_mb=1024, mhz=100)
        refs = [EntityRef("vm", new_uuid(), s.cluster) for _ in range(24)]
        jobs = await asyncio.gather(*(s.rt.submit(r, "create", {"values": values, "start": True}) for r in refs))
        results = await asyncio.gather(*(s.rt.wait(j, 60) for j in jobs))
        ok = [r for r in results if r.ok]
        assert len(ok) == 16 and {r.code for r in results if not r.ok} == {533}
        async with s.rt.engine.connect() as conn:  # type: ignore[union-attr]
            per_host = dict((await conn.execute(select(VM.c.host_id, func.sum(VM.c.ram_mb)).where(
                VM.c.state == "Running").group_by(VM.c.host_id))).all())
            states = dict((await conn.execute(select(VM.c.state, func.count()).group_by(VM.c.state))).all())
        used = await _used(s)
        assert states == {"Running": 16, "Error": 8}
        for host_id, ram in per_host.items():
            assert used[(host_id, 0)] == ram * 2**20 <= 8 * 2**30


async def test_start_fails_over_to_another_host(ray_cluster: Any, tmp_path: Path) -> None:
    async with site("sqlite", tmp_path) as s:
        hosts = [await s.add_host() for _ in range(2)]
        for h in hosts:
            await s.wait_status(h, "Up")
        from cloudplane.store.tables.simulator import SimulatorMock

        async with s.rt.engine.begin() as conn:  # type: ignore[union-attr]
            await conn.execute(insert(SimulatorMock.__table__).values(  # type: ignore[attr-defined]
                name="StartCommand", value="result:fail", host_uuid=hosts[0], fired=0))
        await s.rt.reset_caches()
        for _ in range(4):
            ref = EntityRef("vm", new_uuid(), s.cluster)
            await s.rt.run(ref, "create", {"values": await _values(s), "start": True})
            assert (await _vm(s, ref.id)).host_id == (await s.host(hosts[1])).id
        used = await _used(s)
        assert used[((await s.host(hosts[0])).id, 0)] == 0


async def test_system_vms_are_reconciled_running(ray_cluster: Any, tmp_path: Path) -> None:
    async with site("sqlite", tmp_path) as s:
        h = await s.add_host()
        await s.wait_status(h, "Up")
        async with s.rt.engine.begin() as conn:  # type: ignore[union-attr]
            await conn.execute(insert(IS).values(uuid=new_uuid(), version=1, created=utcnow(), name="sec",
                                                 zone_id=s.ids["zone"], provider="NFS", url="nfs://x/y"))
        rec = SystemVmReconciler(s.rt)
        assert await rec.reconcile() == 2
        for _ in range(100):
            async with s.rt.engine.connect() as conn:  # type: ignore[union-attr]
                rows = (await conn.execute(select(VM.c.type, VM.c.state).where(VM.c.type != "User"))).all()
            if len(rows) == 2 and {r.state for r in rows} == {"Running"}:
                break
            await asyncio.sleep(0.1)
        assert sorted((r.type, r.state) for r in rows) == [("ConsoleProxy", "Running"), ("SecondaryStorageVm", "Running")]
        assert await rec.reconcile() == 0  # nothing left to do: no duplicates
        # Destroyed, it is replaced by a new one (a new id).
        async with s.rt.engine.connect() as conn:  # type: ignore[union-attr]
            ssvm = (await conn.execute(select(VM.c.uuid, VM.c.placement_key).where(
                VM.c.type == "SecondaryStorageVm"))).one()
        await s.rt.run(EntityRef("vm", ssvm.uuid, ssvm.placement_key), "destroy", {"expunge": True})
        assert await rec.reconcile() == 1
        for _ in range(100):
            async with s.rt.engine.connect() as conn:  # type: ignore[union-attr]
                live = (await conn.execute(select(VM.c.uuid, VM.c.state).where(
                    VM.c.type == "SecondaryStorageVm", VM.c.removed.is_(None)))).all()
            if len(live) == 1 and live[0].state == "Running":
                break
            await asyncio.sleep(0.1)
        assert len(live) == 1 and live[0].uuid != ssvm.uuid and live[0].state == "Running"


async def test_stop_of_unknown_vm_is_a_clear_error(ray_cluster: Any, tmp_path: Path) -> None:
    async with site("sqlite", tmp_path) as s:
        with pytest.raises(ApiError) as ei:
            await s.rt.run(EntityRef("vm", new_uuid(), s.cluster), "stop", {})
        assert ei.value.code == 431


async def test_live_migration_moves_capacity(ray_cluster: Any, tmp_path: Path) -> None:
    async with site("sqlite", tmp_path) as s:
        hosts = [await s.add_host() for _ in range(2)]
        for h in hosts:
            await s.wait_status(h, "Up")
        ref = EntityRef("vm", new_uuid(), s.cluster)
        await s.rt.run(ref, "create", {"values": await _values(s), "start": True, "host": hosts[0]})
        a, b = (await s.host(hosts[0])).id, (await s.host(hosts[1])).id
        res = await s.rt.run(ref, "migrate", {})
        assert res["to"] == hosts[1] and (await _vm(s, ref.id)).host_id == b
        used = await _used(s)
        assert used[(a, 0)] == 0 and used[(b, 0)] == 1024 * 2**20
        # No room anywhere else: the migration is refused and nothing changes.
        with pytest.raises(ApiError) as ei:
            await s.rt.run(ref, "migrate", {"host": hosts[1]})
        assert ei.value.code == 533
        assert (await _vm(s, ref.id)).state == "Running" and (await _used(s))[(b, 0)] == 1024 * 2**20


async def test_a_report_taken_before_a_stop_does_not_bring_the_vm_back(ray_cluster: Any, tmp_path: Path) -> None:
    # A ping that still saw the VM running, sent just before its stop was answered, arrives after
    # the stop: it describes the past. A report taken after the stop is acted upon (adoption).
    import time

    async with site("sqlite", tmp_path) as s:
        h = await s.add_host()
        await s.wait_status(h, "Up")
        ref = EntityRef("vm", new_uuid(), s.cluster)
        await s.rt.run(ref, "create", {"values": await _values(s), "start": True})
        host_id = (await s.host(h)).id
        before_stop = time.time()
        await asyncio.sleep(0.01)
        await s.rt.run(ref, "stop", {})
        report = {"host_id": host_id, "power": "PowerOn", "host_uuid": h, "cluster_uuid": s.cluster}
        ans = await s.rt.run(ref, "power_report", {**report, "seen": before_stop})
        assert ans["stale"] and (await _vm(s, ref.id)).state == "Stopped"
        assert (await _used(s))[(host_id, 0)] == 0
        ans = await s.rt.run(ref, "power_report", {**report, "seen": time.time()})
        vm = await _vm(s, ref.id)
        assert vm.state == "Running" and vm.host_id == host_id and (await _used(s))[(host_id, 0)] == 1024 * 2**20
