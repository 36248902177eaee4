"""Primary storage pools, secondary (image) stores, volumes and snapshots.

Sizes are bytes. Volume states follow CloudStack (Allocated, Creating, Ready,
Migrating, Destroy, Expunging, Expunged, ...); snapshot states are Allocated,
Creating, BackedUp, Destroying, Destroyed, Error.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from cloudplane.store.base import EntityBase
from cloudplane.store.tables._common import (
    DESC_LEN,
    KIND_LEN,
    NAME_LEN,
    STATE_LEN,
    long_text,
    opt_ref,
    ref,
)


class StoragePool(EntityBase, table=True):
    __tablename__ = "storage_pool"

    name: str = Field(max_length=NAME_LEN, index=True)
    zone_id: int = ref("zone")
    pod_id: int | None = opt_ref("pod")
    cluster_id: int | None = opt_ref("cluster")
    scope: str = Field(default="CLUSTER", max_length=KIND_LEN, index=True)  # CLUSTER|ZONE|HOST
    pool_type: str = Field(max_length=KIND_LEN)  # NetworkFilesystem, Filesystem, ...
    provider: str = Field(default="DefaultPrimary", max_length=64)
    status: str = Field(default="Up", max_length=STATE_LEN, index=True)
    host_address: str | None = Field(default=None, max_length=NAME_LEN)  # `ipaddress`
    path: str | None = Field(default=None, max_length=NAME_LEN)
    port: int | None = Field(default=None)
    url: str | None = Field(default=None, max_length=DESC_LEN)
    hypervisor: str | None = Field(default=None, max_length=KIND_LEN)
    managed: bool = Field(default=False)
    capacity_bytes: int = Field(default=0, sa_type=BigInteger)
    used_bytes: int = Field(default=0, sa_type=BigInteger)
    capacity_iops: int | None = Field(default=None, sa_type=BigInteger)


class StoragePoolTag(SQLModel, table=True):
    """A storage tag of a pool; offerings' `tags` must all be present."""

    __tablename__ = "storage_pool_tag"
    __table_args__ = (
        UniqueConstraint("pool_id", "tag", name="uq_storage_pool_tag_pool_tag"),
        Index("ix_storage_pool_tag_tag", "tag"),
    )

    id: int | None = Field(default=None, primary_key=True)
    pool_id: int = ref("storage_pool", index=False)  # led by the unique constraint
    tag: str = Field(max_length=NAME_LEN)
    is_rule: bool = Field(default=False)


class ImageStore(EntityBase, table=True):
    """Secondary storage: where templates, ISOs and snapshot backups live."""

    __tablename__ = "image_store"

    name: str = Field(max_length=NAME_LEN, index=True)
    zone_id: int | None = opt_ref("zone")  # None for a region-wide store
    provider: str = Field(default="NFS", max_length=64)
    protocol: str | None = Field(default=None, max_length=KIND_LEN)
    role: str = Field(default="Image", max_length=KIND_LEN)  # Image | ImageCache
    scope: str = Field(default="ZONE", max_length=KIND_LEN)
    url: str | None = Field(default=None, max_length=DESC_LEN)
    readonly: bool = Field(default=False)
    total_bytes: int | None = Field(default=None, sa_type=BigInteger)
    used_bytes: int | None = Field(default=None, sa_type=BigInteger)


class Volume(EntityBase, table=True):
    __tablename__ = "volume"

    name: str = Field(max_length=NAME_LEN, index=True)
    account_id: int = ref("account")
    domain_id: int = ref("domain")
    zone_id: int = ref("zone")
    pod_id: int | None = opt_ref("pod")
    pool_id: int | None = opt_ref("storage_pool")  # `storageid`; None until allocated
    instance_id: int | None = opt_ref("vm_instance")  # None when detached
    device_id: int | None = Field(default=None)  # 0 for ROOT
    volume_type: str = Field(max_length=KIND_LEN, index=True)  # ROOT | DATADISK
    state: str = Field(default="Allocated", max_length=STATE_LEN, index=True)
    size_bytes: int = Field(default=0, sa_type=BigInteger)
    min_iops: int | None = Field(default=None, sa_type=BigInteger)
    max_iops: int | None = Field(default=None, sa_type=BigInteger)
    disk_offering_id: int | None = opt_ref("disk_offering")
    template_id: int | None = opt_ref("template")  # the image a ROOT volume came from
    format: str | None = Field(default=None, max_length=KIND_LEN)  # QCOW2, RAW, ...
    provisioning_type: str = Field(default="thin", max_length=KIND_LEN)
    path: str | None = Field(default=None, max_length=NAME_LEN)  # the file on its pool
    chain_info: str | None = long_text()
    display: bool = Field(default=True)
    attached: datetime | None = Field(default=None)
    # uploadVolume: where the volume comes from, and how far its (simulated) transfer is.
    url: str | None = Field(default=None, max_length=DESC_LEN)
    download_state: str | None = Field(default=None, max_length=KIND_LEN)
    download_pct: int = Field(default=0)


class Snapshot(EntityBase, table=True):
    __tablename__ = "snapshot"

    name: str = Field(max_length=NAME_LEN, index=True)
    account_id: int = ref("account")
    domain_id: int = ref("domain")
    zone_id: int = ref("zone")
    volume_id: int = ref("volume")
    snapshot_type: str = Field(default="MANUAL", max_length=KIND_LEN)  # MANUAL|HOURLY|DAILY|...
    interval_type: str | None = Field(default=None, max_length=KIND_LEN)
    state: str = Field(default="Allocated", max_length=STATE_LEN, index=True)
    hypervisor: str | None = Field(default=None, max_length=KIND_LEN)
    location_type: str | None = Field(default=None, max_length=KIND_LEN)  # PRIMARY|SECONDARY
    image_store_id: int | None = opt_ref("image_store")  # where the backup copy lives
    path: str | None = Field(default=None, max_length=NAME_LEN)
    size_bytes: int = Field(default=0, sa_type=BigInteger)  # the volume's virtual size
    physical_size_bytes: int = Field(default=0, sa_type=BigInteger)


class SnapshotPolicy(EntityBase, table=True):
    __tablename__ = "snapshot_policy"

    volume_id: int = ref("volume")
    interval_type: str = Field(max_length=KIND_LEN)  # HOURLY | DAILY | WEEKLY | MONTHLY
    schedule: str = Field(max_length=64)  # CloudStack's "MM", "MM:HH", "MM:HH:DD" forms
    timezone: str = Field(default="UTC", max_length=64)
    max_snaps: int = Field(default=1)
    active: bool = Field(default=True)
    display: bool = Field(default=True)


class VmSnapshot(EntityBase, table=True):
    __tablename__ = "vm_snapshot"

    name: str = Field(max_length=NAME_LEN, index=True)
    display_name: str | None = Field(default=None, max_length=NAME_LEN)
    description: str | None = Field(default=None, max_length=DESC_LEN)
    instance_id: int = ref("vm_instance")
    account_id: int = ref("account")
    domain_id: int = ref("domain")
    zone_id: int = ref("zone")
    parent_id: int | None = opt_ref("vm_snapshot")  # snapshots of one VM form a tree
    snapshot_type: str = Field(default="Disk", max_length=KIND_LEN)  # Disk | DiskAndMemory
    state: str = Field(default="Allocated", max_length=STATE_LEN, index=True)
    is_current: bool = Field(default=False)
