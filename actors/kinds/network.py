"""Guest networks as entity actors.

A network hands out NICs: an address claimed through the `guest_ip` unique
key (from its CIDR, or from its IP ranges for shared networks; none for L2),
so an explicit address is honoured, a taken one refused and two claims can
never get the same one. The network's mailbox is the only allocator of its
addresses, so an activation reads the taken ones once and keeps them; the
unique key still decides against a second activation (a split brain), and
losing to it means reading them again. An isolated or L2 network is implemented when its
first VM starts (VM `_start` calls `prepare`): a VLAN is claimed from its
physical network's range through the `guest_vnet` unique key and its virtual
router is started (router.py). Network garbage collection
(supervisors/networkgc.py) shuts an idle one down again: router stopped,
VLAN given back.

    Allocated ──prepare──► Implementing ──► Implemented ──gc──► Shutdown ──► Allocated
    Setup                  (shared networks: nothing to implement)
    any ──delete──► Destroy (row removed)
"""

from __future__ import annotations

import functools
import ipaddress
import random
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import Table, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.actors.entity import Entity, operation
from cloudplane.actors.identity import EntityRef
from cloudplane.actors.kinds import ipranges
from cloudplane.actors.kinds import router as vr
from cloudplane.actors.kinds.limits import network_need, reservation
from cloudplane.errors import ApiError, IllegalTransition, Insufficient, InternalError, NotAllowed, ParamError
from cloudplane.store import limits, prepared
from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.tables.compute import VmInstance
from cloudplane.store.tables.identity import Domain
from cloudplane.store.tables.infra import Zone
from cloudplane.store.tables.network import GuestIp, Network, NetworkOfferingService, Nic, PhysicalNetwork, VlanIpRange
from cloudplane.store.tables.vnet import GuestVnet
from cloudplane.store.versioned import versioned_update

T_NET: Table = Network.__table__  # type: ignore[attr-defined]
T_NIC: Table = Nic.__table__  # type: ignore[attr-defined]
T_GIP: Table = GuestIp.__table__  # type: ignore[attr-defined]
T_VNET: Table = GuestVnet.__table__  # type: ignore[attr-defined]
T_PN: Table = PhysicalNetwork.__table__  # type: ignore[attr-defined]
T_RANGE: Table = VlanIpRange.__table__  # type: ignore[attr-defined]
T_NOS: Table = NetworkOfferingService.__table__  # type: ignore[attr-defined]
T_VM: Table = VmInstance.__table__  # type: ignore[attr-defined]
T_ZONE: Table = Zone.__table__  # type: ignore[attr-defined]
T_DOM: Table = Domain.__table__  # type: ignore[attr-defined]

ACTIVE_VM_STATES = ("Starting", "Running", "Stopping", "Migrating")
CLAIM_ATTEMPTS = 8

# The statements every VM deploy runs (allocate_nic, prepare), built once: SQLAlchemy then
# reuses their cache key and compiled form instead of rebuilding the expressions per call.
_VM_OWNER = select(T_VM.c.account_id, T_DOM.c.path).select_from(
    T_VM.join(T_DOM, T_VM.c.domain_id == T_DOM.c.id)).where(T_VM.c.id == bindparam("b_vm"))
_DOMAIN_PATH = select(T_DOM.c.path).where(T_DOM.c.id == bindparam("b_domain"))
_GUEST_RANGES = select(T_RANGE).where(
    T_RANGE.c.network_id == bindparam("b_net"), T_RANGE.c.range_type == "guest", T_RANGE.c.removed.is_(None)
).order_by(T_RANGE.c.id)
_TAKEN_IPS = select(T_GIP.c.ip_address).where(T_GIP.c.network_id == bindparam("b_net"))
_NEW_NIC = insert(T_NIC)
_NEW_GUEST_IP = insert(T_GIP)
_ADDRESS_NIC = update(T_NIC).where(T_NIC.c.id == bindparam("b_nic")).values(
    ip4_address=bindparam("b_ip"), netmask=bindparam("b_netmask"), gateway=bindparam("b_gateway"),
    version=T_NIC.c.version + 1)
_VM_NICS = select(T_NIC.c.id, T_NIC.c.ip4_address).where(
    T_NIC.c.instance_id == bindparam("b_vm"), T_NIC.c.network_id == bindparam("b_net"), T_NIC.c.removed.is_(None))
