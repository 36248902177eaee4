"""api/dates.py:stored_date reads a date column without SQLAlchemy's conversion
(the VM view does, for speed). Each backend must print what format_date prints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select, type_coerce
from sqlmodel.sql.sqltypes import UTCDateTime

from cloudplane.api.dates import format_date, stored_date
from cloudplane.store.engine import make_engine
from tests.dbs import BACKENDS, fresh_database

META = MetaData()
T = Table("dated", META, Column("id", Integer, primary_key=True, autoincrement=False),
          Column("at", UTCDateTime(), nullable=False))

MOMENTS = [
    datetime(2026, 11, 21, 18, 26, 10, 747705, tzinfo=UTC),
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),  # no fraction: stored without one on some paths
    datetime(2026, 7, 29, 16, 48, 10, 1, tzinfo=timezone(timedelta(hours=5, minutes=30))),  # stored as UTC
    datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_stored_date_prints_as_format_date_does(backend: str, tmp_path: Path) -> None:
    async with fresh_database(backend, tmp_path) as url:
        engine = make_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(META.create_all)
                await conn.execute(T.insert(), [{"id": i, "at": m} for i, m in enumerate(MOMENTS)])
            async with engine.connect() as conn:
                raw = dict((await conn.execute(select(T.c.id, type_coerce(T.c.at, String)))).all())
                typed = dict((await conn.execute(select(T.c.id, T.c.at))).all())
        finally:
            await engine.dispose()
    for i, moment in enumerate(MOMENTS):
        # MariaDB keeps whole seconds (DATETIME without a fraction); the printed form has none either.
        assert stored_date(raw[i]) == format_date(typed[i]) == format_date(moment.astimezone(UTC)), raw[i]


def test_plain_stored_text() -> None:
    assert stored_date("2026-11-21 18:26:10.747705") == "2026-11-21T18:26:10+0000"
    assert stored_date("2026-11-21 18:26:10") == "2026-11-21T18:26:10+0000"
    assert stored_date(datetime(2026, 11, 21, 18, 26, 10)) == "2026-11-21T18:26:10+0000"


@pytest.mark.parametrize("text", ["", "2026-11-21", "yesterday at noon", "2026/11/21 18:26:10"])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        stored_date(text)
