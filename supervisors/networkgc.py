"""Network garbage collection, level-triggered: an implemented isolated or L2
network with no running VM for `network.gc.wait` seconds is shut down (its
router stopped, its VLAN given back), looked at every `network.gc.interval`
seconds.

Like CloudStack's NetworkGarbageCollector, a network must be seen idle on
two looks `network.gc.wait` apart; when it was first seen idle is kept in
memory only, so a restarted node waits a full period again (it can shut a
network down late, never early). The shutdown is a job on the network entity,
which decides again: a VM that started meanwhile keeps its network up. Several
management nodes collecting at once submit the same joinable job.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select

from cloudplane.actors.identity import EntityRef
from cloudplane.actors.runtime import Runtime
from cloudplane.supervisors.reconciler import Reconciler
from cloudplane.store.jobs import AsyncJob, JobStatus
from cloudplane.store.tables.compute import VmInstance
from cloudplane.store.tables.network import Network, NetworkOffering, Nic

log = logging.getLogger(__name__)
NET, NO, NIC, VM, J = (t.__table__ for t in (  # type: ignore[attr-defined]
    Network, NetworkOffering, Nic, VmInstance, AsyncJob))
ACTIVE = ("Starting", "Running", "Stopping", "Migrating")


@dataclass
class IdleClock:
    """When each network was first seen idle; pure, with the clock passed in."""

    since: dict[str, float] = field(default_factory=dict)

    def due(self, idle: set[str], now: float, wait: float) -> list[str]:
        """Forget networks that are busy again; return those idle for `wait` seconds."""
        for n in list(self.since):
            if n not in idle:
                del self.since[n]
        return sorted(n for n in idle if now - self.since.setdefault(n, now) >= wait)


class NetworkGc(Reconciler):
    what = "network garbage collection"

    def __init__(self, runtime: Runtime, tick_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(runtime, tick_s)
        self.clock = clock
        self.idle = IdleClock()
        self._last = -1e18
        self.shutdowns = 0

    async def round(self) -> None:
        # Runs every tick to re-read the interval, so a changed setting applies at once.
        if self.clock() - self._last >= await self.setting("network.gc.interval"):
            self._last = self.clock()
            await self.collect()

    async def collect(self) -> int:
        """One look: submit a shutdown for every network idle long enough."""
        engine = self.runtime.engine
        assert engine is not None
        wait = await self.setting("network.gc.wait")
        async with engine.connect() as conn:
            implemented = {r[0] for r in (await conn.execute(select(NET.c.uuid).select_from(
                NET.join(NO, NET.c.network_offering_id == NO.c.id)).where(
                NET.c.state == "Implemented", NET.c.removed.is_(None), NET.c.guest_type.in_(("Isolated", "L2")),
                NO.c.is_persistent.is_(False)))).all()}
            if not implemented:
                self.idle.due(set(), self.clock(), wait)
                return 0
            busy = {r[0] for r in (await conn.execute(select(NET.c.uuid).distinct().select_from(
                NIC.join(NET, NIC.c.network_id == NET.c.id).join(VM, NIC.c.instance_id == VM.c.id)).where(
                NET.c.uuid.in_(implemented), NIC.c.removed.is_(None), VM.c.removed.is_(None),
                VM.c.type != "DomainRouter", VM.c.state.in_(ACTIVE)))).all()}
            busy |= {r[0] for r in (await conn.execute(select(J.c.instance_uuid).where(
                J.c.instance_uuid.in_(implemented), J.c.status == JobStatus.PENDING))).all()}
        acted = 0
        for uuid in self.idle.due(implemented - busy, self.clock(), wait):
            log.info("network %s idle for %ss: shutting it down", uuid, wait)
            await self.runtime.submit(EntityRef("network", uuid), "shutdown", {}, cmd="networkGarbageCollect",
                                      instance_type="Network")
            acted += 1
        self.shutdowns += acted
        return acted
