from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloudplane.api.dates import format_date, parse_date, utcnow


def test_format_is_cloudstacks() -> None:
    assert format_date(datetime(2026, 7, 29, 11, 18, 10, 999, tzinfo=UTC)) == "2026-07-29T11:18:10+0000"
    # Naive means UTC.
    assert format_date(datetime(2026, 7, 29, 11, 18, 10)) == "2026-07-29T11:18:10+0000"
    # An aware value keeps its offset, as CloudStack prints its server zone.
    ist = timezone(timedelta(hours=5, minutes=30))
    assert format_date(datetime(2021, 10, 2, 23, 25, 22, tzinfo=ist)) == "2021-10-02T23:25:22+0530"
    assert format_date(datetime(2021, 1, 1, tzinfo=timezone(timedelta(hours=-7)))) == "2021-01-01T00:00:00-0700"
    assert format_date(datetime(999, 1, 2, 3, 4, 5)) == "0999-01-02T03:04:05+0000"


@pytest.mark.parametrize(
    "text",
    ["2026-07-29T11:18:10+0000", "2026-07-29T11:18:10+00:00", "2026-07-29T11:18:10Z",
     "2026-07-29T13:18:10+0200", "2026-07-29T06:48:10-04:30", "2026-07-29T11:18:10.000+0000",
     "2026-07-29T11:18:10 0000"],
)
def test_parse_zoned_forms(text: str) -> None:
    assert parse_date(text) == datetime(2026, 7, 29, 11, 18, 10, tzinfo=UTC)
    assert parse_date(text, require_zone=True).tzinfo is not None


def test_parse_plain_forms_as_utc() -> None:
    assert parse_date("2026-07-29") == datetime(2026, 7, 29, tzinfo=UTC)
    assert parse_date("2026-07-29 11:18:10") == datetime(2026, 7, 29, 11, 18, 10, tzinfo=UTC)
    assert parse_date("2026-7-9 1:2:3") == datetime(2026, 7, 9, 1, 2, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    ["", "now", "2026-07-29T11:18:10", "2026-13-01", "2026-02-30 00:00:00", "2026-07-29T25:00:00Z",
     "2026-07-29T11:18:10+2400", "29/07/2026", "2026-07-29T11:18:10+0000x", "٢٠٢٦-07-29"],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_date(text)


def test_require_zone_rejects_plain_forms() -> None:
    with pytest.raises(ValueError):
        parse_date("2026-07-29", require_zone=True)
    with pytest.raises(ValueError):
        parse_date("2026-07-29 11:18:10", require_zone=True)


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31),
                    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)),
                                               timezone(timedelta(hours=-11))])))
def test_round_trip(dt: datetime) -> None:
    dt = dt.replace(microsecond=0)
    assert parse_date(format_date(dt)) == dt
    assert format_date(parse_date(format_date(dt))) == format_date(dt)


def test_utcnow_is_aware_whole_seconds() -> None:
    now = utcnow()
    assert now.tzinfo is UTC and now.microsecond == 0
