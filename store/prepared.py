"""Hot statements run straight on the driver's cursor.

SQLAlchemy spends ~100-200 µs of Python on every statement it executes (cache
key, parameters, execution context, greenlet hop, result metadata, rows),
where SQLite answers an indexed read in a few µs; on a deploy that was the
largest single cost left. A statement run through `execute()` here is compiled
once per dialect, statement object, parameter names and IN-list lengths, with
its parameter order, literal values and type processors worked out then; each
call only orders the values, runs the driver's cursor and applies the result
types' processors. The SQL is SQLAlchemy's own, so both backends get exactly
what `conn.execute` would send.

`reading(engine)` is the connection for a block that only reads: on SQLite
the engine's LoopReader (store/inline.py), which needs no pool checkout; on
MySQL/MariaDB a connection of the engine's autocommit pool (store/pooled.py).
`execute_all` runs independent reads, in one round trip on MySQL/MariaDB.

It serves statements built once at import (module-level constants): a fresh
expression per call would be compiled per call. What it cannot prepare (an
empty IN list, a Python-side default that is not a constant, a statement not
compiled to positional parameters) goes through `conn.execute` unchanged.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import MultipleResultsFound, NoResultFound
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Executable
from sqlalchemy.sql.dml import Insert

from cloudplane.store import pooled
from cloudplane.store.inline import LoopReader

_MISSING = object()


class Row(tuple):  # type: ignore[type-arg]
    """A result row: by position, by attribute (a property per column, in each plan's
    subclass) and by `_mapping`, like SQLAlchemy's."""

    __slots__ = ()
    _index: dict[str, int] = {}

    @property
    def _mapping(self) -> dict[str, Any]:
        return dict(zip(self._index, self))

    def _asdict(self) -> dict[str, Any]:
        return self._mapping


