"""The entity-actor base: one object per zone, cluster, host, VM, ...

An entity is a plain asyncio object (no task, no Ray actor of its own) with a
mailbox, its row as last read from the store, and operations declared with
`@operation`. Operations only change state through `save()`, which writes the
row with the version check before anything is acknowledged.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from sqlalchemy import Table

from cloudplane.actors.identity import EntityRef
from cloudplane.actors.mailbox import Mailbox
from cloudplane.store.writer import GroupWriter

OpFn = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class OpSpec:
    name: str
    fn: OpFn
    joinable: bool = False  # identical pending calls share one run
    resumable: bool = True  # a restarted shard may run it again (handler is idempotent)


def operation(
    name: str | None = None, *, joinable: bool = False, resumable: bool = True
) -> Callable[[OpFn], OpFn]:
    def mark(fn: OpFn) -> OpFn:
        fn.__cloudplane_op__ = OpSpec(name or fn.__name__, fn, joinable, resumable)  # type: ignore[attr-defined]
        return fn

    return mark


class EntityHost(Protocol):
    """What an entity may ask of the shard that hosts it."""

    name: str
    writer: GroupWriter
    fault_injection: bool

    def now(self) -> float: ...


KINDS: dict[str, type[Entity]] = {}


class Entity:
    kind: ClassVar[str] = ""
    table: ClassVar[Table]
    transitional: ClassVar[frozenset[str]] = frozenset()
    ops: ClassVar[dict[str, OpSpec]] = {}

    __slots__ = ("ref", "row", "mailbox", "host", "last_used", "activations")

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        ops = dict(getattr(cls, "ops", {}))
        for attr in vars(cls).values():
            spec = getattr(attr, "__cloudplane_op__", None)
            if isinstance(spec, OpSpec):
                ops[spec.name] = spec
        cls.ops = ops
        if cls.kind:
            KINDS[cls.kind] = cls

    def __init__(self, ref: EntityRef, row: dict[str, Any], host: EntityHost) -> None:
        self.ref = ref
        self.row = row
        self.mailbox = Mailbox()
        self.host = host
        self.last_used = time.monotonic()
        self.activations = 1

    # -- state ----------------------------------------------------------------
    @property
    def version(self) -> int:
        return int(self.row["version"])

    @property
    def state(self) -> str | None:
        return self.row.get("state")

    async def save(self, **changes: Any) -> None:
        """Write `changes` if nobody wrote since we read; raise StaleVersion otherwise."""
        new_version = await self.host.writer.versioned(self.table, self.row["id"], self.version, changes)
        self.row.update(changes)
        self.row["version"] = new_version

    def reloaded(self, row: dict[str, Any]) -> None:
        """Called when the supervisor restarts this entity from the store."""
        self.row = row
        self.activations += 1
        self.on_activate()

    # -- hooks for kinds --------------------------------------------------------
    def on_activate(self) -> None:
        """Reset in-memory state after (re)activation."""

    def supervision_path(self) -> tuple[str, ...]:
        """Levels above this entity in the supervision tree, outermost first."""
        return ()

    async def settle(self) -> None:
        """Bring a transitional state left by a dead process to a stable one."""

    def describe(self) -> dict[str, Any]:
        return {"id": self.ref.id, "kind": self.kind, "state": self.state, "version": self.version}
