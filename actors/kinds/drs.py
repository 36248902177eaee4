"""Cluster DRS plans as entity actors: one per plan, placed with its cluster.

`create` reads a snapshot of the cluster from the store (hosts that are Up with
their allocated CPU and memory, the VMs on them), asks the pure planner
(supervisors/drs.py) for moves, or takes the caller's (executeClusterDrsPlan's
`migrateto`), and writes the plan with its ordered migrations in one
transaction. `execute` carries the moves out through each VM's own `migrate`
operation (in the VM's mailbox, destination capacity claimed first), a few at
a time: a batch never has two moves touching one host, so every host sees its
moves in plan order. Each move's outcome is written when it ends. A plan left
IN_PROGRESS by a dead process is resumed by its durable job; moves that were
in flight are settled by asking the store where the VM is now.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import Table, and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.actors.entity import Entity, operation
from cloudplane.actors.identity import EntityRef
from cloudplane.errors import ApiError, ParamError
from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.configdefs import BY_NAME
from cloudplane.store.tables.capacity import Capacity, CapacityType
from cloudplane.store.tables.compute import VmInstance
from cloudplane.store.tables.config import Configuration
from cloudplane.store.tables.drs import ClusterDrsPlan, ClusterDrsPlanMigration
from cloudplane.store.tables.events import Event
from cloudplane.store.tables.identity import Account
from cloudplane.store.tables.infra import Host, HostTag
from cloudplane.supervisors import drs as planner

log = logging.getLogger(__name__)
T_PLAN: Table = ClusterDrsPlan.__table__  # type: ignore[attr-defined]
T_MIG: Table = ClusterDrsPlanMigration.__table__  # type: ignore[attr-defined]
H, VM, CAP, TAG, CONF, EV, ACCOUNT = (t.__table__ for t in (  # type: ignore[attr-defined]
    Host, VmInstance, Capacity, HostTag, Configuration, Event, Account))

MIGRATING_WAIT_ROUNDS = 120  # x 0.5 s
SETTINGS = ("drs.algorithm", "drs.metric", "drs.imbalance", "drs.iterations", "drs.max.migrations",
            "cpu.overprovisioning.factor", "mem.overprovisioning.factor", "ha.tag")


class PlanStatus(StrEnum):
    UNDER_REVIEW = "UNDER_REVIEW"  # generated, waiting for someone to execute it
    READY = "READY"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"


class MoveStatus(StrEnum):
    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


async def cluster_settings(conn: AsyncConnection, cluster_id: int, names: Sequence[str] = SETTINGS) -> dict[str, str]:
    """Each setting's value for the cluster: its cluster override, else global, else the default."""
    rows = (await conn.execute(select(CONF.c.name, CONF.c.scope, CONF.c.value).where(
        CONF.c.name.in_(list(names)), CONF.c.value.is_not(None),
        ((CONF.c.scope == "global") | and_(CONF.c.scope == "cluster", CONF.c.scope_id == cluster_id))))).all()
    out = {n: BY_NAME[n].default if n in BY_NAME else "" for n in names}
    for r in sorted(rows, key=lambda r: r.scope == "cluster"):  # the cluster's value wins
        out[r.name] = r.value
    return out


async def cluster_snapshot(conn: AsyncConnection, cluster_id: int, ha_tag: str = "") -> planner.Snapshot:
    """The cluster's Up hosts with their allocated capacity, and the VMs on them."""
    cpu, mem = CAP.alias("cpu"), CAP.alias("mem")
    rows = (await conn.execute(
        select(H.c.id, H.c.uuid, H.c.name, H.c.resource_state, cpu.c.total.label("cpu_total"),
               cpu.c.used.label("cpu_used"), mem.c.total.label("mem_total"), mem.c.used.label("mem_used"))
        .select_from(H.join(cpu, and_(cpu.c.owner_type == "host", cpu.c.owner_id == H.c.id,
                                      cpu.c.capacity_type == int(CapacityType.CPU)))
                     .join(mem, and_(mem.c.owner_type == "host", mem.c.owner_id == H.c.id,
                                     mem.c.capacity_type == int(CapacityType.MEMORY))))
        .where(H.c.cluster_id == cluster_id, H.c.removed.is_(None), H.c.status == "Up", H.c.type == "Routing")
        .order_by(H.c.id))).all()
    reserved: set[int] = set()
    if ha_tag and rows:
        reserved = {r[0] for r in (await conn.execute(select(TAG.c.host_id).where(
            TAG.c.tag == ha_tag, TAG.c.host_id.in_([r.id for r in rows])))).all()}
    hosts = tuple(planner.HostLoad(r.uuid, r.name, int(r.cpu_used), int(r.cpu_total), int(r.mem_used),
                                   int(r.mem_total), accepts=r.resource_state == "Enabled" and r.id not in reserved)
                  for r in rows)
    uuid_of = {r.id: r.uuid for r in rows}
    vms: tuple[planner.VmLoad, ...] = ()
    if rows:
        vrows = (await conn.execute(select(
            VM.c.uuid, VM.c.name, VM.c.display_name, VM.c.host_id, VM.c.state, VM.c.type, VM.c.cpu_count,
            VM.c.cpu_speed_mhz, VM.c.ram_mb).where(
            VM.c.host_id.in_(list(uuid_of)), VM.c.removed.is_(None),
            VM.c.state.in_(("Running", "Starting", "Stopping", "Migrating"))).order_by(VM.c.id))).all()
        vms = tuple(planner.VmLoad(v.uuid, v.display_name or v.name, uuid_of[v.host_id],
                                   int(v.cpu_count) * int(v.cpu_speed_mhz), int(v.ram_mb) * 2**20,
                                   movable=v.state == "Running" and v.type == "User") for v in vrows)
    return planner.Snapshot(hosts, vms)