@dataclass(frozen=True)
class _Plan:  # frozen, but `converted` is cached in its __dict__
    sql: str
    order: tuple[str, ...]  # parameter names, in the statement's order
    fixed: dict[str, Any]  # literal values, and constant defaults of omitted columns
    binders: dict[str, Callable[[Any], Any]]
    row: type[Row] | None  # the row class of a statement that returns rows
    results: tuple[Callable[[Any], Any] | None, ...]
    expanding: frozenset[str] = frozenset()  # IN lists: each element is a parameter

    @functools.cached_property
    def converted(self) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
        """The result columns whose type converts what the driver returns."""
        return tuple((i, f) for i, f in enumerate(self.results) if f is not None)

    def values(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        out: list[Any] = []
        for name in self.order:
            v = params.get(name, _MISSING)
            if v is _MISSING:
                v = self.fixed[name]
            f = self.binders.get(name)
            if name in self.expanding:
                out.extend(v if f is None else [f(x) if x is not None else x for x in v])
            else:
                out.append(f(v) if f is not None and v is not None else v)
        return tuple(out)

    def rows(self, raw: Sequence[Sequence[Any]]) -> list[Row]:
        assert self.row is not None
        make = self.row
        if not self.converted:
            return [make(r) for r in raw]
        out = []
        for r in raw:
            values = list(r)
            for i, f in self.converted:
                values[i] = f(values[i])
            out.append(make(values))
        return out


# Per statement object and (dialect, parameter names, IN-list lengths): its plan, or None
# (not preparable: SQLAlchemy runs it).
_PlanKey = tuple[str, tuple[str, ...], tuple[tuple[str, int], ...]]
_plans: WeakKeyDictionary[Executable, dict[_PlanKey, _Plan | None]] = WeakKeyDictionary()


def _plan(stmt: Executable, dialect: Dialect, keys: tuple[str, ...], lengths: Mapping[str, int]) -> _Plan | None:
    column_keys = list(keys) if isinstance(stmt, Insert) else None
    compiled: Any = stmt.compile(dialect=dialect, column_keys=column_keys)
    order = compiled.positiontup
    if order is None or compiled.literal_execute_params or dialect.paramstyle not in ("qmark", "format"):
        return None
    sql, expanding = compiled.string, set()
    for bind in compiled.post_compile_params:
        # An IN list of n elements (n > 0: SQLAlchemy renders an empty one as its own expression).
        n = lengths.get(bind.key, 0)
        if not bind.expanding or n == 0:
            return None
        marks = ", ".join(["?" if dialect.paramstyle == "qmark" else "%s"] * n)
        sql = sql.replace(f"__[POSTCOMPILE_{bind.key}]", marks)
        expanding.add(bind.key)
    fixed: dict[str, Any] = {}
    for name, bind in compiled.binds.items():
        if bind.callable is not None or (bind.expanding and name not in expanding):
            return None
        if bind.value is not None:
            fixed[name] = bind.value
    for col in (*compiled.insert_prefetch, *compiled.update_prefetch):
        default = col.default if col in compiled.insert_prefetch else col.onupdate
        if default is None or not default.is_scalar:
            return None
        fixed[col.key] = default.arg
    for name in order:
        if name not in fixed and name not in keys:
            return None  # a missing parameter: let SQLAlchemy say so
    row, results = None, ()
    if compiled._result_columns:
        index = {c.keyname: i for i, c in enumerate(compiled._result_columns)}
        by_name = {n: property(itemgetter(i)) for n, i in index.items() if not hasattr(Row, n)}
        row = type("Row", (Row,), {"__slots__": (), "_index": index, **by_name})
        results = tuple(c.type._cached_result_processor(dialect, None) for c in compiled._result_columns)
    return _Plan(sql, tuple(order), fixed, dict(compiled._bind_processors), row, results, frozenset(expanding))


def _plan_for(stmt: Executable, dialect: Dialect, params: Mapping[str, Any]) -> _Plan | None:
    per = _plans.get(stmt)
    if per is None:
        per = _plans[stmt] = {}
    keys = tuple(sorted(params))
    lengths = {k: len(v) for k, v in params.items() if type(v) in (list, tuple)}  # IN lists
    k = (dialect.name, keys, tuple(lengths.items()))
    if k not in per:
        per[k] = _plan(stmt, dialect, keys, lengths)
    return per[k]


class Result:
    """What the callers of a prepared statement read: the subset of SQLAlchemy's Result
    they use (rows, first/one/scalar, mappings, rowcount, the inserted key)."""

    __slots__ = ("_rows", "rowcount", "lastrowid")

    def __init__(self, rows: list[Row], rowcount: int, lastrowid: int | None) -> None:
        self._rows, self.rowcount, self.lastrowid = rows, rowcount, lastrowid

    def __iter__(self) -> Iterator[Row]:
        return iter(self._rows)

    def all(self) -> list[Row]:
        return self._rows

    def first(self) -> Row | None:
        return self._rows[0] if self._rows else None

    def one(self) -> Row:
        return _one(self._rows)  # type: ignore[no-any-return]

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalars(self) -> _Rows:
        return _Rows([r[0] for r in self._rows])

    def mappings(self) -> _Rows:
        return _Rows([r._mapping for r in self._rows])

    @property
    def inserted_primary_key(self) -> tuple[int | None]:
        return (self.lastrowid,)


class _Rows:
    """The scalars or mappings of a Result."""

    __slots__ = ("_rows",)

    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def all(self) -> list[Any]:
        return self._rows

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        return _one(self._rows)


def _one(rows: list[Any]) -> Any:
    if len(rows) != 1:
        raise (NoResultFound if not rows else MultipleResultsFound)("expected one row")
    return rows[0]


@contextlib.asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[Any]:
    """A connection for a block that only reads: on SQLite, its engine's LoopReader (no
    pool checkout; store/inline.py); on MySQL/MariaDB, one of its autocommit pool (no
    transaction to end; store/pooled.py); else a pooled connection. Each statement sees
    what was committed before it. Use it with `execute` here; its own `execute` takes
    SQLAlchemy's path."""
    loop_reader = getattr(engine, "loop_reader", None)
    if loop_reader is not None:
        yield loop_reader()
        return
    async with getattr(engine, "reads", engine).connect() as conn:
        yield conn


async def execute(conn: Any, stmt: Executable, params: Mapping[str, Any] | None = None) -> Any:
    """`conn.execute(stmt, params)`, the cheap way when `stmt` can be prepared."""
    params = params or {}
    plan = _plan_for(stmt, conn.dialect, params)
    if isinstance(conn, LoopReader):
        if plan is not None and plan.row is not None:
            values = plan.values(params)
            try:
                raw = conn.read(plan.sql, values)
            except Exception as e:
                raise _wrapped(conn.dialect, plan.sql, e) from e
            if raw is not None:
                return Result(plan.rows(raw), -1, None)
        async with conn.engine.connect() as pooled:  # a write, slow or not preparable
            return await execute(pooled, stmt, params)
    if plan is None:
        return await conn.execute(stmt, dict(params))
    driver = conn.sync_connection.connection.driver_connection  # type: ignore[union-attr]
    cur = await _cursor(driver)
    try:
        try:
            await cur.execute(plan.sql, plan.values(params))
        except Exception as e:
            raise _wrapped(conn.dialect, plan.sql, e) from e
        rows = plan.rows(await cur.fetchall()) if plan.row is not None else []
        return Result(rows, cur.rowcount, cur.lastrowid)
    finally:
        await _close(cur)


async def execute_all(conn: Any, queries: Sequence[tuple[Executable, Mapping[str, Any]]]) -> list[Any]:
    """Several reads that do not depend on each other, each as `execute` answers it: on
    MySQL/MariaDB in one round trip (the statements joined, store/pooled.py), elsewhere
    one after the other (on SQLite a read is a call, not a round trip)."""
    if len(queries) > 1 and isinstance(conn, AsyncConnection):
        driver = conn.sync_connection.connection.driver_connection  # type: ignore[union-attr]
        if pooled.joins_statements(driver, "SELECT"):
            plans = [_plan_for(stmt, conn.dialect, params) for stmt, params in queries]
            if all(p is not None and p.row is not None for p in plans):
                return await _joined_reads(conn, driver, [(p, q[1]) for p, q in zip(plans, queries)])  # type: ignore[misc]
    return [await execute(conn, stmt, params) for stmt, params in queries]


async def _joined_reads(conn: AsyncConnection, driver: Any, runs: list[tuple[_Plan, Mapping[str, Any]]]) -> list[Any]:
    cur = await _cursor(driver)
    try:
        statements = [cur.mogrify(plan.sql, plan.values(params)) for plan, params in runs]
        try:
            answers = await pooled.run_joined(cur, statements)
        except Exception as e:
            raise _wrapped(conn.dialect, ";".join(statements), e) from e
        return [Result(plan.rows(rows), n, None) for (plan, _), (rows, n) in zip(runs, answers)]
    finally:
        await _close(cur)


async def executemany(conn: AsyncConnection, stmt: Executable, params: list[Mapping[str, Any]]) -> int:
    """`conn.execute(stmt, [params...])` for a statement that returns no rows: the rowcount."""
    keys = tuple(sorted(params[0])) if params else ()
    plan = _plan_for(stmt, conn.dialect, params[0]) if params else None
    if plan is None or plan.row is not None or plan.expanding or any(tuple(sorted(p)) != keys for p in params[1:]):
        return int((await conn.execute(stmt, [dict(p) for p in params])).rowcount)
    driver = conn.sync_connection.connection.driver_connection  # type: ignore[union-attr]
    cur = await _cursor(driver)
    try:
        try:
            if len(params) > 1 and pooled.joins_statements(driver, plan.sql):
                answers = await pooled.run_joined(cur, [cur.mogrify(plan.sql, plan.values(p)) for p in params])
                return sum(max(n, 0) for _, n in answers)
            await cur.executemany(plan.sql, [plan.values(p) for p in params])
        except Exception as e:
            raise _wrapped(conn.dialect, plan.sql, e) from e
        return int(cur.rowcount)
    finally:
        await _close(cur)


async def _cursor(driver: Any) -> Any:
    cur = driver.cursor()
    return await cur if hasattr(cur, "__await__") else cur


async def _close(cur: Any) -> None:
    closed = cur.close()
    if hasattr(closed, "__await__"):
        await closed


def _wrapped(dialect: Dialect, sql: str, e: Exception) -> Exception:
    """The driver's error as SQLAlchemy's (IntegrityError, OperationalError, ...), which
    is what the callers and the group writer catch."""
    from sqlalchemy.exc import DBAPIError

    base = next((k for k in type(e).__mro__ if k.__name__ == "Error"), None)  # sqlite3.Error, pymysql's
    if base is None:
        return e
    return DBAPIError.instance(sql, None, e, base, dialect=dialect)
