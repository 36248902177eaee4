"""CloudStack's simulator mocks: `configureSimulator` rules that make agent
commands fail, fault or wait on chosen hosts.

A mock's scope is global, a zone, a pod, a cluster or a host; for a command on
a host the most specific live mock wins. Mocks live in the store (table
`simulator_mock`) so every shard sees the same ones; a shard caches them for a
moment and claims each firing with a conditional UPDATE, so `count=1` fails
exactly one command.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cloudplane.store.tables.simulator import SimulatorMock

T = SimulatorMock.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Options:
    result: str | None = None  # fail | fault
    wait_ms: int = 0
    timeout: int | None = None
    enabled: bool = True


def parse_options(value: str) -> Options:
    """`result:fail;wait:500` → Options. Unknown keys raise ValueError."""
    kw: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in value.split(";"))):
        key, _, val = part.partition(":")
        key, val = key.strip().lower(), val.strip()
        if key == "result":
            if val.lower() not in ("fail", "fault", "success"):
                raise ValueError(f"result must be fail, fault or success, not {val!r}")
            kw["result"] = None if val.lower() == "success" else val.lower()
        elif key == "wait":
            kw["wait_ms"] = int(val)
        elif key == "timeout":
            kw["timeout"] = int(val)
        elif key == "enabled":
            kw["enabled"] = val.lower() == "true"
        else:
            raise ValueError(f"unknown simulator option {key!r}")
    return Options(**kw)


@dataclass(frozen=True)
class Mock:
    id: int
    name: str
    options: Options
    zone: str | None
    pod: str | None
    cluster: str | None
    host: str | None
    count: int | None
    json_response: str | None

    @property
    def specificity(self) -> int:
        return 4 if self.host else 3 if self.cluster else 2 if self.pod else 1 if self.zone else 0

    def matches(self, name: str, where: dict[str, str | None]) -> bool:
        if self.name.lower() != name.lower() or not self.options.enabled:
            return False
        return all(getattr(self, k) in (None, where.get(k)) for k in ("zone", "pod", "cluster", "host"))


class MockBook:
    """The mocks as one shard sees them: re-read at most every `ttl` seconds."""

    def __init__(self, engine: AsyncEngine, ttl: float = 0.5) -> None:
        self.engine, self.ttl = engine, ttl
        self._mocks: list[Mock] = []
        self._at = -1e9
        self._lock = asyncio.Lock()

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._at < self.ttl:
                return
            q = select(T).where(T.c.removed.is_(None), or_(T.c.count.is_(None), T.c.fired < T.c.count))
            async with self.engine.connect() as conn:
                rows = (await conn.execute(q)).all()
            self._mocks = [Mock(r.id, r.name, parse_options(r.value), r.zone_uuid, r.pod_uuid, r.cluster_uuid,
                                r.host_uuid, r.count, r.json_response) for r in rows]
            self._at = time.monotonic()

    def invalidate(self) -> None:
        self._at = -1e9

    async def take(self, name: str, where: dict[str, str | None]) -> Mock | None:
        """The most specific mock for this command on this host, if it may still fire."""
        await self._refresh()
        for m in sorted((m for m in self._mocks if m.matches(name, where)), key=lambda m: -m.specificity):
            async with self.engine.begin() as conn:
                res = await conn.execute(update(T).where(and_(
                    T.c.id == m.id, T.c.removed.is_(None), or_(T.c.count.is_(None), T.c.fired < T.c.count)))
                    .values(fired=T.c.fired + 1))
            if res.rowcount == 1:
                return m
            self.invalidate()  # used up by someone else
        return None
