"""Physical networks as entity actors, with what hangs off them: the traffic
types they carry, their network service providers and the providers'
elements (virtual router, VPC router, internal LB VM).

The zone creates a physical network (and with it CloudStack's default
providers, Disabled until configured); the physical network owns its
children's rows, so adding, changing and removing them is serialised here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.actors.entity import operation
from cloudplane.actors.kinds import ipranges
from cloudplane.actors.kinds.infrabase import InfraEntity, add_capacity, exists, insert_row, new_row, one
from cloudplane.errors import InternalError, NotAllowed, ParamError
from cloudplane.store.base import utcnow
from cloudplane.store.tables.capacity import CapacityType
from cloudplane.store.tables.infra import Zone
from cloudplane.store.tables.network import (
    IpAddress,
    Network,
    NetworkServiceProvider,
    PhysicalNetwork,
    PhysicalNetworkTrafficType,
    VirtualRouterElement,
    VlanIpRange,
)
from cloudplane.store.tables.tags import ResourceDetail

T_PN: Table = PhysicalNetwork.__table__  # type: ignore[attr-defined]
T_TT: Table = PhysicalNetworkTrafficType.__table__  # type: ignore[attr-defined]
T_NSP: Table = NetworkServiceProvider.__table__  # type: ignore[attr-defined]
T_VRE: Table = VirtualRouterElement.__table__  # type: ignore[attr-defined]
T_NET: Table = Network.__table__  # type: ignore[attr-defined]
T_IP: Table = IpAddress.__table__  # type: ignore[attr-defined]
T_VLAN: Table = VlanIpRange.__table__  # type: ignore[attr-defined]
T_ZONE: Table = Zone.__table__  # type: ignore[attr-defined]
T_DETAIL: Table = ResourceDetail.__table__  # type: ignore[attr-defined]

TRAFFIC_TYPES = ("Guest", "Management", "Public", "Storage")
# One physical network per zone may carry each of these (CloudStack's rule).
ZONE_UNIQUE_TRAFFIC = ("Management", "Public", "Storage")
# Labels other than KVM's are kept as details of the traffic type row.
OTHER_LABELS = ("xennetworklabel", "vmwarenetworklabel", "hypervnetworklabel", "ovm3networklabel")
TT_DETAIL = "PhysicalNetworkTrafficType"
ISOLATION_METHODS = ("VLAN", "VXLAN", "GRE", "STT", "VNS", "L3", "BCF_SEGMENT", "SSP", "ODL", "VSP", "VCS")


@dataclass(frozen=True)
class ProviderDef:
    name: str
    services: tuple[str, ...]
    element: str | None = None  # the element type in virtual_router_element, if it has one
    default: bool = False  # added to every new physical network
    state: str = "Disabled"  # the state a default provider starts in
    needs_device: bool = False  # cannot be Enabled without an external device


_VR = ("Vpn", "Dhcp", "Dns", "Gateway", "Firewall", "Lb", "SourceNat", "StaticNat", "PortForwarding", "UserData")
_VPC = ("Vpn", "Dhcp", "Dns", "Gateway", "Lb", "SourceNat", "StaticNat", "PortForwarding", "NetworkACL", "UserData")
PROVIDERS: dict[str, ProviderDef] = {p.name: p for p in (
    ProviderDef("VirtualRouter", _VR, "VirtualRouter", default=True),
    ProviderDef("SecurityGroupProvider", ("SecurityGroup",), default=True),
    ProviderDef("VpcVirtualRouter", _VPC, "VPCVirtualRouter", default=True),
    ProviderDef("InternalLbVm", ("Lb",), "InternalLbVm", default=True),
    ProviderDef("ConfigDrive", ("UserData",), default=True, state="Enabled"),
    ProviderDef("Ovs", ("Connectivity",)),
    ProviderDef("Netscaler", ("Lb", "StaticNat", "Firewall", "Gateway"), needs_device=True),
    ProviderDef("F5BigIp", ("Lb",), needs_device=True),
    ProviderDef("JuniperSRX", ("Firewall", "Gateway", "PortForwarding", "SourceNat", "StaticNat", "Vpn"),
                needs_device=True),
    ProviderDef("NiciraNvp", ("Connectivity", "Gateway", "SourceNat", "StaticNat", "PortForwarding"),
                needs_device=True),
    ProviderDef("BigSwitchBcf", ("Connectivity", "Firewall", "Gateway", "SourceNat", "StaticNat"),
                needs_device=True),
)}


def provider_def(name: str) -> ProviderDef:
    for p in PROVIDERS.values():
        if p.name.lower() == name.lower():
            return p
    raise ParamError(f"Invalid Network Service Provider={name}")


def resolve_traffic_type(name: str) -> str:
    for t in TRAFFIC_TYPES:
        if t.lower() == name.lower():
            return t
    raise ParamError(f"Unable to resolve trafficType '{name}' to a supported value")


def pn_state(value: str) -> str:
    if value not in ("Enabled", "Disabled"):
        raise ParamError(f"Unable to resolve state '{value}' to a supported value {{Enabled or Disabled}}")
    return value


async def check_physical_network(conn: AsyncConnection, zone: dict[str, Any], values: dict[str, Any]) -> None:
    """createPhysicalNetwork's refusals (reads only); `values` are the table's columns."""
    if zone["allocation_state"] == "Enabled":
        raise NotAllowed(f"Cannot create PhysicalNetwork since the Zone is currently enabled, zone: {zone['name']}")
    basic = zone["network_type"] == "Basic"
    if basic and await exists(conn, select(T_PN.c.id).where(T_PN.c.zone_id == zone["id"], T_PN.c.removed.is_(None))):
        raise InternalError(f"Cannot add the physical network to basic zone: {zone['name']}, there is a physical "
                            "network already existing in this basic Zone")
    if values.get("vlan") and basic:
        raise ParamError("Can't add vnet range to the physical network in the Basic zone")


async def insert_physical_network(conn: AsyncConnection, values: dict[str, Any]) -> int:
    """The physical network row and CloudStack's default providers, with their elements."""
    pn_id = await insert_row(conn, T_PN, values)
    methods = (values.get("isolation_methods") or "").upper().split(",")
    for p in PROVIDERS.values():
        if p.default or (p.name == "Ovs" and "GRE" in methods):
            await _insert_provider(conn, pn_id, p, p.state, None, p.services)
    return pn_id


