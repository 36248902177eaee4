"""SQLite connections that read on the event loop and wait for locks in a thread.

aiosqlite runs every statement in a thread of its own: a queue put, a thread
wake-up and a call back into the loop cost ~120 µs of CPU per statement here,
where SQLite answers an indexed read in a few µs. Reads in WAL mode never wait
for a lock, so they run inline, unless that statement took more than SLOW_S
of CPU twice in a row: a scan would stop the loop and every request it serves. What
may wait, the first write of a transaction (it takes the database's one write
lock, through the busy handler) and the commit that ends it, runs in this
connection's own thread, so a waiting writer never stalls the loop. Statements
of a transaction that already holds the write lock cannot wait for it again
and run inline too.

SQLAlchemy's aiosqlite dialect drives this through `async_creator`: the
objects below have the few methods it calls on an aiosqlite connection.

SQLAlchemy closes a connection left by `async with` in a task of its own, so
that a cancelled caller cannot abandon the close half-way. That costs a task
and a turn of the loop per connection, and under load the connections waiting
for that turn emptied the pool: every overflow connection opened meant a file,
PRAGMAs and a thread. Here nothing in a close waits unless a statement is
still running in the connection's thread, so `InlineEngine`'s connections
close on the spot and only fall back to SQLAlchemy's way in that case.
"""

from __future__ import annotations

import asyncio
import functools
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

T = TypeVar("T")

