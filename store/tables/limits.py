"""Resource limits and the running counts checked against them.

An owner is an account or a domain (`owner_type`/`owner_id`, so one unique key
covers both and a count can be bumped by one conditional UPDATE:
`used + n <= limit`). `resource_type` is CloudStack's name for it: user_vm,
public_ip, volume, snapshot, template, network, vpc, cpu, memory,
primary_storage, secondary_storage, project. A limit of -1 is unlimited.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, UniqueConstraint
from sqlmodel import Field, SQLModel

from cloudplane.store.tables._common import KIND_LEN

UNLIMITED = -1


class ResourceLimit(SQLModel, table=True):
    __tablename__ = "resource_limit"
    __table_args__ = (
        UniqueConstraint("owner_type", "owner_id", "resource_type", name="uq_resource_limit_owner"),
    )

    id: int | None = Field(default=None, primary_key=True)
    owner_type: str = Field(max_length=KIND_LEN)  # account | domain
    owner_id: int
    resource_type: str = Field(max_length=KIND_LEN)
    max_value: int = Field(default=UNLIMITED, sa_type=BigInteger)  # a count, or MiB / GiB


class ResourceCount(SQLModel, table=True):
    __tablename__ = "resource_count"
    __table_args__ = (
        UniqueConstraint("owner_type", "owner_id", "resource_type", name="uq_resource_count_owner"),
    )

    id: int | None = Field(default=None, primary_key=True)
    owner_type: str = Field(max_length=KIND_LEN)
    owner_id: int
    resource_type: str = Field(max_length=KIND_LEN)
    used: int = Field(default=0, sa_type=BigInteger)
