"""store/pooled.py on MariaDB: reads in autocommit, a transaction left open still ended
when its connection goes back, idle connections pinged, an executemany in one round trip."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, select, text, update
from sqlalchemy.exc import IntegrityError

from cloudplane.store import pooled, prepared
from cloudplane.store.engine import make_engine
from tests.dbs import fresh_database

META = MetaData()
T = Table("counter", META, Column("id", Integer, primary_key=True), Column("n", Integer, nullable=False),
          Column("name", String(20), unique=True))
N_OF = select(T.c.n).where(T.c.id == bindparam("b_id"))
ADD = update(T).where(T.c.id == bindparam("b_id")).values(n=T.c.n + bindparam("b_by"))
RENAME = update(T).where(T.c.id == bindparam("b_id")).values(name=bindparam("b_name"))


@pytest.fixture
async def engine(tmp_path) -> AsyncIterator[pooled.ReadPoolEngine]:  # noqa: ANN001
    async with fresh_database("mysql", tmp_path) as url:
        engine = make_engine(url, pool_size=1)  # one connection at a time, used again and again
        assert isinstance(engine, pooled.ReadPoolEngine)
        async with engine.begin() as conn:
            await conn.run_sync(META.create_all)
            await conn.execute(T.insert(), [{"id": i, "n": 0, "name": f"c{i}"} for i in (1, 2, 3)])
        yield engine
        await engine.dispose()


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The queries the driver sends on behalf of the tests' own statements (those naming
    the test table; not a new connection's session setup)."""
    import aiomysql.cursors

    queries: list[str] = []
    execute = aiomysql.cursors.Cursor.execute

    async def counted(self, query, args=None):  # noqa: ANN001, ANN202
        if "counter" in query:
            queries.append(query)
        return await execute(self, query, args)

    monkeypatch.setattr(aiomysql.cursors.Cursor, "execute", counted)
    return queries


async def _set(engine: pooled.ReadPoolEngine, n: int) -> None:
    """Commit n into counter 1 from another connection than the pools'."""
    other = make_engine(engine.url.render_as_string(hide_password=False), pool_size=1)
    try:
        async with other.begin() as conn:
            await conn.execute(update(T).where(T.c.id == 1).values(n=n))
    finally:
        await other.dispose()


async def test_a_read_block_sees_each_commit(engine: pooled.ReadPoolEngine) -> None:
    async with prepared.reading(engine) as conn:
        assert (await prepared.execute(conn, N_OF, {"b_id": 1})).scalar() == 0
        await _set(engine, 5)
        # In a transaction (REPEATABLE READ) this would still be 0.
        assert (await prepared.execute(conn, N_OF, {"b_id": 1})).scalar() == 5


async def test_an_open_read_is_ended_on_return(engine: pooled.ReadPoolEngine) -> None:
    async with engine.connect() as conn:  # reads, never commits: its snapshot must not outlive it
        # On the driver's cursor, so SQLAlchemy does not know a transaction began: the
        # pool's reset on return is what ends it.
        assert (await prepared.execute(conn, N_OF, {"b_id": 1})).scalar() == 0
    await _set(engine, 7)
    async with engine.connect() as conn:
        assert (await conn.execute(N_OF, {"b_id": 1})).scalar() == 7


async def test_a_connection_killed_while_idle_is_replaced(engine: pooled.ReadPoolEngine,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    async with prepared.reading(engine) as conn:
        victim = (await conn.execute(text("SELECT CONNECTION_ID()"))).scalar()
    async with engine.begin() as conn:
        await conn.execute(text(f"KILL {int(victim)}"))
    monkeypatch.setattr(pooled, "IDLE_PING_S", 0.0)
    async with prepared.reading(engine) as conn:  # the dead one fails its ping; a new one answers
        assert (await prepared.execute(conn, N_OF, {"b_id": 2})).scalar() == 0
        assert (await conn.execute(text("SELECT CONNECTION_ID()"))).scalar() != victim


async def test_an_executemany_is_one_query(engine: pooled.ReadPoolEngine, sent: list[str]) -> None:
    async with engine.begin() as conn:
        matched = await prepared.executemany(conn, ADD, [{"b_id": i, "b_by": 10} for i in (1, 2, 3, 99)])
    assert matched == 3  # row 99 does not exist
    assert len(sent) == 1 and sent[0].count("UPDATE") == 4
    async with engine.connect() as conn:
        assert [(await conn.execute(N_OF, {"b_id": i})).scalar() for i in (1, 2, 3)] == [10, 10, 10]


async def test_several_reads_are_one_query(engine: pooled.ReadPoolEngine, sent: list[str]) -> None:
    async with prepared.reading(engine) as conn:
        got = await prepared.execute_all(conn, [(N_OF, {"b_id": i}) for i in (3, 1, 99)])
    assert [r.scalar() for r in got] == [0, 0, None]
    assert len(sent) == 1 and sent[0].count("SELECT") == 3


async def test_a_failing_statement_in_a_joined_query_raises(engine: pooled.ReadPoolEngine) -> None:
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            # The second rename takes the name the first one gave: the unique key refuses it.
            await prepared.executemany(conn, RENAME, [{"b_id": 2, "b_name": "x"}, {"b_id": 3, "b_name": "x"},
                                                      {"b_id": 1, "b_name": "y"}])
    async with engine.connect() as conn:
        names = (await conn.execute(select(T.c.name).order_by(T.c.id))).scalars().all()
    assert names == ["c1", "c2", "c3"]  # the first rename rolled back, the third never ran
