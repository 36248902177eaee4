"""Everything that touches Ray lives here: starting or joining Ray, the shard
actor, and the management-node side that submits durable jobs and hears back.

Data path: `Runtime.submit()` commits an `async_job` row (group commit) and
only then hands the job to the entity's shard (batched per shard, one Ray call
per batch). The shard's completions come back on one long-poll per shard.
Nothing here is needed for correctness after a crash: the job row is the
durable mailbox and a restarted shard finds its work in the store.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
import ray
from ray.exceptions import RayActorError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cloudplane.actors.identity import EntityRef
from cloudplane.actors.messages import CompletionBatch, JobMsg, ShardInfo
from cloudplane.actors.routing import PlacementPolicy, make_policy
from cloudplane.errors import ApiError
from cloudplane.settings import Settings
from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.engine import make_engine
from cloudplane.store.jobs import AsyncJob, JobStatus
from cloudplane.store.writer import GroupWriter

log = logging.getLogger(__name__)

JOBS = AsyncJob.__table__  # type: ignore[attr-defined]
def _builtin_kinds() -> tuple[str, ...]:
    """The canary plus every module of actors/kinds/ (each registers its kinds)."""
    import pkgutil

    import cloudplane.actors.kinds as pkg

    return ("cloudplane.actors.probe",) + tuple(
        f"{pkg.__name__}.{m.name}" for m in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name))


BUILTIN_KIND_MODULES = _builtin_kinds()
# A dead actor, or one Ray is restarting (ActorUnavailableError is a RayActorError).
RAY_ERRORS: tuple[type[BaseException], ...] = (RayActorError,)


def loopback_env() -> None:
    """Ray binds the primary interface unless told otherwise; we stay on 127.0.0.1."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"


def init_ray(address: str | None = None) -> None:
    if ray.is_initialized():
        return
    loopback_env()
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        # "local": a new instance of our own, even if another Ray (say, a test's) runs on this machine.
        ray.init(address="local", include_dashboard=False, num_cpus=max(2, os.cpu_count() or 2),
                 object_store_memory=100 * 2**20, log_to_driver=False)


@dataclass(frozen=True)
class ShardConfig:
    db_url: str
    namespace: str = "cloudplane"
    placement: str = "grouped"
    shards: int = 2
    shard_options: dict[str, Any] = field(default_factory=dict)
    fault_injection: bool = False
    passivate_after_s: float = 300.0
    reconcile_interval_s: float = 5.0
    kind_modules: tuple[str, ...] = BUILTIN_KIND_MODULES
    levels: dict[str, tuple[str, int, float]] = field(default_factory=dict)