def policy_from(settings: dict[str, str], snapshot: planner.Snapshot, migrations: int | None) -> planner.Policy:
    try:
        algorithm = planner.Algorithm(settings["drs.algorithm"].strip().lower())
        metric = planner.Metric(settings["drs.metric"].strip().lower())
        tolerance = float(settings["drs.imbalance"])
        iterations = float(settings["drs.iterations"])
        cap = int(float(settings["drs.max.migrations"]))
    except ValueError as e:
        raise ParamError(f"Invalid DRS setting for the cluster: {e}") from None
    if migrations is None:
        migrations = planner.max_migrations(sum(1 for v in snapshot.vms if v.movable), iterations, cap)
    return planner.Policy(algorithm, metric, tolerance, max(0, migrations),
                          float(settings["cpu.overprovisioning.factor"] or 1),
                          float(settings["mem.overprovisioning.factor"] or 1))


def given_plan(snapshot: planner.Snapshot, moves: Sequence[dict[str, str]], policy: planner.Policy) -> planner.Plan:
    """The caller's moves (vm -> host) in the caller's order, checked against the snapshot and scored."""
    hosts = {h.id: h for h in snapshot.hosts}
    vms = {v.id: v for v in snapshot.vms}
    state = snapshot
    before = planner.cluster_imbalance(snapshot, policy.metric)
    why = [f"{len(moves)} migration(s) given by the caller; {policy.metric} imbalance {before:.3f}"]
    out: list[planner.Move] = []
    for m in moves:
        vm, dst = vms.get(m["vm"]), hosts.get(m["host"])
        if vm is None or not vm.movable:
            raise ParamError(f"VM {m['vm']} is not a Running user VM on an Up host of the cluster")
        if dst is None or not dst.accepts:
            raise ParamError(f"Host {m['host']} is not an Up, Enabled host of the cluster that may take VMs")
        if any(o.vm == vm.id for o in out):
            raise ParamError(f"VM {vm.id} is given twice")
        if vm.host == dst.id:
            raise ParamError(f"VM {vm.id} already runs on host {dst.id}")
        b = planner.cluster_imbalance(state, policy.metric)
        state = planner.apply(state, [planner.Move(vm.id, vm.name, vm.host, dst.id, b, b)])
        move = planner.Move(vm.id, vm.name, vm.host, dst.id, b, planner.cluster_imbalance(state, policy.metric))
        out.append(move)
        why.append(move.describe())
    return planner.Plan(tuple(out), before, planner.cluster_imbalance(state, policy.metric), policy, tuple(why))


