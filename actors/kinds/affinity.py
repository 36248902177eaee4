"""Affinity groups as entity actors: `host affinity` keeps its VMs on one host,
`host anti-affinity` on different hosts. The planner honours them
(supervisors/placement/filters.py) and a VM's claim re-checks them under the
group's row lock (actors/kinds/vmplace.py); this kind only owns the group's
birth and death."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.actors.entity import Entity, operation
from cloudplane.errors import ParamError, StaleVersion
from cloudplane.store.base import utcnow
from cloudplane.store.tables.compute import AffinityGroup, AffinityGroupVm

T_AG: Table = AffinityGroup.__table__  # type: ignore[attr-defined]
T_AGVM: Table = AffinityGroupVm.__table__  # type: ignore[attr-defined]
TYPES = ("host affinity", "host anti-affinity")


class AffinityGroupEntity(Entity):
    kind = "affinity_group"
    table: ClassVar[Table] = T_AG

    @operation(creates=True)
    async def create(self, values: dict[str, Any]) -> dict[str, Any]:
        """A group; its name is unique within its account (checked in the inserting
        transaction, which the group-commit writer serialises on SQLite)."""
        if not self.unborn:
            return {"id": self.ref.id}
        if values.get("type") not in TYPES:
            raise ParamError(f"Unable to create affinity group, invalid affinity group type {values.get('type')}; "
                             f"use one of {list(TYPES)}")
        uuid, table = self.ref.id, self.table
        row = {**values, "uuid": uuid, "version": 1, "created": utcnow()}

        async def work(conn: AsyncConnection) -> dict[str, Any]:
            taken = (await conn.execute(select(table.c.id).where(
                table.c.account_id == row["account_id"], table.c.name == row["name"],
                table.c.removed.is_(None)))).first()
            if taken is not None:
                raise ParamError(f"Unable to create affinity group, a group with name {row['name']} already exists.")
            await conn.execute(insert(table).values(**row))
            return dict((await conn.execute(select(table).where(table.c.uuid == uuid))).mappings().one())

        self.row = await self.host.writer.submit(work)
        self.unborn = False
        return {"id": self.ref.id}

    @operation()
    async def delete(self) -> dict[str, Any]:
        """The group goes; its VMs stay, out of the group (as CloudStack does)."""
        if self.row.get("removed") is not None:
            return {"success": True}
        group_id, version = self.row["id"], self.version

        async def work(conn: AsyncConnection) -> int:
            res = await conn.execute(update(T_AG).where(T_AG.c.id == group_id, T_AG.c.version == version).values(
                removed=utcnow(), version=version + 1))
            if res.rowcount != 1:
                raise StaleVersion("affinity_group", group_id, version)
            await conn.execute(delete(T_AGVM).where(T_AGVM.c.affinity_group_id == group_id))
            return version + 1

        self.row["version"] = await self.host.writer.submit(work)
        self.row["removed"] = utcnow()
        return {"success": True}