_OFFERING_SERVICES = select(T_NOS.c.service, T_NOS.c.provider).where(
    T_NOS.c.network_offering_id == bindparam("b_offering"))


class NetState(StrEnum):
    ALLOCATED = "Allocated"
    SETUP = "Setup"
    IMPLEMENTING = "Implementing"
    IMPLEMENTED = "Implemented"
    SHUTDOWN = "Shutdown"
    DESTROY = "Destroy"


S = NetState
EDGES: dict[NetState, frozenset[NetState]] = {
    S.ALLOCATED: frozenset({S.IMPLEMENTING, S.DESTROY}),
    S.IMPLEMENTING: frozenset({S.IMPLEMENTED, S.SHUTDOWN}),
    S.IMPLEMENTED: frozenset({S.SHUTDOWN}),
    S.SHUTDOWN: frozenset({S.ALLOCATED, S.DESTROY}),
    S.SETUP: frozenset({S.DESTROY}),
    S.DESTROY: frozenset(),
}


def check(src: str, dst: NetState) -> None:
    if dst not in EDGES.get(NetState(src), frozenset()):
        raise IllegalTransition("network", src, dst)


def random_mac() -> str:
    """CloudStack-style guest MACs: 02:00:xx:xx:xx:xx, locally administered."""
    return "02:00:" + ":".join(f"{random.randrange(256):02x}" for _ in range(4))


@dataclass(frozen=True)
class Pool:
    """A run of assignable addresses with the gateway and netmask its NICs get."""

    lo: int
    hi: int
    gateway: str | None
    netmask: str | None
    pod_id: int | None = None

    def __contains__(self, ip: str) -> bool:
        a = ipranges.ip4(ip)
        return a is not None and self.lo <= int(a) <= self.hi

    def addresses(self) -> Any:
        for n in range(self.lo, self.hi + 1):
            yield f"{n >> 24}.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"  # str(IPv4Address(n)), cheaper


@functools.lru_cache(maxsize=1024)
def cidr_pool(cidr: str, gateway: str | None) -> Pool:
    net = ipaddress.IPv4Network(cidr, strict=False)
    lo, hi = int(net.network_address), int(net.broadcast_address)
    if net.prefixlen < 31:
        lo, hi = lo + 1, hi - 1
    return Pool(lo, hi, gateway, str(net.netmask))


def choose(pools: list[Pool], taken: set[str], skip: set[str]) -> tuple[str, Pool] | None:
    """The first free address of the pools, in order."""
    for p in pools:
        for a in p.addresses():
            if a not in taken and a not in skip:
                return a, p
    return None


