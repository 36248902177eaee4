"""A shard hosts many entities in one process (plain asyncio; actors/runtime.py
wraps it in a Ray actor).

Data path inside a shard: `accept(JobMsg)` → activate the entity from the store
(batched loads) → its mailbox runs the operation → the operation's writes and
the job's completion go through the shard's group-commit writer → the
completion is published to pollers (management nodes waiting for results).

A restarted shard is a fresh process: `start()` re-reads its pending jobs from
the store, settles entities left in transitional states, and runs them again,
except a non-resumable job already applied (its write committed the mark, see
`OpSpec`), which is completed instead. A periodic reconcile catches jobs whose
dispatch was lost.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Hashable
from functools import partial
from typing import Any, Protocol

import orjson
from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cloudplane.actors.entity import KINDS, Entity, OpSpec
from cloudplane.actors.identity import EntityRef
from cloudplane.actors.messages import Completion, CompletionBatch, JobMsg, ShardInfo
from cloudplane.errors import ApiError, EntityNotFound, InternalError, ParamError, StaleVersion
from cloudplane.store.base import utcnow
from cloudplane.store.jobs import APPLIED, AsyncJob, JobStatus
from cloudplane.store.versioned import load_by_uuid, load_many_by_uuid
from cloudplane.store.writer import GroupWriter

log = logging.getLogger(__name__)

JOBS = AsyncJob.__table__  # type: ignore[attr-defined]
LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0)

# One statement object, so the writer merges a burst of completions into one executemany.
_COMPLETE = (
    update(JOBS)
    .where(and_(JOBS.c.uuid == bindparam("b_uuid"), JOBS.c.status == JobStatus.PENDING))
    .values(
        status=bindparam("b_status"),
        result_code=bindparam("b_code"),
        result=bindparam("b_result"),
        completed=bindparam("b_completed"),
        version=JOBS.c.version + 1,
    )
)


RemoteCall = Callable[[str, EntityRef, str, dict[str, Any]], Awaitable[Any]]
# Fault injection: called at "before_op" and "before_complete" of every job (runtime.py
# arms one that ends the process there, to reproduce a crash at that exact point).
FaultHook = Callable[[str, JobMsg], None]


class Supervision(Protocol):
    """How a shard tells the supervision tree about its entities (actors/supervision.py)."""

    async def register(self, ent: Entity) -> None: ...

    async def unregister(self, ent: Entity) -> None: ...

    async def crashed(self, ent: Entity, reason: str) -> None: ...


# The entity whose operation the current task is running (set around every operation), so a
# supervisor restart can tell "restart myself, I am already in my mailbox" from "restart a
# sibling, whose mailbox may be busy".
_RUNNING: contextvars.ContextVar[Entity | None] = contextvars.ContextVar("running_entity", default=None)


def _freeze(args: dict[str, Any]) -> Hashable:
    return orjson.dumps(args, option=orjson.OPT_SORT_KEYS)


class ShardCore:
    def __init__(
        self,
        name: str,
        engine: AsyncEngine,
        *,
        fault_injection: bool = False,
        passivate_after_s: float = 300.0,
        reconcile_interval_s: float = 5.0,
        completion_ring: int = 100_000,
        router: Callable[[EntityRef], str] | None = None,
        remote: RemoteCall | None = None,
        tick_s: float = 0.25,
    ) -> None:
        self.name = name
        self.engine = engine
        self.fault_injection = fault_injection
        self.passivate_after_s = passivate_after_s
        self.reconcile_interval_s = reconcile_interval_s
        self.incarnation = uuid.uuid4().hex[:12]
        self.writer = GroupWriter(engine)
        self.router = router
        self.remote = remote
        self.tick_s = tick_s
        self.kind_state: dict[str, Any] = {}  # per-kind shared objects (e.g. the simulator's mocks)
        self._config_values: dict[str, str] = {}
        self._config_at = -1e9
        self._config_lock = asyncio.Lock()  # one re-read at a time: 10k callers at expiry make one query
        self.supervision: Supervision | None = None
        self.fault_hook: FaultHook | None = None
        self.entities: dict[tuple[str, str], Entity] = {}
        self._loading: dict[tuple[str, str], asyncio.Future[Entity]] = {}
        self._load_queue: dict[str, list[EntityRef]] = {}
        self._loader: asyncio.Task[None] | None = None
        self._known: set[str] = set()  # accepted, not yet completed
        self._recent: OrderedDict[str, None] = OrderedDict()  # completed lately (dedup)
        self._ring: deque[Completion] = deque(maxlen=completion_ring)
        self._seq = 0
        self._published = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._background: list[asyncio.Task[None]] = []
        self._started: asyncio.Task[None] | None = None
        # metrics
        self.jobs_done = 0
        self.jobs_failed = 0
        self.crashes = 0
        self.recovered_jobs = 0
        self.op_latency_sum_s = 0.0
        self.op_latency_counts = [0] * (len(LATENCY_BUCKETS) + 1)

    def now(self) -> float:
        return time.monotonic()

    # -- lifecycle ---------------------------------------------------------------
    async def ensure_started(self) -> None:
        if self._started is None:
            self._started = asyncio.create_task(self._start())
        await asyncio.shield(self._started)

    async def _start(self) -> None:
        await self._recover()
        for cls in list(KINDS.values()):
            await cls.on_shard_start(self)
        await self._settle_leftovers()
        self._background = [
            asyncio.create_task(self._periodic(self.reconcile_interval_s, self._reconcile)),
            asyncio.create_task(self._periodic(max(self.passivate_after_s / 4, 0.05), self.passivate_idle)),
            asyncio.create_task(self._periodic(self.tick_s, self._tick)),
        ]

    async def _tick(self) -> None:
        for cls in list(KINDS.values()):
            if cls.shard_tick.__func__ is not Entity.shard_tick.__func__:  # type: ignore[attr-defined]
                await cls.shard_tick(self)

    def owns(self, ref: EntityRef) -> bool:
        return self.router is None or self.router(ref) == self.name

    async def call_entity(self, ref: EntityRef, op: str, args: dict[str, Any]) -> Any:
        """An operation on another entity: here if it lives here, else on its shard."""
        if self.owns(ref) or self.remote is None:
            return await self.run_op(ref, op, args)
        assert self.router is not None
        return await self.remote(self.router(ref), ref, op, args)

    def spawn(self, coro: Any) -> None:
        self._spawn(coro)

    async def config(self, name: str) -> str:
        """A global configuration value, re-read from the store every 2 s."""
        if time.monotonic() - self._config_at > 2.0:
            async with self._config_lock:
                if time.monotonic() - self._config_at > 2.0:
                    await self._read_config()
        if name in self._config_values and self._config_values[name] is not None:
            return str(self._config_values[name])
        from cloudplane.store.configdefs import BY_NAME

        d = BY_NAME.get(name)
        return d.default if d else ""

    async def _read_config(self) -> None:
        from cloudplane.store.tables.config import Configuration

        t = Configuration.__table__  # type: ignore[attr-defined]
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(t.c.name, t.c.value).where(t.c.scope == "global"))).all()
        self._config_values = {r.name: r.value for r in rows}
        self._config_at = time.monotonic()

    async def close(self) -> None:
        for t in self._background:
            t.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        await self.writer.close()

    async def _periodic(self, interval: float, fn: Any) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await fn()
            except Exception:  # a failed sweep is retried next interval; never kill the loop
                log.exception("%s: periodic %s failed", self.name, getattr(fn, "__name__", fn))

    # -- accepting work -----------------------------------------------------------
    async def accept(self, msgs: list[JobMsg]) -> int:
        await self.ensure_started()
        n = 0
        for msg in msgs:
            if msg.job in self._known or msg.job in self._recent:
                continue  # duplicate delivery: the job is running or done
            self._known.add(msg.job)
            self._spawn(self._execute(msg))
            n += 1
        return n

    def _spawn(self, coro: Any) -> None:
        t = asyncio.create_task(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    async def run_op(self, ref: EntityRef, op: str, args: dict[str, Any], job: str | None = None) -> Any:
        """Run an operation, for the durable job `job` or without one (in-shard calls, benchmarks)."""
        try:
            ent = await self.activate(ref)
        except EntityNotFound:
            spec = KINDS[ref.kind].ops.get(op)
            if spec is None or not spec.creates:
                raise
            ent = self._unborn(ref)
        spec = self._op_spec(ent, op)
        if spec.concurrent:
            return await self._invoke(ent, spec, args)
        key = (op, _freeze(args)) if spec.joinable else None
        return await ent.mailbox.submit(key, partial(self._invoke, ent, spec, args, job))

    async def _execute(self, msg: JobMsg) -> None:
        status, code, payload = JobStatus.SUCCEEDED, 0, None
        try:
            if self.fault_hook is not None:
                self.fault_hook("before_op", msg)
            payload = await self.run_op(msg.ref, msg.op, msg.args, msg.job)
        except ApiError as e:
            status, code, payload = JobStatus.FAILED, e.code, e.to_dict()
        except EntityNotFound as e:
            err = ParamError(f"Unable to find {e.kind} with id {e.key}")
            status, code, payload = JobStatus.FAILED, err.code, err.to_dict()
        except StaleVersion as e:
            err = InternalError(f"{msg.ref} was changed concurrently ({e}); try again")
            status, code, payload = JobStatus.FAILED, err.code, err.to_dict()
        except Exception as e:  # already reported to the supervisor by _invoke
            err = InternalError(f"{msg.op} on {msg.ref} failed: {e}")
            status, code, payload = JobStatus.FAILED, err.code, err.to_dict()
        if self.fault_hook is not None:
            self.fault_hook("before_complete", msg)
        await self._complete(msg.job, status, code, payload)

    def _op_spec(self, ent: Entity, op: str) -> OpSpec:
        spec = ent.ops.get(op)
        if spec is None:
            raise InternalError(f"{ent.kind} has no operation {op!r}")
        return spec

    def _unborn(self, ref: EntityRef) -> Entity:
        """A placeholder for an entity whose creating operation is about to run."""
        k = (ref.kind, ref.id)
        ent = self.entities.get(k)
        if ent is None:
            ent = KINDS[ref.kind](ref, {"id": None, "uuid": ref.id, "version": 0}, self)
            ent.unborn = True
            self.entities[k] = ent
        return ent

    async def _invoke(self, ent: Entity, spec: OpSpec, args: dict[str, Any], job: str | None = None) -> Any:
        ent.last_used = t0 = time.monotonic()
        if ent.unborn and not spec.creates:
            raise EntityNotFound(ent.kind, ent.ref.id)
        was_unborn = ent.unborn
        if not spec.resumable:
            ent.job = job  # its first write marks the job applied (recovery must not re-run it)
        # A concurrent operation does not hold the mailbox: its entity restarts in turn.
        running = _RUNNING.set(None if spec.concurrent else ent)
        try:
            result = await spec.fn(ent, **args)
            if was_unborn and not ent.unborn and self.supervision is not None:
                ent.on_activate()
                await self.supervision.register(ent)
            return result
        except ApiError:
            raise
        except StaleVersion:
            # Someone else wrote this row: our copy is wrong, read the truth again.
            await self._reload(ent)
            raise
        except Exception as e:
            self.crashes += 1
            log.warning("%s: %s.%s crashed: %r", self.name, ent.ref, spec.name, e)
            if self.supervision is not None:
                await self.supervision.crashed(ent, f"{spec.name}: {e!r}")
            raise
        finally:
            _RUNNING.reset(running)
            if not spec.resumable:
                ent.job = None
            if ent.unborn and ent.mailbox.depth <= 1:
                # The creating operation failed: nothing was born, forget the placeholder.
                self.entities.pop((ent.kind, ent.ref.id), None)
            dt = time.monotonic() - t0
            self.op_latency_sum_s += dt
            for i, b in enumerate(LATENCY_BUCKETS):
                if dt <= b:
                    self.op_latency_counts[i] += 1
                    break
            else:
                self.op_latency_counts[-1] += 1

    async def _complete(self, job: str, status: int, code: int, payload: Any) -> None:
        result = None if payload is None else orjson.dumps(payload).decode()
        try:
            await self.writer.execute(
                _COMPLETE,
                {"b_uuid": job, "b_status": int(status), "b_code": code, "b_result": result,
                 "b_completed": utcnow()},
            )
        except Exception:
            # The row stays PENDING; reconcile or the next incarnation runs it again.
            log.exception("%s: could not record completion of job %s", self.name, job)
            self._known.discard(job)
            return
        if status == JobStatus.SUCCEEDED:
            self.jobs_done += 1
        else:
            self.jobs_failed += 1
        self._known.discard(job)
        self._recent[job] = None
        while len(self._recent) > 200_000:
            self._recent.popitem(last=False)
        self._seq += 1
        self._ring.append(Completion(self._seq, job, int(status), code, payload))
        self._published.set()

    async def poll_completions(self, incarnation: str, cursor: int, timeout: float) -> CompletionBatch:
        """Long poll: completions after `cursor` of this incarnation."""
        await self.ensure_started()
        if incarnation != self.incarnation:
            return CompletionBatch(self.incarnation, self._seq, [], gap=True)
        if cursor >= self._seq:
            self._published.clear()
            try:
                await asyncio.wait_for(self._published.wait(), timeout)
            except TimeoutError:
                return CompletionBatch(self.incarnation, cursor, [], gap=False)
        first = self._ring[0].seq if self._ring else self._seq + 1
        gap = cursor + 1 < first
        items = [c for c in self._ring if c.seq > cursor] if not gap else list(self._ring)
        return CompletionBatch(self.incarnation, self._seq, items, gap=gap)

    # -- activation -------------------------------------------------------------
    async def activate(self, ref: EntityRef) -> Entity:
        k = (ref.kind, ref.id)
        ent = self.entities.get(k)
        if ent is not None:
            return ent
        fut = self._loading.get(k)
        if fut is None:
            if ref.kind not in KINDS:
                raise InternalError(f"unknown entity kind {ref.kind!r}")
            fut = asyncio.get_running_loop().create_future()
            self._loading[k] = fut
            self._load_queue.setdefault(ref.kind, []).append(ref)
            if self._loader is None:
                self._loader = asyncio.create_task(self._load_batch())
        return await asyncio.shield(fut)

    async def _load_batch(self) -> None:
        """Load every entity asked for since the last batch: one query per kind."""
        await asyncio.sleep(0)  # let a burst of activations queue up
        queue, self._load_queue, self._loader = self._load_queue, {}, None
        for kind, refs in queue.items():
            cls = KINDS[kind]
            try:
                async with self.engine.connect() as conn:
                    rows = await load_many_by_uuid(conn, cls.table, [r.id for r in refs])
            except Exception as e:
                for r in refs:
                    self._settle_load(r, error=e)
                continue
            for r in refs:
                row = rows.get(r.id)
                if row is None:
                    self._settle_load(r, error=EntityNotFound(kind, r.id))
                    continue
                ent = cls(r, row, self)
                ent.on_activate()
                self.entities[(r.kind, r.id)] = ent
                if self.supervision is not None:
                    await self.supervision.register(ent)
                self._settle_load(r, ent=ent)

    def _settle_load(self, ref: EntityRef, *, ent: Entity | None = None, error: Exception | None = None) -> None:
        fut = self._loading.pop((ref.kind, ref.id), None)
        if fut is None or fut.done():
            return
        if error is not None:
            fut.set_exception(error)
            fut.exception()  # retrieved: a caller that gave up must not warn
        else:
            fut.set_result(ent)  # type: ignore[arg-type]

    async def _reload(self, ent: Entity) -> None:
        async with self.engine.connect() as conn:
            row = await load_by_uuid(conn, ent.table, ent.ref.id)
        ent.reloaded(row)

    async def restart_entity(self, ent: Entity) -> None:
        """The supervisor's restart: state from the store, transitional states settled.

        It never runs beside one of the entity's operations: re-reading the row under a running
        operation, or settling while it runs, would let both act on one state (a stop and a
        settle both giving the host's capacity back). The entity whose own operation crashed
        restarts in place (this task holds its mailbox); any other waits its turn."""
        if _RUNNING.get() is ent:
            await self._restart_now(ent)
        else:
            self._spawn(self._restart_in_turn(ent))

    async def _restart_now(self, ent: Entity) -> None:
        await self._reload(ent)
        if ent.state in ent.transitional:
            await ent.settle()

    async def _restart_in_turn(self, ent: Entity) -> None:
        try:
            await ent.mailbox.submit(None, partial(self._restart_now, ent))
        except Exception:
            log.exception("%s: could not restart %s", self.name, ent.ref)

    async def passivate_idle(self) -> int:
        cutoff = time.monotonic() - self.passivate_after_s
        idle = [e for e in self.entities.values()
                if e.mailbox.idle and e.last_used < cutoff and not e.resident]
        for ent in idle:
            del self.entities[(ent.ref.kind, ent.ref.id)]
            ent.on_passivate()
            if self.supervision is not None:
                await self.supervision.unregister(ent)
        return len(idle)

    # -- recovery -------------------------------------------------------------------
    async def _pending_jobs(self, older_than_s: float | None = None) -> list[tuple[JobMsg, bool]]:
        """Pending jobs of ours, in submission order, each with whether its write is applied."""
        q = select(JOBS.c.uuid, JOBS.c.entity_kind, JOBS.c.instance_uuid, JOBS.c.placement_key,
                   JOBS.c.op, JOBS.c.args, JOBS.c.created, JOBS.c.proc_status).where(
            JOBS.c.owner_shard == self.name, JOBS.c.status == JobStatus.PENDING
        ).order_by(JOBS.c.id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(q)).all()
        cutoff = None
        if older_than_s is not None:
            cutoff = utcnow().timestamp() - older_than_s
        out = []
        for r in rows:
            if cutoff is not None and r.created.timestamp() > cutoff:
                continue
            ref = EntityRef(r.entity_kind, r.instance_uuid, r.placement_key)
            out.append((JobMsg(r.uuid, ref, r.op, orjson.loads(r.args)), r.proc_status == APPLIED))
        return out

    async def _recover(self) -> None:
        pending = await self._pending_jobs()
        msgs = [m for m, _ in pending]
        if not msgs:
            return
        log.info("%s (%s): recovering %d pending jobs", self.name, self.incarnation, len(msgs))
        self.recovered_jobs += len(msgs)
        # Settle what a dead predecessor left half-done, before running anything.
        seen: set[tuple[str, str]] = set()
        for m in msgs:
            k = (m.ref.kind, m.ref.id)
            if k in seen:
                continue
            seen.add(k)
            try:
                ent = await self.activate(m.ref)
            except (EntityNotFound, InternalError):
                continue  # the job fails with a clear error when it runs
            if ent.state in ent.transitional:
                # In its mailbox: a host's power report may already be queued for it.
                await self._settle_one(m.ref)
        for m, applied in pending:
            await self._resume(m, applied)

    async def _resume(self, m: JobMsg, applied: bool) -> None:
        """A pending job nobody is running: run it, unless it must not be applied twice and was.

        A resumable job runs again (its operation is idempotent). A non-resumable one
        runs only if its write never committed; if it did, only the answer was lost:
        the job succeeds with the entity's `applied_result` (not the exact value the
        operation returned, which died with the process).
        """
        if m.job in self._known or m.job in self._recent:
            return
        self._known.add(m.job)
        cls = KINDS.get(m.ref.kind)
        spec = cls.ops.get(m.op) if cls is not None else None
        if not applied or spec is None or spec.resumable:
            self._spawn(self._execute(m))
            return
        try:
            result = (await self.activate(m.ref)).applied_result(m.op, m.args)
        except EntityNotFound:
            result = None  # deleted since: the write happened, there is nothing left to show
        except BaseException:
            self._known.discard(m.job)  # not handled: the next reconcile tries again
            raise
        log.info("%s: job %s (%s on %s) was applied before a crash; completing it", self.name, m.job, m.op, m.ref)
        await self._complete(m.job, JobStatus.SUCCEEDED, 0, result)

    async def _settle_leftovers(self) -> None:
        """Entities of ours that a dead predecessor left in a transitional state with no job
        to finish them: settle each through its mailbox (after any recovered job)."""
        for cls in list(KINDS.values()):
            table = getattr(cls, "table", None)
            if not cls.transitional or table is None or "state" not in table.c:
                continue
            q = select(table).where(table.c.state.in_(list(cls.transitional)))
            if "removed" in table.c:
                q = q.where(table.c.removed.is_(None))
            async with self.engine.connect() as conn:
                rows = (await conn.execute(q)).all()
            refs = [cls.ref_for_row(r) for r in rows]
            refs = [r for r in refs if self.owns(r)]
            if refs:
                log.info("%s: settling %d %s entities left in transitional states", self.name, len(refs), cls.kind)
            for r in refs:
                self._spawn(self._settle_one(r))

    async def _settle_one(self, ref: EntityRef) -> None:
        try:
            await self.run_op(ref, "settle", {})
        except Exception:  # the next restart, or the entity's next operation, tries again
            log.exception("%s: could not settle %s", self.name, ref)

    async def _reconcile(self) -> None:
        """Level-triggered safety net: pending jobs of ours that nobody delivered."""
        for m, applied in await self._pending_jobs(older_than_s=2.0):
            await self._resume(m, applied)

    # -- introspection ----------------------------------------------------------------
    def info(self) -> ShardInfo:
        names = [f"{b}" for b in LATENCY_BUCKETS] + ["+Inf"]
        return ShardInfo(
            name=self.name, incarnation=self.incarnation, pid=os.getpid(), node_id="",
            entities=len(self.entities),
            mailbox_depth=sum(e.mailbox.depth for e in self.entities.values()),
            jobs_done=self.jobs_done, jobs_failed=self.jobs_failed, crashes=self.crashes,
            recovered_jobs=self.recovered_jobs, writer_depth=self.writer.depth,
            op_latency_buckets=dict(zip(names, self.op_latency_counts)),
            op_latency_sum_s=self.op_latency_sum_s,
            rss_bytes=_rss_bytes(), cpu_s=_cpu_s(),
        )


def _rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _cpu_s() -> float:
    t = os.times()
    return t.user + t.system