# Statements that can only read: a SELECT, or a WITH (the limits' domain chain) that
# does not end in a write. Anything else (DML, BEGIN, DDL, PRAGMA) may take a lock.
_WITH = re.compile(r"\s*WITH\b", re.IGNORECASE)
_WRITES = re.compile(r"\b(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
# Opens a transaction without taking the write lock (the first write will).
_DEFERRED = re.compile(r"\s*(BEGIN(\s+DEFERRED)?(\s+TRANSACTION)?\s*;?\s*$|SAVEPOINT\b)", re.IGNORECASE)


# A statement that took more CPU than this on the loop twice in a row (a scan, a count of
# 100k rows) runs in the thread from then on: the loop must not stop for it. Once is not
# enough: a garbage collection during a fetch can make an indexed lookup look slow, and a
# lookup sent to the thread for good costs every request a thread hop (and its connection).
SLOW_S = 0.002
_SLOW: set[str] = set()
_STRIKES: set[str] = set()  # slow on their last run
_SLOW_MAX = 10_000  # distinct texts remembered (an IN list of n ids is a text of its own)


@functools.lru_cache(maxsize=4096)  # the same few hundred texts, on every statement
def _reads(sql: str) -> bool:
    head = sql.lstrip()[:6].upper()
    return head == "SELECT" or (bool(_WITH.match(sql)) and not _WRITES.search(sql))


def _timed(sql: str, cpu_s: float) -> None:
    """Note how long a statement's run on the loop took."""
    if cpu_s <= SLOW_S:
        _STRIKES.discard(sql)
    elif sql not in _STRIKES:
        if len(_STRIKES) >= _SLOW_MAX:
            _STRIKES.clear()
        _STRIKES.add(sql)
    else:
        if len(_SLOW) >= _SLOW_MAX:
            _SLOW.clear()
        _SLOW.add(sql)


class InlineConnection:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._connection: sqlite3.Connection | None = conn  # SQLAlchemy checks it is open
        self._holds_lock = False  # this transaction has written: the write lock is ours till it ends
        self._thread: ThreadPoolExecutor | None = None  # one per connection: a waiter blocks only itself
        self._in_thread: Future[Any] | None = None  # what the thread runs (or ran) last

    async def _waiting(self, fn: Callable[[], T]) -> T:
        await self._settle()
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-lock")
        self._in_thread = self._thread.submit(fn)
        return await asyncio.wrap_future(self._in_thread)  # type: ignore[return-value]

    async def _settle(self) -> None:
        """A caller cancelled while its statement ran in the thread leaves it running
        there: whatever comes next waits for it, rather than meeting it in SQLite's
        connection mutex on the loop (a rollback could wait there for the lock)."""
        running = self._in_thread
        if running is not None and not running.done():
            await asyncio.wait([asyncio.wrap_future(running)])

    async def _run(self, sql: str, fn: Callable[[], T]) -> T:
        await self._settle()
        if (self._holds_lock or _reads(sql)) and sql not in _SLOW:
            t0 = time.thread_time()  # CPU, not wall: a busy box preempting us is no slow query
            out = fn()
            _timed(sql, time.thread_time() - t0)
            return out
        out = await self._waiting(fn)
        self._holds_lock = self._holds_lock or (self._conn.in_transaction and not _DEFERRED.match(sql))
        return out

    # -- what SQLAlchemy's adapter calls ------------------------------------------------
    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> InlineCursor:
        return InlineCursor(self, self._conn.cursor())

    async def commit(self) -> None:
        if self._holds_lock:
            await self._waiting(self._conn.commit)  # a commit may checkpoint the WAL: disk I/O
            self._holds_lock = False
        else:
            await self._settle()
            self._conn.commit()

    async def rollback(self) -> None:
        await self._settle()
        self._conn.rollback()
        self._holds_lock = False

    async def create_function(self, *args: Any, **kw: Any) -> None:
        self._conn.create_function(*args, **kw)

    async def close(self) -> None:
        if self._connection is not None:
            await self._settle()
            self.stop()

    def stop(self) -> None:
        """Close now (also SQLAlchemy's forced close, e.g. at garbage collection)."""
        if self._connection is None:
            return
        self._connection = None
        try:
            self._conn.close()
        except sqlite3.Error:
            pass
        if self._thread is not None:
            self._thread.shutdown(wait=False)


class InlineCursor:
    """A cursor whose statement and fetch run as one unit, so that a read's real cost
    (SQLite does most of a scan while rows are fetched) is what decides where it runs."""

    def __init__(self, owner: InlineConnection, cur: sqlite3.Cursor) -> None:
        self._owner = owner
        self._cur = cur
        self._rows: list[Any] = []
        self._at = 0

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self._cur.close()

    @property
    def description(self) -> Any:
        return self._cur.description

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cur.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cur.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cur.arraysize = value

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        cur = self._cur

        def run() -> list[Any]:
            cur.execute(sql) if parameters is None else cur.execute(sql, parameters)
            return cur.fetchall() if cur.description is not None else []

        self._rows, self._at = await self._owner._run(sql, run), 0
        return self

    async def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> InlineCursor:
        cur = self._cur
        await self._owner._run(sql, lambda: cur.executemany(sql, seq))
        self._rows, self._at = [], 0
        return self

    async def fetchone(self) -> Any:
        if self._at >= len(self._rows):
            return None
        self._at += 1
        return self._rows[self._at - 1]

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        n = size if size is not None else self._cur.arraysize
        out = self._rows[self._at : self._at + n]
        self._at += len(out)
        return out

    async def fetchall(self) -> list[Any]:
        out = self._rows[self._at :] if self._at else self._rows
        self._at = len(self._rows)
        return out

    async def close(self) -> None:
        self._cur.close()

    async def nextset(self) -> None:
        return None


def creator(path: str, timeout: float) -> Callable[[], Any]:
    """SQLAlchemy's `async_creator` for a SQLite file."""
    async def connect() -> InlineConnection:
        # Used from the loop and from the connection's own thread, one at a time.
        conn = await asyncio.to_thread(sqlite3.connect, path, timeout=timeout, check_same_thread=False)
        return InlineConnection(conn)
    return connect


class _Connection(AsyncConnection):
    async def __aexit__(self, type_: Any, value: Any, traceback: Any) -> None:
        if _waits_for_nothing(self):
            await self.close()  # inline: there is no point at which it could be cancelled
        else:
            await super().__aexit__(type_, value, traceback)


def _waits_for_nothing(conn: AsyncConnection) -> bool:
    sync = conn.sync_connection
    if sync is None or sync.closed or sync.invalidated:
        return False
    driver = sync.connection.driver_connection
    return isinstance(driver, InlineConnection) and (driver._in_thread is None or driver._in_thread.done())


class LoopReader:
    """Reads on the loop without the pool: an inline read never yields, so one connection
    per thread serves them all, one after the other, and a read costs no checkout and
    return (SQLAlchemy's pool takes ~50 µs for the pair). Only prepared statements that
    read, and only while they are quick, run here: `read` answers None for the others,
    and `execute` (anything else) takes a pooled connection (store/prepared.py).
    """

    def __init__(self, engine: InlineEngine, conn: sqlite3.Connection) -> None:
        self.engine, self.dialect, self._conn = engine, engine.dialect, conn

    def read(self, sql: str, values: Sequence[Any]) -> list[Any] | None:
        if sql in _SLOW or not _reads(sql):
            return None
        t0 = time.thread_time()
        cur = self._conn.execute(sql, values)
        try:
            rows = cur.fetchall()
        finally:
            cur.close()
        _timed(sql, time.thread_time() - t0)
        return rows

    async def execute(self, stmt: Any, params: Any = None) -> Any:
        async with self.engine.connect() as conn:
            return await conn.execute(stmt, params)


class InlineEngine(AsyncEngine):
    """An AsyncEngine over InlineConnections whose `async with` closes inline, with a
    LoopReader per thread."""

    _connection_cls = _Connection

    def __init__(self, sync_engine: Any, path: str, timeout: float) -> None:
        super().__init__(sync_engine)
        self._path, self._timeout = path, timeout
        self._readers: dict[int, LoopReader] = {}

    def loop_reader(self) -> LoopReader:
        reader = self._readers.get(threading.get_ident())
        if reader is None:
            conn = sqlite3.connect(self._path, timeout=self._timeout, check_same_thread=False)
            conn.execute("PRAGMA query_only=ON")
            reader = self._readers[threading.get_ident()] = LoopReader(self, conn)
        return reader

    async def dispose(self, close: bool = True) -> None:
        readers, self._readers = list(self._readers.values()), {}
        for r in readers:
            r._conn.close()
        await super().dispose(close)
