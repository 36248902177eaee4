"""store/engine.py: URL normalisation and the SQLite pragmas."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from cloudplane.store.engine import BadDatabaseUrl, is_sqlite, make_engine, normalize_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite:///:memory:", "sqlite+aiosqlite:///:memory:"),
        ("mysql://root:pw@127.0.0.1:3306/cp", "mysql+aiomysql://root:pw@127.0.0.1:3306/cp"),
        ("mysql+pymysql://root@127.0.0.1/cp", "mysql+aiomysql://root@127.0.0.1/cp"),
        ("mariadb://root@127.0.0.1/cp", "mysql+aiomysql://root@127.0.0.1/cp"),
    ],
)
def test_normalize_url_picks_our_async_drivers(given: str, expected: str) -> None:
    # Compared parsed: rendering escapes some characters (":memory:" -> "%3Amemory%3A").
    assert make_url(normalize_url(given)) == make_url(expected)


@pytest.mark.parametrize(
    "url", ["postgresql://u@h/db", "postgresql+asyncpg://u@h/db", "oracle://u@h/db", "not a url"]
)
def test_normalize_url_rejects_other_databases(url: str) -> None:
    with pytest.raises(BadDatabaseUrl):
        normalize_url(url)


def test_normalize_url_creates_the_sqlite_directory(tmp_path: Path) -> None:
    db = tmp_path / "a" / "b" / "cp.db"
    assert normalize_url(f"sqlite:///{db}") == f"sqlite+aiosqlite:///{db}"
    assert db.parent.is_dir()


def test_is_sqlite() -> None:
    assert is_sqlite("sqlite:///x.db")
    assert not is_sqlite("mysql+aiomysql://root@127.0.0.1/cp")


async def test_sqlite_engine_is_wal_with_normal_sync(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'cp.db'}")
    try:
        async with engine.connect() as conn:
            pragma = {
                name: (await conn.execute(text(f"PRAGMA {name}"))).scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
    finally:
        await engine.dispose()
    # synchronous 1 is NORMAL; FULL (2) would fsync on every commit.
    assert pragma == {
        "journal_mode": "wal", "synchronous": 1, "foreign_keys": 1, "busy_timeout": 30000
    }


async def test_engine_connects_to_each_backend(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await engine.dispose()
