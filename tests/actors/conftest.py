"""The in-process shard tests' store: a fresh schema on each backend (`db_url`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from cloudplane.store.engine import make_engine
from tests.actors.local import create_schema


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(db_url)
    await create_schema(eng)
    yield eng
    await eng.dispose()
