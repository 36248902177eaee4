"""Automatic cluster DRS, level-triggered, run by the management node.

Each round reads from the store which clusters want DRS (`drs.automatic.enable`,
the cluster's own value over the global one) and when each last had an
automatic plan; a cluster whose `drs.automatic.interval` (minutes) has passed
gets a plan that is generated and executed in one job on a new plan entity
(actors/kinds/drs.py). A plan's id is derived from the cluster and the
interval slot, so several management nodes reconciling at once reach the same
entity and run it once; a round that finds nothing to move stores nothing.

The same rounds repair and tidy: a plan left IN_PROGRESS with no job to finish
it is executed again (its entity settles the moves that were in flight), and
plans older than `drs.plan.expire.interval` hours are forgotten.
"""

from __future__ import annotations

import logging
import time
import uuid as _uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, select

from cloudplane.actors.identity import EntityRef
from cloudplane.actors.runtime import Runtime
from cloudplane.supervisors.reconciler import Reconciler
from cloudplane.store.configdefs import BY_NAME
from cloudplane.store.jobs import AsyncJob, JobStatus
from cloudplane.store.tables.config import Configuration
from cloudplane.store.tables.drs import ClusterDrsPlan
from cloudplane.store.tables.infra import Cluster

log = logging.getLogger(__name__)
C, PLAN, J, CONF = (t.__table__ for t in (Cluster, ClusterDrsPlan, AsyncJob, Configuration))  # type: ignore[attr-defined]
NS = _uuid.UUID("0b7e4c52-3f0a-4a4e-8f3d-6f3f8d0c2a91")
NAMES = ("drs.automatic.enable", "drs.automatic.interval", "drs.plan.expire.interval")


def automatic_plan_uuid(cluster_uuid: str, slot: int) -> str:
    """The same for every management node in one interval slot of one cluster."""
    return str(_uuid.uuid5(NS, f"{cluster_uuid}:drs:{slot}"))


def _epoch(value: datetime | None) -> float:
    if value is None:
        return 0.0
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


class DrsReconciler(Reconciler):
    what = "DRS reconcile"

    def __init__(self, runtime: Runtime, interval_s: float = 30.0, clock: Callable[[], float] = time.time) -> None:
        super().__init__(runtime, interval_s)
        self.clock = clock
        self._tried: dict[int, float] = {}  # cluster id -> when we last started a round (empty rounds leave no row)
        self.actions = 0

    async def round(self) -> None:
        await self.reconcile()

    async def _settings(self, conn: Any) -> tuple[dict[str, str], dict[tuple[str, int], str]]:
        rows = (await conn.execute(select(CONF.c.name, CONF.c.scope, CONF.c.scope_id, CONF.c.value).where(
            CONF.c.name.in_(NAMES), CONF.c.value.is_not(None)))).all()
        glob = {n: BY_NAME[n].default for n in NAMES}
        scoped: dict[tuple[str, int], str] = {}
        for r in rows:
            if r.scope == "global":
                glob[r.name] = r.value
            elif r.scope == "cluster":
                scoped[(r.name, r.scope_id)] = r.value
        return glob, scoped

    async def reconcile(self) -> int:
        engine = self.runtime.engine
        assert engine is not None
        now = self.clock()
        async with engine.connect() as conn:
            glob, scoped = await self._settings(conn)
            clusters = (await conn.execute(select(C.c.id, C.c.uuid).where(
                C.c.removed.is_(None), C.c.allocation_state == "Enabled"))).all()
            last = dict((await conn.execute(select(PLAN.c.cluster_id, func.max(PLAN.c.created)).where(
                PLAN.c.type == "AUTOMATED").group_by(PLAN.c.cluster_id))).all())
            pending = {r.instance_uuid: r.placement_key for r in (await conn.execute(
                select(J.c.instance_uuid, J.c.placement_key).where(
                    J.c.entity_kind == "drsplan", J.c.status == JobStatus.PENDING))).all()}
            running = (await conn.execute(select(PLAN.c.uuid, PLAN.c.cluster_id, C.c.uuid.label("cluster_uuid"))
                                          .select_from(PLAN.join(C, PLAN.c.cluster_id == C.c.id))
                                          .where(PLAN.c.status == "IN_PROGRESS", PLAN.c.removed.is_(None)))).all()
            expire_h = float(glob["drs.plan.expire.interval"] or 0)
            old = [] if expire_h <= 0 else (await conn.execute(
                select(PLAN.c.uuid, C.c.uuid.label("cluster_uuid")).select_from(PLAN.join(C, PLAN.c.cluster_id == C.c.id))
                .where(PLAN.c.removed.is_(None), PLAN.c.status.in_(("COMPLETED", "UNDER_REVIEW")),
                       PLAN.c.created < datetime.fromtimestamp(now - expire_h * 3600, timezone.utc))
                .limit(100))).all()
        acted = 0
        busy = set(pending.values())
        for p in running:
            busy.add(p.cluster_uuid)
            if p.uuid not in pending:  # nobody is finishing it: run it again
                await self._submit(EntityRef("drsplan", p.uuid, p.cluster_uuid), "execute", {})
                acted += 1
        for c in clusters:
            def value(name: str, cid: int = c.id) -> str:
                return scoped.get((name, cid), glob[name])

            if value("drs.automatic.enable").strip().lower() != "true" or c.uuid in busy:
                continue
            period = max(1.0, float(value("drs.automatic.interval") or 60)) * 60.0
            since = max(_epoch(last.get(c.id)), self._tried.get(c.id, 0.0))
            if now - since < period:
                continue
            self._tried[c.id] = now
            ref = EntityRef("drsplan", automatic_plan_uuid(c.uuid, int(now // period)), c.uuid)
            await self._submit(ref, "create", {"cluster_id": c.id, "plan_type": "AUTOMATED", "execute": True,
                                               "keep_empty": False})
            acted += 1
        for p in old:
            if p.uuid not in pending:
                await self._submit(EntityRef("drsplan", p.uuid, p.cluster_uuid), "expire", {})
                acted += 1
        self.actions += acted
        return acted

    async def _submit(self, ref: EntityRef, op: str, args: dict[str, Any]) -> None:
        await self.runtime.submit(ref, op, args, cmd="executeClusterDrsPlan" if op != "expire" else "expireDrsPlan")

