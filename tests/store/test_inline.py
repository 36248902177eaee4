"""store/inline.py: SQLite reads run on the event loop; a writer that waits for
the write lock waits in its connection's thread, and the loop goes on."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cloudplane.store.engine import make_engine
from cloudplane.store import inline
from cloudplane.store.inline import InlineConnection


async def _engine(tmp_path: Path) -> AsyncEngine:
    engine = make_engine(f"sqlite:///{tmp_path / 'inline.db'}")
    async with engine.begin() as conn:
        await conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        await conn.exec_driver_sql("INSERT INTO t (id, v) VALUES (1, 'one')")
    return engine


async def _threads(conn: AsyncConnection) -> list[int]:
    """Make `runs_in()` in SQL record the thread that runs the statement."""
    seen: list[int] = []
    raw = (await conn.get_raw_connection()).driver_connection
    assert isinstance(raw, InlineConnection)
    raw._conn.create_function("runs_in", 0, lambda: seen.append(threading.get_ident()) or 0)
    return seen


async def test_reads_run_on_the_loop_and_the_first_write_in_a_thread(tmp_path: Path) -> None:
    engine = await _engine(tmp_path)
    loop_thread = threading.get_ident()
    try:
        async with engine.connect() as conn:
            seen = await _threads(conn)
            assert (await conn.execute(text("SELECT v, runs_in() FROM t WHERE id = 1"))).one()[0] == "one"
            assert seen == [loop_thread]
            await conn.execute(text("WITH c(x) AS (SELECT runs_in()) SELECT x FROM c"))  # a read, with a CTE
            assert seen == [loop_thread, loop_thread]
            del seen[1]
            await conn.execute(text("INSERT INTO t (id, v) VALUES (2, runs_in())"))  # takes the write lock
            await conn.execute(text("INSERT INTO t (id, v) VALUES (3, runs_in())"))  # holds it: inline
            await conn.commit()
            assert seen[1] != loop_thread and seen[2] == loop_thread
            await conn.execute(text("INSERT INTO t (id, v) VALUES (4, runs_in())"))  # a new transaction
            await conn.commit()
            assert seen[3] != loop_thread
            # A deferred BEGIN takes no lock: the write after it still goes to the thread.
            await conn.exec_driver_sql("BEGIN")
            await conn.execute(text("INSERT INTO t (id, v) VALUES (5, runs_in())"))
            await conn.commit()
            assert seen[4] != loop_thread
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 5
    finally:
        await engine.dispose()


async def test_a_writer_waiting_for_the_lock_does_not_stall_the_loop(tmp_path: Path) -> None:
    engine = await _engine(tmp_path)
    other = sqlite3.connect(tmp_path / "inline.db", timeout=0, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's writer, holding the lock
    other.execute("INSERT INTO t (id, v) VALUES (10, 'theirs')")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def write() -> float:
        t0 = time.monotonic()
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (id, v) VALUES (11, 'ours')"))
        return time.monotonic() - t0

    tick = asyncio.create_task(ticker())
    try:
        writing = asyncio.create_task(write())
        await asyncio.sleep(0.5)
        assert not writing.done()  # it waits for the lock ...
        assert ticks >= 20  # ... and the loop went on meanwhile
        async with engine.connect() as conn:  # reads see the last commit, without waiting
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 1
        other.execute("COMMIT")
        assert await asyncio.wait_for(writing, 10) >= 0.5
        async with engine.connect() as conn:
            assert sorted(r[0] for r in (await conn.execute(text("SELECT id FROM t"))).all()) == [1, 10, 11]
    finally:
        tick.cancel()
        other.close()
        await engine.dispose()


async def test_a_failed_write_leaves_the_connection_usable(tmp_path: Path) -> None:
    engine = await _engine(tmp_path)
    try:
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO t (id, v) VALUES (1, 'again')"))
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (id, v) VALUES (2, 'two')"))
        async with engine.connect() as conn:
            rows: list[Any] = (await conn.execute(text("SELECT id, v FROM t ORDER BY id"))).all()
        assert [tuple(r) for r in rows] == [(1, "one"), (2, "two")]
    finally:
        await engine.dispose()


async def test_a_slow_read_moves_off_the_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = await _engine(tmp_path)
    loop_thread = threading.get_ident()
    monkeypatch.setattr(inline, "_SLOW", set())
    monkeypatch.setattr(inline, "_STRIKES", set())
    # A scan that takes far longer than SLOW_S, rows fetched included.
    scan = ("SELECT max(x + runs_in() * 0) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL "
            "SELECT x + {n} * 0 + 1 FROM c WHERE x < 300000) SELECT x FROM c)")
    n = 300000
    try:
        async with engine.connect() as conn:
            seen = await _threads(conn)
            # A hiccup (a garbage collection, say) between quick runs is forgotten.
            quick = "SELECT runs_in() + 1"
            inline._timed(quick, 1.0)
            assert (await conn.execute(text(quick))).scalar() == 1  # quick: the strike is cleared
            inline._timed(quick, 1.0)
            assert quick not in inline._SLOW
            seen.clear()
            for _ in range(2):  # slow twice in a row, on the loop
                assert (await conn.execute(text(scan.format(n=1)))).scalar() == n
            assert (await conn.execute(text(scan.format(n=1)))).scalar() == n  # then in the thread
            assert (await conn.execute(text("SELECT runs_in()"))).scalar() == 0  # quick reads stay inline
        assert seen[0] == seen[n] == seen[-1] == loop_thread
        assert seen[2 * n] != loop_thread and len(seen) == 3 * n + 1
    finally:
        await engine.dispose()


async def test_a_read_gives_its_connection_back_at_once(tmp_path: Path) -> None:
    """`async with engine.connect()` returns the connection when the block ends, not a turn
    of the loop later: 64 concurrent readers share one connection instead of opening more."""
    engine = make_engine(f"sqlite:///{tmp_path / 'inline.db'}", pool_size=2)
    opened = 0

    def count(*_: Any) -> None:
        nonlocal opened
        opened += 1

    event.listen(engine.sync_engine, "connect", count)

    async def read() -> None:
        await asyncio.sleep(0)
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1

    try:
        await read()  # the pool's first connection (opening one lets the loop run others)
        await asyncio.gather(*(read() for _ in range(64)))
        assert opened == 1
    finally:
        await engine.dispose()


async def test_a_writer_cancelled_while_it_waits_leaves_the_loop_free_and_nothing_written(tmp_path: Path) -> None:
    engine = await _engine(tmp_path)
    other = sqlite3.connect(tmp_path / "inline.db", timeout=0, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    stall = 0.0  # the longest the loop went without running the ticker

    async def ticker() -> None:
        nonlocal stall
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            stall, last = max(stall, now - last), now

    async def write() -> None:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (id, v) VALUES (20, 'cancelled')"))

    tick = asyncio.create_task(ticker())
    try:
        writing = asyncio.create_task(write())
        await asyncio.sleep(0.2)
        writing.cancel()  # its INSERT still waits for the lock in the connection's thread
        await asyncio.sleep(0.5)
        other.execute("COMMIT")
        await asyncio.sleep(0.1)
        assert stall < 0.3  # the rollback waited for that INSERT without holding up the loop
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(writing, 10)
        async with engine.begin() as conn:  # the pool's connections are usable again
            await conn.execute(text("INSERT INTO t (id, v) VALUES (21, 'after')"))
        async with engine.connect() as conn:
            assert sorted(r[0] for r in (await conn.execute(text("SELECT id FROM t"))).all()) == [1, 21]
    finally:
        tick.cancel()
        other.close()
        await engine.dispose()
