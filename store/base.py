"""Columns every mutable entity table shares.

`id` is the internal integer key (joins, foreign keys); `uuid` is the public id
that CloudStack clients see; `version` is the optimistic-concurrency counter
that every write checks and bumps (see store/versioned.py).
"""

from __future__ import annotations

import uuid as _uuid
from datetime import datetime, timezone

from sqlmodel import Field, SQLModel


def new_uuid() -> str:
    return str(_uuid.uuid4())


def utcnow() -> datetime:
    # Aware UTC: SQLModel's datetime columns refuse naive values and read back as UTC.
    return datetime.now(timezone.utc)


class EntityBase(SQLModel):
    """Mixin for tables of mutable entities (not a table itself)."""

    id: int | None = Field(default=None, primary_key=True)
    uuid: str = Field(default_factory=new_uuid, max_length=40, unique=True, index=True)
    version: int = Field(default=1, nullable=False)
    created: datetime = Field(default_factory=utcnow, nullable=False)
    removed: datetime | None = Field(default=None)
