"""Shared column conventions for the resource-model tables.

Units: storage sizes in bytes, VM memory in MiB and CPU speed in MHz, as
CloudStack reports them. States are strings in CloudStack's own spelling; the
state machines own the enums, the store only keeps the text.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Text
from sqlalchemy.dialects.mysql import MEDIUMTEXT
from sqlmodel import Field, SQLModel

# Lengths are explicit because MySQL needs a VARCHAR length, and an index key
# (at 4 bytes a character in utf8mb4) must stay under InnoDB's 3072-byte limit.
NAME_LEN = 255
DESC_LEN = 1024
STATE_LEN = 32
KIND_LEN = 32  # short enumerations: types, scopes, formats
IP_LEN = 64  # an IPv6 address or CIDR fits in 49
UUID_LEN = 40

# Constraint names must be stable for Alembic (SQLite batch mode drops and
# re-creates constraints by name) and short for MySQL (64 characters at most):
# foreign keys are named after the referencing column only, composite indexes
# and unique constraints are named by hand in each table. The default "ix"
# pattern is kept so `index=True` columns keep their usual names. Primary keys
# stay unnamed: MySQL ignores their names and batch mode never drops them.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
}
# Set before any table of this package is declared (conventions apply when a
# constraint is attached to its table). `async_job` has no constraint that the
# convention would name differently, so its import order does not matter.
SQLModel.metadata.naming_convention = NAMING_CONVENTION


def ref(table: str, *, index: bool = True) -> Any:
    """A required integer foreign key to `table.id`."""
    return Field(foreign_key=f"{table}.id", index=index)


def opt_ref(table: str, *, index: bool = True) -> Any:
    """An optional integer foreign key to `table.id` (None until set)."""
    return Field(default=None, foreign_key=f"{table}.id", index=index)


# MySQL's TEXT stops at 64 KiB; user data may be 1 MiB (base64, sent by POST).
LONG_TEXT = Text().with_variant(MEDIUMTEXT(), "mysql", "mariadb")


def long_text(*, nullable: bool = True) -> Any:
    """A column for JSON blobs, user data and free text: up to 16 MiB, and off
    MySQL's 64 KiB row budget that VARCHARs count against."""
    return Field(default=None if nullable else "", sa_column=Column(LONG_TEXT, nullable=nullable))
