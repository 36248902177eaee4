"""Capacity claims: a host's CPU and memory are claimed by conditional UPDATEs,
never by reading and deciding (Nova moved to the same rule: placement claims,
not filters over a cache). Two VMs racing for the last slot cannot both win.

Both functions run inside the caller's transaction (a GroupWriter item): a
claim that fails half-way undoes its own first half before raising, so the
shared transaction is left as it was.
"""

from __future__ import annotations

from sqlalchemy import and_, case, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.errors import Insufficient
from cloudplane.store.tables.capacity import Capacity, CapacityType

CAP = Capacity.__table__  # type: ignore[attr-defined]


def _row(host_id: int, ctype: CapacityType) -> list[object]:
    return [CAP.c.owner_type == "host", CAP.c.owner_id == host_id, CAP.c.capacity_type == int(ctype)]


async def claim(conn: AsyncConnection, host_id: int, cpu_mhz: int, mem_bytes: int,
                cpu_factor: float = 1.0, mem_factor: float = 1.0) -> None:
    """Add the VM to the host's used capacity, or raise Insufficient (533) and change nothing."""
    cpu = await conn.execute(update(CAP).where(and_(*_row(host_id, CapacityType.CPU), CAP.c.enabled.is_(True),
                                                    CAP.c.used + cpu_mhz <= CAP.c.total * cpu_factor))
                             .values(used=CAP.c.used + cpu_mhz))
    if cpu.rowcount != 1:
        raise Insufficient(f"host {host_id} has not {cpu_mhz} MHz of CPU left")
    mem = await conn.execute(update(CAP).where(and_(*_row(host_id, CapacityType.MEMORY), CAP.c.enabled.is_(True),
                                                    CAP.c.used + mem_bytes <= CAP.c.total * mem_factor))
                             .values(used=CAP.c.used + mem_bytes))
    if mem.rowcount != 1:
        await release(conn, host_id, cpu_mhz, 0)  # undo our half before refusing
        raise Insufficient(f"host {host_id} has not {mem_bytes} bytes of memory left")


async def release(conn: AsyncConnection, host_id: int, cpu_mhz: int, mem_bytes: int) -> None:
    for ctype, amount in ((CapacityType.CPU, cpu_mhz), (CapacityType.MEMORY, mem_bytes)):
        if amount:
            await conn.execute(update(CAP).where(and_(*_row(host_id, ctype)))
                               .values(used=case((CAP.c.used >= amount, CAP.c.used - amount), else_=0)))
