"""store/prepared.py on each backend: a prepared statement reads and writes what
`conn.execute` does (types converted both ways, literals and constant defaults
filled in), raises SQLAlchemy's errors, and hands what it cannot prepare to
SQLAlchemy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, String, Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError, NoResultFound
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.sql.sqltypes import UTCDateTime

from cloudplane.store import prepared
from cloudplane.store.engine import make_engine

META = MetaData()
T = Table("thing", META, Column("id", Integer, primary_key=True, autoincrement=True),
          Column("name", String(40), nullable=False, unique=True), Column("kind", String(20), nullable=False),
          Column("on", Boolean, nullable=False, default=True), Column("at", UTCDateTime()),
          Column("naive", DateTime()), Column("n", Integer, nullable=False, default=0))
AT = datetime(2026, 11, 21, 22, 5, 1, 123456, tzinfo=UTC)

# Built once, as the callers build theirs.
INSERT = insert(T)
BY_KIND = select(T.c.id, T.c.name, T.c.on, T.c.at, T.c.naive.label("plain")).where(
    T.c.kind == bindparam("b_kind"), T.c.n >= 0).order_by(T.c.id)
SOME = select(T.c.name).where(T.c.kind == "a", T.c.id == bindparam("b_id"))
BUMP = update(T).where(T.c.id == bindparam("b_id"), T.c.n + bindparam("b_by") <= 2).values(n=T.c.n + bindparam("b_by"))
IN_LIST = select(T.c.name).where(T.c.id.in_(bindparam("b_ids", expanding=True))).order_by(T.c.id)


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(db_url)
    async with engine.begin() as conn:
        await conn.run_sync(META.create_all)
    yield engine
    await engine.dispose()


async def test_reads_and_writes_as_sqlalchemy_does(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        first = await prepared.execute(conn, INSERT, {"name": "x", "kind": "a", "at": AT,
                                                      "naive": AT.replace(tzinfo=None)})
        second = await prepared.execute(conn, INSERT, {"name": "y", "kind": "a", "on": False})
        assert (first.inserted_primary_key[0], second.inserted_primary_key[0]) == (1, 2)
        assert await prepared.executemany(conn, INSERT, [{"name": f"z{i}", "kind": "b"} for i in range(3)]) == 3
    async with engine.connect() as conn:
        fast = (await prepared.execute(conn, BY_KIND, {"b_kind": "a"})).all()
        slow = (await conn.execute(BY_KIND, {"b_kind": "a"})).all()
        assert [tuple(r) for r in fast] == [tuple(r) for r in slow]
        at = AT.replace(microsecond=0) if engine.dialect.name == "mysql" else AT  # DATETIME without fsp there
        assert [tuple(r) for r in fast] == [(1, "x", True, at, at.replace(tzinfo=None)), (2, "y", False, None, None)]
        assert fast[0].name == "x" and fast[0].plain == at.replace(tzinfo=None) and fast[1]._mapping["on"] is False
        assert (await prepared.execute(conn, BY_KIND, {"b_kind": "a"})).mappings().first() == dict(slow[0]._mapping)
        assert (await prepared.execute(conn, SOME, {"b_id": 2})).scalar() == "y"
        assert (await prepared.execute(conn, SOME, {"b_id": 3})).scalar() is None  # kind "b": the literal counts
        with pytest.raises(NoResultFound):
            (await prepared.execute(conn, SOME, {"b_id": 3})).one()
        assert (await prepared.execute(conn, select(T.c.n).where(T.c.id == 3))).scalar_one() == 0  # the default


async def test_rowcounts_and_errors(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await prepared.executemany(conn, INSERT, [{"name": "p", "kind": "a"}, {"name": "q", "kind": "a"}])
    async with engine.begin() as conn:
        assert (await prepared.execute(conn, BUMP, {"b_id": 1, "b_by": 2})).rowcount == 1
        assert (await prepared.execute(conn, BUMP, {"b_id": 1, "b_by": 1})).rowcount == 0  # over the ceiling
        assert await prepared.executemany(conn, BUMP, [{"b_id": 1, "b_by": 1}, {"b_id": 2, "b_by": 1}]) == 1
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await prepared.execute(conn, INSERT, {"name": "p", "kind": "a"})
    async with engine.connect() as conn:
        assert (await conn.execute(select(T.c.n).order_by(T.c.id))).scalars().all() == [2, 1]


async def test_in_lists_and_what_cannot_be_prepared(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await prepared.executemany(conn, INSERT, [{"name": n, "kind": "a"} for n in "abc"])
    async with engine.connect() as conn:
        for ids, names in (([1, 3], ["a", "c"]), ([2], ["b"]), ((3, 2, 1), ["a", "b", "c"])):
            got = await prepared.execute(conn, IN_LIST, {"b_ids": ids})
            assert type(got) is prepared.Result and got.scalars().all() == names
        empty = await prepared.execute(conn, IN_LIST, {"b_ids": []})  # SQLAlchemy's own empty-set form
        assert type(empty) is not prepared.Result and empty.scalars().all() == []
        with pytest.raises(Exception, match="b_kind"):  # a missing parameter: SQLAlchemy's own error
            await prepared.execute(conn, BY_KIND, {})


async def test_several_reads_at_once(engine: AsyncEngine) -> None:
    """`execute_all` answers as `execute` does, one result per query, in order (on MariaDB
    from one joined query; tests/store/test_pooled.py counts the round trips)."""
    async with engine.begin() as conn:
        await prepared.executemany(conn, INSERT, [{"name": n, "kind": k} for n, k in (("a", "a"), ("b", "b"))])
    queries = [(SOME, {"b_id": 1}), (IN_LIST, {"b_ids": [1, 2]}), (BY_KIND, {"b_kind": "none"}),
               (IN_LIST, {"b_ids": []})]  # an empty IN list: SQLAlchemy's own form, run on its own
    async with prepared.reading(engine) as conn:
        alone = [(await prepared.execute(conn, q, p)).all() for q, p in queries]
        together = [r.all() for r in await prepared.execute_all(conn, queries)]
        together_prepared = [r.all() for r in await prepared.execute_all(conn, queries[:3])]
    assert [[tuple(r) for r in rows] for rows in together] == [[tuple(r) for r in rows] for rows in alone] \
        == [[("a",)], [("a",), ("b",)], [], []]
    assert [[tuple(r) for r in rows] for rows in together_prepared] == [[("a",)], [("a",), ("b",)], []]


async def test_reading_blocks(engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """`reading` gives SQLite's loop reader (no pool checkout), which hands SQLAlchemy
    statements and slow reads to a pooled connection; on MariaDB a connection of the
    autocommit pool (store/pooled.py). On both, each read sees what others committed."""
    from cloudplane.store import inline

    async with engine.begin() as conn:
        await prepared.execute(conn, INSERT, {"name": "r", "kind": "a"})
    async with prepared.reading(engine) as conn:
        assert isinstance(conn, inline.LoopReader) == (engine.dialect.name == "sqlite")
        assert (await prepared.execute(conn, SOME, {"b_id": 1})).scalar() == "r"
        async with engine.begin() as other:  # committed elsewhere
            await prepared.execute(other, INSERT, {"name": "s", "kind": "a"})
        assert (await prepared.execute(conn, SOME, {"b_id": 2})).scalar() == "s"  # each read its own snapshot
        assert (await conn.execute(select(T.c.name).where(T.c.id == 2))).scalar_one() == "s"  # SQLAlchemy's
        monkeypatch.setattr(inline, "_SLOW", {prepared._plan_for(SOME, engine.dialect, {"b_id": 1}).sql})  # type: ignore[union-attr]
        got = await prepared.execute(conn, SOME, {"b_id": 1})  # slow: through the pool, off the loop
        assert got.scalar() == "r"
