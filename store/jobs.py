"""The durable job table: an accepted command is an `async_job` row before anyone answers.

The row is the durable mailbox of its target entity: `owner_shard` names the
shard that must execute it, and a restarted shard finds its work by
`(owner_shard, status=PENDING)`.
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum

from sqlalchemy import Column, Index, Text, bindparam, update
from sqlmodel import Field, SQLModel

from cloudplane.store.base import new_uuid, utcnow


class JobStatus(IntEnum):
    PENDING = 0
    SUCCEEDED = 1
    FAILED = 2


# `proc_status` of a job whose non-resumable operation has committed its write: set in the
# same transaction as that write, so a restarted shard knows not to apply it again.
APPLIED = 1


class AsyncJob(SQLModel, table=True):
    __tablename__ = "async_job"
    __table_args__ = (
        Index("ix_async_job_owner_status", "owner_shard", "status"),
        Index("ix_async_job_account_created", "account_uuid", "created"),
        Index("ix_async_job_instance", "instance_uuid"),
    )

    id: int | None = Field(default=None, primary_key=True)
    uuid: str = Field(default_factory=new_uuid, max_length=40, unique=True, index=True)
    version: int = Field(default=1, nullable=False)
    cmd: str = Field(max_length=255)  # the API command, e.g. startVirtualMachine
    op: str = Field(max_length=64)  # the entity operation, e.g. start
    args: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # JSON
    entity_kind: str = Field(max_length=32)
    instance_uuid: str | None = Field(default=None, max_length=40)  # jobinstanceid
    instance_type: str | None = Field(default=None, max_length=64)  # jobinstancetype
    placement_key: str | None = Field(default=None, max_length=80)
    owner_shard: str = Field(max_length=80)
    account_uuid: str | None = Field(default=None, max_length=40)
    user_uuid: str | None = Field(default=None, max_length=40)
    status: int = Field(default=JobStatus.PENDING, nullable=False)
    proc_status: int = Field(default=0, nullable=False)
    result_code: int = Field(default=0, nullable=False)
    result_type: str = Field(default="object", max_length=32)
    result: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # JSON
    attempts: int = Field(default=0, nullable=False)
    created: datetime = Field(default_factory=utcnow, nullable=False)
    started: datetime | None = None
    completed: datetime | None = None


# Marks a batch's jobs applied in one statement (`b_jobs`: their uuids): an executemany of
# UPDATEs would be a round trip per job on MariaDB.
MARK_APPLIED = (
    update(AsyncJob.__table__)  # type: ignore[attr-defined]
    .where(AsyncJob.__table__.c.uuid.in_(bindparam("b_jobs", expanding=True)))  # type: ignore[attr-defined]
    .values(proc_status=APPLIED)
)