@ray.remote
class ShardActor:
    """A Ray actor hosting a ShardCore. Restarted by Ray (max_restarts=-1) with
    empty memory; the core rebuilds itself from the store."""

    def __init__(self, name: str, config: ShardConfig) -> None:
        self.name = name
        self.config = config
        self.core: Any = None
        self._lock: asyncio.Lock | None = None
        # Handles of the shards this one calls: naming one afresh asks the GCS for it, a
        # blocking round trip that cost more than the call itself.
        self._peers: dict[str, Any] = {}

    async def _core(self) -> Any:
        if self.core is None:
            if self._lock is None:
                self._lock = asyncio.Lock()
            async with self._lock:
                if self.core is None:
                    self.core = self._build()
        await self.core.ensure_started()
        return self.core

    def _build(self) -> Any:
        from cloudplane.actors.shard import ShardCore
        from cloudplane.actors.supervision import EntitySupervision

        for m in self.config.kind_modules:
            importlib.import_module(m)
        engine = make_engine(self.config.db_url, pool_size=4)
        policy = make_policy(self.config.placement, self.config.shards)
        core = ShardCore(self.name, engine, fault_injection=self.config.fault_injection,
                         passivate_after_s=self.config.passivate_after_s,
                         reconcile_interval_s=self.config.reconcile_interval_s,
                         router=policy.shard_for, remote=self._call_shard)
        core.supervision = EntitySupervision(core, self.config.levels, on_root_escalate=self._escalated)
        return core

    async def _call_shard(self, shard: str, ref: EntityRef, op: str, args: dict[str, Any]) -> Any:
        h = self._peers.get(shard)
        if h is None:
            h = self._peers[shard] = shard_handle(shard, self.config)
        try:
            return await h.run_op.remote(ref, op, args)
        except RAY_ERRORS:
            # A restarting shard keeps its handle; one killed for good needs a new one.
            self._peers.pop(shard, None)
            raise

    async def _escalated(self, reason: str) -> None:
        # The top of this shard's tree gave up: restart the whole process (Ray does it).
        log.error("%s: root supervisor escalated (%s); restarting shard", self.name, reason)
        os._exit(3)

    async def accept(self, msgs: list[JobMsg]) -> int:
        return int(await (await self._core()).accept(msgs))

    async def poll(self, incarnation: str, cursor: int, timeout: float) -> CompletionBatch:
        return await (await self._core()).poll_completions(incarnation, cursor, timeout)  # type: ignore[no-any-return]

    async def run_op(self, ref: EntityRef, op: str, args: dict[str, Any]) -> Any:
        return await (await self._core()).run_op(ref, op, args)

    async def info(self) -> ShardInfo:
        return _with_node((await self._core()).info())

    async def ping(self) -> str:
        return str((await self._core()).incarnation)

    async def agent_events(self, events: list[tuple[str, str | None, dict[str, Any]]]) -> None:
        """Pings and answers from agents on a management node's gateway: (host, cluster, msg)."""
        core = await self._core()
        from cloudplane.actors.kinds.hostlink import Outbox

        outbox = core.kind_state.setdefault("outbox", Outbox())
        for host, cluster, msg in events:
            if msg.get("t") == "ans":
                outbox.answer(msg)
            elif msg.get("t") == "ping":
                ent = core.entities.get(("host", host))
                if ent is not None:
                    ent.on_ping(msg.get("vms") or {})

    async def poll_outbox(self, node: str, timeout: float) -> list[tuple[str, dict[str, Any]]]:
        core = await self._core()
        from cloudplane.actors.kinds.hostlink import Outbox

        return await core.kind_state.setdefault("outbox", Outbox()).poll(node, timeout)  # type: ignore[no-any-return]

    async def gateway_gone(self, node: str) -> None:
        core = await self._core()
        outbox = core.kind_state.get("outbox")
        if outbox is not None:
            outbox.fail(node, f"management node {node} lost its agents")

    async def reset_caches(self) -> None:
        """Forget cached configuration and simulator mocks (they were just changed)."""
        core = await self._core()
        core._config_at = -1e9
        mocks = core.kind_state.get("sim_mocks")
        if mocks is not None:
            mocks.invalidate()

    async def passivate(self) -> int:
        return int(await (await self._core()).passivate_idle())

    def crash(self) -> None:
        """Fault injection: die like a killed process would, with work in flight."""
        if not self.config.fault_injection:
            raise PermissionError("fault injection is disabled")
        os._exit(1)

    async def exit_at(self, point: str, op: str) -> None:
        """Fault injection: end this process at `point` ("before_op" or "before_complete")
        of the next job running `op`. Memory only: the restarted process is not armed."""
        if not self.config.fault_injection:
            raise PermissionError("fault injection is disabled")

        def hook(at: str, msg: JobMsg) -> None:
            if at == point and msg.op == op:
                log.warning("%s: fault injection: exiting at %s of job %s", self.name, at, msg.job)
                os._exit(1)

        (await self._core()).fault_hook = hook

    async def shutdown(self) -> None:
        if self.core is not None:
            await self.core.close()
            await self.core.engine.dispose()


def shard_handle(shard: str, config: ShardConfig) -> Any:
    """The named shard actor, created if it does not exist yet (same options everywhere)."""
    return ShardActor.options(  # type: ignore[attr-defined]
        name=shard, namespace=config.namespace, lifetime="detached", get_if_exists=True,
        max_restarts=-1, max_task_retries=0, max_concurrency=1000, num_cpus=0,
        **{"scheduling_strategy": "SPREAD", **config.shard_options},
    ).remote(shard, config)


def _with_node(i: ShardInfo) -> ShardInfo:
    return replace(i, node_id=ray.get_runtime_context().get_node_id())


