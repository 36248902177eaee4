"""The physical hierarchy as entity actors: zone > pod > cluster.

A parent creates its children and serialises the checks that span them: the
zone creates its pods (pod CIDRs must not collide), physical networks, image
stores, public IP ranges and zone-wide pools; a pod creates its clusters; a
cluster creates its primary storage pools. Refs: a zone is
`EntityRef("zone", uuid)`; a pod and a cluster are keyed by their own uuid
(`EntityRef("cluster", uuid, key=uuid)`), so a cluster's hosts, which carry
the cluster's uuid as their key, share its shard.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from typing import Any, ClassVar

from sqlalchemy import Table, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.actors.entity import operation
from cloudplane.actors.identity import EntityRef
from cloudplane.actors.kinds import ipranges, physnet, storage, vlan
from cloudplane.actors.kinds.infrabase import T_CAP, InfraEntity, drop_capacity, exists, insert_row, new_row, one
from cloudplane.errors import InternalError, ParamError
from cloudplane.store.base import utcnow
from cloudplane.store.tables.compute import VmInstance
from cloudplane.store.tables.identity import Account
from cloudplane.store.tables.infra import Cluster, Host, Pod, Zone
from cloudplane.store.tables.network import IpAddress, Network, NetworkOffering, PhysicalNetwork
from cloudplane.store.tables.network import PhysicalNetworkTrafficType as TrafficType
from cloudplane.store.tables.storage import ImageStore, StoragePool, Volume

T_ZONE: Table = Zone.__table__  # type: ignore[attr-defined]
T_POD: Table = Pod.__table__  # type: ignore[attr-defined]
T_CLUSTER: Table = Cluster.__table__  # type: ignore[attr-defined]
T_HOST: Table = Host.__table__  # type: ignore[attr-defined]
T_VM: Table = VmInstance.__table__  # type: ignore[attr-defined]
T_VOL: Table = Volume.__table__  # type: ignore[attr-defined]
T_PN: Table = PhysicalNetwork.__table__  # type: ignore[attr-defined]
T_TT: Table = TrafficType.__table__  # type: ignore[attr-defined]
T_NET: Table = Network.__table__  # type: ignore[attr-defined]
T_NO: Table = NetworkOffering.__table__  # type: ignore[attr-defined]
T_IP: Table = IpAddress.__table__  # type: ignore[attr-defined]
T_STORE: Table = ImageStore.__table__  # type: ignore[attr-defined]
T_POOL: Table = StoragePool.__table__  # type: ignore[attr-defined]
T_ACCOUNT: Table = Account.__table__  # type: ignore[attr-defined]

# The networks CloudStack gives every zone for its system traffic:
# traffic type → (system offering, broadcast domain type).
SYSTEM_NETWORKS = {
    "Public": ("System-Public-Network", "Vlan"),
    "Management": ("System-Management-Network", "Native"),
    "Control": ("System-Control-Network", "LinkLocal"),
    "Storage": ("System-Storage-Network", "Native"),
}


def zone_ref(uuid: str) -> EntityRef:
    return EntityRef("zone", uuid)


def pod_ref(uuid: str) -> EntityRef:
    return EntityRef("pod", uuid, uuid)


def cluster_ref(uuid: str) -> EntityRef:
    return EntityRef("cluster", uuid, uuid)


def _live(table: Table, **where: Any) -> Any:
    q = select(table.c.id).where(table.c.removed.is_(None))
    for col, value in where.items():
        q = q.where(table.c[col] == value)
    return q


async def check_pod_cidr(conn: AsyncConnection, zone: dict[str, Any], cidr: Any, skip_pod: int | None) -> None:
    """check.pod.cidrs: a pod's subnet may collide neither with another pod's nor with the
    zone's guest CIDR."""
    guest = zone.get("guest_cidr")
    if guest and cidr.overlaps(ipaddress.IPv4Network(guest, strict=False)):
        raise ParamError("The subnet of the pod you are adding conflicts with the subnet of the Guest IP Network. "
                         "Please specify a different CIDR.")
    pods = (await conn.execute(select(T_POD.c.id, T_POD.c.name, T_POD.c.gateway, T_POD.c.netmask).where(
        T_POD.c.zone_id == zone["id"], T_POD.c.removed.is_(None)))).all()
    for p in pods:
        if p.id == skip_pod or not (p.gateway and p.netmask):
            continue
        if cidr.overlaps(ipranges.cidr_of(p.gateway, p.netmask)):
            raise ParamError(f"The subnet of the pod you are adding conflicts with the subnet of pod {p.name} in zone "
                             f"{zone['name']}. Please specify a different CIDR.")


