"""Alembic migrations: `upgrade head` builds exactly what the tables declare."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import cloudplane.store.tables  # noqa: F401  (registers every table)
from cloudplane.store import migrate
from cloudplane.store.engine import make_engine


async def _sync(url: str, fn: Any) -> Any:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(fn)
    finally:
        await engine.dispose()


def _schema_diff(conn: Connection) -> list[Any]:
    ctx = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(ctx, SQLModel.metadata))


def _table_names(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


def test_revisions_form_one_line() -> None:
    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    assert len(scripts.get_heads()) == 1
    assert migrate.head() == scripts.get_current_head()


async def test_upgrade_head_matches_the_tables(db_url: str) -> None:
    assert await migrate.current(db_url) is None
    await migrate.upgrade(db_url)
    assert await migrate.current(db_url) == migrate.head()
    assert await _sync(db_url, _schema_diff) == []
    assert await _sync(db_url, _table_names) == set(SQLModel.metadata.tables) | {"alembic_version"}


async def test_upgrade_twice_is_a_no_op(db_url: str) -> None:
    await migrate.upgrade(db_url)
    await migrate.upgrade(db_url)
    assert await migrate.current(db_url) == migrate.head()


async def test_downgrade_to_base_drops_every_table(db_url: str) -> None:
    await migrate.upgrade(db_url)
    await migrate.downgrade(db_url, "base")
    assert await migrate.current(db_url) is None
    assert await _sync(db_url, _table_names) == {"alembic_version"}
    await migrate.upgrade(db_url)  # and back up from there
    assert await _sync(db_url, _schema_diff) == []


async def test_a_failed_migration_leaves_sqlite_untouched(db_url: str, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("MySQL commits each DDL statement by itself; only SQLite can roll back")

    def upgrade_then_fail(cfg: Config) -> None:
        command.upgrade(cfg, "head")
        raise RuntimeError("failed after the DDL")

    with pytest.raises(RuntimeError):
        await migrate._migrate(db_url, upgrade_then_fail)
    assert await _sync(db_url, _table_names) == set()
