"""Destroyed VMs are expunged `expunge.delay` seconds after they were destroyed,
level-triggered: every `expunge.interval` seconds the reconciler looks for
Destroyed VMs whose last change is older than the delay and that no job is
working on, and submits an `expunge` job for each (the ordinary path: a
durable job on the VM entity, which releases its NICs and ROOT volume).
A recovered VM is no longer Destroyed, so it is left alone; several
management nodes may run this at once (a job already pending is skipped, and
expunging twice is a no-op).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from cloudplane.actors.identity import EntityRef
from cloudplane.actors.runtime import Runtime
from cloudplane.supervisors.reconciler import Reconciler
from cloudplane.store.base import utcnow
from cloudplane.store.jobs import AsyncJob, JobStatus
from cloudplane.store.tables.compute import VmInstance

log = logging.getLogger(__name__)
VM, J = VmInstance.__table__, AsyncJob.__table__  # type: ignore[attr-defined]
BATCH = 500


class Expunger(Reconciler):
    what = "expunge round"

    def __init__(self, runtime: Runtime, *, max_sleep_s: float = 10.0) -> None:
        super().__init__(runtime, max_sleep_s)  # the interval is re-read at least this often
        self.expunged = 0

    async def round(self) -> None:
        await self.reconcile()

    async def pause(self) -> float:
        return max(0.5, min(await self.setting("expunge.interval", 86400.0), self.interval_s))

    async def reconcile(self) -> int:
        """One round: submit an expunge job for each Destroyed VM past its delay."""
        engine = self.runtime.engine
        assert engine is not None
        delay = await self.setting("expunge.delay", 86400.0)
        cutoff = utcnow() - timedelta(seconds=delay)
        async with engine.connect() as conn:
            due = (await conn.execute(select(VM.c.uuid, VM.c.placement_key).where(
                VM.c.state == "Destroyed", VM.c.removed.is_(None), VM.c.type == "User",
                (VM.c.updated <= cutoff) | VM.c.updated.is_(None)).order_by(VM.c.id).limit(BATCH))).all()
            if not due:
                return 0
            busy = {r[0] for r in (await conn.execute(select(J.c.instance_uuid).where(
                J.c.instance_uuid.in_([d.uuid for d in due]), J.c.status == JobStatus.PENDING))).all()}
        n = 0
        for d in due:
            if d.uuid in busy:
                continue
            await self.runtime.submit(EntityRef("vm", d.uuid, d.placement_key), "expunge", {},
                                      cmd="expungeVirtualMachine", instance_type="VirtualMachine")
            n += 1
        self.expunged += n
        if n:
            log.info("expunger: %d destroyed VMs past expunge.delay (%.0f s) submitted", n, delay)
        return n
