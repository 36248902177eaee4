"""The runtime's canary entity: a minimal versioned row that the actor tests and
benchmarks drive through the mailbox, the job table and the store without any
CloudStack semantics. Other code depends on these exact column names."""

from __future__ import annotations

from sqlmodel import Field

from cloudplane.store.base import EntityBase
from cloudplane.store.tables._common import STATE_LEN, long_text


class Probe(EntityBase, table=True):
    __tablename__ = "probe"

    state: str = Field(default="Stopped", max_length=STATE_LEN)
    counter: int = Field(default=0)
    group_key: str | None = Field(default=None, max_length=80, index=True)
    payload: str | None = long_text()