class NetworkEntity(Entity):
    kind = "network"
    table: ClassVar[Table] = T_NET
    transitional = frozenset({S.IMPLEMENTING, S.SHUTDOWN})
    _services: tuple[int, dict[str, str | None]] | None = None  # (offering id, its services): see services()
    _taken: set[str] | None = None  # this network's addresses in use, as last read (see _claim)

    def on_activate(self) -> None:
        self._taken = None

    def supervision_path(self) -> tuple[str, ...]:
        return (f"zone:{self.row['zone_id']}",) if self.row.get("zone_id") else ()

    def _alive(self) -> None:
        if self.row.get("removed") is not None:
            raise ParamError(f"Unable to find network with id {self.ref.id}")

    @property
    def guest_type(self) -> str | None:
        return self.row.get("guest_type")

    @property
    def implementable(self) -> bool:
        """Isolated and L2 guest networks get a VLAN (and a router) when a VM starts."""
        return self.row.get("traffic_type") == "Guest" and self.guest_type in ("Isolated", "L2")

    async def _set(self, state: NetState, **changes: Any) -> None:
        if self.state != state:
            check(str(self.state), state)
        await self.save(state=state, **changes)

    # -- birth --------------------------------------------------------------------------------
    @operation(creates=True)
    async def create(self, values: dict[str, Any], vlan: int | None = None,
                     ranges: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The network row (with its VLAN claim when created with one), then the IP ranges
        of a shared network, created by its zone. If a range is refused the network goes
        again: nothing is left half-created."""
        if self.unborn:
            await self._born_with_vlan({**values, "version": 1, "created": utcnow()}, vlan)
        if self.row.get("removed") is not None:
            raise ParamError(f"Network {self.ref.id} was removed")
        for spec in ranges or []:
            try:
                await self.host.call_entity(EntityRef("zone", await self._zone_uuid()), "create_vlan_range",
                                            {"spec": {**spec, "network_id": self.row["id"]}})
            except ParamError:
                await self._forget()
                raise
        return {"id": self.ref.id}

    async def _born_with_vlan(self, values: dict[str, Any], vlan: int | None) -> None:
        uuid = self.ref.id
        need = network_need(values)
        defaults = await reservation(self.host, values["account_id"], need)

        async def work(conn: AsyncConnection) -> dict[str, Any]:
            await limits.reserve(conn, values["account_id"], need, defaults)  # 532 before anything is written
            net_id = (await conn.execute(insert(T_NET).values(**values, uuid=uuid))).inserted_primary_key[0]
            if vlan is not None and values.get("physical_network_id") is not None:
                await conn.execute(insert(T_VNET).values(physical_network_id=values["physical_network_id"],
                                                         vnet=vlan, network_id=net_id, explicit=True, taken=utcnow()))
            return dict((await conn.execute(select(T_NET).where(T_NET.c.id == net_id))).mappings().one())

        try:
            async with self.host.engine.begin() as conn:
                self.row = await work(conn)
        except IntegrityError:
            raise ParamError(f"Network with vlan {vlan} already exists or overlaps with other network vlans in "
                             "the zone") from None
        self.unborn = False

    async def _forget(self) -> None:
        net_id = self.row["id"]

        async def work(conn: AsyncConnection) -> None:
            await limits.release(conn, self.row["account_id"], network_need(self.row))
            await conn.execute(delete(T_VNET).where(T_VNET.c.network_id == net_id))

        await self.host.writer.submit(work)
        await self.save(state=S.DESTROY, removed=utcnow(), broadcast_uri=None)

    async def _zone_uuid(self) -> str:
        async with self.host.engine.connect() as conn:
            return str((await conn.execute(select(T_ZONE.c.uuid).where(T_ZONE.c.id == self.row["zone_id"]))).scalar())

    @operation()
    async def update(self, **changes: Any) -> dict[str, Any]:
        self._alive()
        allowed = {"name", "display_text", "network_domain", "display", "dns1", "dns2"}
        bad = set(changes) - allowed
        if bad:
            raise ParamError(f"cannot update {sorted(bad)} of a network")
        if changes:
            await self.save(**changes)
        return {"id": self.ref.id}

    # -- addresses ---------------------------------------------------------------------------------
    async def _pools(self, conn: AsyncConnection) -> list[Pool]:
        """Where this network's addresses come from: its IP ranges, else its CIDR; none for L2."""
        if self.guest_type == "L2":
            return []
        if self.guest_type == "Isolated":
            # Isolated networks take no IP ranges (createNetwork and createVlanIpRange refuse
            # them): nothing to read on every NIC.
            return [cidr_pool(self.row["cidr"], self.row.get("gateway"))] if self.row.get("cidr") else []
        rows = (await prepared.execute(conn, _GUEST_RANGES, {"b_net": self.row["id"]})).all()
        if rows:
            return [Pool(int(ipaddress.IPv4Address(r.start_ip)), int(ipaddress.IPv4Address(r.end_ip)),
                         r.gateway or self.row.get("gateway"), r.netmask or self.row.get("netmask"), r.pod_id)
                    for r in rows if r.start_ip and r.end_ip]
        if self.row.get("cidr") and self.guest_type != "Shared":
            return [cidr_pool(self.row["cidr"], self.row.get("gateway"))]
        return []

    def _addressed(self) -> bool:
        return self.guest_type != "L2"

    def _check_explicit(self, ip: str, pools: list[Pool]) -> None:
        if ipranges.ip4(ip) is None:
            raise ParamError(f"Invalid IP address {ip}")
        if ip == self.row.get("gateway") or not any(ip in p for p in pools):
            raise ParamError(f"IP address {ip} is not usable in network {self.ref.id}: it is not in its "
                             f"{'IP ranges' if self.guest_type == 'Shared' else 'CIDR ' + str(self.row.get('cidr'))}")

    async def _taken_addresses(self) -> set[str]:
        if self._taken is None:
            async with prepared.reading(self.host.engine) as conn:
                rows = (await prepared.execute(conn, _TAKEN_IPS, {"b_net": self.row["id"]})).all()
            self._taken = {r[0] for r in rows}
        return self._taken

    async def _claim(self, pools: list[Pool], ip: str | None, *, nic: dict[str, Any] | None = None,
                     nic_id: int | None = None) -> dict[str, Any]:
        """Claim an address (`ip`, or the first free one) and give it to a new NIC (`nic`'s
        columns) or to the existing NIC `nic_id`, in the group commit: the unique key on
        (network, address) decides any race, and a lost one means our addresses are stale."""
        net_id = self.row["id"]
        skip = {g for g in (self.row.get("gateway"), *(p.gateway for p in pools)) if g}
        # An explicit address gets a second look after a lost race: then it is in use.
        for _ in range(CLAIM_ATTEMPTS if ip is None else 2):
            taken = await self._taken_addresses()
            if ip is not None:
                if ip in taken:
                    raise ParamError(f"The IP address {ip} is already in use in network {self.ref.id}")
                pool = next(p for p in pools if ip in p)
                chosen = ip
            else:
                found = choose(pools, taken, skip)
                if found is None:
                    raise Insufficient(f"Insufficient address capacity: no free IP address left in network "
                                       f"{self.ref.id} ({self.row.get('cidr') or 'its IP ranges'})")
                chosen, pool = found

            async def work(conn: AsyncConnection, chosen: str = chosen, pool: Pool = pool) -> int:
                if nic_id is None:
                    assert nic is not None
                    new_id = (await prepared.execute(conn, _NEW_NIC, {
                        **nic, "ip4_address": chosen, "netmask": pool.netmask, "gateway": pool.gateway,
                    })).inserted_primary_key[0]
                else:
                    await prepared.execute(conn, _ADDRESS_NIC, {"b_nic": nic_id, "b_ip": chosen,
                                                                "b_netmask": pool.netmask, "b_gateway": pool.gateway})
                    new_id = nic_id
                await prepared.execute(conn, _NEW_GUEST_IP, {"uuid": new_uuid(), "version": 1, "created": utcnow(),
                                                   "network_id": net_id, "ip_address": chosen, "nic_id": new_id,
                                                   "is_secondary": False})
                return int(new_id)

            try:
                new_id = await self.host.writer.submit(work)
            except IntegrityError:
                self._taken = None  # another activation took it first: look again
                continue
            taken.add(chosen)
            return {"nic_id": new_id, "ip": chosen}
        raise ParamError(f"The IP address {ip or '(chosen)'} was taken concurrently in network {self.ref.id}")

    def _nic_values(self, vm_id: int, device: int, default: bool) -> dict[str, Any]:
        uri = self.row.get("broadcast_uri")
        return {"uuid": new_uuid(), "version": 1, "created": utcnow(), "instance_id": vm_id,
                "network_id": self.row["id"], "device_id": device, "is_default": default, "mac_address": random_mac(),
                "broadcast_uri": uri, "isolation_uri": uri, "traffic_type": self.row["traffic_type"],
                "mode": "Dhcp", "state": "Reserved"}

    async def _check_owner(self, vm_id: int) -> None:
        """A guest network takes VMs of its account, or (shared with a domain) of that domain and,
        with subdomain access, of its subdomains."""
        if self.row.get("traffic_type") != "Guest" or self.row.get("is_system"):
            return
        by_account = self.row.get("acl_type") == "Account"
        async with prepared.reading(self.host.engine) as conn:
            vm = (await prepared.execute(conn, _VM_OWNER, {"b_vm": vm_id})).one()
            mine = None if by_account else (
                await prepared.execute(conn, _DOMAIN_PATH, {"b_domain": self.row["domain_id"]})).scalar()
        if by_account:
            ok = vm.account_id == self.row["account_id"]
        else:
            ok = vm.path == mine or bool(self.row.get("subdomain_access") and str(vm.path).startswith(str(mine)))
        if not ok:
            raise NotAllowed(f"The VM's account may not use network {self.ref.id}")

    @operation()
    async def allocate_nic(self, vm_id: int, device: int = 0, default: bool = True,
                           ip: str | None = None) -> dict[str, Any]:
        self._alive()
        await self._check_owner(vm_id)
        nic = self._nic_values(vm_id, device, default)
        if not self._addressed():
            if ip is not None:
                raise ParamError(f"Network {self.ref.id} is an L2 network: its NICs have no IP address")
            await self.host.writer.insert(T_NIC, nic)
            return {"nic": nic["uuid"], "ip": None, "mac": nic["mac_address"]}
        async with prepared.reading(self.host.engine) as conn:
            pools = await self._pools(conn)
        if not pools:
            raise Insufficient(f"Insufficient address capacity: network {self.ref.id} has no IP range or CIDR to "
                               "allocate addresses from")
        if ip is not None:
            self._check_explicit(ip, pools)
        elif any(p.pod_id is not None for p in pools):
            # A basic zone's ranges belong to pods: the address is chosen when the VM's pod is (prepare).
            await self.host.writer.insert(T_NIC, {**nic, "state": "Allocated"})
            return {"nic": nic["uuid"], "ip": None, "mac": nic["mac_address"]}
        got = await self._claim(pools, ip, nic=nic)
        return {"nic": nic["uuid"], "ip": got["ip"], "mac": nic["mac_address"]}

    @operation()
    async def release_nics(self, vm_id: int) -> dict[str, Any]:
        async def work(conn: AsyncConnection) -> None:
            nic_ids = [r[0] for r in (await conn.execute(select(T_NIC.c.id).where(
                T_NIC.c.instance_id == vm_id, T_NIC.c.network_id == self.row["id"], T_NIC.c.removed.is_(None)))).all()]
            if nic_ids:
                await conn.execute(delete(T_GIP).where(T_GIP.c.nic_id.in_(nic_ids)))
                await conn.execute(update(T_NIC).where(T_NIC.c.id.in_(nic_ids))
                                   .values(removed=utcnow(), state="Deallocating", version=T_NIC.c.version + 1))

        await self.host.writer.submit(work)
        self._taken = None  # read again on the next claim
        return {"success": True}

    async def _place_nics(self, vm_id: int, pod_id: int | None) -> None:
        """Basic zones: the VM's address must come from the guest range of the pod it starts in."""
        async with prepared.reading(self.host.engine) as conn:
            pools = await self._pools(conn)
            if not any(p.pod_id is not None for p in pools):
                return
            nics = (await prepared.execute(conn, _VM_NICS, {"b_vm": vm_id, "b_net": self.row["id"]})).all()
        mine = [p for p in pools if p.pod_id in (None, pod_id)] if pod_id is not None else pools
        for n in nics:
            if n.ip4_address is None:
                if not mine:
                    raise Insufficient(f"Network {self.ref.id} has no guest IP range in pod {pod_id}")
                await self._claim(mine, None, nic_id=n.id)
            elif pod_id is not None and not any(n.ip4_address in p for p in mine):
                raise ParamError(f"IP address {n.ip4_address} of network {self.ref.id} belongs to another pod")

    # -- implementation --------------------------------------------------------------------------
    @operation()
    async def prepare(self, vm_id: int, pod_id: int | None = None) -> dict[str, Any]:
        """A VM of this network is about to start in `pod_id`: its NICs get their addresses, and
        the network is implemented (VLAN, router) if it is not."""
        self._alive()
        await self._place_nics(vm_id, pod_id)
        if self.implementable:
            await self._implement()
        return {"state": self.state, "broadcast_uri": self.row.get("broadcast_uri")}

    @operation(joinable=True)
    async def implement(self) -> dict[str, Any]:
        """Implement the network, or bring its router back if it is (startRouter, restartNetwork)."""
        self._alive()
        if not self.implementable:
            raise ParamError(f"Network {self.ref.id} of type {self.guest_type} has nothing to implement")
        router = await self._implement()
        return {"id": router.uuid if router else None, "network": self.ref.id, "state": self.state,
                "broadcast_uri": self.row.get("broadcast_uri")}

    async def _implement(self) -> vr.Router | None:
        needs_router = await self._needs_router()
        if self.state == S.IMPLEMENTED:
            return await vr.ensure(self, fresh=False) if needs_router else None
        if self.state not in (S.ALLOCATED, S.IMPLEMENTING):
            raise ParamError(f"Network {self.ref.id} is {self.state}; it cannot be implemented now")
        await self._claim_vnet()
        router = None
        try:
            if needs_router:
                router = await vr.ensure(self, fresh=True)
        except ApiError:
            await self._release_vnet()
            raise
        await self._set(S.IMPLEMENTED)
        return router

    async def services(self) -> dict[str, str | None]:
        """The offering's services and their providers. Kept once read: a network's offering
        never changes, nor do an offering's services (seeded with it)."""
        offering = self.row["network_offering_id"]
        if self._services is None or self._services[0] != offering:
            async with self.host.engine.connect() as conn:
                rows = (await prepared.execute(conn, _OFFERING_SERVICES, {"b_offering": offering})).all()
            self._services = (offering, {r.service: r.provider for r in rows})
        return dict(self._services[1])

    async def _needs_router(self) -> bool:
        return self.guest_type == "Isolated" and "VirtualRouter" in (await self.services()).values()

    async def _claim_vnet(self) -> str:
        """A VLAN for the network (its own if it was created with one), recorded with state
        Implementing on the network and its NICs in one transaction; the unique key on
        (physical network, vnet) refuses a VLAN someone else took meanwhile."""
        pn_id, net_id = self.row.get("physical_network_id"), self.row["id"]
        async with self.host.engine.connect() as conn:
            mine = (await conn.execute(select(T_VNET.c.vnet).where(T_VNET.c.network_id == net_id))).scalar()
        for _ in range(CLAIM_ATTEMPTS):
            vnet = mine
            if vnet is None:
                vnet = await self._free_vnet(pn_id)
            uri = f"vlan://{vnet}"
            changes = {"state": S.IMPLEMENTING, "broadcast_uri": uri}
            if self.state != S.IMPLEMENTING:
                check(str(self.state), S.IMPLEMENTING)
            try:
                async with self.host.engine.begin() as conn:
                    new_version = await versioned_update(conn, T_NET, net_id, self.version, changes)
                    if mine is None:
                        await conn.execute(insert(T_VNET).values(physical_network_id=pn_id, vnet=vnet,
                                                                 network_id=net_id, explicit=False, taken=utcnow()))
                    await conn.execute(update(T_NIC).where(T_NIC.c.network_id == net_id, T_NIC.c.removed.is_(None))
                                       .values(broadcast_uri=uri, isolation_uri=uri, version=T_NIC.c.version + 1))
            except IntegrityError:
                continue  # another network took that VLAN first
            self.row.update(changes)
            self.row["version"] = new_version
            return uri
        raise Insufficient(f"Unable to allocate a guest VLAN for network {self.ref.id}: lost {CLAIM_ATTEMPTS} races")

    async def _free_vnet(self, pn_id: int | None) -> int:
        if pn_id is None:
            raise Insufficient(f"Unable to allocate a guest VLAN for network {self.ref.id}: it has no physical network")
        async with self.host.engine.connect() as conn:
            pn = (await conn.execute(select(T_PN.c.name, T_PN.c.vlan).where(T_PN.c.id == pn_id))).one()
            taken = {r[0] for r in (await conn.execute(select(T_VNET.c.vnet).where(
                T_VNET.c.physical_network_id == pn_id))).all()}
        free = sorted(ipranges.vnet_set(pn.vlan) - taken)
        if not free:
            raise Insufficient(f"Unable to allocate a guest VLAN for network {self.ref.id}: physical network "
                               f"{pn.name} has no free VLAN in its range {pn.vlan or '(none)'}")
        return random.choice(free[:8])  # spread concurrent claimants over the first few

    async def _release_vnet(self) -> None:
        """Give a dynamically allocated VLAN back; the network is Allocated again."""
        net_id = self.row["id"]
        async with self.host.engine.connect() as conn:
            explicit = (await conn.execute(select(T_VNET.c.vnet).where(
                T_VNET.c.network_id == net_id, T_VNET.c.explicit.is_(True)))).scalar()
        uri = f"vlan://{explicit}" if explicit is not None else None
        if self.state in (S.IMPLEMENTED, S.IMPLEMENTING):
            await self._set(S.SHUTDOWN)
        if self.state != S.ALLOCATED:
            check(str(self.state), S.ALLOCATED)
        changes = {"state": S.ALLOCATED, "broadcast_uri": uri}
        version = self.version

        async def work(conn: AsyncConnection) -> int:
            new_version = await versioned_update(conn, T_NET, net_id, version, changes)
            await conn.execute(delete(T_VNET).where(T_VNET.c.network_id == net_id, T_VNET.c.explicit.is_(False)))
            await conn.execute(update(T_NIC).where(T_NIC.c.network_id == net_id, T_NIC.c.removed.is_(None))
                               .values(broadcast_uri=uri, isolation_uri=uri, version=T_NIC.c.version + 1))
            return new_version

        self.row["version"] = await self.host.writer.submit(work)
        self.row.update(changes)

    async def active_vms(self) -> int:
        """User VMs of this network that are running (or on their way in or out)."""
        async with self.host.engine.connect() as conn:
            return int((await conn.execute(select(func.count(func.distinct(T_NIC.c.instance_id))).select_from(
                T_NIC.join(T_VM, T_NIC.c.instance_id == T_VM.c.id)).where(
                T_NIC.c.network_id == self.row["id"], T_NIC.c.removed.is_(None), T_VM.c.removed.is_(None),
                T_VM.c.type != "DomainRouter", T_VM.c.state.in_(ACTIVE_VM_STATES)))).scalar_one())

    async def _vm_nics(self) -> int:
        async with self.host.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(
                T_NIC.join(T_VM, T_NIC.c.instance_id == T_VM.c.id)).where(
                T_NIC.c.network_id == self.row["id"], T_NIC.c.removed.is_(None),
                T_VM.c.type != "DomainRouter"))).scalar_one())

    @operation(joinable=True)
    async def shutdown(self) -> dict[str, Any]:
        """Network GC: an implemented network with no running VM stops its router and gives
        its VLAN back. Decided again here, so a VM that started meanwhile keeps it up."""
        if self.row.get("removed") is not None or self.state != S.IMPLEMENTED:
            return {"state": self.state, "shutdown": False}
        if await self.active_vms():
            return {"state": self.state, "shutdown": False}
        await self._shutdown()
        return {"state": self.state, "shutdown": True}

    async def _shutdown(self) -> None:
        router, _ = await vr.current(self)
        if router is not None:
            await vr.stop(self, router)
        await self._release_vnet()

    async def settle(self) -> None:
        """A dead process left the network half implemented or half shut down: finish the
        shutdown (the next VM start implements it again)."""
        await self._shutdown()

    @operation()
    async def restart(self, cleanup: bool = False) -> dict[str, Any]:
        self._alive()
        if not self.implementable:
            if self.state != S.SETUP:
                raise ParamError(f"Network {self.ref.id} is not in the right state to be restarted. Correct "
                                 "states are: Implemented, Setup")
            return {"success": True}
        if self.state != S.IMPLEMENTED:
            raise ParamError(f"Network {self.ref.id} is not in the right state to be restarted. Correct states "
                             "are: Implemented, Setup")
        router, _ = await vr.current(self)
        if router is not None:
            if cleanup:
                await vr.destroy(self, router)
            else:
                await vr.stop(self, router)
        if await self._needs_router():
            await vr.ensure(self, fresh=True)
        return {"success": True}

    @operation()
    async def delete(self, forced: bool = False) -> dict[str, Any]:
        if self.row.get("removed") is not None:
            return {"success": True}
        if self.row.get("is_system"):
            raise ParamError(f"Network {self.ref.id} is a system network and cannot be deleted")
        n = await self._vm_nics()
        if n:
            raise InternalError(f"Unable to delete network {self.ref.id}: {n} VM NIC(s) are still in it; expunge "
                                "its VMs first")
        router, _ = await vr.current(self)
        if router is not None:
            await vr.destroy(self, router)
        await vr.release_public_ips(self)
        async with self.host.engine.connect() as conn:
            ranges = [r[0] for r in (await conn.execute(select(T_RANGE.c.uuid).where(
                T_RANGE.c.network_id == self.row["id"], T_RANGE.c.removed.is_(None)))).all()]
        for r in ranges:
            await self.host.call_entity(EntityRef("vlan_ip_range", r), "delete", {})
        if self.state in (S.IMPLEMENTED, S.IMPLEMENTING):
            await self._release_vnet()
        await self._forget()
        return {"success": True}

    # -- public addresses (the router serves them) --------------------------------------------------
    @operation()
    async def associate_ip(self, account_id: int, domain_id: int, ip: str | None = None) -> dict[str, Any]:
        self._alive()
        if self.guest_type != "Isolated":
            raise ParamError(f"Public IP addresses can be associated only with isolated networks; network "
                             f"{self.ref.id} is {self.guest_type}")
        services = await self.services()
        source_nat = "SourceNat" in services and await vr.source_nat_ip(self) is None
        row = await vr.acquire_public_ip(self, account_id, domain_id, ip, source_nat=source_nat)
        return {"id": row.uuid, "ipaddress": row.public_ip}

    @operation()
    async def disassociate_ip(self, ip_uuid: str) -> dict[str, Any]:
        await vr.release_public_ip(self, ip_uuid)
        return {"success": True}
