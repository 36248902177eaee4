"""The virtual router of an isolated guest network, and the public addresses
it serves.

A router is a DomainRouter system VM (`r-<id>-VM`), created, given its NICs
and started by its network's implementation, stopped by network GC, and
destroyed with its network (or by destroyRouter, or restartNetwork with
cleanup; the next implementation then creates a new one under a new id).
Everything here runs inside an operation of the network entity (`net`), which
serialises it per network; the router's own state changes are operations of
its VM entity. Its NICs:

    eth0  the guest network, with the network's gateway address
    eth1  the zone's Control network (link-local)
    eth2  the zone's Public network, with the network's source-NAT address

Public addresses are `ip_address` rows, Free from the start (the zone creates
them with their range); taking one is a conditional UPDATE of a Free row, so
two claims can never get the same one.
"""

from __future__ import annotations

import uuid as _uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, bindparam, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.actors.identity import EntityRef
from cloudplane.actors.kinds.host import host_ref
from cloudplane.actors.kinds.limits import reservation
from cloudplane.agentproto import Cmd
from cloudplane.errors import ApiError, Insufficient, InternalError, ParamError
from cloudplane.store import limits, prepared
from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.tables.compute import ServiceOffering, VmInstance
from cloudplane.store.tables.images import Template
from cloudplane.store.tables.infra import Cluster, Host, Zone
from cloudplane.store.tables.network import IpAddress, Network, NetworkOffering, Nic, VlanIpRange

if TYPE_CHECKING:
    from cloudplane.actors.kinds.network import NetworkEntity

T_VM: Table = VmInstance.__table__  # type: ignore[attr-defined]
T_NIC: Table = Nic.__table__  # type: ignore[attr-defined]
T_NET: Table = Network.__table__  # type: ignore[attr-defined]
T_NO: Table = NetworkOffering.__table__  # type: ignore[attr-defined]
T_SO: Table = ServiceOffering.__table__  # type: ignore[attr-defined]
T_TPL: Table = Template.__table__  # type: ignore[attr-defined]
T_IP: Table = IpAddress.__table__  # type: ignore[attr-defined]
T_RANGE: Table = VlanIpRange.__table__  # type: ignore[attr-defined]
T_HOST: Table = Host.__table__  # type: ignore[attr-defined]
T_CLUSTER: Table = Cluster.__table__  # type: ignore[attr-defined]
T_ZONE: Table = Zone.__table__  # type: ignore[attr-defined]

NS = _uuid.UUID("0b7c58a2-47f1-4c55-9d1e-2a6f3e9c4d10")
GONE = ("Destroyed", "Expunging")
CLAIM_ATTEMPTS = 10


def router_uuid(network_uuid: str, generation: int) -> str:
    """Deterministic per network and generation (how many routers it had before), so a
    resumed implementation reaches the router it began to create, never a second one."""
    return str(_uuid.uuid5(NS, f"{network_uuid}:router:{generation}"))


@dataclass(frozen=True)
class Router:
    id: int
    uuid: str
    state: str
    placement_key: str | None
    instance_name: str | None

    @property
    def ref(self) -> EntityRef:
        return EntityRef("vm", self.uuid, self.placement_key)


# Read on every VM start in the network: built once (building it cost more than running it).
_ROUTERS = select(T_VM.c.id, T_VM.c.uuid, T_VM.c.state, T_VM.c.placement_key, T_VM.c.instance_name,
                  T_VM.c.removed).where(T_VM.c.type == "DomainRouter", T_VM.c.id.in_(
                      select(T_NIC.c.instance_id).where(T_NIC.c.network_id == bindparam("b_net")))).order_by(T_VM.c.id)


async def current(net: NetworkEntity) -> tuple[Router | None, int]:
    """The network's live router, if any, and how many it has had."""
    async with prepared.reading(net.host.engine) as conn:
        rows = (await prepared.execute(conn, _ROUTERS, {"b_net": net.row["id"]})).all()
    live = [r for r in rows if r.removed is None and r.state not in GONE]
    r = live[-1] if live else None
    return (Router(r.id, r.uuid, r.state, r.placement_key, r.instance_name) if r else None), len(rows)


async def ensure(net: NetworkEntity, *, fresh: bool) -> Router:
    """The network has a Running router with its NICs (created if it has none). A router
    just started, or a network just implemented (`fresh`), is sent its guest network."""
    r, generation = await current(net)
    if r is not None and r.state == "Running" and not fresh:
        return r  # the common case: a VM starting in a network that is up
    if r is None:
        r = await _create(net, generation)
    await _ensure_nics(net, r)
    started = r.state != "Running"
    if started:
        await net.host.call_entity(r.ref, "start", {})
    if started or fresh:
        await _setup_guest_network(net, r)
    return r


