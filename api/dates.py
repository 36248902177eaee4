"""Dates the way CloudStack writes and reads them.

Responses carry ``yyyy-MM-dd'T'HH:mm:ssZ`` (``2026-07-29T11:18:10+0000``).
Date parameters arrive as that form (``tzdate``, ``expires``), or as
``yyyy-MM-dd`` / ``yyyy-MM-dd HH:mm:ss`` (``date`` parameters such as
listEvents' startdate). Clients also send ``Z`` and ``+00:00``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

# Zoned form: offsets as +0000, +00:00 or Z, optional fraction (Java's .SSS).
# A space stands for '+': an unescaped '+' in a query string decodes to one.
_ZONED = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:(Z)|([+ -])(\d{2}):?(\d{2}))",
    re.ASCII,
)
# CloudStack's own check for the zone-less form (ParamProcessWorker) allows
# one-digit fields, as Java's SimpleDateFormat does.
_PLAIN = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?: (\d{1,2}):(\d{1,2}):(\d{1,2}))?", re.ASCII)


def stored_date(value: str | datetime) -> str:
    """format_date for a UTC date column read without conversion: SQLite gives the
    stored text (``2026-07-29 11:18:10.123456``), MySQL a naive datetime."""
    if isinstance(value, datetime):
        return format_date(value)
    if len(value) < 19 or value[4] != "-" or value[7] != "-" or value[10] not in " T" or value[13] != ":":
        raise ValueError(f"not a stored date: {value!r}")
    return f"{value[:10]}T{value[11:19]}+0000"


def format_date(dt: datetime) -> str:
    """``2026-07-29T11:18:10+0000``; naive datetimes are taken as UTC.

    An aware datetime keeps its own offset (CloudStack prints the server's
    zone, e.g. ``+0530``); callers that want UTC convert first.
    """
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    offset = dt.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    # Built by hand: strftime("%Y") does not zero-pad years below 1000 on glibc.
    return (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"
        f"{sign}{minutes // 60:02d}{minutes % 60:02d}"
    )


def parse_date(text: str, *, require_zone: bool = False) -> datetime:
    """Parse any accepted form into an aware datetime (zone-less forms are UTC).

    ``require_zone`` restricts to the zoned form, as CloudStack's ``tzdate``
    parameters and the v3 ``expires`` do. Raises ValueError otherwise.
    """
    m = _ZONED.fullmatch(text)
    if m:
        year, month, day, hour, minute, second = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
        micro = int((m.group(7) or "0")[:6].ljust(6, "0"))
        if m.group(8):
            tz = UTC
        else:
            hh, mm = int(m.group(10)), int(m.group(11))
            if hh > 23 or mm > 59:
                raise ValueError(f"bad UTC offset in {text!r}")
            delta = timedelta(hours=hh, minutes=mm)
            tz = timezone(-delta if m.group(9) == "-" else delta)
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    if not require_zone:
        m = _PLAIN.fullmatch(text)
        if m:
            year, month, day, hour, minute, second = (int(g or 0) for g in m.groups())
            return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    raise ValueError(f"unrecognised date {text!r}")


def utcnow() -> datetime:
    """Aware now in UTC, second precision (CloudStack dates have no fraction)."""
    return datetime.now(UTC).replace(microsecond=0)
