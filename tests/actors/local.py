"""Drive a ShardCore in-process (no Ray): the same job rows the Runtime writes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

import cloudplane.actors.probe  # noqa: F401  (registers the kind)
import cloudplane.store.tables  # noqa: F401
from cloudplane.actors.identity import EntityRef
from cloudplane.actors.messages import JobMsg
from cloudplane.actors.shard import ShardCore
from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.jobs import AsyncJob, JobStatus
from cloudplane.store.tables.probe import Probe

JOBS = AsyncJob.__table__  # type: ignore[attr-defined]
PROBES = Probe.__table__  # type: ignore[attr-defined]


async def create_schema(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)


async def new_probes(engine: AsyncEngine, n: int, group: str | None = None) -> list[EntityRef]:
    rows = [{"uuid": new_uuid(), "version": 1, "created": utcnow(), "state": "Stopped",
             "counter": 0, "group_key": group} for _ in range(n)]
    async with engine.begin() as conn:
        await conn.execute(insert(PROBES), rows)
    return [EntityRef("probe", r["uuid"], group) for r in rows]


async def write_job(engine: AsyncEngine, shard: str, ref: EntityRef, op: str,
                    args: dict[str, Any] | None = None) -> JobMsg:
    msg = JobMsg(new_uuid(), ref, op, args or {})
    async with engine.begin() as conn:
        await conn.execute(insert(JOBS), [{
            "uuid": msg.job, "cmd": op, "op": op, "args": orjson.dumps(msg.args).decode(),
            "entity_kind": ref.kind, "instance_uuid": ref.id, "placement_key": ref.key,
            "owner_shard": shard, "status": 0, "created": utcnow(),
        }])
    return msg


async def job_rows(engine: AsyncEngine, jobs: list[str]) -> dict[str, Any]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(JOBS).where(JOBS.c.uuid.in_(jobs)))).mappings().all()
    return {r["uuid"]: dict(r) for r in rows}


async def wait_jobs(engine: AsyncEngine, jobs: list[str], timeout: float = 30) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        rows = await job_rows(engine, jobs)
        if all(r["status"] != JobStatus.PENDING for r in rows.values()) and len(rows) == len(jobs):
            return rows
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{sum(r['status'] == 0 for r in rows.values())} jobs still pending")
        await asyncio.sleep(0.05)


async def probe_row(engine: AsyncEngine, ref: EntityRef) -> dict[str, Any]:
    async with engine.connect() as conn:
        return dict((await conn.execute(select(PROBES).where(PROBES.c.uuid == ref.id))).mappings().one())


def new_core(engine: AsyncEngine, name: str = "shard-t", **kw: Any) -> ShardCore:
    from cloudplane.actors.supervision import EntitySupervision

    levels = kw.pop("levels", None)
    core = ShardCore(name, engine, **kw)
    core.supervision = EntitySupervision(core, levels)
    return core


@asynccontextmanager
async def ray_runtime(policy: str, backend: str, tmp_dir: Path, prefix: str) -> AsyncIterator[Any]:
    """A started Runtime on a fresh database (schema created), with fault injection on."""
    from cloudplane.actors.runtime import Runtime
    from cloudplane.settings import Settings
    from cloudplane.store.engine import make_engine
    from tests.dbs import fresh_database

    async with fresh_database(backend, tmp_dir) as url:
        engine = make_engine(url)
        await create_schema(engine)
        await engine.dispose()
        settings = Settings(db_url=url, placement=policy, shards=2, fault_injection=True)
        runtime = Runtime(settings, namespace=f"{prefix}-{policy}-{backend}-{time.monotonic_ns()}",
                          reconcile_interval_s=1.0)
        await runtime.start()
        try:
            yield runtime
        finally:
            await runtime.stop()
