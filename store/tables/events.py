"""The event log (what users did and what followed) and operator alerts.

Events name their subject polymorphically: `resource_type` plus both its
internal id (joins) and its uuid (listEvents answers and filters by it, and it
survives the subject's removal).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field

from cloudplane.store.base import EntityBase
from cloudplane.store.tables._common import (
    KIND_LEN,
    NAME_LEN,
    UUID_LEN,
    long_text,
    opt_ref,
)


class Event(EntityBase, table=True):
    __tablename__ = "event"
    __table_args__ = (
        Index("ix_event_account_created", "account_id", "created"),
        Index("ix_event_resource", "resource_type", "resource_uuid"),
    )

    type: str = Field(max_length=64, index=True)  # e.g. VM.START
    # Created | Scheduled | Started | Completed
    state: str = Field(default="Completed", max_length=KIND_LEN)
    level: str = Field(default="INFO", max_length=16, index=True)  # INFO | WARN | ERROR
    description: str | None = long_text()
    user_id: int | None = opt_ref("app_user")
    account_id: int | None = opt_ref("account", index=False)  # led by ix_event_account_created
    domain_id: int | None = opt_ref("domain")
    resource_type: str | None = Field(default=None, max_length=64)
    resource_id: int | None = Field(default=None)
    resource_uuid: str | None = Field(default=None, max_length=UUID_LEN)
    start_id: int | None = opt_ref("event")  # the Started event a Completed one closes
    job_uuid: str | None = Field(default=None, max_length=UUID_LEN)
    archived: bool = Field(default=False)
    display: bool = Field(default=True)


class Alert(EntityBase, table=True):
    __tablename__ = "alert"

    alert_type: int = Field(index=True)  # CloudStack's alert type code
    name: str | None = Field(default=None, max_length=NAME_LEN)  # e.g. ALERT.MEMORY
    subject: str | None = long_text()  # the API's `description`
    zone_id: int | None = opt_ref("zone")
    pod_id: int | None = opt_ref("pod")
    cluster_id: int | None = opt_ref("cluster")
    sent_count: int = Field(default=0)
    last_sent: datetime | None = Field(default=None)
    archived: bool = Field(default=False)