async def _create(net: NetworkEntity, generation: int) -> Router:
    row = net.row
    async with net.host.engine.connect() as conn:
        zone = (await conn.execute(select(T_ZONE.c.uuid).where(T_ZONE.c.id == row["zone_id"]))).scalar()
        so_id = (await conn.execute(select(T_NO.c.service_offering_id).where(
            T_NO.c.id == row["network_offering_id"]))).scalar()
        q = select(T_SO).where(T_SO.c.id == so_id) if so_id else select(T_SO).where(
            T_SO.c.is_system.is_(True), T_SO.c.system_vm_type == "domainrouter", T_SO.c.default_use.is_(True))
        so = (await conn.execute(q.limit(1))).first()
        template = (await conn.execute(select(T_TPL.c.id).where(T_TPL.c.template_type == "SYSTEM")
                                       .order_by(T_TPL.c.id).limit(1))).scalar()
        hypervisor = (await conn.execute(select(T_HOST.c.hypervisor_type).where(
            T_HOST.c.zone_id == row["zone_id"], T_HOST.c.type == "Routing", T_HOST.c.removed.is_(None))
            .limit(1))).scalar()
    if so is None:
        raise InternalError("No system offering for virtual routers (domainrouter) exists")
    uuid = router_uuid(net.ref.id, generation)
    values = {"name": "router", "type": "DomainRouter", "zone_id": row["zone_id"], "account_id": row["account_id"],
              "domain_id": row["domain_id"], "service_offering_id": so.id, "template_id": template,
              "hypervisor_type": hypervisor or "Simulator", "cpu_count": so.cpu_count or 1,
              "cpu_speed_mhz": so.cpu_speed_mhz or 500, "ram_mb": so.ram_mb or 256, "ha_enabled": True}
    ref = EntityRef("vm", uuid, str(zone))
    created = await net.host.call_entity(ref, "create", {"values": values, "start": False})
    async with net.host.engine.connect() as conn:
        vm = (await conn.execute(select(T_VM.c.id, T_VM.c.instance_name).where(T_VM.c.uuid == uuid))).one()
    return Router(vm.id, uuid, str(created["state"]), str(zone), vm.instance_name)


async def _zone_network(conn: AsyncConnection, zone_id: int, traffic: str) -> Any:
    return (await conn.execute(select(T_NET.c.id, T_NET.c.uuid).where(
        T_NET.c.zone_id == zone_id, T_NET.c.traffic_type == traffic, T_NET.c.is_system.is_(True),
        T_NET.c.removed.is_(None)).order_by(T_NET.c.id).limit(1))).first()


def _nic(vm_id: int, network_id: int, device: int, default: bool, traffic: str, **values: Any) -> dict[str, Any]:
    from cloudplane.actors.kinds.network import random_mac

    return {"uuid": new_uuid(), "version": 1, "created": utcnow(), "instance_id": vm_id, "network_id": network_id,
            "device_id": device, "is_default": default, "mac_address": random_mac(), "traffic_type": traffic,
            "mode": "Static", "state": "Reserved", **values}


async def _ensure_nics(net: NetworkEntity, r: Router) -> None:
    """Whatever NIC the router lacks (a resumed implementation may have added some)."""
    row = net.row
    async with net.host.engine.connect() as conn:
        have = {n.network_id for n in (await conn.execute(select(T_NIC.c.network_id).where(
            T_NIC.c.instance_id == r.id, T_NIC.c.removed.is_(None)))).all()}
        control = await _zone_network(conn, row["zone_id"], "Control")
    if row["id"] not in have:
        uri = row.get("broadcast_uri")
        await net.host.writer.insert(T_NIC, _nic(r.id, row["id"], 0, False, "Guest", ip4_address=row.get("gateway"),
                                                 netmask=row.get("netmask"), broadcast_uri=uri, isolation_uri=uri))
    if control is not None and control.id not in have:
        await net.host.call_entity(EntityRef("network", control.uuid), "allocate_nic",
                                   {"vm_id": r.id, "device": 1, "default": False})
    if "SourceNat" not in await net.services():
        return
    ip = await source_nat_ip(net)
    if ip is None:
        ip = await acquire_public_ip(net, row["account_id"], row["domain_id"], None, source_nat=True)
    async with net.host.engine.connect() as conn:
        plugged = (await conn.execute(select(T_NIC.c.id).where(
            T_NIC.c.instance_id == r.id, T_NIC.c.removed.is_(None), T_NIC.c.ip4_address == ip.public_ip))).first()
        rng = (await conn.execute(select(T_RANGE).where(T_RANGE.c.id == ip.vlan_range_id))).one()
        public_net = ip.source_network_id or getattr(await _zone_network(conn, row["zone_id"], "Public"), "id", None)
    if plugged is None and public_net is not None:
        tag = rng.vlan_tag or "untagged"
        uri = tag if tag.startswith("vlan://") else f"vlan://{tag}"
        await net.host.writer.insert(T_NIC, _nic(r.id, public_net, 2, True, "Public", ip4_address=ip.public_ip,
                                                 netmask=rng.netmask, gateway=rng.gateway, broadcast_uri=uri,
                                                 isolation_uri=uri))


