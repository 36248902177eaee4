"""MySQL/MariaDB engines: every round trip to the server counts.

Over aiomysql each statement is a round trip on a TCP socket, and on this box a
send alone costs more CPU than the statement's Python. A deploy on MariaDB made
about 80 of them per VM, and most carried no work:

- a ping on every pool checkout (`pool_pre_ping`). Here a connection is pinged
  only after it has sat idle in the pool (`IDLE_PING_S`): one that was used a
  moment ago is alive, and one that died since fails its statement, which
  invalidates it as it would anyway;
- a ROLLBACK when a read-only block gave its connection back (the pool's reset
  on return, which ends the block's transaction). `ReadPoolEngine.reads` is a
  second pool whose connections run in autocommit: each SELECT is its own
  transaction and sees what was committed before it (as SQLite's loop reader
  does), and nothing is left to end. (A committed transaction's connection
  still gets that ROLLBACK: the server's status flags do not reliably tell an
  open read-only transaction from none, and a snapshot left open would hand
  stale rows to the connection's next user);
- one round trip per row of an executemany that is not an INSERT (the driver
  joins INSERTs into one statement itself). aiomysql's connections accept
  several statements in one query (it always asks for CLIENT.MULTI_STATEMENTS),
  and `run_joined` sends such a batch as one: the versioned updates of a group
  commit, a reservation's count increments. Values are escaped by the driver, as
  in any other statement;
- a new connection (TCP, authentication, session settings) whenever more
  connections were busy than the pool kept, closed again on return. The pools
  here keep as many as they may open.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

IDLE_PING_S = 10.0  # a connection idle for longer is pinged before it is handed out
JOIN_MAX = 500  # statements per joined query (far below max_allowed_packet)
_MULTI_STATEMENTS = 1 << 16  # pymysql.constants.CLIENT.MULTI_STATEMENTS


class ReadPoolEngine(AsyncEngine):
    """An AsyncEngine for transactions, with `reads`: an autocommit engine for blocks
    that only read (store/prepared.py `reading`)."""

    def __init__(self, sync_engine: Any, reads: AsyncEngine) -> None:
        super().__init__(sync_engine)
        self.reads = reads

    async def dispose(self, close: bool = True) -> None:
        await self.reads.dispose(close)
        await super().dispose(close)


def make(url: str, *, pool_size: int, echo: bool = False) -> ReadPoolEngine:
    common: dict[str, Any] = {"echo": echo, "pool_recycle": 3600, "max_overflow": 0}
    main = create_async_engine(url, pool_size=2 * pool_size, **common)
    reads = create_async_engine(url, pool_size=2 * pool_size, isolation_level="AUTOCOMMIT",
                                pool_reset_on_return=None, **common)
    for e in (main, reads):
        _ping_when_idle(e)
    return ReadPoolEngine(main.sync_engine, reads)


def _ping_when_idle(engine: AsyncEngine) -> None:
    dialect = engine.sync_engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def _returned(_dbapi_conn: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _handed_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get("returned_at")
        if returned is None or time.monotonic() - returned < IDLE_PING_S:
            return  # new, or in use moments ago
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as e:
            raise DisconnectionError(f"connection lost while idle: {e}") from e  # the pool retries


def joins_statements(driver: Any, sql: str) -> bool:
    """Whether statements like `sql` go several to a query on this driver connection
    (aiomysql's; not INSERTs, which the driver's executemany joins itself)."""
    return bool(getattr(driver, "client_flag", 0) & _MULTI_STATEMENTS) and sql.lstrip()[:6].upper() != "INSERT"


async def run_joined(cur: Any, statements: list[str]) -> list[tuple[list[Any], int]]:
    """Run statements already rendered with their values (`cur.mogrify`), JOIN_MAX to a
    round trip: each one's rows and rowcount (rows matched: FOUND_ROWS), in order. A
    failing statement raises, and the ones after it do not run; the caller's
    transaction rolls back what ran before it."""
    out: list[tuple[list[Any], int]] = []
    for i in range(0, len(statements), JOIN_MAX):
        await cur.execute(";".join(statements[i:i + JOIN_MAX]))
        while True:
            out.append((list(await cur.fetchall()) if cur.description else [], cur.rowcount))
            if not await cur.nextset():
                break
    return out
