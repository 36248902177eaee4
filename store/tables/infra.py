"""The physical hierarchy: zone > pod > cluster > host, and host tags.

`allocation_state` is `Enabled`/`Disabled`; a host has a connection `status`
(Connecting, Up, Disconnected, Alert, Down, Removed) and an administrative
`resource_state` (Enabled, Disabled, PrepareForMaintenance, Maintenance, ...).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Double, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from cloudplane.store.base import EntityBase
from cloudplane.store.tables._common import (
    DESC_LEN,
    IP_LEN,
    KIND_LEN,
    NAME_LEN,
    STATE_LEN,
    UUID_LEN,
    opt_ref,
    ref,
)


class Zone(EntityBase, table=True):
    __tablename__ = "zone"

    name: str = Field(max_length=NAME_LEN, index=True)
    description: str | None = Field(default=None, max_length=DESC_LEN)
    network_type: str = Field(default="Advanced", max_length=KIND_LEN)  # Advanced | Basic
    allocation_state: str = Field(default="Enabled", max_length=STATE_LEN)
    is_edge: bool = Field(default=False)  # CloudStack's zone `type`: Core or Edge
    dns1: str | None = Field(default=None, max_length=IP_LEN)
    dns2: str | None = Field(default=None, max_length=IP_LEN)
    internal_dns1: str | None = Field(default=None, max_length=IP_LEN)
    internal_dns2: str | None = Field(default=None, max_length=IP_LEN)
    ip6_dns1: str | None = Field(default=None, max_length=IP_LEN)
    ip6_dns2: str | None = Field(default=None, max_length=IP_LEN)
    guest_cidr: str | None = Field(default=None, max_length=IP_LEN)
    network_domain: str | None = Field(default=None, max_length=NAME_LEN)
    domain_id: int | None = opt_ref("domain")  # set when the zone is dedicated
    local_storage_enabled: bool = Field(default=False)
    security_groups_enabled: bool = Field(default=False)
    dhcp_provider: str = Field(default="VirtualRouter", max_length=64)
    zone_token: str | None = Field(default=None, max_length=UUID_LEN)


class Pod(EntityBase, table=True):
    """A rack: its management IP ranges are `vlan_ip_range` rows of kind `pod`."""

    __tablename__ = "pod"

    name: str = Field(max_length=NAME_LEN, index=True)
    zone_id: int = ref("zone")
    gateway: str | None = Field(default=None, max_length=IP_LEN)
    netmask: str | None = Field(default=None, max_length=IP_LEN)
    allocation_state: str = Field(default="Enabled", max_length=STATE_LEN)


class Cluster(EntityBase, table=True):
    __tablename__ = "cluster"

    name: str = Field(max_length=NAME_LEN, index=True)
    zone_id: int = ref("zone")
    pod_id: int = ref("pod")
    hypervisor_type: str = Field(max_length=KIND_LEN)  # KVM, Simulator, ...
    cluster_type: str = Field(default="CloudManaged", max_length=KIND_LEN)
    allocation_state: str = Field(default="Enabled", max_length=STATE_LEN)
    managed_state: str = Field(default="Managed", max_length=STATE_LEN)
    # Double, not Float: MySQL's FLOAT is single precision.
    cpu_overcommit_ratio: float = Field(default=1.0, sa_type=Double)
    memory_overcommit_ratio: float = Field(default=1.0, sa_type=Double)


class Host(EntityBase, table=True):
    __tablename__ = "host"
    __table_args__ = (
        # Placement scans the usable hosts of a cluster.
        Index("ix_host_cluster_status", "cluster_id", "status", "resource_state"),
    )

    name: str = Field(max_length=NAME_LEN, index=True)
    type: str = Field(default="Routing", max_length=KIND_LEN, index=True)
    zone_id: int = ref("zone")
    pod_id: int | None = opt_ref("pod")
    cluster_id: int | None = opt_ref("cluster", index=False)  # led by ix_host_cluster_status
    status: str = Field(default="Connecting", max_length=STATE_LEN, index=True)
    resource_state: str = Field(default="Enabled", max_length=STATE_LEN, index=True)
    # The agent's stable identity: a reconnecting agent finds its row by guid.
    guid: str | None = Field(default=None, max_length=NAME_LEN, unique=True, index=True)
    url: str | None = Field(default=None, max_length=DESC_LEN)
    username: str | None = Field(default=None, max_length=NAME_LEN)
    private_ip: str | None = Field(default=None, max_length=IP_LEN, index=True)
    public_ip: str | None = Field(default=None, max_length=IP_LEN)
    storage_ip: str | None = Field(default=None, max_length=IP_LEN)
    hypervisor_type: str | None = Field(default=None, max_length=KIND_LEN, index=True)
    hypervisor_version: str | None = Field(default=None, max_length=64)
    agent_version: str | None = Field(default=None, max_length=64)  # `version` is the OCC counter
    capabilities: str | None = Field(default=None, max_length=NAME_LEN)
    cpu_sockets: int | None = Field(default=None)
    cpus: int = Field(default=0)
    cpu_speed_mhz: int = Field(default=0)
    memory_bytes: int = Field(default=0, sa_type=BigInteger)
    uefi_capable: bool = Field(default=False)
    os_category_id: int | None = opt_ref("os_category")
    mgmt_server_id: str | None = Field(default=None, max_length=80, index=True)  # owning node
    last_pinged: datetime | None = Field(default=None)
    disconnected: datetime | None = Field(default=None)


class HostTag(SQLModel, table=True):
    """A tag of a host (`hosttags`, `ha.tag`); a rule tag holds an expression."""

    __tablename__ = "host_tag"
    __table_args__ = (
        UniqueConstraint("host_id", "tag", name="uq_host_tag_host_tag"),
        Index("ix_host_tag_tag", "tag"),
    )

    id: int | None = Field(default=None, primary_key=True)
    host_id: int = ref("host", index=False)  # led by the unique constraint
    tag: str = Field(max_length=NAME_LEN)
    is_rule: bool = Field(default=False)