async def _setup_guest_network(net: NetworkEntity, r: Router) -> None:
    """SetupGuestNetworkCommand to the router's host: its guest network's VLAN and addresses."""
    row = net.row
    async with net.host.engine.connect() as conn:
        h = (await conn.execute(select(T_HOST.c.uuid, T_CLUSTER.c.uuid.label("cluster")).select_from(
            T_VM.join(T_HOST, T_VM.c.host_id == T_HOST.c.id).outerjoin(
                T_CLUSTER, T_HOST.c.cluster_id == T_CLUSTER.c.id)).where(T_VM.c.id == r.id))).first()
        name = (await conn.execute(select(T_VM.c.instance_name).where(T_VM.c.id == r.id))).scalar()
    if h is None:
        return
    snat = await source_nat_ip(net)
    args = {"router": name, "network": net.ref.id, "broadcast_uri": row.get("broadcast_uri"),
            "gateway": row.get("gateway"), "cidr": row.get("cidr"), "netmask": row.get("netmask"),
            "dns1": row.get("dns1"), "dns2": row.get("dns2"), "domain": row.get("network_domain"),
            "source_nat": snat.public_ip if snat is not None else None}
    try:
        ans = await net.host.call_entity(host_ref(h.uuid, h.cluster), "command",
                                         {"name": Cmd.SETUP_NETWORK, "args": args})
    except ApiError as e:
        raise InternalError(f"Router {name} could not set up network {net.ref.id}: {e.text}") from None
    if not ans["ok"]:
        raise InternalError(f"Router {name} could not set up network {net.ref.id}: {ans.get('error')}")


async def stop(net: NetworkEntity, r: Router) -> None:
    if r.state in ("Running", "Error", "Stopping"):
        await net.host.call_entity(r.ref, "stop", {"forced": True})


async def destroy(net: NetworkEntity, r: Router) -> None:
    """Its guest NIC is released here first: the router's own expunge then releases only the
    NICs it has in other networks (it would otherwise wait on this network's mailbox)."""
    await stop(net, r)
    router_id, net_id = r.id, net.row["id"]

    async def work(conn: AsyncConnection) -> None:
        await conn.execute(update(T_NIC).where(T_NIC.c.instance_id == router_id, T_NIC.c.network_id == net_id,
                                               T_NIC.c.removed.is_(None))
                           .values(removed=utcnow(), state="Deallocating", version=T_NIC.c.version + 1))

    await net.host.writer.submit(work)
    await net.host.call_entity(r.ref, "destroy", {"expunge": True})


# -- public addresses --------------------------------------------------------------------------------

async def source_nat_ip(net: NetworkEntity) -> Any:
    async with net.host.engine.connect() as conn:
        return (await conn.execute(select(T_IP).where(
            T_IP.c.associated_network_id == net.row["id"], T_IP.c.is_source_nat.is_(True)))).first()


