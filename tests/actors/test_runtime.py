"""The runtime through Ray: durable jobs, shards, placement policies, crashes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cloudplane.actors.identity import EntityRef
from cloudplane.actors.runtime import PendingJob, Runtime
from cloudplane.errors import ApiError
from cloudplane.store.base import utcnow
from cloudplane.store.jobs import JobStatus
from tests.actors.local import JOBS, PROBES, new_probes, ray_runtime, write_job

pytestmark = pytest.mark.ray

# (policy, backend): the dedicated policy costs a Ray actor per entity, so it
# runs on one backend with few entities.
CASES = [("grouped", "sqlite"), ("grouped", "mysql"), ("dedicated", "sqlite")]


@pytest.fixture(params=CASES, ids=lambda c: f"{c[0]}-{c[1]}", scope="module")
async def rt(request: pytest.FixtureRequest, ray_cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Runtime]:
    policy, backend = request.param
    async with ray_runtime(policy, backend, Path(tmp_path_factory.mktemp("db")), "t") as runtime:
        yield runtime


def many(rt: Runtime, grouped: int, dedicated: int) -> int:
    return grouped if rt.policy.name == "grouped" else dedicated


async def test_submit_and_wait(rt: Runtime) -> None:
    (ref,) = await new_probes(rt.engine, 1)  # type: ignore[arg-type]
    assert await rt.run(ref, "incr", {"by": 5}) == {"counter": 5}
    with pytest.raises(ApiError) as ei:
        await rt.run(ref, "refuse", {"code": 431, "message": "bad parameter x"})
    assert ei.value.code == 431 and "bad parameter x" in ei.value.text


async def test_job_row_is_committed_before_submit_returns(rt: Runtime) -> None:
    (ref,) = await new_probes(rt.engine, 1)  # type: ignore[arg-type]
    job = await rt.submit(ref, "sleep", {"seconds": 0.3})
    async with rt.engine.connect() as conn:  # type: ignore[union-attr]
        row = (await conn.execute(select(JOBS).where(JOBS.c.uuid == job))).mappings().one()
    assert row["owner_shard"] == rt.shard_for(ref) and row["op"] == "sleep"
    assert (await rt.wait(job, 10)).ok


async def test_ops_on_one_entity_are_serial_and_ordered(rt: Runtime) -> None:
    (ref,) = await new_probes(rt.engine, 1)  # type: ignore[arg-type]
    n = 1000
    jobs = await asyncio.gather(*(rt.submit(ref, "append", {"seq": i}) for i in range(n)))
    results = await asyncio.gather(*(rt.wait(j, 60) for j in jobs))
    assert all(r.ok for r in results)
    assert [r.result["n"] for r in results] == list(range(1, n + 1))
    assert max(r.result["max_active"] for r in results) == 1


async def test_ops_on_many_entities_overlap(rt: Runtime) -> None:
    n = many(rt, 1000, 4)
    refs = await new_probes(rt.engine, n)  # type: ignore[arg-type]
    # Activate first (under `dedicated` that creates a Ray actor each): we time the overlap, not the start-up.
    await asyncio.gather(*(rt.run(r, "info", {}) for r in refs))
    t0 = time.monotonic()
    await asyncio.gather(*(rt.run(r, "sleep", {"seconds": 2.0}) for r in refs))
    elapsed = time.monotonic() - t0
    # Serial execution would take 2 s x n (8 s, or 2,000 s); overlapping ones take a little over 2 s.
    assert elapsed < 2.0 * max(2.0, n / 50), f"{n} two-second operations took {elapsed:.1f} s"


async def test_identical_pending_starts_run_once(rt: Runtime) -> None:
    (ref,) = await new_probes(rt.engine, 1)  # type: ignore[arg-type]
    a, b = await asyncio.gather(rt.submit(ref, "start", {"delay": 0.3}), rt.submit(ref, "start", {"delay": 0.3}))
    ra, rb = await rt.wait(a, 10), await rt.wait(b, 10)
    assert ra.result == rb.result == {"state": "Running", "starts": 1}


async def _until_starting(rt: Runtime, refs: list[EntityRef], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        async with rt.engine.connect() as conn:  # type: ignore[union-attr]
            states = (await conn.execute(select(PROBES.c.state).where(
                PROBES.c.uuid.in_([r.id for r in refs])))).scalars().all()
        if "Starting" in states and "Stopped" not in states:  # every start began, some still run
            return
        assert time.monotonic() < deadline, f"starts not under way after {timeout} s: {states}"
        await asyncio.sleep(0.05)


async def test_shard_exit_with_pending_jobs_loses_nothing(rt: Runtime) -> None:
    n = many(rt, 60, 3)
    refs = await new_probes(rt.engine, n)  # type: ignore[arg-type]
    # Each entity: a start that stays in Starting for 3 s, then an incr queued behind it.
    jobs = list(await asyncio.gather(*(rt.submit(r, "start", {"delay": 3.0}) for r in refs)))
    jobs += await asyncio.gather(*(rt.submit(r, "incr", {}) for r in refs))
    await _until_starting(rt, refs)  # the crash lands half-way, however slow the box
    victims = {rt.shard_for(r) for r in refs}
    await asyncio.gather(*(rt.crash_shard(shard) for shard in victims))
    results = await asyncio.gather(*(rt.wait(j, 60) for j in jobs))
    assert all(r.status != JobStatus.PENDING for r in results)
    assert all(r.ok for r in results), [r.result for r in results if not r.ok][:3]
    async with rt.engine.connect() as conn:  # type: ignore[union-attr]
        states = (await conn.execute(select(PROBES.c.state, PROBES.c.counter).where(
            PROBES.c.uuid.in_([r.id for r in refs])))).all()
    assert {s for s, _ in states} == {"Running"}
    assert {c for _, c in states} == {1}
    # Every incr ran once (it is non-resumable: one whose write committed before the exit is
    # completed by the new incarnation, not run again); all victims are back before we ask them.
    await asyncio.gather(*(rt.await_shard(shard) for shard in victims))
    infos = await rt.shard_infos()
    assert sum(i.recovered_jobs for i in infos if i.name in victims) >= 1


async def test_a_lost_completion_does_not_leave_a_job_pending_in_memory(rt: Runtime) -> None:
    """queryAsyncJobResult answers jobs this node submitted from memory while they run; a
    completion that never reaches the poller (the shard died before it was polled) must
    not leave that answer at "pending": the sweeps read the store."""
    (ref,) = await new_probes(rt.engine, 1)  # type: ignore[arg-type]
    # Rows only: no shard is told of them, so no completion is ever published.
    lost = await write_job(rt.engine, "nobody", ref, "info")  # type: ignore[arg-type]
    old = await write_job(rt.engine, "nobody", ref, "info")  # type: ignore[arg-type]
    created = utcnow()
    for msg, submitted in ((lost, time.monotonic()), (old, time.monotonic() - 60)):
        rt._inflight[msg.job] = PendingJob(msg.job, "info", None, None, None, ref.id, created, submitted)
    async with rt.engine.begin() as conn:  # type: ignore[union-attr]
        await conn.execute(JOBS.update().where(JOBS.c.uuid.in_([lost.job, old.job])).values(
            status=JobStatus.SUCCEEDED, result='{"done": true}', completed=utcnow()))
    assert rt.pending(lost.job) is not None and rt.pending(old.job) is not None
    await rt._sweep_waiters(older_than_s=30.0)  # the periodic sweep: old in-flight jobs only
    assert rt.pending(old.job) is None and rt.pending(lost.job) is not None
    await rt._sweep_waiters(everything=True)  # after a gap in a completion stream: all of them
    assert rt.pending(lost.job) is None
    assert (await rt.wait(lost.job, 5)).result == {"done": True}


async def test_dispatch_and_polling_outlive_an_unexpected_error(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dispatch or a poll that fails with something other than Ray's actor errors (a
    batch that cannot be serialised, say) is logged; the loops go on sending and hearing."""
    (ref,) = await new_probes(rt.engine, 1)  # type: ignore[arg-type]
    shard = rt.shard_for(ref)
    real = rt.handle
    left = {"accept": 1, "poll": 1}  # calls to break

    class Broken:
        def __init__(self, what: str) -> None:
            self.what = what

        def remote(self, *_: Any) -> Any:
            raise ValueError(f"{self.what}: cannot serialise")

    class Flaky:
        def __init__(self, handle: Any) -> None:
            self._handle = handle

        def __getattr__(self, name: str) -> Any:
            if left.get(name, 0) > 0:
                left[name] -= 1
                return Broken(name)
            return getattr(self._handle, name)

    monkeypatch.setattr(rt, "handle", lambda s: Flaky(real(s)))
    first = await rt.submit(ref, "incr", {"by": 1})  # its dispatch fails: the shard's reconcile runs it
    assert (await rt.wait(first, 30)).ok
    assert (await rt.run(ref, "incr", {"by": 1}, timeout=30)) == {"counter": 2}
    assert left == {"accept": 0, "poll": 0}
    assert not rt._dispatcher(shard).task.done() and not rt._pollers[shard].task.done()
