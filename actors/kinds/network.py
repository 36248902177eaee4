"""Guest networks as entity actors: the core that VM deployment needs.

A network hands out NICs: an address from its CIDR (an explicit one honoured,
a taken one refused) claimed through the `guest_ip` unique key, a MAC
address, and a `nic` row. Implementing the network on hosts (VLAN, router)
and the network API live beside this (see the network commands).
"""

from __future__ import annotations

import ipaddress
import random
from typing import Any, ClassVar

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.actors.entity import Entity, operation
from cloudplane.errors import Insufficient, ParamError
from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.tables.network import GuestIp, Network, Nic

T_NET: Table = Network.__table__  # type: ignore[attr-defined]
T_NIC: Table = Nic.__table__  # type: ignore[attr-defined]
T_GIP: Table = GuestIp.__table__  # type: ignore[attr-defined]


def mac_for(network_id: int, n: int) -> str:
    """CloudStack-style guest MACs: 02:00:xx:xx:xx:xx, locally administered."""
    r = random.Random(network_id * 1_000_003 + n)
    return "02:00:" + ":".join(f"{r.randrange(256):02x}" for _ in range(4))


class NetworkEntity(Entity):
    kind = "network"
    table: ClassVar[Table] = T_NET

    @operation(creates=True)
    async def create(self, values: dict[str, Any]) -> dict[str, Any]:
        if self.unborn:
            await self.born({**values, "version": 1, "created": utcnow()})
        return {"id": self.ref.id}

    def _hosts(self) -> ipaddress.IPv4Network:
        if not self.row.get("cidr"):
            raise ParamError(f"network {self.ref.id} has no IPv4 CIDR to allocate addresses from")
        return ipaddress.IPv4Network(self.row["cidr"], strict=False)

    @operation()
    async def allocate_nic(self, vm_id: int, device: int = 0, default: bool = True,
                           ip: str | None = None) -> dict[str, Any]:
        net = self._hosts()
        gateway = self.row.get("gateway")
        if ip is not None:
            try:
                addr = ipaddress.IPv4Address(ip)
            except ValueError:
                raise ParamError(f"Invalid IP address {ip}") from None
            if addr not in net or str(addr) in (gateway, str(net.network_address), str(net.broadcast_address)):
                raise ParamError(f"IP address {ip} is not usable in network {self.row['cidr']}")
        row = self.row

        async def claim(conn: AsyncConnection) -> dict[str, Any]:
            taken = {r[0] for r in (await conn.execute(select(T_GIP.c.ip_address).where(
                T_GIP.c.network_id == row["id"]))).all()}
            if ip is not None:
                if ip in taken:
                    raise ParamError(f"The IP address {ip} is already in use in network {self.ref.id}")
                chosen = ip
            else:
                chosen = next((str(a) for a in net.hosts() if str(a) != gateway and str(a) not in taken), "")
                if not chosen:
                    raise Insufficient(f"No free IP address left in network {self.ref.id} ({row['cidr']})")
            nic = {"uuid": new_uuid(), "version": 1, "created": utcnow(), "instance_id": vm_id,
                   "network_id": row["id"], "device_id": device, "is_default": default,
                   "mac_address": mac_for(row["id"], len(taken) + 1), "ip4_address": chosen,
                   "netmask": str(net.netmask), "gateway": gateway, "broadcast_uri": row.get("broadcast_uri"),
                   "isolation_uri": row.get("broadcast_uri"), "traffic_type": row["traffic_type"],
                   "mode": "Dhcp", "state": "Reserved"}
            nic_id = (await conn.execute(insert(T_NIC).values(**nic))).inserted_primary_key[0]
            await conn.execute(insert(T_GIP).values(uuid=new_uuid(), version=1, created=utcnow(),
                                                    network_id=row["id"], ip_address=chosen, nic_id=nic_id,
                                                    is_secondary=False))
            return {"nic": nic["uuid"], "ip": chosen, "mac": nic["mac_address"]}

        try:
            # Its own transaction: the unique key on (network, address) decides a race.
            async with self.host.engine.begin() as conn:
                return await claim(conn)
        except IntegrityError:
            raise ParamError(f"The IP address {ip or '(chosen)'} was taken concurrently in network "
                             f"{self.ref.id}; try again") from None

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
        return {"success": True}
