"""Sample rows for every table, built from the metadata alone.

Values push each column to what it must hold: strings at their full declared
length with a 4-byte character (utf8mb4), big integers above 2**31, datetimes
at whole seconds (MySQL's DATETIME keeps no fraction).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Double,
    Float,
    Integer,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlmodel import SQLModel

from cloudplane.store.base import EntityBase, new_uuid

WHEN = datetime(2026, 7, 29, 11, 18, 10, tzinfo=timezone.utc)
BIG = 2**40 + 7  # needs BIGINT
WIDE = "\N{SLIGHTLY SMILING FACE}"  # four bytes in UTF-8


def entity_tables() -> list[Table]:
    """Tables of every EntityBase subclass declared with table=True."""
    found: list[Table] = []
    todo = list(EntityBase.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        table = getattr(cls, "__table__", None)
        if isinstance(table, Table):
            found.append(table)
    return sorted(found, key=lambda t: t.name)


def _text(col: Column[Any], salt: str) -> str:
    base = f"{col.table.name}.{col.name}.{salt}{WIDE}"
    length: int | None = getattr(col.type, "length", None)
    if length is None:  # TEXT: longer than any VARCHAR we declare
        return (base * (2000 // len(base) + 1))[:2000]
    return (base * (length // len(base) + 1))[:length]


def sample_value(col: Column[Any], salt: str = "") -> Any:
    if col.name == "uuid":
        return new_uuid()
    t = col.type
    if isinstance(t, TypeDecorator):  # SQLModel's AutoString and UTCDateTime
        t = t.impl_instance
    if isinstance(t, Boolean):
        return True
    if isinstance(t, BigInteger):
        return BIG
    if isinstance(t, Integer):
        return 7
    if isinstance(t, Double | Float):
        return 1.25
    if isinstance(t, DateTime):
        return WHEN
    if isinstance(t, String | Text):  # AutoString and the MEDIUMTEXT variant included
        return _text(col, salt)
    raise AssertionError(f"no sample for {col.table.name}.{col.name}: {t!r}")


def sample_row(table: Table, parent_ids: dict[str, int], salt: str = "") -> dict[str, Any]:
    """A full row for `table`; foreign keys point at `parent_ids[referred table]`."""
    row: dict[str, Any] = {}
    for col in table.columns:
        if col.primary_key:
            continue
        fks = list(col.foreign_keys)
        if fks:
            parent = fks[0].column.table.name
            row[col.name] = None if parent == table.name else parent_ids[parent]
        else:
            row[col.name] = sample_value(col, salt)
    return row


def all_tables() -> list[Table]:
    return list(SQLModel.metadata.sorted_tables)
