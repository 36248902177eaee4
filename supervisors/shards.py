"""Process-level supervision: the shards themselves.

Ray restarts a dead shard actor (max_restarts=-1) and re-places it when its
node is gone; this watchdog notices each new incarnation, counts restarts with
the same intensity rule as every other supervisor, wakes the new incarnation
so it recovers its jobs at once, and reports a shard that keeps dying.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from cloudplane.supervisors.intensity import Verdict, record_restart
from cloudplane.supervisors.spec import SupFlags

log = logging.getLogger(__name__)

Ping = Callable[[str], Awaitable[str]]  # shard name -> incarnation id


@dataclass
class ShardHealth:
    incarnation: str = ""
    restarts: int = 0
    history: tuple[float, ...] = ()
    crash_looping: bool = False
    reachable: bool = False
    last_seen: float = 0.0
    events: list[str] = field(default_factory=list)


class ShardWatchdog:
    def __init__(self, shards: Callable[[], list[str]], ping: Ping, *,
                 interval_s: float = 1.0, flags: SupFlags | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._shards = shards
        self._ping = ping
        self.interval_s = interval_s
        self.flags = flags or SupFlags(intensity=5, period_s=60.0)
        self._clock = clock
        self.health: dict[str, ShardHealth] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    @property
    def healthy(self) -> bool:
        return all(h.reachable and not h.crash_looping for h in self.health.values())

    async def check_once(self) -> None:
        names = self._shards()
        results = await asyncio.gather(*(asyncio.wait_for(self._ping(n), 5.0) for n in names),
                                       return_exceptions=True)
        for name, res in zip(names, results):
            h = self.health.setdefault(name, ShardHealth())
            if isinstance(res, BaseException):
                h.reachable = False
                continue
            h.reachable, h.last_seen = True, self._clock()
            if h.incarnation and res != h.incarnation:
                self._restarted(name, h)
            h.incarnation = res

    def _restarted(self, name: str, h: ShardHealth) -> None:
        h.restarts += 1
        h.history, verdict = record_restart(h.history, self._clock(), self.flags)
        h.crash_looping = verdict is Verdict.ESCALATE
        msg = f"shard {name} restarted ({h.restarts} in total, {len(h.history)} within {self.flags.period_s}s)"
        h.events = (h.events + [msg])[-20:]
        if h.crash_looping:
            log.error("%s: crash loop, beyond %d restarts per %ss", msg, self.flags.intensity, self.flags.period_s)
        else:
            log.warning(msg)

    async def _loop(self) -> None:
        while True:
            try:
                await self.check_once()
            except Exception:  # the watchdog must outlive any one bad round
                log.exception("shard watchdog round failed")
            await asyncio.sleep(self.interval_s)