@dataclass(frozen=True, slots=True)
class PendingJob:
    """What this node knows of a job it submitted and has not seen complete: the
    fields of its row while pending, so a poll need not read the store."""

    uuid: str
    cmd: str
    account_uuid: str | None
    user_uuid: str | None
    instance_type: str | None
    instance_uuid: str
    created: Any  # datetime, as written to the row
    submitted: float  # time.monotonic()
    status: int = JobStatus.PENDING
    proc_status: int = 0
    result_code: int = 0
    result_type: str = "object"
    result: Any = None
    completed: Any = None


@dataclass(frozen=True)
class JobResult:
    job: str
    status: int
    code: int
    result: Any

    @property
    def ok(self) -> bool:
        return self.status == JobStatus.SUCCEEDED

    def unwrap(self) -> Any:
        if self.status == JobStatus.SUCCEEDED:
            return self.result
        raise ApiError.from_dict(self.result or {"errorcode": self.code, "errortext": "job failed"})


class _Dispatcher:
    """Sends a shard its jobs, a batch per Ray call, one call in flight."""

    def __init__(self, runtime: Runtime, shard: str) -> None:
        self.runtime, self.shard = runtime, shard
        self.queue: list[JobMsg] = []
        self.wake = asyncio.Event()
        self.task = asyncio.create_task(self._run())
        self.sent = 0

    def send(self, msg: JobMsg) -> None:
        self.queue.append(msg)
        self.wake.set()

    async def _run(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.queue:
                batch, self.queue = self.queue[:5000], self.queue[5000:]
                try:
                    await self.runtime.handle(self.shard).accept.remote(batch)
                    self.sent += len(batch)
                except RAY_ERRORS as e:
                    # The rows are durable: the restarted shard recovers them.
                    log.warning("dispatch to %s failed (%s); shard recovery will run them", self.shard, e)
                except Exception:  # anything else: this loop must outlive it, or no job is sent again
                    log.exception("dispatch to %s failed; the shard's reconcile will run the %d jobs",
                                  self.shard, len(batch))


class _Poller:
    """Long-polls one shard for completions and wakes the waiters."""

    def __init__(self, runtime: Runtime, shard: str) -> None:
        self.runtime, self.shard = runtime, shard
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        incarnation, cursor = "", 0
        while True:
            try:
                incarnation, cursor = await self._poll(incarnation, cursor)
            except Exception:  # this loop must outlive any error, or no completion is heard again
                log.exception("polling %s for completions failed; polling again", self.shard)
                await asyncio.sleep(0.2)  # the cursor did not move: nothing is skipped

    async def _poll(self, incarnation: str, cursor: int) -> tuple[str, int]:
        try:
            batch: CompletionBatch = await self.runtime.handle(self.shard).poll.remote(incarnation, cursor, 2.0)
        except RAY_ERRORS:
            # The shard is down: answer whoever waits from the store. The in-flight
            # jobs are looked up once, at the gap its next incarnation reports.
            await asyncio.sleep(0.2)
            await self.runtime._sweep_waiters()
            return incarnation, cursor
        if batch.gap:
            await self.runtime._sweep_waiters(everything=True)
        for c in batch.items:
            self.runtime._resolve(JobResult(c.job, c.status, c.code, c.result))
        return batch.incarnation, batch.cursor


class Runtime:
    """The management node's view of the shards."""

    def __init__(self, settings: Settings, *, namespace: str = "cloudplane",
                 reconcile_interval_s: float = 5.0,
                 levels: dict[str, tuple[str, int, float]] | None = None,
                 shard_options: dict[str, Any] | None = None) -> None:
        self.settings = settings
        # Ray actor options for shards, e.g. a scheduling strategy (tests pin shards to a node).
        self.shard_options = shard_options or {}
        self.namespace = namespace
        self.policy: PlacementPolicy = make_policy(settings.placement, settings.shards)
        self.config = ShardConfig(
            db_url=settings.database_url, namespace=namespace, placement=settings.placement,
            shards=settings.shards, shard_options=self.shard_options, fault_injection=settings.fault_injection,
            passivate_after_s=settings.passivate_after_s, reconcile_interval_s=reconcile_interval_s,
            kind_modules=BUILTIN_KIND_MODULES + tuple(settings.extra_kind_modules),
            levels=levels or {},
        )
        self.engine: AsyncEngine | None = None
        self.writer: GroupWriter | None = None
        self._handles: dict[str, Any] = {}
        self._dispatchers: dict[str, _Dispatcher] = {}
        self._pollers: dict[str, _Poller] = {}
        self._waiters: dict[str, asyncio.Future[JobResult]] = {}
        # Jobs submitted here and not yet seen complete; results seen lately (bounded).
        self._inflight: dict[str, PendingJob] = {}
        self._results: OrderedDict[str, JobResult] = OrderedDict()
        self._sweeper: asyncio.Task[None] | None = None
        self.submitted = 0

    # -- lifecycle ------------------------------------------------------------------
    async def start(self) -> None:
        for m in self.config.kind_modules:
            importlib.import_module(m)
        self.engine = make_engine(self.settings.database_url)
        self.writer = GroupWriter(self.engine)
        for name in self.policy.fixed_shards():
            self.handle(name)
        # Make sure every fixed shard is up (and has recovered) before we serve; one that
        # Ray is restarting right now answers a little later.
        await asyncio.gather(*(self.await_shard(n) for n in self.policy.fixed_shards()))
        self._sweeper = asyncio.create_task(self._sweep_loop())

    async def await_shard(self, shard: str, timeout: float = 120.0) -> None:
        """Return once `shard` answers (and has recovered), e.g. after a restart."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                await self.handle(shard).ping.remote()
                return
            except RAY_ERRORS:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)

    async def stop(self, *, kill_shards: bool = True) -> None:
        tasks = [d.task for d in self._dispatchers.values()] + [p.task for p in self._pollers.values()]
        if self._sweeper:
            tasks.append(self._sweeper)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if kill_shards:
            for h in self._handles.values():
                try:
                    await asyncio.wait_for(h.shutdown.remote(), 10)
                except Exception:  # best effort: the actor is killed next anyway
                    pass
                ray.kill(h, no_restart=True)
        self._handles.clear()
        if self.writer:
            await self.writer.close()
        if self.engine:
            await self.engine.dispose()

    # -- shards ----------------------------------------------------------------------
    def shard_for(self, ref: EntityRef) -> str:
        return self.policy.shard_for(ref)

    def handle(self, shard: str) -> Any:
        h = self._handles.get(shard)
        if h is None:
            h = self._handles[shard] = shard_handle(shard, self.config)
            self._pollers[shard] = _Poller(self, shard)
        return h

    def shard_names(self) -> list[str]:
        return list(self._handles)

    async def shard_infos(self) -> list[ShardInfo]:
        return list(await asyncio.gather(*(h.info.remote() for h in self._handles.values())))

    async def call(self, ref: EntityRef, op: str, args: dict[str, Any] | None = None) -> Any:
        """An operation that is not a user command (agent events): no job row, same mailbox."""
        return await self.handle(self.shard_for(ref)).run_op.remote(ref, op, args or {})

    async def reset_caches(self) -> None:
        await asyncio.gather(*(h.reset_caches.remote() for h in self._handles.values()), return_exceptions=True)

    async def exit_shard_at(self, shard: str, point: str, op: str) -> None:
        """Fault injection: `shard` ends its process at `point` of its next `op` job."""
        await self.handle(shard).exit_at.remote(point, op)

    async def crash_shard(self, shard: str) -> None:
        try:
            await self.handle(shard).crash.remote()
        except RAY_ERRORS:
            pass  # that is the point

    # -- jobs --------------------------------------------------------------------------
    async def submit(self, ref: EntityRef, op: str, args: dict[str, Any] | None = None, *,
                     cmd: str | None = None, instance_type: str | None = None,
                     account: str | None = None, user: str | None = None) -> str:
        """Commit a job row, then hand it to the entity's shard. Returns the job uuid."""
        assert self.writer is not None, "runtime not started"
        args = args or {}
        job, shard, created = new_uuid(), self.shard_for(ref), utcnow()
        await self.writer.insert(JOBS, {
            "uuid": job, "version": 1, "cmd": cmd or op, "op": op,
            "args": orjson.dumps(args).decode(), "entity_kind": ref.kind,
            "instance_uuid": ref.id, "instance_type": instance_type,
            "placement_key": ref.key, "owner_shard": shard, "account_uuid": account,
            "user_uuid": user, "status": JobStatus.PENDING, "proc_status": 0,
            "result_code": 0, "result_type": "object", "attempts": 0, "created": created,
        })
        self.submitted += 1
        self._inflight[job] = PendingJob(job, cmd or op, account, user, instance_type, ref.id, created,
                                         time.monotonic())
        self._dispatcher(shard).send(JobMsg(job, ref, op, args))
        return job

    def _dispatcher(self, shard: str) -> _Dispatcher:
        d = self._dispatchers.get(shard)
        if d is None:
            self.handle(shard)
            d = self._dispatchers[shard] = _Dispatcher(self, shard)
        return d

    async def wait(self, job: str, timeout: float | None = None) -> JobResult:
        known = self._results.get(job)
        if known is not None:
            return known
        fut = self._waiters.get(job)
        if fut is None:
            fut = self._waiters[job] = asyncio.get_running_loop().create_future()
            if job not in self._inflight:
                # Not ours, or from before a restart: the store knows.
                done = await self._lookup([job])
                if job in done:
                    self._resolve(done[job])
        try:
            return await asyncio.wait_for(asyncio.shield(fut), timeout)
        finally:
            if fut.done():
                self._waiters.pop(job, None)

    async def run(self, ref: EntityRef, op: str, args: dict[str, Any] | None = None,
                  timeout: float | None = 60.0, **kw: Any) -> Any:
        """Submit and wait; raise the job's ApiError on failure."""
        return (await self.wait(await self.submit(ref, op, args, **kw), timeout)).unwrap()

    def pending(self, job: str) -> PendingJob | None:
        """The job, if this node submitted it and has not yet heard it complete. A
        completion on its way makes this answer a few milliseconds late, never wrong
        for long: lost completions are looked up by the sweeps."""
        return self._inflight.get(job)

    async def job_status(self, job: str) -> JobResult | None:
        return (await self._lookup([job], include_pending=True)).get(job)

    def _resolve(self, res: JobResult) -> None:
        if self._inflight.pop(res.job, None) is not None:
            self._results[res.job] = res
            while len(self._results) > 100_000:
                self._results.popitem(last=False)
        fut = self._waiters.get(res.job)
        if fut is not None and not fut.done():
            fut.set_result(res)

    async def _lookup(self, jobs: list[str], include_pending: bool = False) -> dict[str, JobResult]:
        assert self.engine is not None
        out: dict[str, JobResult] = {}
        async with self.engine.connect() as conn:
            for i in range(0, len(jobs), 500):
                q = select(JOBS.c.uuid, JOBS.c.status, JOBS.c.result_code, JOBS.c.result).where(
                    JOBS.c.uuid.in_(jobs[i : i + 500]))
                for r in (await conn.execute(q)).all():
                    if r.status != JobStatus.PENDING or include_pending:
                        out[r.uuid] = JobResult(r.uuid, r.status, r.result_code,
                                                orjson.loads(r.result) if r.result else None)
        return out

    async def _sweep_waiters(self, everything: bool = False, older_than_s: float | None = None) -> None:
        """Look up in the store the jobs someone waits for and, after a gap in a
        completion stream (`everything`) or when they are old, the ones in flight."""
        pending = {j for j, f in self._waiters.items() if not f.done()}
        if everything:
            pending.update(self._inflight)
        elif older_than_s is not None:
            cut = time.monotonic() - older_than_s
            pending.update(j for j, p in self._inflight.items() if p.submitted < cut)
        if pending:
            for res in (await self._lookup(list(pending))).values():
                self._resolve(res)

    async def _sweep_loop(self) -> None:
        # Safety net for a completion lost between shard and poller; in-flight jobs
        # nobody waits for (answered from memory while pending) are checked when old.
        n = 0
        while True:
            await asyncio.sleep(1.0)
            n += 1
            try:
                await self._sweep_waiters(older_than_s=30.0 if n % 10 == 0 else None)
            except Exception:
                log.exception("waiter sweep failed")

    # -- metrics ------------------------------------------------------------------------
    def local_stats(self) -> dict[str, float]:
        w = self.writer
        return {
            "jobs_submitted": self.submitted, "waiters": len(self._waiters),
            "writer_batches": w.stats.batches if w else 0, "writer_items": w.stats.items if w else 0,
            "dispatch_queue": sum(len(d.queue) for d in self._dispatchers.values()),
            "time": time.time(),
        }


__all__ = ["Runtime", "JobResult", "PendingJob", "ShardActor", "ShardConfig", "init_ray", "loopback_env"]
