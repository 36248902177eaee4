"""Database engines: SQLite (embedded default) and MySQL/MariaDB through aiomysql."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cloudplane.errors import CloudplaneError
from cloudplane.store import inline, pooled

SQLITE_BUSY_S = 30.0  # how long a SQLite writer waits for the write lock


class BadDatabaseUrl(CloudplaneError):
    pass


_DRIVERS = {"sqlite": "sqlite+aiosqlite", "mysql": "mysql+aiomysql", "mariadb": "mysql+aiomysql"}


def normalize_url(url: str) -> str:
    """Accept `sqlite:///x.db`, `mysql://...` and pick our async drivers for them."""
    try:
        u = make_url(url)
    except ArgumentError as e:
        raise BadDatabaseUrl(f"not a database URL: {url!r}") from e
    backend = u.get_backend_name()
    if backend not in _DRIVERS:
        raise BadDatabaseUrl(f"unsupported database {backend!r}: use sqlite or mysql/mariadb")
    if u.drivername != _DRIVERS[backend]:
        u = u.set(drivername=_DRIVERS[backend])
    if backend == "sqlite" and u.database and u.database != ":memory:":
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)
    return u.render_as_string(hide_password=False)


def is_sqlite(engine_or_url: AsyncEngine | str) -> bool:
    url = engine_or_url if isinstance(engine_or_url, str) else str(engine_or_url.url)
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL + NORMAL: 20-60x the commit rate of the default journal (notes/machine-feasibility.md).
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_S * 1000)}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str, *, pool_size: int = 8, echo: bool = False) -> AsyncEngine:
    url = normalize_url(url)
    if is_sqlite(url):
        # A larger pool than SQLAlchemy's default (5 + 10 overflow): an overflow connection is
        # closed when returned, and every new one costs a thread, a file open and four PRAGMAs;
        # under load that churn showed in profiles of the API server.
        database = make_url(url).database
        if database in (None, "", ":memory:"):  # a single static connection, through aiosqlite's thread
            engine = create_async_engine(url, echo=echo, connect_args={"timeout": SQLITE_BUSY_S})
        else:
            # Reads on the loop, lock waits in a thread (store/inline.py).
            engine = inline.InlineEngine(create_async_engine(
                url, echo=echo, async_creator=inline.creator(database, SQLITE_BUSY_S), pool_size=2 * pool_size,
                max_overflow=2 * pool_size).sync_engine, database, SQLITE_BUSY_S)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return pooled.make(url, pool_size=pool_size, echo=echo)  # MySQL/MariaDB: few round trips
