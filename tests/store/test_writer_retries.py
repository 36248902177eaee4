"""store/writer.py: a transaction that meets a deadlock is run again, not failed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Integer, MetaData, Table, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.store.engine import make_engine
from cloudplane.store.writer import GroupWriter, transient
from tests.dbs import fresh_database

META = MetaData()
T = Table("counter", META, Column("id", Integer, primary_key=True, autoincrement=False),
          Column("n", Integer, nullable=False))


def _deadlock() -> OperationalError:
    return OperationalError("UPDATE counter ...", {}, Exception(1213, "Deadlock found when trying to get lock"))


def test_which_errors_are_transient() -> None:
    assert transient(_deadlock())
    assert transient(OperationalError("x", {}, Exception(1205, "Lock wait timeout exceeded")))
    assert transient(OperationalError("x", {}, Exception("database is locked")))
    assert not transient(IntegrityError("x", {}, Exception(1062, "Duplicate entry")))
    assert not transient(ValueError("no"))


async def test_a_deadlocked_batch_runs_again_and_commits_once(tmp_path: Path) -> None:
    async with fresh_database("sqlite", tmp_path) as url:
        engine = make_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(META.create_all)
            await conn.execute(T.insert().values(id=1, n=0))
        writer = GroupWriter(engine)
        runs = 0

        async def work(conn: AsyncConnection) -> int:
            nonlocal runs
            runs += 1
            await conn.execute(update(T).where(T.c.id == 1).values(n=T.c.n + 1))
            if runs < 3:
                raise _deadlock()  # after a write: the retry must not keep it
            return runs

        assert await writer.submit(work) == 3
        assert writer.stats.transient_retries == 2
        async with engine.connect() as conn:
            assert (await conn.execute(select(T.c.n))).scalar_one() == 1
        await writer.close()
        await engine.dispose()


async def test_a_real_mariadb_deadlock_is_retried(tmp_path: Path) -> None:
    """Two transactions lock rows 1 and 2 in opposite orders; MariaDB kills the
    lighter one, the writer's, whose batch then runs again and commits."""
    async with fresh_database("mysql", tmp_path) as url:
        engine, other = make_engine(url), make_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(META.create_all)
            await conn.execute(T.insert(), [{"id": i, "n": 0} for i in range(1, 202)])
        writer = GroupWriter(engine)
        first_lock, runs = asyncio.Event(), 0
        holds_two = asyncio.Event()

        async def work(conn: AsyncConnection) -> None:
            nonlocal runs
            runs += 1
            await conn.execute(update(T).where(T.c.id == 1).values(n=T.c.n + 1))
            if runs == 1:
                first_lock.set()
                await holds_two.wait()
            await conn.execute(update(T).where(T.c.id == 2).values(n=T.c.n + 1))

        async def rival() -> None:
            async with other.begin() as conn:
                await first_lock.wait()
                # Heavier than the writer's transaction (more rows changed): not the victim.
                await conn.execute(update(T).where(T.c.id >= 2).values(n=T.c.n + 10))
                holds_two.set()
                await conn.execute(update(T).where(T.c.id == 1).values(n=T.c.n + 10))

        done: list[Any] = await asyncio.gather(writer.submit(work), rival())
        assert done[0] is None and runs == 2 and writer.stats.transient_retries == 1
        async with engine.connect() as conn:
            got = dict((await conn.execute(text("SELECT id, n FROM counter WHERE id IN (1, 2)"))).all())
        assert got == {1: 11, 2: 11}
        await writer.close()
        await engine.dispose()
        await other.dispose()