async def _insert_provider(conn: AsyncConnection, pn_id: int, p: ProviderDef, state: str, dest: int | None,
                           services: tuple[str, ...], uuid: str | None = None) -> str:
    nsp = new_row(physical_network_id=pn_id, provider_name=p.name, state=state,
                  destination_physical_network_id=dest, service_list=",".join(services),
                  can_enable_individual_services=p.name in ("VirtualRouter", "VpcVirtualRouter"))
    if uuid:
        nsp["uuid"] = uuid
    nsp_id = await insert_row(conn, T_NSP, nsp)
    if p.element:
        await insert_row(conn, T_VRE, new_row(nsp_id=nsp_id, element_type=p.element, enabled=False))
    return str(nsp["uuid"])


class PhysicalNetworkEntity(InfraEntity):
    kind = "physical_network"
    label = "physical network"
    table: ClassVar[Table] = T_PN

    def supervision_path(self) -> tuple[str, ...]:
        return (f"zone:{self.row['zone_id']}",) if self.row.get("zone_id") else ()

    # -- the network itself ------------------------------------------------------------------------
    @operation()
    async def update(self, state: str | None = None, vlan: str | None = None, tags: list[str] | None = None,
                     speed: str | None = None) -> dict[str, Any]:
        self.alive()
        changes: dict[str, Any] = {}
        if tags is not None:
            if len(tags) > 1:
                raise ParamError("Unable to support more than one tag on network yet")
            changes["tags"] = tags[0] if tags else None
        if state:
            changes["state"] = pn_state(state)
        if speed is not None:
            changes["speed"] = speed
        zone_id = self.row["zone_id"]

        pn_id = self.row["id"]

        async def check(conn: AsyncConnection) -> None:
            if vlan is None:
                return
            if (await one(conn, select(T_ZONE.c.network_type).where(T_ZONE.c.id == zone_id)))[0] == "Basic":
                raise ParamError("Can't add vnet range to the physical network in the Basic zone")
            # A VLAN a guest network holds may not leave the range.
            keep = ipranges.vnet_set(vlan)
            for (uri,) in (await conn.execute(select(T_NET.c.broadcast_uri).where(
                    T_NET.c.physical_network_id == pn_id, T_NET.c.removed.is_(None),
                    T_NET.c.traffic_type == "Guest", T_NET.c.broadcast_uri.like("vlan://%")))).all():
                tag = uri[len("vlan://"):]
                if tag.isdigit() and int(tag) in ipranges.vnet_set(self.row.get("vlan")) and int(tag) not in keep:
                    raise ParamError(f"physicalnetwork {self.row['name']} has allocated vnets in the range "
                                     f"{tag}-{tag}")

        if vlan is not None:
            # The new range list replaces the old one (CloudStack adds the new VLANs and
            # removes the ones left out; none is handed out to a network yet).
            changes["vlan"] = ipranges.vnet_string(ipranges.vnet_set(vlan))
        await self.transact(changes, check=check)
        return {"id": self.ref.id}

    @operation()
    async def delete(self) -> dict[str, Any]:
        self.alive()
        pn_id, zone_id = self.row["id"], self.row["zone_id"]

        async def check(conn: AsyncConnection) -> None:
            why = "The Physical Network is not deletable because "
            if await exists(conn, select(T_NET.c.id).where(T_NET.c.physical_network_id == pn_id,
                                                           T_NET.c.removed.is_(None), T_NET.c.is_system.is_(False))):
                raise InternalError(why + "there are networks associated to this physical network")
            if await exists(conn, select(T_IP.c.id).where(T_IP.c.physical_network_id == pn_id,
                                                          T_IP.c.state != "Free")):
                raise InternalError(why + "there are public IP addresses allocated for this physical network")

        async def apply(conn: AsyncConnection) -> None:
            now = utcnow()
            ranges = select(T_VLAN.c.id).where(T_VLAN.c.physical_network_id == pn_id, T_VLAN.c.removed.is_(None))
            public = (await conn.execute(select(func.count()).select_from(T_IP).where(
                T_IP.c.vlan_range_id.in_(ranges.where(T_VLAN.c.for_virtual_network.is_(True)))))).scalar_one()
            if public:
                await add_capacity(conn, "zone", zone_id, CapacityType.PUBLIC_IP, -int(public), zone_id=zone_id)
            await conn.execute(delete(T_IP).where(T_IP.c.vlan_range_id.in_(ranges)))
            await conn.execute(update(T_VLAN).where(T_VLAN.c.physical_network_id == pn_id, T_VLAN.c.removed.is_(None))
                               .values(removed=now, version=T_VLAN.c.version + 1))
            nsps = select(T_NSP.c.id).where(T_NSP.c.physical_network_id == pn_id)
            await conn.execute(update(T_VRE).where(T_VRE.c.nsp_id.in_(nsps), T_VRE.c.removed.is_(None))
                               .values(removed=now, version=T_VRE.c.version + 1))
            await conn.execute(update(T_NSP).where(T_NSP.c.physical_network_id == pn_id, T_NSP.c.removed.is_(None))
                               .values(removed=now, state="Shutdown", version=T_NSP.c.version + 1))
            await conn.execute(update(T_TT).where(T_TT.c.physical_network_id == pn_id, T_TT.c.removed.is_(None))
                               .values(removed=now, version=T_TT.c.version + 1))

        await self.transact({"removed": utcnow(), "state": "Disabled"}, check=check, apply=apply)
        return {"success": True}

    # -- traffic types -------------------------------------------------------------------------------
    @operation()
    async def add_traffic_type(self, uuid: str, traffic_type: str, kvm_label: str | None = None,
                               vlan: str | None = None, labels: dict[str, str] | None = None) -> dict[str, Any]:
        self.alive()
        ttype = resolve_traffic_type(traffic_type)
        pn_id, zone_id = self.row["id"], self.row["zone_id"]

        async def check(conn: AsyncConnection) -> None:
            if await exists(conn, select(T_TT.c.id).where(T_TT.c.uuid == uuid)):
                return  # a resumed job: it was added already
            if await exists(conn, select(T_TT.c.id).where(T_TT.c.physical_network_id == pn_id,
                                                          T_TT.c.traffic_type == ttype, T_TT.c.removed.is_(None))):
                raise InternalError(f"This physical network already supports the traffic type: {ttype}")
            if ttype in ZONE_UNIQUE_TRAFFIC and await exists(conn, select(T_TT.c.id).select_from(
                    T_TT.join(T_PN, T_TT.c.physical_network_id == T_PN.c.id)).where(
                    T_PN.c.zone_id == zone_id, T_PN.c.removed.is_(None), T_TT.c.traffic_type == ttype,
                    T_TT.c.removed.is_(None))):
                raise InternalError("Fail to add the traffic type to physical network because Zone already has a "
                                    f"physical network with this traffic type: {ttype}")

        async def apply(conn: AsyncConnection) -> None:
            if await exists(conn, select(T_TT.c.id).where(T_TT.c.uuid == uuid)):
                return
            tt_id = await insert_row(conn, T_TT, new_row(uuid=uuid, physical_network_id=pn_id, traffic_type=ttype,
                                                         kvm_network_label=kvm_label, vlan=vlan))
            await _write_labels(conn, tt_id, labels or {})

        await self.transact(check=check, apply=apply)
        return {"id": uuid}

    async def _traffic_row(self, conn: AsyncConnection, tt_uuid: str) -> Any:
        row = await one(conn, select(T_TT).where(T_TT.c.uuid == tt_uuid, T_TT.c.physical_network_id == self.row["id"],
                                                 T_TT.c.removed.is_(None)))
        if row is None:
            raise ParamError(f"Traffic Type with id={tt_uuid}doesn't exist in the system")
        return row

    @operation()
    async def update_traffic_type(self, tt_uuid: str, kvm_label: str | None = None,
                                  labels: dict[str, str] | None = None) -> dict[str, Any]:
        self.alive()

        async def apply(conn: AsyncConnection) -> None:
            row = await self._traffic_row(conn, tt_uuid)
            if kvm_label is not None:
                await conn.execute(update(T_TT).where(T_TT.c.id == row.id).values(
                    kvm_network_label=kvm_label or None, version=T_TT.c.version + 1))
            await _write_labels(conn, row.id, labels or {})

        await self.transact(check=lambda conn: self._traffic_row(conn, tt_uuid), apply=apply)
        return {"id": tt_uuid}

    @operation()
    async def delete_traffic_type(self, tt_uuid: str) -> dict[str, Any]:
        self.alive()
        pn_id = self.row["id"]

        async def check(conn: AsyncConnection) -> None:
            row = await self._traffic_row(conn, tt_uuid)
            if row.traffic_type == "Guest" and await exists(conn, select(T_NET.c.id).where(
                    T_NET.c.physical_network_id == pn_id, T_NET.c.traffic_type == "Guest",
                    T_NET.c.removed.is_(None))):
                raise InternalError("The Traffic Type is not deletable because there are existing networks with "
                                    "this traffic type:Guest")

        async def apply(conn: AsyncConnection) -> None:
            await conn.execute(update(T_TT).where(T_TT.c.uuid == tt_uuid).values(
                removed=utcnow(), version=T_TT.c.version + 1))

        await self.transact(check=check, apply=apply)
        return {"success": True}

    # -- providers and their elements ---------------------------------------------------------------
    async def _provider_row(self, conn: AsyncConnection, nsp_uuid: str) -> Any:
        row = await one(conn, select(T_NSP).where(T_NSP.c.uuid == nsp_uuid, T_NSP.c.removed.is_(None),
                                                  T_NSP.c.physical_network_id == self.row["id"]))
        if row is None:
            raise ParamError(f"Network Service Provider id={nsp_uuid}doesn't exist in the system")
        return row

    @operation()
    async def add_provider(self, uuid: str, name: str, destination_id: int | None = None,
                           services: list[str] | None = None) -> dict[str, Any]:
        self.alive()
        p = provider_def(name)
        pn_id = self.row["id"]
        if services is not None and not set(services) <= set(p.services):
            extra = sorted(set(services) - set(p.services))
            raise ParamError(f"Provider {p.name} does not provide the services {extra}")

        async def check(conn: AsyncConnection) -> None:
            if await exists(conn, select(T_NSP.c.id).where(T_NSP.c.uuid == uuid)):
                return  # a resumed job
            if await exists(conn, select(T_NSP.c.id).where(T_NSP.c.physical_network_id == pn_id,
                                                           T_NSP.c.provider_name == p.name, T_NSP.c.removed.is_(None))):
                raise InternalError(f"The '{p.name}' provider already exists on physical network : {self.row['name']}")

        async def apply(conn: AsyncConnection) -> None:
            if not await exists(conn, select(T_NSP.c.id).where(T_NSP.c.uuid == uuid)):
                await _insert_provider(conn, pn_id, p, "Disabled", destination_id,
                                       tuple(services) if services else p.services, uuid=uuid)

        await self.transact(check=check, apply=apply)
        return {"id": uuid}

    @operation()
    async def update_provider(self, nsp_uuid: str, state: str | None = None,
                              services: list[str] | None = None) -> dict[str, Any]:
        self.alive()
        if state is not None and state not in ("Enabled", "Disabled", "Shutdown"):
            raise ParamError(f"Unable to resolve state '{state}' to a supported value {{Enabled or Disabled}}")
        if state == "Shutdown":
            raise ParamError("Updating the provider state to 'Shutdown' is not supported")
        values: dict[str, Any] = {}

        async def check(conn: AsyncConnection) -> None:
            row = await self._provider_row(conn, nsp_uuid)
            p = provider_def(row.provider_name)
            if state == "Enabled" and not await _ready(conn, row, p):
                raise InternalError("Provider is not ready, cannot Enable the provider, please configure the "
                                    "provider first")
            if services is not None:
                if not row.can_enable_individual_services:
                    raise ParamError(f"Cannot update set of Services for this Service Provider '{p.name}'")
                if not set(services) <= set(p.services):
                    raise ParamError(f"Provider {p.name} does not provide {sorted(set(services) - set(p.services))}")
                values["service_list"] = ",".join(services)
            if state is not None:
                values["state"] = state

        async def apply(conn: AsyncConnection) -> None:
            if values:
                await conn.execute(update(T_NSP).where(T_NSP.c.uuid == nsp_uuid).values(
                    **values, version=T_NSP.c.version + 1))

        await self.transact(check=check, apply=apply)
        return {"id": nsp_uuid}

    @operation()
    async def delete_provider(self, nsp_uuid: str) -> dict[str, Any]:
        self.alive()

        async def apply(conn: AsyncConnection) -> None:
            row = await self._provider_row(conn, nsp_uuid)
            now = utcnow()
            await conn.execute(update(T_VRE).where(T_VRE.c.nsp_id == row.id, T_VRE.c.removed.is_(None))
                               .values(removed=now, version=T_VRE.c.version + 1))
            await conn.execute(update(T_NSP).where(T_NSP.c.id == row.id).values(
                removed=now, state="Shutdown", version=T_NSP.c.version + 1))

        await self.transact(check=lambda conn: self._provider_row(conn, nsp_uuid), apply=apply)
        return {"success": True}

    @operation()
    async def configure_element(self, element_uuid: str, enabled: bool) -> dict[str, Any]:
        self.alive()
        pn_id = self.row["id"]

        async def check(conn: AsyncConnection) -> None:
            if not await exists(conn, select(T_VRE.c.id).select_from(T_VRE.join(T_NSP, T_VRE.c.nsp_id == T_NSP.c.id))
                                .where(T_VRE.c.uuid == element_uuid, T_VRE.c.removed.is_(None),
                                       T_NSP.c.physical_network_id == pn_id)):
                raise ParamError(f"Can't find element with network service provider id {element_uuid}")

        async def apply(conn: AsyncConnection) -> None:
            await conn.execute(update(T_VRE).where(T_VRE.c.uuid == element_uuid).values(
                enabled=enabled, version=T_VRE.c.version + 1))

        await self.transact(check=check, apply=apply)
        return {"id": element_uuid}


async def _ready(conn: AsyncConnection, nsp: Any, p: ProviderDef) -> bool:
    """A provider may be Enabled once its element is (CloudStack's isReady)."""
    if p.needs_device:
        return False
    if p.element is None:
        return True
    return await exists(conn, select(T_VRE.c.id).where(T_VRE.c.nsp_id == nsp.id, T_VRE.c.enabled.is_(True),
                                                       T_VRE.c.removed.is_(None)))


async def _write_labels(conn: AsyncConnection, tt_id: int, labels: dict[str, str]) -> None:
    for name, value in labels.items():
        if name not in OTHER_LABELS:
            continue
        await conn.execute(delete(T_DETAIL).where(T_DETAIL.c.resource_type == TT_DETAIL,
                                                  T_DETAIL.c.resource_id == tt_id, T_DETAIL.c.name == name))
        if value:
            await insert_row(conn, T_DETAIL, {"resource_type": TT_DETAIL, "resource_id": tt_id, "name": name,
                                              "value": value, "display": True})

