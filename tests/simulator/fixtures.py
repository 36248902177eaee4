"""The simulator test bed on each test database backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from cloudplane.simulator.testbed import Site, testbed
from tests.dbs import fresh_database

__all__ = ["Site", "site"]


@asynccontextmanager
async def site(backend: str, tmp: Path, **settings: Any) -> AsyncIterator[Site]:
    async with fresh_database(backend, tmp) as url:
        async with testbed(url, **settings) as s:
            yield s