async def acquire_public_ip(net: NetworkEntity, account_id: int, domain_id: int, ip: str | None, *,
                            source_nat: bool) -> Any:
    """A Free address of the zone's public ranges (ranges dedicated to the account or its
    domain first), taken by a conditional UPDATE; `ip` asks for that one."""
    zone_id, net_id = net.row["zone_id"], net.row["id"]
    undedicated = T_RANGE.c.domain_id.is_(None) | (T_RANGE.c.domain_id == domain_id)
    usable = or_(T_RANGE.c.account_id == account_id, T_RANGE.c.account_id.is_(None) & undedicated)
    q = (select(T_IP.c.id).select_from(T_IP.join(T_RANGE, T_IP.c.vlan_range_id == T_RANGE.c.id))
         .where(T_IP.c.zone_id == zone_id, T_IP.c.state == "Free", T_RANGE.c.removed.is_(None),
                T_RANGE.c.range_type == "public", T_RANGE.c.for_virtual_network.is_(True),
                T_RANGE.c.for_system_vms.is_(False), usable)
         .order_by(case((T_RANGE.c.account_id == account_id, 0), (T_RANGE.c.domain_id == domain_id, 1), else_=2),
                   T_IP.c.id).limit(CLAIM_ATTEMPTS))
    if ip is not None:
        q = q.where(T_IP.c.public_ip == ip)
    for _ in range(CLAIM_ATTEMPTS):
        async with net.host.engine.connect() as conn:
            ids = [r[0] for r in (await conn.execute(q)).all()]
        if not ids:
            if ip is not None:
                raise ParamError(f"Public IP address {ip} is not free in zone {net.row['zone_id']} or cannot be "
                                 "used by the account")
            raise Insufficient(f"Insufficient address capacity: no free public IP address in zone "
                               f"{net.row['zone_id']} for network {net.ref.id}")
        for ip_id in ids:
            if await _take(net, ip_id, account_id, domain_id, net_id, source_nat):
                async with net.host.engine.connect() as conn:
                    return (await conn.execute(select(T_IP).where(T_IP.c.id == ip_id))).one()
    raise Insufficient(f"Could not acquire a public IP address for network {net.ref.id}: lost every race")


async def _take(net: NetworkEntity, ip_id: int, account_id: int, domain_id: int, net_id: int,
                source_nat: bool) -> bool:
    need = {"public_ip": 1}
    defaults = await reservation(net.host, account_id, need)

    async def work(conn: AsyncConnection) -> bool:
        await limits.reserve(conn, account_id, need, defaults)  # 532 before the address is taken
        res = await conn.execute(update(T_IP).where(T_IP.c.id == ip_id, T_IP.c.state == "Free").values(
            state="Allocated", account_id=account_id, domain_id=domain_id, associated_network_id=net_id,
            is_source_nat=source_nat, allocated=utcnow(), version=T_IP.c.version + 1))
        if res.rowcount != 1:
            await limits.release(conn, account_id, need)  # lost the race for this address
        return bool(res.rowcount == 1)

    return bool(await net.host.writer.submit(work))


_FREE = {"state": "Free", "account_id": None, "domain_id": None, "associated_network_id": None,
         "is_source_nat": False, "is_static_nat": False, "instance_id": None, "instance_ip": None, "allocated": None}


async def release_public_ip(net: NetworkEntity, ip_uuid: str) -> None:
    async with net.host.engine.connect() as conn:
        row = (await conn.execute(select(T_IP).where(T_IP.c.uuid == ip_uuid))).first()
    if row is None or row.associated_network_id != net.row["id"]:
        raise ParamError(f"Public IP address {ip_uuid} is not associated with network {net.ref.id}")
    if row.is_source_nat:
        raise ParamError(f"IP address {row.public_ip} is used for source NAT and cannot be disassociated")

    async def work(conn: AsyncConnection) -> None:
        res = await conn.execute(update(T_IP).where(T_IP.c.id == row.id,
                                                    T_IP.c.associated_network_id == net.row["id"])
                                 .values(**_FREE, version=T_IP.c.version + 1))
        if res.rowcount == 1 and row.account_id is not None and not row.is_system:
            await limits.release(conn, row.account_id, {"public_ip": 1})

    await net.host.writer.submit(work)


async def release_public_ips(net: NetworkEntity) -> None:
    """All of the network's addresses, source NAT included (the network is being deleted)."""
    net_id = net.row["id"]

    async def work(conn: AsyncConnection) -> None:
        held = (await conn.execute(select(T_IP.c.account_id, func.count()).where(
            T_IP.c.associated_network_id == net_id, T_IP.c.account_id.is_not(None), T_IP.c.is_system.is_(False))
            .group_by(T_IP.c.account_id))).all()
        await conn.execute(update(T_IP).where(T_IP.c.associated_network_id == net_id)
                           .values(**_FREE, version=T_IP.c.version + 1))
        for account_id, n in held:
            await limits.release(conn, account_id, {"public_ip": int(n)})

    await net.host.writer.submit(work)
