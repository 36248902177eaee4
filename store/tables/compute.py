"""Virtual machines (user VMs, routers, system VMs), their offerings, and
affinity groups.

`vm_instance.type` tells the kinds apart as CloudStack does: User,
DomainRouter, ConsoleProxy, SecondaryStorageVm. VM states: Starting, Running,
Stopping, Stopped, Migrating, Destroyed, Expunging, Error.
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


class DiskOffering(EntityBase, table=True):
    __tablename__ = "disk_offering"

    name: str = Field(max_length=NAME_LEN, index=True)
    display_text: str | None = Field(default=None, max_length=NAME_LEN)
    disk_size_bytes: int = Field(default=0, sa_type=BigInteger)
    customized: bool = Field(default=False)  # the size is chosen per volume
    customized_iops: bool = Field(default=False)
    min_iops: int | None = Field(default=None, sa_type=BigInteger)
    max_iops: int | None = Field(default=None, sa_type=BigInteger)
    storage_type: str = Field(default="shared", max_length=KIND_LEN)  # shared | local
    provisioning_type: str = Field(default="thin", max_length=KIND_LEN)
    tags: str | None = Field(default=None, max_length=NAME_LEN)  # storage tags, comma-separated
    cache_mode: str | None = Field(default=None, max_length=KIND_LEN)
    encrypt: bool = Field(default=False)
    display: bool = Field(default=True)
    state: str = Field(default="Active", max_length=STATE_LEN, index=True)  # Active | Inactive


class ServiceOffering(EntityBase, table=True):
    __tablename__ = "service_offering"

    name: str = Field(max_length=NAME_LEN, index=True)
    display_text: str | None = Field(default=None, max_length=NAME_LEN)
    cpu_count: int | None = Field(default=None)  # None: chosen at deploy (customized)
    cpu_speed_mhz: int | None = Field(default=None)
    ram_mb: int | None = Field(default=None)
    customized: bool = Field(default=False)
    offer_ha: bool = Field(default=False)
    limit_cpu_use: bool = Field(default=False)
    is_volatile: bool = Field(default=False)
    dynamic_scaling_enabled: bool = Field(default=True)
    host_tags: str | None = Field(default=None, max_length=NAME_LEN)
    storage_tags: str | None = Field(default=None, max_length=NAME_LEN)
    storage_type: str = Field(default="shared", max_length=KIND_LEN)
    provisioning_type: str = Field(default="thin", max_length=KIND_LEN)
    root_disk_size_bytes: int | None = Field(default=None, sa_type=BigInteger)
    disk_offering_id: int | None = opt_ref("disk_offering")  # the ROOT disk's offering
    is_system: bool = Field(default=False, index=True)
    system_vm_type: str | None = Field(default=None, max_length=KIND_LEN)  # domainrouter, ...
    default_use: bool = Field(default=False)
    network_rate_mbps: int | None = Field(default=None)
    deployment_planner: str | None = Field(default=None, max_length=NAME_LEN)
    state: str = Field(default="Active", max_length=STATE_LEN, index=True)  # Active | Inactive


class VmInstance(EntityBase, table=True):
    __tablename__ = "vm_instance"
    __table_args__ = (
        Index("ix_vm_instance_host_state", "host_id", "state"),
        Index("ix_vm_instance_account_state", "account_id", "state"),
        # listVirtualMachines: count and page ids from the index alone, in id order.
        Index("ix_vm_instance_list", "type", "removed", "id", "domain_id", "account_id"),
    )

    name: str = Field(max_length=NAME_LEN, index=True)  # the guest's host name
    display_name: str | None = Field(default=None, max_length=NAME_LEN)
    # The hypervisor's name for the domain (i-2-10-VM, r-4-VM); set once `id` is known.
    instance_name: str | None = Field(default=None, max_length=NAME_LEN, unique=True, index=True)
    type: str = Field(default="User", max_length=KIND_LEN, index=True)
    state: str = Field(default="Stopped", max_length=STATE_LEN, index=True)
    # What the host last reported (PowerOn/PowerOff/PowerUnknown), apart from `state`,
    # which only the VM's jobs change.
    power_state: str = Field(default="PowerUnknown", max_length=STATE_LEN)
    power_state_updated: datetime | None = Field(default=None)
    zone_id: int = ref("zone")
    pod_id: int | None = opt_ref("pod")
    host_id: int | None = opt_ref("host", index=False)  # led by ix_vm_instance_host_state
    last_host_id: int | None = opt_ref("host")
    account_id: int = ref("account", index=False)  # led by ix_vm_instance_account_state
    domain_id: int = ref("domain")
    user_id: int | None = opt_ref("app_user")
    service_offering_id: int = ref("service_offering")
    template_id: int | None = opt_ref("template")
    iso_id: int | None = opt_ref("template")  # an attached ISO
    guest_os_id: int | None = opt_ref("os_type")
    hypervisor_type: str | None = Field(default=None, max_length=KIND_LEN)
    # The effective size: the offering's, or the caller's for a customized offering.
    cpu_count: int = Field(default=1)
    cpu_speed_mhz: int = Field(default=0)
    ram_mb: int = Field(default=0)
    ha_enabled: bool = Field(default=False)
    display: bool = Field(default=True)
    dynamically_scalable: bool = Field(default=False)
    group_name: str | None = Field(default=None, max_length=NAME_LEN)  # `group`
    boot_type: str | None = Field(default=None, max_length=KIND_LEN)  # BIOS | UEFI
    boot_mode: str | None = Field(default=None, max_length=KIND_LEN)  # LEGACY | SECURE
    password: str | None = Field(default=None, max_length=NAME_LEN)  # encrypted by the writer
    user_data: str | None = long_text()  # base64, up to 1 MiB with POST
    redundant_state: str | None = Field(default=None, max_length=STATE_LEN)  # routers only
    # The VM's shard home (its cluster's uuid, or its zone's for system VMs): fixed at
    # creation so every job on this VM reaches the same entity actor.
    placement_key: str | None = Field(default=None, max_length=80)
    # When the VM last changed state (CloudStack's update_time): expunge.delay counts from it.
    updated: datetime | None = Field(default=None)


class AffinityGroup(EntityBase, table=True):
    __tablename__ = "affinity_group"

    name: str = Field(max_length=NAME_LEN, index=True)
    description: str | None = Field(default=None, max_length=DESC_LEN)
    type: str = Field(max_length=64)  # "host affinity" | "host anti-affinity"
    account_id: int = ref("account")
    domain_id: int = ref("domain")
    acl_type: str = Field(default="Account", max_length=KIND_LEN)


class AffinityGroupVm(SQLModel, table=True):
    """Membership of a VM in an affinity group."""

    __tablename__ = "affinity_group_vm"
    __table_args__ = (
        UniqueConstraint("affinity_group_id", "instance_id", name="uq_affinity_group_vm"),
    )

    id: int | None = Field(default=None, primary_key=True)
    affinity_group_id: int = ref("affinity_group", index=False)  # led by the unique
    instance_id: int = ref("vm_instance")
