"""store/writer.py: what one batch may hold, and a batch that fails leaves the writer serving."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.store.engine import make_engine
from cloudplane.store.writer import GroupWriter
from tests.dbs import BACKENDS, fresh_database

META = MetaData()
T = Table("nicish", META, Column("id", Integer, primary_key=True, autoincrement=False),
          Column("ip", String(40), nullable=False), Column("gateway", String(40), nullable=True))


@pytest.mark.parametrize("backend", BACKENDS)
async def test_rows_of_one_table_with_different_columns_share_a_batch(backend: str, tmp_path: Path) -> None:
    """A guest NIC names its gateway and a router's NIC on that network does not: both
    inserts arriving together once made a multi-row INSERT SQLAlchemy refused to build."""
    async with fresh_database(backend, tmp_path) as url:
        engine = make_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(META.create_all)
        writer = GroupWriter(engine)
        rows = [{"id": 1, "ip": "10.1.1.5", "gateway": "10.1.1.1"}, {"id": 2, "ip": "10.1.1.1"},
                {"id": 3, "ip": "10.1.1.6", "gateway": "10.1.1.1"}, {"id": 4, "ip": "169.254.0.9"}]
        futs = [writer.insert(T, r) for r in rows]  # queued before the flusher wakes: one batch
        await asyncio.wait_for(asyncio.gather(*futs), 10)  # a dead flusher answers nobody
        assert writer.stats.batches == 1 and writer.stats.retries == 0
        async with engine.connect() as conn:
            got = (await conn.execute(select(T.c.id, T.c.ip, T.c.gateway).order_by(T.c.id))).all()
        assert [tuple(r) for r in got] == [(1, "10.1.1.5", "10.1.1.1"), (2, "10.1.1.1", None),
                                           (3, "10.1.1.6", "10.1.1.1"), (4, "169.254.0.9", None)]
        await writer.close()
        await engine.dispose()


async def test_a_failing_item_fails_alone_and_the_writer_goes_on(tmp_path: Path) -> None:
    """Whatever an item raises (here a bug in a submitted function, and a duplicate key),
    it fails that item only; its batch's other items commit and later writes are served."""
    async with fresh_database("sqlite", tmp_path) as url:
        engine = make_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(META.create_all)
        writer = GroupWriter(engine)

        async def buggy(conn: AsyncConnection) -> None:
            await conn.execute(T.insert().values(id=10, ip="x"))
            raise KeyError("gateway")

        futs = [writer.insert(T, {"id": 1, "ip": "a"}), writer.submit(buggy), writer.insert(T, {"id": 1, "ip": "dup"}),
                writer.insert(T, {"id": 2, "ip": "b"})]
        results = await asyncio.wait_for(asyncio.gather(*futs, return_exceptions=True), 10)
        assert isinstance(results[1], KeyError) and isinstance(results[2], IntegrityError)
        assert results[0] is None and results[3] is None
        await asyncio.wait_for(writer.insert(T, {"id": 3, "ip": "c"}), 10)  # the flusher still runs
        async with engine.connect() as conn:
            got = (await conn.execute(select(T.c.id, T.c.ip).order_by(T.c.id))).all()
        assert [tuple(r) for r in got] == [(1, "a"), (2, "b"), (3, "c")]  # nothing of the bug's write
        await writer.close()
        await engine.dispose()
