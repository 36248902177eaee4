"""The shard core in-process, on SQLite and MariaDB: ordering, joining,
supervision, recovery, split brain, passivation."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from cloudplane.actors.entity import KINDS
from cloudplane.errors import StaleVersion
from cloudplane.store.jobs import JobStatus
from tests.actors.local import (
    job_rows, new_core, new_probes, probe_row, wait_jobs, write_job,
)


async def test_thousand_ops_on_one_entity_are_serial_and_ordered(engine: AsyncEngine) -> None:
    core = new_core(engine)
    await core.ensure_started()
    (ref,) = await new_probes(engine, 1)
    msgs = [await write_job(engine, core.name, ref, "append", {"seq": i}) for i in range(1000)]
    await core.accept(msgs)
    rows = await wait_jobs(engine, [m.job for m in msgs])
    assert all(r["status"] == JobStatus.SUCCEEDED for r in rows.values())
    row = await probe_row(engine, ref)
    assert orjson.loads(row["payload"]) == list(range(1000))
    assert row["version"] == 1001
    assert max(orjson.loads(r["result"])["max_active"] for r in rows.values()) == 1
    await core.close()


async def test_ops_on_many_entities_overlap(engine: AsyncEngine) -> None:
    core = new_core(engine)
    await core.ensure_started()
    refs = await new_probes(engine, 1000)
    t0 = time.monotonic()
    await asyncio.gather(*(core.run_op(r, "sleep", {"seconds": 0.2}) for r in refs))
    elapsed = time.monotonic() - t0
    assert elapsed < 5.0, f"1000 x 0.2 s sleeps took {elapsed:.1f} s: entities did not overlap"
    await core.close()


async def test_identical_pending_starts_run_once(engine: AsyncEngine) -> None:
    core = new_core(engine)
    await core.ensure_started()
    (ref,) = await new_probes(engine, 1)
    a, b = await asyncio.gather(
        core.run_op(ref, "start", {"delay": 0.1}), core.run_op(ref, "start", {"delay": 0.1})
    )
    assert a == b == {"state": "Running", "starts": 1}
    assert (await probe_row(engine, ref))["version"] == 3  # Starting + Running, once
    await core.close()


async def test_crash_restarts_entity_from_store(engine: AsyncEngine) -> None:
    core = new_core(engine)
    await core.ensure_started()
    (ref,) = await new_probes(engine, 1, group="g1")
    await core.run_op(ref, "incr", {})
    with pytest.raises(RuntimeError):
        await core.run_op(ref, "fail", {})
    info = await core.run_op(ref, "info", {})
    assert info["activations"] == 2 and info["counter"] == 1
    sup = core.supervision.supervisor_of(core.entities[("probe", ref.id)])  # type: ignore[union-attr]
    assert sup is not None and sup.history[-1].action == "restarted"
    await core.close()


async def test_restart_intensity_exceeded_escalates_to_parent(engine: AsyncEngine) -> None:
    # Group supervisor: at most 2 restarts in 60 s; the third failure escalates.
    core = new_core(engine, levels={"group": ("one_for_one", 2, 60.0)})
    await core.ensure_started()
    bad, sibling = await new_probes(engine, 2, group="g2")
    await core.run_op(sibling, "info", {})
    for _ in range(3):
        with pytest.raises(RuntimeError):
            await core.run_op(bad, "fail", {})
    root = core.supervision.tree.root  # type: ignore[union-attr]
    assert [d.action for d in root.history][-1] == "restarted"
    assert root.history[-1].child == "root/group:g2"
    # The whole group was restarted: the sibling was re-read too.
    assert (await core.run_op(sibling, "info", {}))["activations"] >= 2
    await core.close()


async def test_escalated_restart_waits_for_a_running_operation(engine: AsyncEngine) -> None:
    # A sibling restarted by an escalation is re-read in its turn, never under its running
    # operation (a settle beside a stop would give a host's capacity back twice).
    core = new_core(engine, levels={"group": ("one_for_one", 0, 60.0)})
    await core.ensure_started()
    bad, busy = await new_probes(engine, 2, group="g3")
    await core.run_op(busy, "info", {})
    sleeping = asyncio.create_task(core.run_op(busy, "sleep", {"seconds": 0.5}))
    await asyncio.sleep(0.05)
    with pytest.raises(RuntimeError):
        await core.run_op(bad, "fail", {})
    assert core.entities[("probe", busy.id)].activations == 1, "restarted beside its running operation"
    await sleeping
    assert (await core.run_op(busy, "info", {}))["activations"] >= 2
    await core.close()


async def test_expected_failure_is_a_failed_job_not_a_crash(engine: AsyncEngine) -> None:
    core = new_core(engine)
    await core.ensure_started()
    (ref,) = await new_probes(engine, 1)
    m = await write_job(engine, core.name, ref, "refuse", {"code": 431, "message": "nope"})
    await core.accept([m])
    row = (await wait_jobs(engine, [m.job]))[m.job]
    assert row["status"] == JobStatus.FAILED and row["result_code"] == 431
    assert orjson.loads(row["result"])["errortext"] == "nope"
    assert core.crashes == 0
    await core.close()


async def test_unknown_entity_fails_job_with_431(engine: AsyncEngine) -> None:
    from cloudplane.actors.identity import EntityRef

    core = new_core(engine)
    await core.ensure_started()
    m = await write_job(engine, core.name, EntityRef("probe", "00000000-0000-0000-0000-000000000000"), "info")
    await core.accept([m])
    row = (await wait_jobs(engine, [m.job]))[m.job]
    assert row["status"] == JobStatus.FAILED and row["result_code"] == 431
    await core.close()


async def test_restarted_shard_recovers_pending_jobs_and_settles(engine: AsyncEngine) -> None:
    refs = await new_probes(engine, 3)
    # A dead predecessor left probe 0 half-started and three jobs pending.
    dead = new_core(engine, "shard-r")
    await dead.ensure_started()
    await dead.run_op(refs[0], "start", {})
    ent = dead.entities[("probe", refs[0].id)]
    await ent.save(state="Starting")
    await dead.close()
    msgs = [await write_job(engine, "shard-r", r, "start", {}) for r in refs]
    other = await write_job(engine, "shard-other", refs[1], "incr", {})  # not ours

    core = new_core(engine, "shard-r")
    await core.ensure_started()
    rows = await wait_jobs(engine, [m.job for m in msgs])
    assert all(r["status"] == JobStatus.SUCCEEDED for r in rows.values())
    assert core.recovered_jobs == 3
    for r in refs:
        assert (await probe_row(engine, r))["state"] == "Running"
    assert (await job_rows(engine, [other.job]))[other.job]["status"] == JobStatus.PENDING
    await core.close()


async def test_split_brain_cannot_both_commit(engine: AsyncEngine) -> None:
    (ref,) = await new_probes(engine, 1)
    a, b = new_core(engine, "shard-a"), new_core(engine, "shard-b")
    ea, eb = await a.activate(ref), await b.activate(ref)
    await ea.save(counter=10)
    with pytest.raises(StaleVersion):
        await eb.save(counter=20)
    assert (await probe_row(engine, ref))["counter"] == 10
    # Through an operation: the loser fails its job and re-reads the truth.
    with pytest.raises(StaleVersion):
        await b.run_op(ref, "incr", {})
    assert (await b.run_op(ref, "incr", {}))["counter"] == 11
    await a.close()
    await b.close()


async def test_idle_entities_are_passivated(engine: AsyncEngine) -> None:
    core = new_core(engine, passivate_after_s=0.05)
    await core.ensure_started()
    refs = await new_probes(engine, 10, group="g3")
    await asyncio.gather(*(core.run_op(r, "incr", {}) for r in refs))
    assert len(core.entities) == 10
    await asyncio.sleep(0.3)  # the shard's own sweep runs every 0.05 s here
    assert not core.entities
    assert core.supervision.tree.get(("root", "group:g3")) is None  # type: ignore[union-attr]
    # Next message activates again from the store.
    assert (await core.run_op(refs[0], "incr", {}))["counter"] == 2
    await core.close()


def test_probe_kind_is_registered() -> None:
    assert "probe" in KINDS