class ZoneEntity(InfraEntity):
    kind = "zone"
    label = "zone"
    table: ClassVar[Table] = T_ZONE

    @operation(creates=True)
    async def create(self, values: dict[str, Any]) -> dict[str, Any]:
        if not self.unborn:
            return {"id": self.ref.id}  # a resumed job: the zone exists already
        uuid = self.ref.id

        async def work(conn: AsyncConnection) -> dict[str, Any]:
            if await exists(conn, _live(T_ZONE, name=values["name"])):
                raise ParamError("A zone with that name already exists. Please specify a unique zone name.")
            zone_id = await insert_row(conn, T_ZONE, new_row(**values, uuid=uuid))
            await _system_networks(conn, zone_id, values.get("network_domain"))
            return dict((await conn.execute(select(T_ZONE).where(T_ZONE.c.id == zone_id))).mappings().one())

        self.row = await self.host.writer.submit(work)
        self.unborn = False
        return {"id": uuid}

    @operation()
    async def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        self.alive()
        name = changes.get("name")
        enabling = changes.get("allocation_state") == "Enabled" and self.row["allocation_state"] != "Enabled"
        if enabling:
            await self._ensure_traffic()

        async def check(conn: AsyncConnection) -> None:
            if name and name != self.row["name"] and await exists(conn, _live(T_ZONE, name=name)):
                raise ParamError("A zone with that name already exists. Please specify a unique zone name.")

        await self.transact(changes, check=check)
        return {"id": self.ref.id}

    async def _ensure_traffic(self) -> None:
        """Enabling a zone needs Management traffic (and Public in an advanced zone without
        security groups); Storage traffic defaults to the management network's."""
        async with self.host.engine.connect() as conn:
            q = select(T_PN.c.uuid, T_TT.c.traffic_type, T_TT.c.kvm_network_label, T_TT.c.vlan).select_from(
                T_TT.join(T_PN, T_TT.c.physical_network_id == T_PN.c.id)).where(
                T_PN.c.zone_id == self.row["id"], T_PN.c.removed.is_(None), T_TT.c.removed.is_(None))
            carried = {r.traffic_type: r for r in (await conn.execute(q)).all()}
        needed = ["Management"]
        if self.row["network_type"] == "Advanced" and not self.row["security_groups_enabled"]:
            needed.append("Public")
        for t in needed:
            if t not in carried:
                raise ParamError(f"Cannot enable this Zone since: Unable to find the default physical network with "
                                 f"traffic={t} in the specified zone id")
        if "Storage" not in carried:
            mgmt = carried["Management"]
            await self.host.call_entity(EntityRef("physical_network", mgmt.uuid), "add_traffic_type", {
                "uuid": ipranges.name_uuid(f"storage-traffic:{self.ref.id}:{self.version}"), "traffic_type": "Storage",
                "kvm_label": mgmt.kvm_network_label, "vlan": mgmt.vlan})

    @operation()
    async def delete(self) -> dict[str, Any]:
        self.alive()
        zone_id = self.row["id"]

        async def check(conn: AsyncConnection) -> None:
            why = "The zone cannot be deleted because "
            for table, what in ((T_HOST, "there are servers in this zone."), (T_POD, "there are pods in this zone.")):
                if await exists(conn, _live(table, zone_id=zone_id)):
                    raise InternalError(why + what)
            if await vlan.allocated_in(conn, vlan.T_VLAN.c.zone_id == zone_id):
                raise InternalError(why + "there are public IP addresses allocated in this zone.")
            for table, what in ((T_VM, "there are virtual machines in this zone."),
                                (T_VOL, "there are storage volumes in this zone."),
                                (T_PN, "there are physical networks in this zone."),
                                (T_STORE, "there are Secondary storages in this zone")):
                if await exists(conn, _live(table, zone_id=zone_id)):
                    raise InternalError(why + what)

        async def apply(conn: AsyncConnection) -> None:
            now = utcnow()
            await vlan.remove_ranges(conn, vlan.T_VLAN.c.zone_id == zone_id)
            await conn.execute(T_NET.update().where(T_NET.c.zone_id == zone_id, T_NET.c.is_system.is_(True),
                                                    T_NET.c.removed.is_(None))
                               .values(removed=now, state="Destroy", version=T_NET.c.version + 1))
            await conn.execute(T_POOL.update().where(T_POOL.c.zone_id == zone_id, T_POOL.c.removed.is_(None))
                               .values(removed=now, status="Removed", version=T_POOL.c.version + 1))
            await conn.execute(delete(T_CAP).where(T_CAP.c.zone_id == zone_id))

        await self.transact({"removed": utcnow(), "allocation_state": "Disabled"}, check=check, apply=apply)
        return {"success": True}

    # -- children -------------------------------------------------------------------------------
    @operation()
    async def create_pod(self, uuid: str, values: dict[str, Any], check_cidrs: bool = True) -> dict[str, Any]:
        self.alive()
        zone = self.row
        start, end = values.pop("start_ip", None), values.pop("end_ip", None)
        net = ipranges.check_pod(values["gateway"], values["netmask"], start, end)
        if start and not end:
            end = ipranges.pod_range_end(net)
        if not start:
            raise ParamError("Start ip is required parameter")
        spec = vlan.RangeSpec(uuid=ipranges.name_uuid(f"pod-range:{uuid}:{start}"), range_type=vlan.POD,
                              gateway=values["gateway"], netmask=values["netmask"], start_ip=start, end_ip=end or start,
                              for_virtual_network=False)

        async def check(conn: AsyncConnection) -> None:
            if await exists(conn, select(T_POD.c.id).where(T_POD.c.uuid == uuid)):
                return  # a resumed job
            if await exists(conn, _live(T_POD, zone_id=zone["id"], name=values["name"])):
                raise ParamError(f"A pod with name: {values['name']} already exists in zone {zone['id']}. Please "
                                 "specify a different pod name. ")
            await vlan.check_new_range(conn, zone, spec)
            if check_cidrs:
                await check_pod_cidr(conn, zone, net, None)

        async def apply(conn: AsyncConnection) -> None:
            if await exists(conn, select(T_POD.c.id).where(T_POD.c.uuid == uuid)):
                return
            pod_id = await insert_row(conn, T_POD, new_row(**values, uuid=uuid, zone_id=zone["id"]))
            await vlan.insert_range(conn, zone["id"], replace(spec, pod_id=pod_id))

        await self.transact(check=check, apply=apply)
        return {"id": uuid}

    @operation()
    async def create_physical_network(self, uuid: str, values: dict[str, Any]) -> dict[str, Any]:
        self.alive()
        zone = self.row

        async def check(conn: AsyncConnection) -> None:
            if not await exists(conn, select(T_PN.c.id).where(T_PN.c.uuid == uuid)):
                await physnet.check_physical_network(conn, zone, values)

        async def apply(conn: AsyncConnection) -> None:
            if not await exists(conn, select(T_PN.c.id).where(T_PN.c.uuid == uuid)):
                await physnet.insert_physical_network(conn, new_row(**values, uuid=uuid, zone_id=zone["id"]))

        await self.transact(check=check, apply=apply)
        return {"id": uuid}

    @operation()
    async def add_image_store(self, uuid: str, values: dict[str, Any]) -> dict[str, Any]:
        self.alive()
        zone_id = self.row["id"]

        async def apply(conn: AsyncConnection) -> None:
            if not await exists(conn, select(T_STORE.c.id).where(T_STORE.c.uuid == uuid)):
                await storage.insert_image_store(conn, {**values, "uuid": uuid, "zone_id": zone_id})

        await self.transact(apply=apply)
        return {"id": uuid}

    @operation()
    async def create_vlan_range(self, spec: dict[str, Any]) -> dict[str, Any]:
        self.alive()
        zone, rs = self.row, vlan.RangeSpec(**spec)

        async def check(conn: AsyncConnection) -> None:
            if not await exists(conn, select(vlan.T_VLAN.c.id).where(vlan.T_VLAN.c.uuid == rs.uuid)):
                await vlan.check_new_range(conn, zone, rs)

        async def apply(conn: AsyncConnection) -> None:
            if not await exists(conn, select(vlan.T_VLAN.c.id).where(vlan.T_VLAN.c.uuid == rs.uuid)):
                await vlan.insert_range(conn, zone["id"], rs)

        await self.transact(check=check, apply=apply)
        return {"id": rs.uuid}

    @operation()
    async def create_pool(self, uuid: str, values: dict[str, Any], tags: list[str]) -> dict[str, Any]:
        """A zone-wide primary storage pool."""
        self.alive()
        return await _create_pool(self, uuid, {**values, "zone_id": self.row["id"], "scope": "ZONE"}, tags)


