"""Capacity claims: a host's CPU and memory are claimed by conditional UPDATEs,
never by reading and deciding (Nova moved to the same rule: placement claims,
not filters over a cache). Two VMs racing for the last slot cannot both win.

Both functions run inside the caller's transaction (a GroupWriter item): a
claim that fails half-way undoes its own first half before raising, so the
shared transaction is left as it was.
"""

from __future__ import annotations

from sqlalchemy import and_, bindparam, case, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.errors import Insufficient
from cloudplane.store import prepared
from cloudplane.store.tables.capacity import Capacity, CapacityType

CAP = Capacity.__table__  # type: ignore[attr-defined]


# Built once (store/prepared.py runs them): a host's row of one capacity type.
_ROW = and_(CAP.c.owner_type == "host", CAP.c.owner_id == bindparam("b_host"),
            CAP.c.capacity_type == bindparam("b_type"))
_CLAIM = update(CAP).where(_ROW, CAP.c.enabled.is_(True),
                           CAP.c.used + bindparam("b_amount") <= CAP.c.total * bindparam("b_factor")).values(
    used=CAP.c.used + bindparam("b_amount"))
_RELEASE = update(CAP).where(_ROW).values(
    used=case((CAP.c.used >= bindparam("b_amount"), CAP.c.used - bindparam("b_amount")), else_=0))


async def _claim(conn: AsyncConnection, host_id: int, ctype: CapacityType, amount: int, factor: float) -> bool:
    return (await prepared.execute(conn, _CLAIM, {"b_host": host_id, "b_type": int(ctype), "b_amount": amount,
                                                  "b_factor": float(factor)})).rowcount == 1


async def claim(conn: AsyncConnection, host_id: int, cpu_mhz: int, mem_bytes: int,
                cpu_factor: float = 1.0, mem_factor: float = 1.0) -> None:
    """Add the VM to the host's used capacity, or raise Insufficient (533) and change nothing."""
    if not await _claim(conn, host_id, CapacityType.CPU, cpu_mhz, cpu_factor):
        raise Insufficient(f"host {host_id} has not {cpu_mhz} MHz of CPU left")
    if not await _claim(conn, host_id, CapacityType.MEMORY, mem_bytes, mem_factor):
        await release(conn, host_id, cpu_mhz, 0)  # undo our half before refusing
        raise Insufficient(f"host {host_id} has not {mem_bytes} bytes of memory left")


async def release(conn: AsyncConnection, host_id: int, cpu_mhz: int, mem_bytes: int) -> None:
    for ctype, amount in ((CapacityType.CPU, cpu_mhz), (CapacityType.MEMORY, mem_bytes)):
        if amount:
            await prepared.execute(conn, _RELEASE, {"b_host": host_id, "b_type": int(ctype), "b_amount": amount})
