"""IP ranges (`vlan_ip_range`): public ranges of a zone, guest ranges of a
shared network, and pods' management ranges.

The zone creates every range (so overlap checks across its ranges are
serialised by one mailbox) and a public range's addresses are rows from the
start (`ip_address`, state Free), so acquiring one later is a conditional
UPDATE. Once created, a range is its own entity: deleted, dedicated to an
account or domain, released.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.actors.entity import operation
from cloudplane.actors.kinds import ipranges
from cloudplane.actors.kinds.infrabase import InfraEntity, add_capacity, exists, insert_row, new_row
from cloudplane.errors import InternalError, ParamError
from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.tables.capacity import CapacityType
from cloudplane.store.tables.network import IpAddress, Network, PhysicalNetwork, VlanIpRange

T_VLAN: Table = VlanIpRange.__table__  # type: ignore[attr-defined]
T_IP: Table = IpAddress.__table__  # type: ignore[attr-defined]
T_PN: Table = PhysicalNetwork.__table__  # type: ignore[attr-defined]
T_NET: Table = Network.__table__  # type: ignore[attr-defined]

PUBLIC, GUEST, POD = "public", "guest", "pod"


@dataclass(frozen=True)
class RangeSpec:
    """A range to create, already resolved to internal ids."""

    uuid: str
    range_type: str  # public | guest | pod
    gateway: str
    netmask: str
    start_ip: str
    end_ip: str
    vlan_tag: str | None = None  # "vlan://50" or "untagged"; None for pod ranges
    pod_id: int | None = None
    physical_network_id: int | None = None
    network_id: int | None = None
    for_virtual_network: bool = True
    for_system_vms: bool = False
    account_id: int | None = None
    domain_id: int | None = None

    def values(self, zone_id: int) -> dict[str, Any]:
        return new_row(uuid=self.uuid, range_type=self.range_type, zone_id=zone_id, pod_id=self.pod_id,
                       physical_network_id=self.physical_network_id, network_id=self.network_id,
                       vlan_tag=self.vlan_tag, gateway=self.gateway, netmask=self.netmask, start_ip=self.start_ip,
                       end_ip=self.end_ip, for_virtual_network=self.for_virtual_network,
                       for_system_vms=self.for_system_vms, account_id=self.account_id, domain_id=self.domain_id,
                       description=f"{self.start_ip}-{self.end_ip}")


def _same_vlan(a: str | None, b: str | None) -> bool:
    a, b = a or ipranges.UNTAGGED, b or ipranges.UNTAGGED
    return a == b or ipranges.UNTAGGED in (a, b)


async def check_new_range(conn: AsyncConnection, zone: dict[str, Any], spec: RangeSpec) -> None:
    """Refuse a range that collides with the zone's ranges (reads only). Pod ranges are
    checked against public addresses; public and guest ranges against each other, the
    pods' ranges and the guest VLANs of the zone's physical networks."""
    zone_id = zone["id"]
    rows = (await conn.execute(select(T_VLAN).where(T_VLAN.c.zone_id == zone_id, T_VLAN.c.removed.is_(None)))).all()
    if spec.range_type == POD:
        for r in rows:
            if r.range_type == PUBLIC and ipranges.overlaps(spec.start_ip, spec.end_ip, r.start_ip, r.end_ip):
                clash = max(ipranges.IPv4(spec.start_ip), ipranges.IPv4(r.start_ip))
                raise ParamError(f"The Start IP and endIP address range overlap with Public IP :{clash}")
        return
    new_net = ipranges.cidr_of(spec.gateway, spec.netmask)
    for r in rows:
        if r.range_type == POD:
            if ipranges.overlaps(spec.start_ip, spec.end_ip, r.start_ip, r.end_ip):
                raise ParamError("The Start IP and EndIP address range overlap with private IP "
                                 f":{r.start_ip}:{r.end_ip}")
            continue
        if not (r.gateway and r.netmask) or not new_net.overlaps(ipranges.cidr_of(r.gateway, r.netmask)):
            continue
        if spec.range_type == GUEST and r.range_type == GUEST and r.network_id != spec.network_id:
            continue  # another network's subnet (isolated by its VLAN)
        if _same_vlan(spec.vlan_tag, r.vlan_tag):
            if spec.gateway != r.gateway or spec.netmask != r.netmask:
                raise ParamError(f"The IP range has already been added with gateway {r.gateway} ,and netmask "
                                 f"{r.netmask}, Please specify the gateway/netmask if you want to extend ip range")
            if ipranges.overlaps(spec.start_ip, spec.end_ip, r.start_ip, r.end_ip):
                raise ParamError("The IP range already has IPs that overlap with the new range. Please specify a "
                                 "different start IP/end IP.")
        elif PUBLIC in (spec.range_type, r.range_type):
            raise ParamError(f"The IP range with tag: {r.vlan_tag} in zone {zone['name']} has overlapped with the "
                             "subnet. Please specify a different gateway/netmask.")
    if spec.vlan_tag and spec.vlan_tag.startswith("vlan://") and spec.range_type == PUBLIC:
        vid = int(spec.vlan_tag[len("vlan://"):])
        for (vnets,) in (await conn.execute(select(T_PN.c.vlan).where(T_PN.c.zone_id == zone_id,
                                                                      T_PN.c.removed.is_(None)))).all():
            if vid in ipranges.vnet_set(vnets):
                raise ParamError(f"The VLAN tag {spec.vlan_tag} is already being used for dynamic vlan allocation for "
                                 f"the guest network in zone {zone['name']}")


async def insert_range(conn: AsyncConnection, zone_id: int, spec: RangeSpec) -> int:
    """The range row; a public range's addresses as Free `ip_address` rows, counted into the
    zone's public-IP capacity."""
    values = spec.values(zone_id)
    source = None
    if spec.range_type == PUBLIC:
        # A public range lives on the zone's Public system network.
        source = (await conn.execute(select(T_NET.c.id).where(
            T_NET.c.zone_id == zone_id, T_NET.c.traffic_type == "Public", T_NET.c.is_system.is_(True),
            T_NET.c.removed.is_(None)).limit(1))).scalar()
        values["network_id"] = values["network_id"] or source
    range_id = await insert_row(conn, T_VLAN, values)
    if spec.range_type == PUBLIC:
        now = utcnow()
        rows = [{"uuid": new_uuid(), "version": 1, "created": now, "public_ip": ip, "zone_id": zone_id,
                 "vlan_range_id": range_id, "physical_network_id": spec.physical_network_id,
                 "source_network_id": source, "state": "Free", "is_source_nat": False, "is_static_nat": False,
                 "is_system": False, "is_portable": False, "display": True}
                for ip in ipranges.addresses(spec.start_ip, spec.end_ip)]
        for i in range(0, len(rows), 1000):
            await conn.execute(insert(T_IP), rows[i:i + 1000])
        if spec.for_virtual_network:
            await add_capacity(conn, "zone", zone_id, CapacityType.PUBLIC_IP, len(rows), zone_id=zone_id)
    elif spec.range_type == POD and spec.pod_id is not None:
        await add_capacity(conn, "pod", spec.pod_id, CapacityType.PRIVATE_IP,
                           ipranges.size(spec.start_ip, spec.end_ip), zone_id=zone_id, pod_id=spec.pod_id)
    return range_id


