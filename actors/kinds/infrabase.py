"""What the infrastructure kinds (zone, pod, cluster, storage, physical
network, IP range) share: row helpers, capacity rows, and an entity base whose
writes check first and then write in one group-commit item, so a refused or
stale operation leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.actors.entity import Entity
from cloudplane.errors import ParamError
from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.tables.capacity import Capacity, CapacityType
from cloudplane.store.versioned import versioned_update

T_CAP: Table = Capacity.__table__  # type: ignore[attr-defined]

Check = Callable[[AsyncConnection], Awaitable[None]]
Apply = Callable[[AsyncConnection], Awaitable[Any]]

# What a simulated primary pool or image store reports when no size is given.
SIMULATED_BYTES = 2**40  # 1 TiB, as CloudStack's simulator reports its pools


def new_row(**values: Any) -> dict[str, Any]:
    """The common columns of an entity row, plus `values` (a given uuid wins)."""
    return {"uuid": new_uuid(), "version": 1, "created": utcnow(), **values}


async def insert_row(conn: AsyncConnection, table: Table, values: dict[str, Any]) -> int:
    return int((await conn.execute(insert(table).values(**values))).inserted_primary_key[0])


async def exists(conn: AsyncConnection, q: Any) -> bool:
    return (await conn.execute(q.limit(1))).first() is not None


async def one(conn: AsyncConnection, q: Any) -> Any:
    return (await conn.execute(q)).first()


# -- capacity rows ------------------------------------------------------------------------------


async def set_capacity(conn: AsyncConnection, owner_type: str, owner_id: int, ctype: CapacityType, total: int, *,
                       zone_id: int, pod_id: int | None = None, cluster_id: int | None = None,
                       used: int | None = None, enabled: bool | None = None) -> None:
    """One row per (owner, type): update it, or insert it the first time."""
    values: dict[str, Any] = {"total": total, "updated": utcnow()}
    if used is not None:
        values["used"] = used
    if enabled is not None:
        values["enabled"] = enabled
    res = await conn.execute(update(T_CAP).where(T_CAP.c.owner_type == owner_type, T_CAP.c.owner_id == owner_id,
                                                 T_CAP.c.capacity_type == int(ctype)).values(**values))
    if res.rowcount == 0:
        await conn.execute(insert(T_CAP).values(
            owner_type=owner_type, owner_id=owner_id, capacity_type=int(ctype), zone_id=zone_id, pod_id=pod_id,
            cluster_id=cluster_id, total=total, used=used or 0, reserved=0,
            enabled=True if enabled is None else enabled, updated=utcnow()))


async def add_capacity(conn: AsyncConnection, owner_type: str, owner_id: int, ctype: CapacityType, delta: int, *,
                       zone_id: int, pod_id: int | None = None) -> None:
    """Grow (or shrink) an owner's total by `delta`."""
    res = await conn.execute(update(T_CAP).where(T_CAP.c.owner_type == owner_type, T_CAP.c.owner_id == owner_id,
                                                 T_CAP.c.capacity_type == int(ctype))
                             .values(total=T_CAP.c.total + delta, updated=utcnow()))
    if res.rowcount == 0 and delta > 0:
        await set_capacity(conn, owner_type, owner_id, ctype, delta, zone_id=zone_id, pod_id=pod_id)


async def drop_capacity(conn: AsyncConnection, owner_type: str, owner_ids: list[int]) -> None:
    if owner_ids:
        await conn.execute(delete(T_CAP).where(T_CAP.c.owner_type == owner_type, T_CAP.c.owner_id.in_(owner_ids)))


async def capacity_enabled(conn: AsyncConnection, owner_type: str, owner_id: int, enabled: bool) -> None:
    await conn.execute(update(T_CAP).where(T_CAP.c.owner_type == owner_type, T_CAP.c.owner_id == owner_id)
                       .values(enabled=enabled, updated=utcnow()))


# -- the entity base ------------------------------------------------------------------------------


class InfraEntity(Entity):
    """An infrastructure entity. `label` names it in messages ("zone", "pod", ...)."""

    label: ClassVar[str] = ""

    def alive(self) -> None:
        if self.row.get("removed") is not None:
            raise ParamError(f"Unable to find {self.label} with id {self.ref.id}")

    async def transact(self, changes: dict[str, Any] | None = None, *, check: Check | None = None,
                       apply: Apply | None = None) -> Any:
        """In one transaction item: `check` (reads only; raises to refuse), then our own
        row's versioned update (a stale row refuses, nothing written yet), then `apply`."""
        table, row_id, version = self.table, self.row["id"], self.version
        changes = dict(changes or {})

        async def work(conn: AsyncConnection) -> tuple[int | None, Any]:
            if check is not None:
                await check(conn)
            new_version = await versioned_update(conn, table, row_id, version, changes) if changes else None
            return new_version, (await apply(conn) if apply is not None else None)

        new_version, result = await self.host.writer.submit(work)
        if new_version is not None:
            self.row.update(changes)
            self.row["version"] = new_version
        return result

    async def reread(self) -> None:
        """Our row as the store has it now (children of other entities may have changed it)."""
        async with self.host.engine.connect() as conn:
            row = (await conn.execute(select(self.table).where(self.table.c.id == self.row["id"]))).mappings().first()
        if row is not None:
            self.row = dict(row)
