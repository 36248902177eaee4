"""A shard's host pings: one sweep instead of a timer per host, and a liveness
book that finds silent hosts without walking every host.

With 10,000 in-process simulated hosts, a timer task per host cost a task
wake-up, a configuration read and a mock lookup per ping, and the 0.25 s tick
walked all hosts to find the silent ones. Here the shard's tick pops the agents
whose turn has come from one heap (`PingTurns`), and `Liveness` keeps hosts in
the order they last pinged, so the silent ones are at its front.

`last_pinged` reaches the store in batches: the hosts that pinged since the
last tick are written with one executemany (`LAST_PINGED`), not one write per
ping. It is for display and for other management nodes; the Alert decision is
made from the in-memory clock.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any

from sqlalchemy import bindparam, update

from cloudplane.store.tables.infra import Host

T_HOST = Host.__table__  # type: ignore[attr-defined]

# One statement object, so the shard's GroupWriter merges a tick's rows into one executemany.
LAST_PINGED = update(T_HOST).where(T_HOST.c.id == bindparam("b_id")).values(last_pinged=bindparam("b_at"))


class Liveness:
    """When each host last pinged, oldest first (monotonic seconds)."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}  # insertion-ordered: a beat moves its host to the end
        self._unwritten: dict[int, None] = {}  # host row ids that pinged since the last flush

    def beat(self, host: str, at: float, row_id: int | None = None) -> None:
        self._last.pop(host, None)
        self._last[host] = at
        if row_id is not None:
            self._unwritten[row_id] = None

    def forget(self, host: str) -> None:
        self._last.pop(host, None)

    def overdue(self, now: float, limit: float) -> list[str]:
        """Hosts silent for more than `limit` seconds: a walk that stops at the first live one."""
        out = []
        for host, at in self._last.items():
            if now - at <= limit:
                break
            out.append(host)
        return out

    def restart(self, now: float) -> None:
        """Every host's window starts again (the ping interval just got shorter)."""
        for host in self._last:
            self._last[host] = now

    def take_unwritten(self) -> list[int]:
        ids, self._unwritten = list(self._unwritten), {}
        return ids

    def __len__(self) -> int:
        return len(self._last)


class PingTurns:
    """In-process agents due to ping, by time: (due, seq, host, agent).

    The agent object is kept with its turn: a host whose agent was replaced
    (reconnect) or stopped finds a stale turn and drops it, so a host never
    pings twice per interval.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, str, Any]] = []
        self._seq = itertools.count()
        self.interval = 0.0  # the longest interval a pending turn was scheduled with

    def schedule(self, host: str, agent: Any, due: float, interval: float) -> None:
        heapq.heappush(self._heap, (due, next(self._seq), host, agent))
        self.interval = max(self.interval, interval)

    def shorten(self, now: float, interval: float, spread: Callable[[], float]) -> None:
        """Turns further away than a new, shorter interval move into it (spread, not all at once)."""
        self._heap = [(min(due, now + interval * spread()), seq, host, agent)
                      for due, seq, host, agent in self._heap]
        heapq.heapify(self._heap)
        self.interval = interval

    def due(self, now: float) -> list[tuple[str, Any]]:
        out = []
        while self._heap and self._heap[0][0] <= now:
            _due, _seq, host, agent = heapq.heappop(self._heap)
            out.append((host, agent))
        return out

    def __len__(self) -> int:
        return len(self._heap)
