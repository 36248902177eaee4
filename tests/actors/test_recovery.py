"""Exactly once for non-resumable operations, in-process on SQLite and MariaDB.

A non-resumable operation's write marks its job applied in the same
transaction, so a shard that finds the job pending later (a restart, or the
reconcile after a lost completion) completes it instead of applying it again.
The crash itself is simulated by running the operation for its job and never
writing the completion, which is what a process that died in between leaves.
"""

from __future__ import annotations

import asyncio

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from cloudplane.actors.entity import OpSpec, operation
from cloudplane.errors import StaleVersion
from cloudplane.store.jobs import APPLIED, JobStatus
from cloudplane.store.writer import GroupWriter
from tests.actors.local import (
    PROBES, job_rows, new_core, new_probes, probe_row, wait_jobs, write_job,
)


async def test_write_and_applied_mark_commit_together(engine: AsyncEngine) -> None:
    refs = await new_probes(engine, 3)
    jobs = [await write_job(engine, "shard-w", r, "incr") for r in refs]
    rows = [await probe_row(engine, r) for r in refs]
    writer = GroupWriter(engine)
    # One batch: two fresh writes and a stale one (expects version 7).
    results = await asyncio.gather(
        writer.versioned(PROBES, rows[0]["id"], 1, {"counter": 1}, job=jobs[0].job),
        writer.versioned(PROBES, rows[1]["id"], 7, {"counter": 1}, job=jobs[1].job),
        writer.versioned(PROBES, rows[2]["id"], 1, {"counter": 1}, job=jobs[2].job),
        return_exceptions=True,
    )
    await writer.close()
    assert results[0] == 2 and results[2] == 2 and isinstance(results[1], StaleVersion)
    marks = await job_rows(engine, [m.job for m in jobs])
    assert [marks[m.job]["proc_status"] for m in jobs] == [APPLIED, 0, APPLIED]
    assert [(await probe_row(engine, r))["counter"] for r in refs] == [1, 0, 1]


async def test_restart_completes_an_applied_job_instead_of_rerunning_it(engine: AsyncEngine) -> None:
    (ref,) = await new_probes(engine, 1)
    dead = new_core(engine, "shard-r")
    await dead.ensure_started()  # before the jobs exist, so its own recovery leaves them alone
    applied = await write_job(engine, "shard-r", ref, "incr", {"by": 5})
    queued = await write_job(engine, "shard-r", ref, "append", {"seq": 7})
    await dead.run_op(ref, "incr", {"by": 5}, applied.job)  # the write commits; then the process died
    await dead.close()
    assert (await job_rows(engine, [applied.job]))[applied.job]["proc_status"] == APPLIED

    core = new_core(engine, "shard-r")
    await core.ensure_started()
    rows = await wait_jobs(engine, [applied.job, queued.job])
    assert rows[applied.job]["status"] == JobStatus.SUCCEEDED
    assert orjson.loads(rows[applied.job]["result"]) == {"counter": 5}
    # The one that never ran was run: a job that was not applied is safe to run.
    assert rows[queued.job]["status"] == JobStatus.SUCCEEDED
    row = await probe_row(engine, ref)
    assert row["counter"] == 1 and orjson.loads(row["payload"]) == [7]  # append sets counter = len
    assert row["version"] == 3  # incr once, append once
    await core.close()


async def test_restart_runs_an_unapplied_nonresumable_job(engine: AsyncEngine) -> None:
    (ref,) = await new_probes(engine, 1)
    msg = await write_job(engine, "shard-u", ref, "incr", {"by": 2})
    core = new_core(engine, "shard-u")
    await core.ensure_started()
    row = (await wait_jobs(engine, [msg.job]))[msg.job]
    assert row["status"] == JobStatus.SUCCEEDED and orjson.loads(row["result"]) == {"counter": 2}
    assert row["proc_status"] == APPLIED
    assert (await probe_row(engine, ref))["counter"] == 2
    assert core.recovered_jobs == 1
    await core.close()


async def test_reconcile_completes_an_applied_job_whose_completion_was_lost(engine: AsyncEngine) -> None:
    (ref,) = await new_probes(engine, 1)
    core = new_core(engine, "shard-c", reconcile_interval_s=0.3)
    await core.ensure_started()
    msg = await write_job(engine, "shard-c", ref, "incr", {})
    # Applied by this very shard, but its completion never reached the store.
    await core.run_op(ref, "incr", {}, msg.job)
    row = (await wait_jobs(engine, [msg.job], timeout=15))[msg.job]  # the reconcile picks it up after 2 s
    assert row["status"] == JobStatus.SUCCEEDED and orjson.loads(row["result"]) == {"counter": 1}
    assert (await probe_row(engine, ref))["counter"] == 1
    await core.close()


async def test_resumable_jobs_leave_no_applied_mark(engine: AsyncEngine) -> None:
    # Marks cost a write: only jobs whose recovery reads them get one.
    (ref,) = await new_probes(engine, 1)
    msg = await write_job(engine, "shard-m", ref, "start", {})
    core = new_core(engine, "shard-m")
    await core.ensure_started()
    row = (await wait_jobs(engine, [msg.job]))[msg.job]
    assert row["status"] == JobStatus.SUCCEEDED and row["proc_status"] == 0
    await core.close()


def test_nonresumable_operations_cannot_be_joined_or_concurrent() -> None:
    async def op(self: object) -> None: ...

    with pytest.raises(TypeError, match="cannot be joinable"):
        OpSpec("x", op, joinable=True, resumable=False)
    with pytest.raises(TypeError, match="cannot be joinable or concurrent"):
        operation(resumable=False, concurrent=True)(op)
