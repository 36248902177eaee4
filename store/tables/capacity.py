"""Capacity rows: total, used and reserved amounts per owner and capacity type.

A claim is a conditional UPDATE of one row (used + want <= total * ratio), so
each (owner, type) has exactly one row. The owner is polymorphic (a host for
CPU and memory, a pool for storage, a zone or pod for IPs and VLANs), hence
`owner_type`/`owner_id` rather than a foreign key; the zone, pod and cluster
columns are copies for listCapacity's roll-ups.
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum

from sqlalchemy import BigInteger, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from cloudplane.store.base import utcnow
from cloudplane.store.tables._common import KIND_LEN, opt_ref, ref


class CapacityType(IntEnum):
    """CloudStack's capacity type codes (the `type` of listCapacity)."""

    MEMORY = 0
    CPU = 1
    STORAGE = 2
    STORAGE_ALLOCATED = 3
    PUBLIC_IP = 4
    PRIVATE_IP = 5
    SECONDARY_STORAGE = 6
    VLAN = 7
    DIRECT_ATTACHED_PUBLIC_IP = 8
    LOCAL_STORAGE = 9
    GPU = 19
    CPU_CORE = 90


class Capacity(SQLModel, table=True):
    __tablename__ = "capacity"
    __table_args__ = (
        UniqueConstraint("owner_type", "owner_id", "capacity_type", name="uq_capacity_owner_type"),
        Index("ix_capacity_zone_type", "zone_id", "capacity_type"),
    )

    id: int | None = Field(default=None, primary_key=True)
    owner_type: str = Field(max_length=KIND_LEN)  # host | pool | image_store | pod | zone
    owner_id: int
    capacity_type: int  # a CapacityType
    zone_id: int = ref("zone", index=False)  # led by ix_capacity_zone_type
    pod_id: int | None = opt_ref("pod")
    cluster_id: int | None = opt_ref("cluster")
    total: int = Field(default=0, sa_type=BigInteger)  # bytes, MHz or a count
    used: int = Field(default=0, sa_type=BigInteger)
    reserved: int = Field(default=0, sa_type=BigInteger)  # held for stopped VMs
    enabled: bool = Field(default=True)  # off while the owner is disabled
    updated: datetime = Field(default_factory=utcnow)
