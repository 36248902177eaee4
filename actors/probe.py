"""The canary entity: a tiny state machine that exercises the runtime.

It has the shape of a VM (Stopped → Starting → Running → Stopping → Stopped)
so tests, benchmarks and operators can prove the data path — job, mailbox,
versioned write, completion — without touching real infrastructure.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, ClassVar

import orjson
from sqlalchemy import Table

from cloudplane.actors.entity import Entity, operation
from cloudplane.errors import ApiError, IllegalTransition
from cloudplane.store.tables.probe import Probe


class ProbeEntity(Entity):
    kind = "probe"
    table: ClassVar[Table] = Probe.__table__  # type: ignore[assignment]
    transitional = frozenset({"Starting", "Stopping"})

    __slots__ = ("active", "max_active", "starts")

    def on_activate(self) -> None:
        self.active = 0  # operations running right now (must never exceed 1)
        self.max_active = 0
        self.starts = 0

    def supervision_path(self) -> tuple[str, ...]:
        key = self.row.get("group_key")
        return (f"group:{key}",) if key else ()

    def _enter(self) -> None:
        self.active += 1
        self.max_active = max(self.max_active, self.active)

    # Not idempotent: a restarted shard must not apply it twice (see OpSpec).
    @operation(resumable=False)
    async def incr(self, by: int = 1) -> dict[str, Any]:
        self._enter()
        try:
            await self.save(counter=self.row["counter"] + by)
            return {"counter": self.row["counter"]}
        finally:
            self.active -= 1

    @operation(resumable=False)
    async def append(self, seq: int) -> dict[str, Any]:
        """Record arrival order in the row (proves strict ordering)."""
        self._enter()
        try:
            seen = orjson.loads(self.row["payload"] or "[]")
            seen.append(seq)
            await asyncio.sleep(0)  # give another op the chance to interleave, if it could
            await self.save(payload=orjson.dumps(seen).decode(), counter=len(seen))
            return {"n": len(seen), "max_active": self.max_active}
        finally:
            self.active -= 1

    @operation()
    async def sleep(self, seconds: float) -> dict[str, Any]:
        self._enter()
        try:
            await asyncio.sleep(seconds)
            return {"max_active": self.max_active}
        finally:
            self.active -= 1

    @operation(joinable=True)
    async def start(self, delay: float = 0.0) -> dict[str, Any]:
        if self.state == "Running":
            return {"state": "Running", "starts": self.starts}
        if self.state != "Stopped":
            raise IllegalTransition("probe", str(self.state), "Starting")
        self.starts += 1
        await self.save(state="Starting")
        await asyncio.sleep(delay)
        await self.save(state="Running")
        return {"state": "Running", "starts": self.starts}

    @operation(joinable=True)
    async def stop(self, delay: float = 0.0) -> dict[str, Any]:
        if self.state == "Stopped":
            return {"state": "Stopped"}
        await self.save(state="Stopping")
        await asyncio.sleep(delay)
        await self.save(state="Stopped")
        return {"state": "Stopped"}

    @operation()
    async def info(self) -> dict[str, Any]:
        return {
            "state": self.state, "counter": self.row["counter"], "version": self.version,
            "activations": self.activations, "max_active": self.max_active, "pid": os.getpid(),
        }

    @operation()
    async def fail(self, message: str = "boom") -> None:
        """An unexpected failure: the entity's supervisor restarts it."""
        raise RuntimeError(message)

    @operation()
    async def refuse(self, code: int = 431, message: str = "refused") -> None:
        """An expected failure: the job fails, nothing restarts."""
        raise ApiError(message, code)

    def applied_result(self, op: str, args: dict[str, Any]) -> Any:
        # What incr and append return, rebuilt from the row their write left.
        if op == "incr":
            return {"counter": self.row["counter"]}
        if op == "append":
            return {"n": len(orjson.loads(self.row["payload"] or "[]")), "max_active": self.max_active}
        return super().applied_result(op, args)

    async def settle(self) -> None:
        # A start or stop that died half-way did not finish: the probe is not running.
        await self.save(state="Stopped")
