"""The simulator's control plane: CloudStack's `configureSimulator` mocks."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from cloudplane.store.base import utcnow
from cloudplane.store.tables._common import NAME_LEN, UUID_LEN, long_text


class SimulatorMock(SQLModel, table=True):
    """A mock intercepts an agent command on matching simulated hosts.

    The id is a plain number, as CloudStack's simulator answers it. `fired`
    counts how often it acted; with `count` set it stops at `count` (the
    increment is a conditional UPDATE, so exactly `count` commands are hit even
    when several shards race)."""

    __tablename__ = "simulator_mock"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=NAME_LEN, index=True)  # agent command, e.g. StartCommand
    value: str = Field(default="", max_length=1024)  # result:fail;wait:500;...
    zone_uuid: str | None = Field(default=None, max_length=UUID_LEN)
    pod_uuid: str | None = Field(default=None, max_length=UUID_LEN)
    cluster_uuid: str | None = Field(default=None, max_length=UUID_LEN)
    host_uuid: str | None = Field(default=None, max_length=UUID_LEN)
    count: int | None = Field(default=None)
    fired: int = Field(default=0)
    json_response: str | None = long_text()
    created: datetime = Field(default_factory=utcnow)
    removed: datetime | None = Field(default=None)
