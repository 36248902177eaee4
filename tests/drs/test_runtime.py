"""DRS through the runtime: VMs pinned unevenly on three simulated hosts, a plan
generated and executed by the plan entity, the cluster balanced afterwards with
its capacity rows still equal to what runs on each host; and the automatic
reconciler honouring the cluster's own setting over the global one."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update

from cloudplane.actors.identity import EntityRef
from cloudplane.actors.kinds.drs import cluster_snapshot
from cloudplane.errors import ParamError
from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.tables.capacity import Capacity
from cloudplane.store.tables.compute import VmInstance
from cloudplane.store.tables.config import Configuration
from cloudplane.store.tables.drs import ClusterDrsPlan, ClusterDrsPlanMigration
from cloudplane.supervisors.drs import Metric, cluster_imbalance
from cloudplane.supervisors.drsreconciler import DrsReconciler
from tests.kinds.test_vm import _values
from tests.simulator.fixtures import Site, site

pytestmark = pytest.mark.ray
VM, CAP, PLAN, MIG, CONF = (t.__table__ for t in (VmInstance, Capacity, ClusterDrsPlan,  # type: ignore[attr-defined]
                                                  ClusterDrsPlanMigration, Configuration))
MiB = 2**20


async def _hosts(s: Site, n: int = 3) -> list[str]:
    hosts = [await s.add_host() for _ in range(n)]
    for h in hosts:
        await s.wait_status(h, "Up")
    return hosts


async def _pin(s: Site, host: str, count: int, ram_mb: int = 512) -> list[str]:
    out = []
    for _ in range(count):
        ref = EntityRef("vm", new_uuid(), s.cluster)
        await s.rt.run(ref, "create", {"values": await _values(s, ram_mb=ram_mb, mhz=100), "start": True, "host": host})
        out.append(ref.id)
    return out


async def _imbalance(s: Site) -> float:
    async with s.rt.engine.connect() as conn:  # type: ignore[union-attr]
        return cluster_imbalance(await cluster_snapshot(conn, s.ids["cluster"]), Metric.MEMORY)


async def _capacity_matches_vms(s: Site) -> dict[int, int]:
    async with s.rt.engine.connect() as conn:  # type: ignore[union-attr]
        used = dict((await conn.execute(select(CAP.c.owner_id, CAP.c.used).where(
            CAP.c.owner_type == "host", CAP.c.capacity_type == 0))).all())
        per_host = dict((await conn.execute(select(VM.c.host_id, func.sum(VM.c.ram_mb)).where(
            VM.c.state == "Running", VM.c.removed.is_(None)).group_by(VM.c.host_id))).all())
    for host_id, mem in used.items():
        assert mem == int(per_host.get(host_id, 0)) * MiB, (host_id, mem, per_host)
    return {h: int(m) // 512 for h, m in per_host.items()}


async def test_plan_balances_the_cluster_and_keeps_capacity_true(ray_cluster: Any, tmp_path: Path,
                                                                 backend: str) -> None:
    async with site(backend, tmp_path) as s:
        hosts = await _hosts(s)
        await s.set_config(drs_imbalance="0.8", drs_iterations="1.0")  # threshold 0.2, every VM may move
        await _pin(s, hosts[0], 7)
        await _pin(s, hosts[1], 2)
        before = await _imbalance(s)
        assert before > 0.2

        plan_ref = EntityRef("drsplan", new_uuid(), s.cluster)
        res = await s.rt.run(plan_ref, "create", {"cluster_id": s.ids["cluster"], "plan_type": "MANUAL"})
        assert res["status"] == "UNDER_REVIEW"
        async with s.rt.engine.connect() as conn:  # type: ignore[union-attr]
            plan = (await conn.execute(select(PLAN).where(PLAN.c.uuid == plan_ref.id))).one()
            moves = (await conn.execute(select(MIG).where(MIG.c.plan_id == plan.id).order_by(MIG.c.seq))).all()
        assert plan.imbalance_before == pytest.approx(before)
        assert plan.imbalance_after <= plan.threshold == pytest.approx(0.2)
        assert len(moves) == 4 and all(m.status == "Pending" for m in moves)
        assert "within the threshold" in plan.explanation
        assert await _imbalance(s) == pytest.approx(before)  # planning moves nothing

        res = await s.rt.run(plan_ref, "execute", {}, timeout=120)
        assert res["status"] == "COMPLETED" and res["succeeded"] == 4 and res["failed"] == 0
        after = await _imbalance(s)
        assert after <= 0.2 and after == pytest.approx(plan.imbalance_after)
        assert sorted((await _capacity_matches_vms(s)).values()) == [3, 3, 3]
        async with s.rt.engine.connect() as conn:  # type: ignore[union-attr]
            plan = (await conn.execute(select(PLAN).where(PLAN.c.uuid == plan_ref.id))).one()
            moves = (await conn.execute(select(MIG).where(MIG.c.plan_id == plan.id))).all()
            running = {r.uuid: r.host_id for r in (await conn.execute(select(VM.c.uuid, VM.c.host_id).where(
                VM.c.id.in_([m.vm_id for m in moves])))).all()}
            vm_ids = {r.id: r.uuid for r in (await conn.execute(select(VM.c.id, VM.c.uuid))).all()}
        assert plan.status == "COMPLETED" and plan.completed is not None and plan.event_uuid
        assert all(m.status == "Succeeded" and m.completed is not None for m in moves)
        assert all(running[vm_ids[m.vm_id]] == m.dst_host_id for m in moves)
        # Executing a completed plan again does nothing.
        assert (await s.rt.run(plan_ref, "execute", {}))["status"] == "COMPLETED"


async def test_given_moves_and_a_move_that_cannot_happen(ray_cluster: Any, tmp_path: Path) -> None:
    async with site("sqlite", tmp_path) as s:
        hosts = await _hosts(s, 2)
        vms = await _pin(s, hosts[0], 3)
        big = await _pin(s, hosts[1], 1, ram_mb=6 * 1024)
        ref = EntityRef("drsplan", new_uuid(), s.cluster)
        with pytest.raises(ParamError):  # a VM given for the host it already runs on: nothing is stored
            await s.rt.run(EntityRef("drsplan", new_uuid(), s.cluster), "create", {
                "cluster_id": s.ids["cluster"], "moves": [{"vm": big[0], "host": hosts[1]}], "execute": True})
        res = await s.rt.run(ref, "create", {
            "cluster_id": s.ids["cluster"], "execute": True,
            "moves": [{"vm": vms[0], "host": hosts[1]}, {"vm": vms[1], "host": hosts[1]}]}, timeout=120)
        assert res["status"] == "COMPLETED" and res["succeeded"] == 2
        async with s.rt.engine.connect() as conn:  # type: ignore[union-attr]
            plan = (await conn.execute(select(PLAN).where(PLAN.c.uuid == ref.id))).one()
        assert plan.algorithm == "given"
        # Fill host 0 so that moving the big VM back cannot claim capacity: the move fails, recorded.
        await _pin(s, hosts[0], 12)
        ref2 = EntityRef("drsplan", new_uuid(), s.cluster)
        res = await s.rt.run(ref2, "create", {"cluster_id": s.ids["cluster"], "execute": True,
                                              "moves": [{"vm": big[0], "host": hosts[0]}]}, timeout=120)
        assert res["failed"] == 1
        async with s.rt.engine.connect() as conn:  # type: ignore[union-attr]
            plan2 = (await conn.execute(select(PLAN).where(PLAN.c.uuid == ref2.id))).one()
            mig = (await conn.execute(select(MIG).where(MIG.c.plan_id == plan2.id))).one()
        assert mig.status == "Failed" and mig.error
        await _capacity_matches_vms(s)


async def _cluster_setting(s: Site, name: str, value: str) -> None:
    async with s.rt.engine.begin() as conn:  # type: ignore[union-attr]
        await conn.execute(insert(CONF).values(uuid=new_uuid(), version=1, created=utcnow(), name=name,
                                               scope="cluster", scope_id=s.ids["cluster"], value=value))


async def _plans(s: Site) -> list[Any]:
    async with s.rt.engine.connect() as conn:  # type: ignore[union-attr]
        return list((await conn.execute(select(PLAN).order_by(PLAN.c.id))).all())


async def test_automatic_drs_follows_the_cluster_setting(ray_cluster: Any, tmp_path: Path) -> None:
    async with site("sqlite", tmp_path) as s:
        hosts = await _hosts(s)
        await s.set_config(drs_imbalance="0.8", drs_iterations="1.0")
        await _pin(s, hosts[0], 6)
        clock = [time.time()]
        rec = DrsReconciler(s.rt, clock=lambda: clock[0])
        assert await rec.reconcile() == 0  # off by default
        await _cluster_setting(s, "drs.automatic.enable", "true")  # on for this cluster only
        assert await rec.reconcile() == 1
        for _ in range(200):
            plans = await _plans(s)
            if plans and plans[-1].status == "COMPLETED":
                break
            await asyncio.sleep(0.1)
        assert [(p.type, p.status) for p in plans] == [("AUTOMATED", "COMPLETED")]
        assert await _imbalance(s) <= 0.2
        assert await rec.reconcile() == 0  # not before drs.automatic.interval (60 min) has passed
        clock[0] += 3601
        assert await rec.reconcile() == 1  # a new round; balanced already, so nothing is stored
        await asyncio.sleep(1.0)
        assert len(await _plans(s)) == 1
        await s.set_config(drs_automatic_enable="true")
        await _cluster_setting(s, "drs.automatic.interval", "1")  # the cluster's own interval
        async with s.rt.engine.begin() as conn:  # type: ignore[union-attr]
            await conn.execute(update(CONF).where(CONF.c.name == "drs.automatic.enable", CONF.c.scope == "cluster")
                               .values(value="false"))
        clock[0] += 3601
        assert await rec.reconcile() == 0  # the cluster's "false" wins over the global "true"


async def test_a_plan_cut_off_half_way_is_finished_and_old_plans_expire(ray_cluster: Any, tmp_path: Path) -> None:
    """As a dead process leaves it: IN_PROGRESS, one move done but still marked InProgress,
    one never started, and no job. The reconciler runs it again; the entity settles the first
    move from where the VM is and carries out the second."""
    from datetime import timedelta

    async with site("sqlite", tmp_path) as s:
        hosts = await _hosts(s, 2)
        done, todo = await _pin(s, hosts[0], 2)
        await s.rt.run(EntityRef("vm", done, s.cluster), "migrate", {"host": hosts[1]})
        ids = {h: (await s.host(h)).id for h in hosts}
        plan_uuid, old_uuid = new_uuid(), new_uuid()
        async with s.rt.engine.begin() as conn:  # type: ignore[union-attr]
            vm_ids = dict((await conn.execute(select(VM.c.uuid, VM.c.id))).all())
            base = {"version": 1, "cluster_id": s.ids["cluster"], "type": "MANUAL", "algorithm": "balanced",
                    "metric": "memory", "imbalance_before": 1.0, "imbalance_after": 0.0, "threshold": 0.6}
            await conn.execute(insert(PLAN).values(uuid=plan_uuid, created=utcnow(), status="IN_PROGRESS", **base))
            await conn.execute(insert(PLAN).values(uuid=old_uuid, created=utcnow() - timedelta(days=40),
                                                   status="COMPLETED", **base))
            plan_id = (await conn.execute(select(PLAN.c.id).where(PLAN.c.uuid == plan_uuid))).scalar()
            await conn.execute(insert(MIG), [
                {"plan_id": plan_id, "seq": 0, "vm_id": vm_ids[done], "src_host_id": ids[hosts[0]],
                 "dst_host_id": ids[hosts[1]], "status": "InProgress", "started": utcnow()},
                {"plan_id": plan_id, "seq": 1, "vm_id": vm_ids[todo], "src_host_id": ids[hosts[0]],
                 "dst_host_id": ids[hosts[1]], "status": "Pending", "started": None}])
        rec = DrsReconciler(s.rt)
        assert await rec.reconcile() == 2  # the orphan is executed again, the old plan expires
        for _ in range(200):
            plans = {p.uuid: p for p in await _plans(s)}
            if plans[plan_uuid].status == "COMPLETED" and plans[old_uuid].removed is not None:
                break
            await asyncio.sleep(0.1)
        assert plans[plan_uuid].status == "COMPLETED" and plans[old_uuid].removed is not None
        async with s.rt.engine.connect() as conn:  # type: ignore[union-attr]
            migs = (await conn.execute(select(MIG.c.status).where(MIG.c.plan_id == plan_id)
                                       .order_by(MIG.c.seq))).scalars().all()
            where = dict((await conn.execute(select(VM.c.uuid, VM.c.host_id))).all())
        assert migs == ["Succeeded", "Succeeded"]
        assert where[done] == where[todo] == ids[hosts[1]]
        await _capacity_matches_vms(s)
        assert await rec.reconcile() == 0
