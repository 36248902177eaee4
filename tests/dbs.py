"""Test databases: a fresh SQLite file or a fresh MariaDB database per use.

MariaDB runs when CLOUDPLANE_TEST_MYSQL_URL is set (CI sets it); each use gets
its own database so parallel sessions and CI never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from cloudplane.store.engine import make_engine

MYSQL_ENV = "CLOUDPLANE_TEST_MYSQL_URL"
BACKENDS = ["sqlite", "mysql"]


def mysql_url() -> str | None:
    return os.environ.get(MYSQL_ENV) or None


def require_backend(backend: str) -> None:
    if backend == "mysql" and not mysql_url():
        if os.environ.get("CLOUDPLANE_REQUIRE_MYSQL"):
            pytest.fail(f"CLOUDPLANE_REQUIRE_MYSQL is set but {MYSQL_ENV} is not")
        pytest.skip(f"MariaDB tests need {MYSQL_ENV} (CI sets it to the local server)")


@asynccontextmanager
async def fresh_database(backend: str, tmp_dir: Path) -> AsyncIterator[str]:
    """Yield the URL of an empty database of `backend`; drop it afterwards."""
    require_backend(backend)
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_dir / f'cp-{uuid.uuid4().hex[:8]}.db'}"
        return
    base = make_url(mysql_url() or "")
    name = f"cptest_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base.render_as_string(hide_password=False), pool_size=1)
    async with admin.begin() as conn:
        await conn.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        await admin.dispose()