async def remove_ranges(conn: AsyncConnection, where: Any) -> None:
    """Drop ranges selected by `where` (a clause on vlan_ip_range), their addresses and
    their share of the zone's public-IP capacity. The caller checked nothing is in use."""
    for r in (await conn.execute(select(T_VLAN).where(where, T_VLAN.c.removed.is_(None)))).all():
        await _remove(conn, r)


async def _remove(conn: AsyncConnection, r: Any, *, mark: bool = True) -> None:
    n = (await conn.execute(select(func.count()).select_from(T_IP).where(T_IP.c.vlan_range_id == r.id))).scalar_one()
    if n and r.range_type == PUBLIC and r.for_virtual_network:
        await add_capacity(conn, "zone", r.zone_id, CapacityType.PUBLIC_IP, -int(n), zone_id=r.zone_id)
    if r.range_type == POD and r.pod_id is not None and r.start_ip and r.end_ip:
        await add_capacity(conn, "pod", r.pod_id, CapacityType.PRIVATE_IP, -ipranges.size(r.start_ip, r.end_ip),
                           zone_id=r.zone_id, pod_id=r.pod_id)
    await conn.execute(delete(T_IP).where(T_IP.c.vlan_range_id == r.id))
    if mark:
        await conn.execute(T_VLAN.update().where(T_VLAN.c.id == r.id).values(
            removed=utcnow(), version=T_VLAN.c.version + 1))


async def allocated_in(conn: AsyncConnection, where: Any) -> bool:
    """Whether any address of the ranges selected by `where` is handed out."""
    ranges = select(T_VLAN.c.id).where(where, T_VLAN.c.removed.is_(None))
    return await exists(conn, select(T_IP.c.id).where(T_IP.c.vlan_range_id.in_(ranges), T_IP.c.state != "Free"))


class VlanIpRangeEntity(InfraEntity):
    kind = "vlan_ip_range"
    label = "vlan ip range"
    table: ClassVar[Table] = T_VLAN

    def supervision_path(self) -> tuple[str, ...]:
        return (f"zone:{self.row['zone_id']}",) if self.row.get("zone_id") else ()

    @operation()
    async def delete(self) -> dict[str, Any]:
        if self.row.get("removed") is not None:
            return {"success": True}
        range_id = self.row["id"]

        async def check(conn: AsyncConnection) -> None:
            if await allocated_in(conn, T_VLAN.c.id == range_id):
                raise ParamError("The IP range can't be deleted because it has allocated public IP addresses.")

        async def apply(conn: AsyncConnection) -> None:
            await _remove(conn, await _current(conn, range_id), mark=False)

        await self.transact({"removed": utcnow()}, check=check, apply=apply)
        return {"success": True}

    @operation()
    async def dedicate(self, account_id: int | None, domain_id: int) -> dict[str, Any]:
        self.alive()
        if self.row["range_type"] != PUBLIC:
            raise ParamError(f"Only a public IP range can be dedicated; {self.ref.id} is a "
                             f"{self.row['range_type']} range")
        if self.row.get("account_id") is not None or self.row.get("domain_id") is not None:
            raise ParamError(f"Public IP range {self.ref.id} is already dedicated")
        range_id = self.row["id"]

        async def check(conn: AsyncConnection) -> None:
            q = select(T_IP.c.id).where(T_IP.c.vlan_range_id == range_id, T_IP.c.state != "Free")
            if account_id is not None:
                q = q.where(T_IP.c.account_id != account_id)
            if await exists(conn, q):
                raise InternalError(f"Public IP address in range {self.ref.id} is already allocated to another account")

        await self.transact({"account_id": account_id, "domain_id": domain_id}, check=check)
        return {"id": self.ref.id}

    @operation()
    async def release(self) -> dict[str, Any]:
        self.alive()
        if self.row.get("account_id") is None and self.row.get("domain_id") is None:
            raise ParamError(f"Public IP range {self.ref.id} is not dedicated")
        await self.transact({"account_id": None, "domain_id": None})
        return {"success": True}


async def _current(conn: AsyncConnection, range_id: int) -> Any:
    return (await conn.execute(select(T_VLAN).where(T_VLAN.c.id == range_id))).first()
