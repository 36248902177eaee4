"""A shard process that dies at an exact point of a job, through Ray, under both
placements on SQLite and MariaDB: a non-resumable operation (the probe's
`incr`) takes effect exactly once whichever side of its write the process died.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cloudplane.actors.identity import EntityRef
from cloudplane.actors.runtime import Runtime
from cloudplane.store.jobs import APPLIED, JobStatus
from tests.actors.local import JOBS, PROBES, new_probes, ray_runtime

pytestmark = pytest.mark.ray

CASES = [("grouped", "sqlite"), ("grouped", "mysql"), ("dedicated", "sqlite"), ("dedicated", "mysql")]


@pytest.fixture(params=CASES, ids=lambda c: f"{c[0]}-{c[1]}", scope="module")
async def rt(request: pytest.FixtureRequest, ray_cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Runtime]:
    policy, backend = request.param
    async with ray_runtime(policy, backend, Path(tmp_path_factory.mktemp("db")), "cp") as runtime:
        yield runtime


async def _row(rt: Runtime, ref: EntityRef, job: str) -> tuple[int, int, int]:
    async with rt.engine.connect() as conn:  # type: ignore[union-attr]
        probe = (await conn.execute(select(PROBES.c.counter, PROBES.c.version).where(PROBES.c.uuid == ref.id))).one()
        proc = (await conn.execute(select(JOBS.c.proc_status).where(JOBS.c.uuid == job))).scalar_one()
    return probe.counter, probe.version, proc


async def _incarnation(rt: Runtime, ref: EntityRef) -> str:
    return str(await rt.handle(rt.shard_for(ref)).ping.remote())


async def test_exit_between_write_and_completion_applies_once(rt: Runtime) -> None:
    (ref,) = await new_probes(rt.engine, 1)  # type: ignore[arg-type]
    await rt.run(ref, "incr", {"by": 2})
    before = await _incarnation(rt, ref)
    await rt.exit_shard_at(rt.shard_for(ref), "before_complete", "incr")
    job = await rt.submit(ref, "incr", {"by": 3})
    res = await rt.wait(job, 90)
    assert await _incarnation(rt, ref) != before, "the shard was meant to die between write and completion"
    # The write of the dead process stands; the new one completed the job without a second write.
    assert res.status == JobStatus.SUCCEEDED and res.result == {"counter": 5}
    assert await _row(rt, ref, job) == (5, 3, APPLIED)
    assert await rt.run(ref, "incr", {"by": 1}) == {"counter": 6}  # and the entity works on


async def test_exit_before_the_write_runs_the_job_once(rt: Runtime) -> None:
    (ref,) = await new_probes(rt.engine, 1)  # type: ignore[arg-type]
    await rt.run(ref, "info", {})  # the shard (under `dedicated`, the entity's own) is up
    before = await _incarnation(rt, ref)
    await rt.exit_shard_at(rt.shard_for(ref), "before_op", "incr")
    job = await rt.submit(ref, "incr", {"by": 3})
    res = await rt.wait(job, 90)
    assert await _incarnation(rt, ref) != before, "the shard was meant to die before the operation"
    assert res.status == JobStatus.SUCCEEDED and res.result == {"counter": 3}
    assert await _row(rt, ref, job) == (3, 2, APPLIED)
