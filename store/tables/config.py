"""Configuration values: one row per (name, scope, scope_id).

A global value has scope `global` and scope_id 0 (not NULL, so the unique key
holds: MySQL and SQLite both let NULLs repeat in a unique index). A scoped
value (zone, cluster, account, domain, storagepool, imagestore) overrides the
global one for that resource.
"""

from __future__ import annotations

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from cloudplane.store.base import EntityBase
from cloudplane.store.tables._common import KIND_LEN, NAME_LEN, long_text

GLOBAL_SCOPE = "global"


class Configuration(EntityBase, table=True):
    __tablename__ = "configuration"
    __table_args__ = (
        UniqueConstraint("name", "scope", "scope_id", name="uq_configuration_name_scope"),
    )

    name: str = Field(max_length=NAME_LEN)  # e.g. ha.tag; led by the unique constraint
    scope: str = Field(default=GLOBAL_SCOPE, max_length=KIND_LEN)
    scope_id: int = Field(default=0)
    value: str | None = long_text()
    default_value: str | None = long_text()
    value_type: str = Field(default="String", max_length=KIND_LEN)  # String, Integer, Boolean...
    category: str = Field(default="Advanced", max_length=64, index=True)
    description: str | None = long_text()
    is_dynamic: bool = Field(default=True)  # False: takes effect after a restart
