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
from cloudplane.store.jobs import MARK_APPLIED
from cloudplane.store.writer import GroupWriter

OpFn = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class OpSpec:
    """How the runtime treats an operation.

    `resumable=False` is for operations that must not be applied twice (an
    increment, an allocation). Such an operation's first committed write is its
    commit point: the write marks its job applied in the same transaction. A
    shard that finds the job pending after a crash completes it with
    `Entity.applied_result()` if it was applied, and runs it if it was not, so
    it takes effect exactly once. It should therefore make its effect in one
    `save()`; writes it makes through other entities are theirs to guard.
    """

    name: str
    fn: OpFn
    joinable: bool = False  # identical pending calls share one run
    resumable: bool = True  # a restarted shard may run it again (handler is idempotent)
    creates: bool = False  # may run before the entity's row exists: it inserts it (`born`)
    concurrent: bool = False  # changes no entity state: runs at once, beside the mailbox

    def __post_init__(self) -> None:
        # A joined run answers several jobs but would mark only one of them applied; and a
        # concurrent operation writes nothing that could mark its job.
        if not self.resumable and (self.joinable or self.concurrent):
            raise TypeError(f"operation {self.name!r}: resumable=False cannot be joinable or concurrent")


def operation(
    name: str | None = None, *, joinable: bool = False, resumable: bool = True, creates: bool = False,
    concurrent: bool = False,
) -> Callable[[OpFn], OpFn]:
    def mark(fn: OpFn) -> OpFn:
        spec = OpSpec(name or fn.__name__, fn, joinable, resumable, creates, concurrent)
        fn.__cloudplane_op__ = spec  # type: ignore[attr-defined]
        return fn

    return mark


class EntityHost(Protocol):
    """What an entity may ask of the shard that hosts it."""

    name: str
    engine: Any  # AsyncEngine, for reads
    writer: GroupWriter
    fault_injection: bool
    kind_state: dict[str, Any]

    async def run_op(self, ref: EntityRef, op: str, args: dict[str, Any]) -> Any: ...

    def now(self) -> float: ...

    async def config(self, name: str) -> str: ...

    async def call_entity(self, ref: EntityRef, op: str, args: dict[str, Any]) -> Any: ...

    def spawn(self, coro: Any) -> None: ...


KINDS: dict[str, type[Entity]] = {}


class Entity:
    kind: ClassVar[str] = ""
    table: ClassVar[Table]
    transitional: ClassVar[frozenset[str]] = frozenset()
    ops: ClassVar[dict[str, OpSpec]] = {}
    resident: ClassVar[bool] = False  # never passivated (e.g. hosts: their agents talk to them)

    __slots__ = ("ref", "row", "mailbox", "host", "last_used", "activations", "unborn", "job")

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
        self.unborn = False
        # The job of the running non-resumable operation, until its first write marks it applied.
        self.job: str | None = None

    # -- state ----------------------------------------------------------------
    @property
    def version(self) -> int:
        return int(self.row["version"])

    @property
    def state(self) -> str | None:
        return self.row.get("state")

    async def save(self, **changes: Any) -> None:
        """Write `changes` if nobody wrote since we read; raise StaleVersion otherwise."""
        new_version = await self.host.writer.versioned(self.table, self.row["id"], self.version, changes,
                                                       job=self.job)
        self.job = None
        self.row.update(changes)
        self.row["version"] = new_version

    async def born(self, values: dict[str, Any]) -> None:
        """Insert this entity's row (from a `creates` operation) and adopt it."""
        table, uuid, job = self.table, self.ref.id, self.job

        async def insert_and_read(conn: Any) -> dict[str, Any]:
            await conn.execute(table.insert().values(**values, uuid=uuid))
            if job is not None:
                await conn.execute(MARK_APPLIED, {"b_jobs": [job]})
            row = (await conn.execute(table.select().where(table.c.uuid == uuid))).mappings().one()
            return dict(row)

        self.row = await self.host.writer.submit(insert_and_read)
        self.job = None
        self.unborn = False

    def reloaded(self, row: dict[str, Any]) -> None:
        """Called when the supervisor restarts this entity from the store."""
        self.row = row
        self.activations += 1
        self.on_activate()

    # -- hooks for kinds --------------------------------------------------------
    def on_activate(self) -> None:
        """Reset in-memory state after (re)activation."""

    def on_passivate(self) -> None:
        """Release in-memory resources before the entity leaves memory."""

    @classmethod
    async def on_shard_start(cls, core: Any) -> None:
        """Called once when a shard (re)starts, after job recovery."""

    @classmethod
    async def shard_tick(cls, core: Any) -> None:
        """Called by the shard every tick (0.25 s) for kinds that define it."""

    def supervision_path(self) -> tuple[str, ...]:
        """Levels above this entity in the supervision tree, outermost first."""
        return ()

    async def settle(self) -> None:
        """Bring a transitional state left by a dead process to a stable one."""

    def applied_result(self, op: str, args: dict[str, Any]) -> Any:
        """The result of a non-resumable job found applied after a crash (its answer was
        lost with the process). By default the entity's current view; kinds whose
        callers read more from the result override it."""
        return self.describe()

    def describe(self) -> dict[str, Any]:
        return {"id": self.ref.id, "kind": self.kind, "state": self.state, "version": self.version}

    @classmethod
    def ref_for_row(cls, row: Any) -> EntityRef:
        """The ref of a stored row (placement key from the row's own column, if it has one)."""
        m = row._mapping if hasattr(row, "_mapping") else row
        return EntityRef(cls.kind, m["uuid"], m.get("placement_key") or m.get("group_key"))


async def _settle_op(self: Entity) -> dict[str, Any]:
    """Every kind's `settle` operation: through the mailbox, so it runs after whatever is queued."""
    if self.state in self.transitional:
        await self.settle()
    return {"state": self.state}


Entity.ops = {"settle": OpSpec("settle", _settle_op)}
