"""Networking: physical networks and their providers, IP ranges, guest networks
and offerings, NICs, public IPs and guest IP claims.

Addresses are stored as text (IPv4 or IPv6). Network states are CloudStack's:
Allocated, Setup, Implementing, Implemented, Shutdown, Destroy.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from cloudplane.store.base import EntityBase
from cloudplane.store.tables._common import (
    DESC_LEN,
    IP_LEN,
    KIND_LEN,
    NAME_LEN,
    STATE_LEN,
    opt_ref,
    ref,
)


class PhysicalNetwork(EntityBase, table=True):
    __tablename__ = "physical_network"

    name: str = Field(max_length=NAME_LEN, index=True)
    zone_id: int = ref("zone")
    domain_id: int | None = opt_ref("domain")
    vlan: str | None = Field(default=None, max_length=DESC_LEN)  # ranges, e.g. "100-199;300-320"
    speed: str | None = Field(default=None, max_length=KIND_LEN)
    isolation_methods: str | None = Field(default=None, max_length=NAME_LEN)  # VLAN, VXLAN...
    broadcast_domain_range: str = Field(default="ZONE", max_length=KIND_LEN)
    state: str = Field(default="Disabled", max_length=STATE_LEN)
    tags: str | None = Field(default=None, max_length=NAME_LEN)


class PhysicalNetworkTrafficType(EntityBase, table=True):
    """Which traffic (Guest, Public, Management, Storage) a physical network carries."""

    __tablename__ = "physical_network_traffic_type"
    __table_args__ = (
        UniqueConstraint("physical_network_id", "traffic_type", name="uq_pn_traffic_type"),
    )

    physical_network_id: int = ref("physical_network", index=False)  # led by the unique
    traffic_type: str = Field(max_length=KIND_LEN)
    kvm_network_label: str | None = Field(default=None, max_length=NAME_LEN)  # the host bridge
    vlan: str | None = Field(default=None, max_length=64)


class NetworkServiceProvider(EntityBase, table=True):
    __tablename__ = "network_service_provider"
    __table_args__ = (
        UniqueConstraint("physical_network_id", "provider_name", name="uq_nsp_provider"),
    )

    physical_network_id: int = ref("physical_network", index=False)  # led by the unique
    provider_name: str = Field(max_length=64)  # VirtualRouter, VpcVirtualRouter, ...
    state: str = Field(default="Disabled", max_length=STATE_LEN)  # Enabled|Disabled|Shutdown
    destination_physical_network_id: int | None = opt_ref("physical_network")
    service_list: str | None = Field(default=None, max_length=DESC_LEN)  # "Dhcp,Dns,..."
    can_enable_individual_services: bool = Field(default=False)


class VirtualRouterElement(EntityBase, table=True):
    __tablename__ = "virtual_router_element"

    nsp_id: int = ref("network_service_provider")
    element_type: str = Field(default="VirtualRouter", max_length=KIND_LEN)
    enabled: bool = Field(default=False)


class NetworkOffering(EntityBase, table=True):
    __tablename__ = "network_offering"

    name: str = Field(max_length=NAME_LEN, index=True)
    display_text: str | None = Field(default=None, max_length=NAME_LEN)
    traffic_type: str = Field(default="Guest", max_length=KIND_LEN)
    guest_ip_type: str = Field(max_length=KIND_LEN, index=True)  # Isolated | Shared | L2
    availability: str = Field(default="Optional", max_length=KIND_LEN)  # Optional|Required
    state: str = Field(default="Disabled", max_length=STATE_LEN, index=True)
    is_default: bool = Field(default=False)
    is_system: bool = Field(default=False)
    specify_vlan: bool = Field(default=False)
    specify_ip_ranges: bool = Field(default=False)
    conserve_mode: bool = Field(default=True)
    egress_default_policy: bool = Field(default=False)
    is_persistent: bool = Field(default=False)
    for_vpc: bool = Field(default=False)
    internet_protocol: str = Field(default="IPv4", max_length=KIND_LEN)
    network_rate_mbps: int | None = Field(default=None)
    max_connections: int | None = Field(default=None)
    tags: str | None = Field(default=None, max_length=NAME_LEN)
    service_offering_id: int | None = opt_ref("service_offering")  # for its routers


class NetworkOfferingService(SQLModel, table=True):
    """A (service, provider) pair an offering supplies; `supportedservices` filters here."""

    __tablename__ = "network_offering_service"
    __table_args__ = (
        UniqueConstraint(
            "network_offering_id", "service", "provider", name="uq_network_offering_service"
        ),
        Index("ix_network_offering_service_service", "service"),
    )

    id: int | None = Field(default=None, primary_key=True)
    network_offering_id: int = ref("network_offering", index=False)  # led by the unique
    service: str = Field(max_length=64)  # Dhcp, Dns, SourceNat, Firewall, ...
    provider: str | None = Field(default=None, max_length=64)


class VlanIpRange(EntityBase, table=True):
    """A range of addresses: `public` (on a VLAN), `guest` (a shared network's) or
    `pod` (management addresses for system VMs)."""

    __tablename__ = "vlan_ip_range"

    range_type: str = Field(max_length=KIND_LEN, index=True)  # public | guest | pod
    zone_id: int = ref("zone")
    pod_id: int | None = opt_ref("pod")
    physical_network_id: int | None = opt_ref("physical_network")
    network_id: int | None = opt_ref("network")
    vlan_tag: str | None = Field(default=None, max_length=64)  # "vlan://100" or "untagged"
    gateway: str | None = Field(default=None, max_length=IP_LEN)
    netmask: str | None = Field(default=None, max_length=IP_LEN)
    start_ip: str | None = Field(default=None, max_length=IP_LEN)
    end_ip: str | None = Field(default=None, max_length=IP_LEN)
    ip6_gateway: str | None = Field(default=None, max_length=IP_LEN)
    ip6_cidr: str | None = Field(default=None, max_length=IP_LEN)
    start_ipv6: str | None = Field(default=None, max_length=IP_LEN)
    end_ipv6: str | None = Field(default=None, max_length=IP_LEN)
    for_virtual_network: bool = Field(default=True)
    for_system_vms: bool = Field(default=False)
    account_id: int | None = opt_ref("account")  # set when dedicated
    domain_id: int | None = opt_ref("domain")
    description: str | None = Field(default=None, max_length=NAME_LEN)


class Network(EntityBase, table=True):
    __tablename__ = "network"
    __table_args__ = (Index("ix_network_zone_traffic", "zone_id", "traffic_type"),)

    name: str = Field(max_length=NAME_LEN, index=True)
    display_text: str | None = Field(default=None, max_length=NAME_LEN)
    traffic_type: str = Field(max_length=KIND_LEN)  # Guest, Public, Management, Control...
    guest_type: str | None = Field(default=None, max_length=KIND_LEN, index=True)  # `type`
    state: str = Field(default="Allocated", max_length=STATE_LEN, index=True)
    zone_id: int = ref("zone", index=False)  # led by ix_network_zone_traffic
    physical_network_id: int | None = opt_ref("physical_network")
    network_offering_id: int = ref("network_offering")
    account_id: int = ref("account")
    domain_id: int = ref("domain")
    acl_type: str = Field(default="Account", max_length=KIND_LEN)  # Account | Domain
    subdomain_access: bool | None = Field(default=None)
    broadcast_domain_type: str = Field(default="Vlan", max_length=KIND_LEN)
    broadcast_uri: str | None = Field(default=None, max_length=NAME_LEN)  # vlan://100
    gateway: str | None = Field(default=None, max_length=IP_LEN)
    cidr: str | None = Field(default=None, max_length=IP_LEN)
    netmask: str | None = Field(default=None, max_length=IP_LEN)
    network_cidr: str | None = Field(default=None, max_length=IP_LEN)
    ip6_gateway: str | None = Field(default=None, max_length=IP_LEN)
    ip6_cidr: str | None = Field(default=None, max_length=IP_LEN)
    dns1: str | None = Field(default=None, max_length=IP_LEN)
    dns2: str | None = Field(default=None, max_length=IP_LEN)
    network_domain: str | None = Field(default=None, max_length=NAME_LEN)
    is_system: bool = Field(default=False)
    restart_required: bool = Field(default=False)
    specify_ip_ranges: bool = Field(default=False)
    display: bool = Field(default=True)
    public_mtu: int | None = Field(default=None)
    private_mtu: int | None = Field(default=None)
    external_id: str | None = Field(default=None, max_length=NAME_LEN)


class Nic(EntityBase, table=True):
    __tablename__ = "nic"

    instance_id: int = ref("vm_instance")
    network_id: int = ref("network")
    device_id: int = Field(default=0)
    is_default: bool = Field(default=False)
    mac_address: str | None = Field(default=None, max_length=17, index=True)
    ip4_address: str | None = Field(default=None, max_length=IP_LEN, index=True)
    netmask: str | None = Field(default=None, max_length=IP_LEN)
    gateway: str | None = Field(default=None, max_length=IP_LEN)
    ip6_address: str | None = Field(default=None, max_length=IP_LEN)
    ip6_gateway: str | None = Field(default=None, max_length=IP_LEN)
    ip6_cidr: str | None = Field(default=None, max_length=IP_LEN)
    broadcast_uri: str | None = Field(default=None, max_length=NAME_LEN)
    isolation_uri: str | None = Field(default=None, max_length=NAME_LEN)
    traffic_type: str | None = Field(default=None, max_length=KIND_LEN)
    mode: str = Field(default="Dhcp", max_length=KIND_LEN)  # Dhcp | Static
    state: str = Field(default="Allocated", max_length=STATE_LEN)
    mtu: int | None = Field(default=None)


class IpAddress(EntityBase, table=True):
    """One public IP. A range's addresses are rows from the start, so acquiring one
    is a conditional UPDATE of a `Free` row."""

    __tablename__ = "ip_address"
    __table_args__ = (
        UniqueConstraint("zone_id", "public_ip", name="uq_ip_address_zone_ip"),
        Index("ix_ip_address_public_ip", "public_ip"),
    )

    public_ip: str = Field(max_length=IP_LEN)
    zone_id: int = ref("zone", index=False)  # led by the unique constraint
    vlan_range_id: int = ref("vlan_ip_range")  # `vlanid`
    physical_network_id: int | None = opt_ref("physical_network")
    source_network_id: int | None = opt_ref("network")  # the public network it lives on
    associated_network_id: int | None = opt_ref("network")  # the guest network using it
    account_id: int | None = opt_ref("account")
    domain_id: int | None = opt_ref("domain")
    state: str = Field(default="Free", max_length=STATE_LEN, index=True)
    allocated: datetime | None = Field(default=None)
    is_source_nat: bool = Field(default=False)
    is_static_nat: bool = Field(default=False)
    instance_id: int | None = opt_ref("vm_instance")  # static NAT target
    instance_ip: str | None = Field(default=None, max_length=IP_LEN)
    is_system: bool = Field(default=False)
    is_portable: bool = Field(default=False)
    display: bool = Field(default=True)


class GuestIp(EntityBase, table=True):
    """A claimed address of a guest network. The unique key makes a claim atomic;
    release deletes the row, so the address can be claimed again."""

    __tablename__ = "guest_ip"
    __table_args__ = (UniqueConstraint("network_id", "ip_address", name="uq_guest_ip_network_ip"),)

    network_id: int = ref("network", index=False)  # led by the unique constraint
    ip_address: str = Field(max_length=IP_LEN)
    nic_id: int | None = opt_ref("nic")
    is_secondary: bool = Field(default=False)  # added by addIpToNic
