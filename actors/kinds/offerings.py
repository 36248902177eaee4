"""Service and disk offerings as entity actors.

An offering creates its own row (and its details) in one transaction, and is
the only writer of both afterwards. Details live in `resource_detail` under
CloudStack's own names: `domainid` and `zoneid` (comma-separated internal ids,
hidden, as CloudStack keeps them in `*_offering_details`), `mincpunumber`,
`maxcpunumber`, `minmemory`, `maxmemory` and whatever the caller passed.

The API validates input and decides who may act (api/commands/offerings.py);
these operations keep what needs the store: creation is idempotent by the
offering's uuid, and a removed offering refuses further changes.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.actors.entity import Entity, operation
from cloudplane.errors import ParamError
from cloudplane.store.base import utcnow
from cloudplane.store.tables.compute import DiskOffering, ServiceOffering
from cloudplane.store.tables.tags import ResourceDetail
from cloudplane.store.versioned import versioned_update

T_SO: Table = ServiceOffering.__table__  # type: ignore[attr-defined]
T_DO: Table = DiskOffering.__table__  # type: ignore[attr-defined]
T_DETAIL: Table = ResourceDetail.__table__  # type: ignore[attr-defined]

# Details CloudStack keeps out of the response's details map.
HIDDEN_DETAILS = frozenset({"domainid", "zoneid"})

# name -> value (None removes the detail)
Details = dict[str, str | None]


async def write_details(conn: AsyncConnection, resource_type: str, resource_id: int, details: Details) -> None:
    """Set or (value None) remove details of one resource."""
    for name, value in details.items():
        await conn.execute(delete(T_DETAIL).where(
            T_DETAIL.c.resource_type == resource_type, T_DETAIL.c.resource_id == resource_id,
            T_DETAIL.c.name == name))
        if value is not None:
            await conn.execute(insert(T_DETAIL).values(
                resource_type=resource_type, resource_id=resource_id, name=name, value=value,
                display=name not in HIDDEN_DETAILS))


class OfferingEntity(Entity):
    detail_type: ClassVar[str] = ""  # resource_detail.resource_type
    label: ClassVar[str] = ""

    def _summary(self) -> dict[str, Any]:
        return {"id": self.ref.id}

    @operation(creates=True)
    async def create(self, values: dict[str, Any], details: Details) -> dict[str, Any]:
        if not self.unborn:
            return self._summary()  # a resumed job: the offering exists already
        table, uuid, kind = self.table, self.ref.id, self.detail_type

        async def work(conn: AsyncConnection) -> dict[str, Any]:
            key = (await conn.execute(insert(table).values(**values, uuid=uuid, version=1,
                                                           created=utcnow()))).inserted_primary_key
            assert key is not None
            row_id = int(key[0])
            await write_details(conn, kind, row_id, details)
            return dict((await conn.execute(select(table).where(table.c.id == row_id))).mappings().one())

        self.row = await self.host.writer.submit(work)
        self.unborn = False
        return self._summary()

    def _require_live(self) -> None:
        if self.row.get("removed") is not None:
            raise ParamError(f"Unable to find {self.label} with id {self.ref.id}")

    @operation()
    async def update(self, changes: dict[str, Any], details: Details) -> dict[str, Any]:
        """Columns and details in one transaction, under our row's version."""
        self._require_live()
        await self._commit(changes, details)
        return self._summary()

    @operation()
    async def delete(self) -> dict[str, Any]:
        """CloudStack's delete: the offering turns Inactive and is marked removed;
        VMs and volumes that use it keep it."""
        if self.row.get("removed") is None:
            await self.save(state="Inactive", removed=utcnow())
        return {"success": True}

    async def _commit(self, changes: dict[str, Any], details: Details) -> None:
        table, row_id, expected, kind = self.table, self.row["id"], self.version, self.detail_type

        async def work(conn: AsyncConnection) -> int:
            # The versioned update comes first: a stale copy refuses before anything is written.
            version = await versioned_update(conn, table, row_id, expected, changes)
            await write_details(conn, kind, row_id, details)
            return version

        version = await self.host.writer.submit(work)
        self.row.update(changes)
        self.row["version"] = version


class ServiceOfferingEntity(OfferingEntity):
    kind = "service_offering"
    table: ClassVar[Table] = T_SO
    detail_type = "ServiceOffering"
    label = "service offering"


class DiskOfferingEntity(OfferingEntity):
    kind = "disk_offering"
    table: ClassVar[Table] = T_DO
    detail_type = "DiskOffering"
    label = "disk offering"