class DrsPlanEntity(Entity):
    kind = "drsplan"
    table: ClassVar[Table] = T_PLAN
    transitional = frozenset({PlanStatus.IN_PROGRESS.value})

    def supervision_path(self) -> tuple[str, ...]:
        return (f"cluster:{self.ref.key}",) if self.ref.key else ()

    @property
    def state(self) -> str | None:
        return self.row.get("status")

    # -- planning ---------------------------------------------------------------------------
    @operation(creates=True)
    async def create(self, cluster_id: int, plan_type: str = "MANUAL", migrations: int | None = None,
                     moves: list[dict[str, str]] | None = None, execute: bool = False,
                     keep_empty: bool = True) -> dict[str, Any]:
        """Plan (or take the given moves) and store the plan; run it at once with `execute`."""
        if self.unborn:
            async with self.host.engine.connect() as conn:
                settings = await cluster_settings(conn, cluster_id)
                snapshot = await cluster_snapshot(conn, cluster_id, settings["ha.tag"])
            policy = policy_from(settings, snapshot, migrations)
            plan = planner.plan(snapshot, policy) if moves is None else given_plan(snapshot, moves, policy)
            if not plan.moves and not keep_empty:
                return {"id": None, "migrations": 0, "explanation": plan.explain()}
            status = PlanStatus.READY if execute else PlanStatus.UNDER_REVIEW
            await self._insert(cluster_id, plan_type, status, plan, given=moves is not None)
        if execute:
            return await self._execute()
        return self._summary()

    async def _insert(self, cluster_id: int, plan_type: str, status: PlanStatus, plan: planner.Plan,
                      given: bool) -> None:
        uuid = self.ref.id
        values = {"uuid": uuid, "version": 1, "created": utcnow(), "cluster_id": cluster_id, "type": plan_type,
                  "status": status.value, "algorithm": "given" if given else plan.policy.algorithm.value,
                  "metric": plan.policy.metric.value, "imbalance_before": plan.before,
                  "imbalance_after": plan.after, "threshold": plan.threshold, "explanation": plan.explain()}
        moves = plan.moves

        async def work(conn: AsyncConnection) -> dict[str, Any]:
            await conn.execute(insert(T_PLAN).values(**values))
            row = dict((await conn.execute(select(T_PLAN).where(T_PLAN.c.uuid == uuid))).mappings().one())
            if moves:
                ids = {r.uuid: r.id for r in (await conn.execute(select(H.c.uuid, H.c.id).where(
                    H.c.uuid.in_({m.src for m in moves} | {m.dst for m in moves})))).all()}
                ids.update({r.uuid: r.id for r in (await conn.execute(select(VM.c.uuid, VM.c.id).where(
                    VM.c.uuid.in_([m.vm for m in moves])))).all()})
                await conn.execute(insert(T_MIG), [
                    {"plan_id": row["id"], "seq": i, "vm_id": ids[m.vm], "src_host_id": ids[m.src],
                     "dst_host_id": ids[m.dst], "imbalance_after": m.after, "status": MoveStatus.PENDING.value}
                    for i, m in enumerate(moves)])
            return row

        self.row = await self.host.writer.submit(work)
        self.unborn = False

    def _summary(self) -> dict[str, Any]:
        return {"id": self.ref.id, "status": self.row.get("status")}

    # -- execution ----------------------------------------------------------------------------
    @operation(joinable=True)
    async def execute(self) -> dict[str, Any]:
        return await self._execute()

    async def _execute(self) -> dict[str, Any]:
        if self.row["status"] == PlanStatus.COMPLETED:
            return self._summary()
        async with self.host.engine.connect() as conn:
            other = (await conn.execute(select(T_PLAN.c.uuid).where(
                T_PLAN.c.cluster_id == self.row["cluster_id"], T_PLAN.c.id != self.row["id"],
                T_PLAN.c.status == PlanStatus.IN_PROGRESS, T_PLAN.c.removed.is_(None)))).first()
        if other is not None:
            raise ParamError(f"DRS plan {other.uuid} is already in progress for this cluster; try again later")
        if self.row["status"] != PlanStatus.IN_PROGRESS:
            event = await self._event("Started", f"Executing DRS plan {self.ref.id} for cluster {self.ref.key}")
            await self.save(status=PlanStatus.IN_PROGRESS.value, event_uuid=event)
        moves = await self._moves()
        parallel = max(1, int(float(await self.host.config("drs.parallel.migrations") or 1)))
        for m in [m for m in moves if m["status"] == MoveStatus.IN_PROGRESS]:
            await self._settle_move(m)  # in flight when a process died
        remaining = [m for m in moves if m["status"] in (MoveStatus.PENDING, MoveStatus.IN_PROGRESS)]
        while remaining:
            batch = next_batch(remaining, parallel)
            await asyncio.gather(*(self._move(m) for m in batch))
            done = {m["id"] for m in batch}
            remaining = [m for m in remaining if m["id"] not in done]
        moves = await self._moves()
        ok = sum(1 for m in moves if m["status"] == MoveStatus.SUCCEEDED)
        await self.save(status=PlanStatus.COMPLETED.value, completed=utcnow())
        await self._event("Completed", f"DRS plan {self.ref.id}: {ok} of {len(moves)} migration(s) succeeded")
        return {**self._summary(), "succeeded": ok, "failed": len(moves) - ok}

    async def _moves(self) -> list[dict[str, Any]]:
        src, dst = H.alias("src"), H.alias("dst")
        async with self.host.engine.connect() as conn:
            rows = (await conn.execute(
                select(T_MIG.c.id, T_MIG.c.seq, T_MIG.c.status, T_MIG.c.src_host_id, T_MIG.c.dst_host_id,
                       VM.c.uuid.label("vm"), VM.c.placement_key, src.c.uuid.label("src"), dst.c.uuid.label("dst"))
                .select_from(T_MIG.join(VM, T_MIG.c.vm_id == VM.c.id).join(src, T_MIG.c.src_host_id == src.c.id)
                             .join(dst, T_MIG.c.dst_host_id == dst.c.id))
                .where(T_MIG.c.plan_id == self.row["id"]).order_by(T_MIG.c.seq))).mappings().all()
        return [dict(r) for r in rows]

    async def _vm_where(self, vm_uuid: str) -> tuple[str | None, int | None]:
        async with self.host.engine.connect() as conn:
            r = (await conn.execute(select(VM.c.state, VM.c.host_id).where(VM.c.uuid == vm_uuid))).first()
        return (r.state, r.host_id) if r is not None else (None, None)

    async def _settle_move(self, m: dict[str, Any]) -> None:
        state, host_id = await self._vm_where(m["vm"])
        if state == "Running" and host_id == m["dst_host_id"]:
            await self._mark(m, MoveStatus.SUCCEEDED)
        elif state == "Running" and host_id == m["src_host_id"]:
            m["status"] = MoveStatus.PENDING  # never moved: try again
        elif state == "Migrating":
            m["status"] = MoveStatus.PENDING  # the VM settles its own move; ours re-checks when it runs
        else:
            await self._mark(m, MoveStatus.FAILED, f"the VM is {state} on host {host_id}: not moved by this plan")

    async def _move(self, m: dict[str, Any]) -> None:
        state, host_id = await self._vm_where(m["vm"])
        for _ in range(MIGRATING_WAIT_ROUNDS):  # an earlier move of this VM is still settling
            if state != "Migrating":
                break
            await asyncio.sleep(0.5)
            state, host_id = await self._vm_where(m["vm"])
        if state == "Running" and host_id == m["dst_host_id"]:
            await self._mark(m, MoveStatus.SUCCEEDED)
            return
        if state != "Running" or host_id != m["src_host_id"]:
            await self._mark(m, MoveStatus.FAILED, f"the VM is {state} on host id {host_id}, not Running on its "
                                                   f"planned source {m['src']}")
            return
        await self._mark(m, MoveStatus.IN_PROGRESS)
        try:
            await self.host.call_entity(EntityRef("vm", m["vm"], m["placement_key"]), "migrate", {"host": m["dst"]})
        except ApiError as e:
            await self._mark(m, MoveStatus.FAILED, e.text)
            return
        await self._mark(m, MoveStatus.SUCCEEDED)

    async def _mark(self, m: dict[str, Any], status: MoveStatus, error: str | None = None) -> None:
        values: dict[str, Any] = {"status": status.value, "error": error[:1000] if error else None}
        if status == MoveStatus.IN_PROGRESS:
            values["started"] = utcnow()
        else:
            values["completed"] = utcnow()
        await self.host.writer.execute(update(T_MIG).where(T_MIG.c.id == m["id"]).values(**values))
        m["status"] = status

    async def _event(self, state: str, text: str) -> str:
        """A CLUSTER.DRS event, owned by the system account as CloudStack's are."""
        owner = self.host.kind_state.get("system_account")
        if owner is None:
            async with self.host.engine.connect() as conn:
                owner = (await conn.execute(select(ACCOUNT.c.id, ACCOUNT.c.domain_id).where(
                    ACCOUNT.c.name == "system", ACCOUNT.c.is_default.is_(True)))).first()
            owner = self.host.kind_state["system_account"] = tuple(owner) if owner is not None else (None, None)
        uuid = new_uuid()
        await self.host.writer.insert(EV, {
            "uuid": uuid, "version": 1, "created": utcnow(), "type": "CLUSTER.DRS", "state": state, "level": "INFO",
            "description": text, "resource_type": "Cluster", "resource_uuid": self.ref.key, "archived": False,
            "display": True, "account_id": owner[0], "domain_id": owner[1]})
        return uuid

    @operation()
    async def expire(self) -> dict[str, Any]:
        """Forget a finished or never-run plan (drs.plan.expire.interval)."""
        if self.row["status"] != PlanStatus.IN_PROGRESS and self.row.get("removed") is None:
            await self.save(removed=utcnow())
        return {"success": True}

    async def settle(self) -> None:
        """IN_PROGRESS is resumed by the plan's own durable job; nothing to undo here."""


def next_batch(moves: Sequence[dict[str, Any]], parallel: int) -> list[dict[str, Any]]:
    """The next moves to run together: in plan order, no two touching one host, and a
    move waits for every earlier move that touches one of its hosts."""
    batch: list[dict[str, Any]] = []
    busy: set[Any] = set()
    for m in moves:
        hosts = {m["src_host_id"], m["dst_host_id"]}
        if len(batch) < parallel and not hosts & busy:
            batch.append(m)
        busy |= hosts
    return batch