class PodEntity(InfraEntity):
    kind = "pod"
    label = "pod"
    table: ClassVar[Table] = T_POD

    def supervision_path(self) -> tuple[str, ...]:
        return (f"zone:{self.row['zone_id']}",) if self.row.get("zone_id") else ()

    @operation()
    async def update(self, changes: dict[str, Any], check_cidrs: bool = True) -> dict[str, Any]:
        self.alive()
        pod_id, zone_id = self.row["id"], self.row["zone_id"]
        gateway = changes.get("gateway") or self.row["gateway"]
        netmask = changes.get("netmask") or self.row["netmask"]
        net = ipranges.check_pod(gateway, netmask, None, None)

        async def check(conn: AsyncConnection) -> None:
            zone = dict((await conn.execute(select(T_ZONE).where(T_ZONE.c.id == zone_id))).mappings().one())
            name = changes.get("name")
            if name and name != self.row["name"] and await exists(conn, _live(T_POD, zone_id=zone_id, name=name)):
                raise ParamError(f"A pod with name: {name} already exists in zone {zone_id}. Please specify a "
                                 "different pod name. ")
            for r in (await conn.execute(select(vlan.T_VLAN).where(vlan.T_VLAN.c.pod_id == pod_id,
                                                                   vlan.T_VLAN.c.removed.is_(None)))).all():
                if not ipranges.in_cidr(r.start_ip, net):
                    raise ParamError("The start address of the some IP range is not in the CIDR subnet.")
                if not ipranges.in_cidr(r.end_ip, net):
                    raise ParamError("The end address of the some IP range is not in the CIDR subnet.")
                if ipranges.overlaps(r.start_ip, r.end_ip, gateway, gateway):
                    raise ParamError("The gateway shouldn't overlap some start/end ip addresses")
            if check_cidrs:
                await check_pod_cidr(conn, zone, net, pod_id)

        async def apply(conn: AsyncConnection) -> None:
            await conn.execute(vlan.T_VLAN.update().where(vlan.T_VLAN.c.pod_id == pod_id,
                                                          vlan.T_VLAN.c.removed.is_(None))
                               .values(gateway=gateway, netmask=netmask, version=vlan.T_VLAN.c.version + 1))

        await self.transact(changes, check=check, apply=apply)
        return {"id": self.ref.id}

    @operation()
    async def delete(self) -> dict[str, Any]:
        self.alive()
        pod_id = self.row["id"]

        async def check(conn: AsyncConnection) -> None:
            why = "The pod cannot be deleted because "
            for table, what in ((T_VOL, "there are storage volumes in this pod."),
                                (T_HOST, "there are servers in this pod."),
                                (T_VM, "there are virtual machines in this pod."),
                                (T_CLUSTER, "there are clusters in this pod.")):
                if await exists(conn, _live(table, pod_id=pod_id)):
                    raise InternalError(why + what)

        async def apply(conn: AsyncConnection) -> None:
            await vlan.remove_ranges(conn, vlan.T_VLAN.c.pod_id == pod_id)
            await drop_capacity(conn, "pod", [pod_id])

        await self.transact({"removed": utcnow()}, check=check, apply=apply)
        return {"success": True}

    @operation()
    async def add_cluster(self, uuid: str, values: dict[str, Any]) -> dict[str, Any]:
        self.alive()
        pod = self.row

        async def check(conn: AsyncConnection) -> None:
            if await exists(conn, select(T_CLUSTER.c.id).where(T_CLUSTER.c.uuid == uuid)):
                return
            if await exists(conn, _live(T_CLUSTER, pod_id=pod["id"], name=values["name"])):
                raise ParamError(f"A cluster with name {values['name']} already exists in pod {pod['name']}")

        async def apply(conn: AsyncConnection) -> None:
            if not await exists(conn, select(T_CLUSTER.c.id).where(T_CLUSTER.c.uuid == uuid)):
                await insert_row(conn, T_CLUSTER, new_row(**values, uuid=uuid, zone_id=pod["zone_id"],
                                                          pod_id=pod["id"]))

        await self.transact(check=check, apply=apply)
        return {"id": uuid}


