"""The resource model on each backend: full rows round-trip, uuids are unique,
entities carry their version, foreign keys hold."""

from __future__ import annotations

import ast
import pkgutil
from collections.abc import AsyncIterator
from datetime import timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Table, UniqueConstraint, insert, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import select as sm_select
from sqlmodel.ext.asyncio.session import AsyncSession

import cloudplane.store.tables as tables_pkg
from cloudplane.store import migrate
from cloudplane.store.engine import make_engine
from cloudplane.store.tables.infra import Pod
from cloudplane.store.tables.probe import Probe
from tests.store.samples import all_tables, entity_tables, sample_row

ENTITY_COLUMNS = {"id", "uuid", "version", "created", "removed"}
PODS: Table = Pod.__table__  # type: ignore[attr-defined]


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    await migrate.upgrade(db_url)
    engine = make_engine(db_url)
    yield engine
    await engine.dispose()


async def _insert_one_of_each(conn: AsyncConnection) -> dict[str, dict[str, Any]]:
    """Insert a full row into every table, parents first; return rows with ids."""
    ids: dict[str, int] = {}
    rows: dict[str, dict[str, Any]] = {}
    for table in all_tables():
        row = sample_row(table, ids)
        result = await conn.execute(insert(table).values(row))
        assert result.inserted_primary_key is not None
        ids[table.name] = int(result.inserted_primary_key[0])
        rows[table.name] = {"id": ids[table.name], **row}
    return rows


def _only_unique_key_is_uuid(table: Table) -> bool:
    uniques = [c for c in table.constraints if isinstance(c, UniqueConstraint)]
    unique_ix = [
        ix for ix in table.indexes if ix.unique and [c.name for c in ix.columns] != ["uuid"]
    ]
    return not uniques and not unique_ix


async def test_every_table_round_trips_a_full_row(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        rows = await _insert_one_of_each(conn)
    mismatches: dict[str, dict[str, tuple[Any, Any]]] = {}
    async with engine.connect() as conn:
        for table in all_tables():
            want = rows[table.name]
            query = select(table).where(table.c.id == want["id"])
            got = (await conn.execute(query)).mappings().one()
            bad = {k: (v, got[k]) for k, v in want.items() if got[k] != v}
            if bad:
                mismatches[table.name] = bad
    assert mismatches == {}


async def test_uuid_is_unique_in_every_entity_table(engine: AsyncEngine) -> None:
    def unique_uuid_index(conn: Connection) -> dict[str, bool]:
        insp = inspect(conn)
        return {
            t.name: any(
                ix["unique"] and ix["column_names"] == ["uuid"] for ix in insp.get_indexes(t.name)
            )
            for t in entity_tables()
        }

    async with engine.connect() as conn:
        assert all((await conn.run_sync(unique_uuid_index)).values())
    async with engine.begin() as conn:
        rows = await _insert_one_of_each(conn)
    # Where uuid is the only unique key, a copy under a new id must be refused for its uuid.
    checked = [t for t in entity_tables() if _only_unique_key_is_uuid(t)]
    assert len(checked) > 20
    for table in checked:
        copy = {k: v for k, v in rows[table.name].items() if k != "id"}
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(insert(table).values(copy))


async def test_every_entity_table_has_a_version(engine: AsyncEngine) -> None:
    names = {t.name for t in entity_tables()}
    assert {"probe", "zone", "host", "vm_instance", "volume", "network", "account"} <= names

    def columns(conn: Connection) -> dict[str, dict[str, Any]]:
        insp = inspect(conn)
        return {n: {c["name"]: c for c in insp.get_columns(n)} for n in names}

    async with engine.connect() as conn:
        reflected = await conn.run_sync(columns)
    for name, cols in reflected.items():
        assert ENTITY_COLUMNS <= set(cols), name
        assert not cols["version"]["nullable"], name


async def test_foreign_keys_are_enforced(engine: AsyncEngine) -> None:
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(insert(PODS).values(name="p0", zone_id=424242))


async def test_probe_defaults_and_a_large_payload(engine: AsyncEngine) -> None:
    payload = "x" * (1024 * 1024)  # 1 MiB: more than MySQL's TEXT holds
    async with AsyncSession(engine) as session:
        session.add(Probe(group_key="g1", payload=payload))
        await session.commit()
    async with AsyncSession(engine) as session:
        probe = (await session.exec(sm_select(Probe).where(Probe.group_key == "g1"))).one()
    assert (probe.state, probe.counter, probe.version, probe.removed) == ("Stopped", 0, 1, None)
    assert probe.payload == payload
    assert probe.created.tzinfo == timezone.utc
    assert len(probe.uuid) == 36


# -- rules every table follows (no database needed) --------------------------


def test_every_table_module_is_registered() -> None:
    # Read the package's own imports: importing a module anywhere else would
    # register its tables too and hide a module the package forgot.
    init = Path(tables_pkg.__file__ or "")
    imported = {
        alias.name
        for node in ast.walk(ast.parse(init.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module == "cloudplane.store.tables"
        for alias in node.names
    }
    found = pkgutil.iter_modules([str(init.parent)])
    modules = {m.name for m in found if not m.name.startswith("_")}
    assert modules == imported


def test_names_fit_mysql_identifiers() -> None:
    too_long = [
        name
        for t in all_tables()
        for name in [t.name, *(ix.name for ix in t.indexes), *(c.name for c in t.constraints)]
        if isinstance(name, str) and len(name) > 64
    ]
    assert too_long == []


def _keys(table: Table) -> list[list[Column[Any]]]:
    """The column lists of a table's indexes and unique constraints."""
    keys = [list(ix.columns) for ix in table.indexes]
    keys += [list(c.columns) for c in table.constraints if isinstance(c, UniqueConstraint)]
    return keys


def test_strings_have_lengths_and_keys_fit() -> None:
    problems: list[str] = []
    for t in all_tables():
        for col in t.columns:
            length = getattr(col.type, "length", -1)
            if length is None and "TEXT" not in str(col.type).upper():
                problems.append(f"{t.name}.{col.name} has no length")
        for cols in _keys(t):
            chars = sum(getattr(c.type, "length", None) or 0 for c in cols)
            # utf8mb4 takes 4 bytes a character; InnoDB keys stop at 3072 bytes.
            if chars * 4 > 3072:
                problems.append(f"{t.name}{[c.name for c in cols]} is {chars} characters wide")
    assert problems == []


def test_every_foreign_key_leads_an_index() -> None:
    # MySQL adds an index of its own otherwise, which the migrations do not know.
    missing: list[str] = []
    for t in all_tables():
        leading = {cols[0].name for cols in _keys(t)}
        missing += [
            f"{t.name}.{fk.parent.name}" for fk in t.foreign_keys if fk.parent.name not in leading
        ]
    assert missing == []
