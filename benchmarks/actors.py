"""benchmarks/actors: the runtime's own figures.

1. memory for N entities active in one shard (in-process ShardCore);
2. in-shard operations per second (no Ray hop): a read-only op, and an op that
   writes its row with the version check (group commit);
3. durable jobs through Ray, submit → complete, on SQLite and on MariaDB
   (`--mysql URL`), with submit→complete latency percentiles.

Run: ./dev bench actors [--entities 100000] [--jobs 20000] [--mysql mysql://root@127.0.0.1/test]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import insert, text

from benchmarks.common import pct, report, rss_mib, timed
from cloudplane.actors.identity import EntityRef
from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.engine import make_engine


async def _schema(url: str) -> None:
    from cloudplane.store.migrate import upgrade

    await upgrade(url)


async def _probes(url: str, n: int, groups: int) -> list[EntityRef]:
    from cloudplane.store.tables.probe import Probe

    table = Probe.__table__  # type: ignore[attr-defined]
    engine = make_engine(url)
    refs: list[EntityRef] = []
    now = utcnow()
    for i in range(0, n, 5000):
        rows = []
        for j in range(i, min(n, i + 5000)):
            g = f"g{j % groups}"
            u = new_uuid()
            rows.append({"uuid": u, "version": 1, "created": now, "state": "Stopped", "counter": 0, "group_key": g})
            refs.append(EntityRef("probe", u, g))
        async with engine.begin() as conn:
            await conn.execute(insert(table), rows)
    await engine.dispose()
    return refs


async def bench_shard(url: str, n: int, ops: int) -> None:
    import cloudplane.actors.probe  # noqa: F401
    from cloudplane.actors.shard import ShardCore
    from cloudplane.actors.supervision import EntitySupervision

    refs = await _probes(url, n, groups=max(1, n // 200))
    engine = make_engine(url)
    core = ShardCore("bench-shard", engine)
    core.supervision = EntitySupervision(core)
    await core.ensure_started()
    gc.collect()
    rss0 = rss_mib()
    with timed() as t_act:
        for i in range(0, n, 10_000):
            await asyncio.gather(*(core.activate(r) for r in refs[i : i + 10_000]))
    gc.collect()
    rss1 = rss_mib()
    report(f"memory: {n:,} entities active in one shard", [
        ("activation time", f"{t_act.wall_s:.2f} s ({n / t_act.wall_s:,.0f} entities/s, batched loads)"),
        ("RSS before / after", f"{rss0:,.0f} MiB / {rss1:,.0f} MiB"),
        ("per entity", f"{(rss1 - rss0) * 2**20 / n:,.0f} bytes (row dict, mailbox, supervisor child)"),
    ])

    async def run(op: str, count: int) -> tuple[float, float]:
        window = 5_000
        sample = [random.choice(refs) for _ in range(count)]
        with timed() as t:
            for i in range(0, count, window):
                await asyncio.gather(*(core.run_op(r, op, {}) for r in sample[i : i + window]))
        return count / t.wall_s, t.cpu_s / count * 1e6

    r_rate, r_cpu = await run("info", ops)
    w_rate, w_cpu = await run("incr", ops // 4)
    report("in-shard operations (no Ray hop, 5,000 in flight)", [
        ("read-only op (info)", f"{r_rate:,.0f} ops/s, {r_cpu:.0f} µs CPU/op"),
        ("versioned write op (incr)", f"{w_rate:,.0f} ops/s, {w_cpu:.0f} µs CPU/op "
                                      f"({core.writer.stats.items / max(1, core.writer.stats.batches):.0f} writes per commit)"),
    ])
    await core.close()
    await engine.dispose()


async def bench_jobs(url: str, label: str, jobs: int, entities: int, shards: int) -> None:
    from cloudplane.actors.runtime import Runtime, init_ray
    from cloudplane.settings import Settings

    init_ray()
    refs = await _probes(url, entities, groups=max(1, entities // 50))
    rt = Runtime(Settings(db_url=url, shards=shards), namespace=f"bench-{uuid.uuid4().hex[:8]}")
    await rt.start()
    # warm-up: activate every entity
    await asyncio.gather(*(rt.run(r, "info", {}) for r in refs))
    lat: list[float] = []

    async def one(ref: EntityRef) -> None:
        t0 = time.perf_counter()
        await rt.wait(await rt.submit(ref, "incr", {}), 300)
        lat.append(time.perf_counter() - t0)

    sem = asyncio.Semaphore(2_000)

    async def bounded(ref: EntityRef) -> None:
        async with sem:
            await one(ref)

    with timed() as t:
        await asyncio.gather(*(bounded(refs[i % len(refs)]) for i in range(jobs)))
    infos = await rt.shard_infos()
    report(f"durable jobs through Ray on {label} ({shards} shards, {entities:,} entities, 2,000 in flight)", [
        ("throughput", f"{jobs / t.wall_s:,.0f} jobs/s submit→complete ({jobs:,} jobs in {t.wall_s:.1f} s)"),
        ("latency p50 / p99", f"{pct(lat, 50) * 1e3:.0f} ms / {pct(lat, 99) * 1e3:.0f} ms"),
        ("driver CPU", f"{t.cpu_s / jobs * 1e6:.0f} µs per job"),
        ("job-row commits", f"{rt.writer.stats.items / max(1, rt.writer.stats.batches):.0f} rows per commit (driver)"),
        ("shard RSS", ", ".join(f"{i.name} {rss_mib(i.pid):.0f} MiB" for i in infos)),
    ])
    await rt.stop()


async def _mysql_db(base: str) -> str:
    from sqlalchemy.engine import make_url

    name = f"cpbench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base, pool_size=1)
    async with admin.begin() as conn:
        await conn.execute(text(f"CREATE DATABASE {name}"))
    await admin.dispose()
    return make_url(base).set(database=name).render_as_string(hide_password=False)


async def amain(a: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="cpbench-"))
    print(f"cloudplane benchmarks/actors — {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    if not a.skip_shard:
        url = f"sqlite+aiosqlite:///{tmp / 'shard.db'}"
        await _schema(url)
        await bench_shard(url, a.entities, a.ops)
    url = f"sqlite+aiosqlite:///{tmp / 'jobs.db'}"
    await _schema(url)
    await bench_jobs(url, "SQLite", a.jobs, a.job_entities, a.shards)
    if a.mysql:
        url = await _mysql_db(a.mysql)
        await _schema(url)
        await bench_jobs(url, "MariaDB", a.jobs, a.job_entities, a.shards)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="bench actors")
    ap.add_argument("--entities", type=int, default=100_000)
    ap.add_argument("--ops", type=int, default=200_000)
    ap.add_argument("--jobs", type=int, default=20_000)
    ap.add_argument("--job-entities", type=int, default=2_000)
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--mysql", help="MariaDB/MySQL server URL, e.g. mysql://root@127.0.0.1/test")
    ap.add_argument("--skip-shard", action="store_true")
    a = ap.parse_args(argv)
    asyncio.run(amain(a))
    return 0