class ClusterEntity(InfraEntity):
    kind = "cluster"
    label = "cluster"
    table: ClassVar[Table] = T_CLUSTER

    def supervision_path(self) -> tuple[str, ...]:
        return (f"zone:{self.row['zone_id']}",) if self.row.get("zone_id") else ()

    @operation()
    async def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        self.alive()
        cluster_id, pod_id, name = self.row["id"], self.row["pod_id"], changes.get("name")

        async def check(conn: AsyncConnection) -> None:
            if name and name != self.row["name"] and await exists(conn, _live(T_CLUSTER, pod_id=pod_id, name=name)):
                raise ParamError(f"A cluster with name {name} already exists in this pod")
            if changes.get("hypervisor_type") and changes["hypervisor_type"] != self.row["hypervisor_type"] and \
                    await exists(conn, _live(T_HOST, cluster_id=cluster_id)):
                raise ParamError("hypervisor type of a cluster with hosts can not be changed")

        await self.transact(changes, check=check)
        return {"id": self.ref.id}

    @operation()
    async def delete(self) -> dict[str, Any]:
        self.alive()
        cluster_id = self.row["id"]

        async def check(conn: AsyncConnection) -> None:
            if await exists(conn, _live(T_HOST, cluster_id=cluster_id)):
                raise InternalError(f"Cluster: {self.ref.id} cannot be removed. Cluster still has hosts")
            if await exists(conn, _live(T_POOL, cluster_id=cluster_id)):
                raise InternalError(f"Cluster: {self.ref.id} cannot be removed. Cluster still has storage pools")

        await self.transact({"removed": utcnow()}, check=check)
        return {"success": True}

    @operation()
    async def create_pool(self, uuid: str, values: dict[str, Any], tags: list[str]) -> dict[str, Any]:
        self.alive()
        r = self.row
        return await _create_pool(self, uuid, {**values, "zone_id": r["zone_id"], "pod_id": r["pod_id"],
                                               "cluster_id": r["id"], "scope": "CLUSTER"}, tags)


async def _create_pool(parent: InfraEntity, uuid: str, values: dict[str, Any], tags: list[str]) -> dict[str, Any]:
    async def check(conn: AsyncConnection) -> None:
        old = await one(conn, select(T_POOL.c.name, T_POOL.c.cluster_id, T_POOL.c.zone_id).where(T_POOL.c.uuid == uuid))
        if old is not None and (old.name, old.cluster_id, old.zone_id) == (
                values["name"], values.get("cluster_id"), values["zone_id"]):
            return  # a resumed job: this pool was created by it
        await storage.check_pool(conn, uuid)

    async def apply(conn: AsyncConnection) -> None:
        if not await exists(conn, select(T_POOL.c.id).where(T_POOL.c.uuid == uuid)):
            await storage.insert_pool(conn, {**values, "uuid": uuid}, tags)

    await parent.transact(check=check, apply=apply)
    return {"id": uuid}


async def _system_networks(conn: AsyncConnection, zone_id: int, network_domain: str | None) -> None:
    """The zone's Public, Management, Control and Storage networks, owned by the system account."""
    system = await one(conn, select(T_ACCOUNT.c.id, T_ACCOUNT.c.domain_id).where(
        T_ACCOUNT.c.name == "system", T_ACCOUNT.c.is_default.is_(True)))
    offerings = {r.name: r.id for r in (await conn.execute(select(T_NO.c.name, T_NO.c.id).where(
        T_NO.c.name.in_([o for o, _ in SYSTEM_NETWORKS.values()]), T_NO.c.removed.is_(None)))).all()}
    if system is None:
        return
    for traffic, (offering, broadcast) in SYSTEM_NETWORKS.items():
        if offering not in offerings:
            continue
        values = new_row(name=traffic, display_text=None, traffic_type=traffic, guest_type=None, state="Setup",
                         zone_id=zone_id, network_offering_id=offerings[offering], account_id=system.id,
                         domain_id=system.domain_id, acl_type="Domain", broadcast_domain_type=broadcast,
                         is_system=True, network_domain=network_domain if traffic == "Public" else None)
        if traffic == "Control":
            values.update(cidr="169.254.0.0/16", gateway="169.254.0.1", netmask="255.255.0.0")
        await insert_row(conn, T_NET, values)

