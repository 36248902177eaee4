"""What users attach to a resource: its tags and its details.

The annex of a resource is an entity with no row of its own (`annex` kind,
keyed by the resource's uuid): its mailbox serialises the writes to
that resource's tags and details, which live in `resource_tag` and
`resource_detail`. Every operation may run on an unborn annex (`creates`)
and never inserts one, so nothing stays in memory after it.

createTags and deleteTags name several resources in one job: the job goes to
the first one's annex and writes every row in one transaction, so a refusal
(a key already there) leaves no resource half-tagged. The unique key
(resource, name) backs the check up where transactions do not serialise.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import Table, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.actors.entity import Entity, operation
from cloudplane.errors import ParamError
from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.tables.tags import ResourceDetail, ResourceTag

T_TAG: Table = ResourceTag.__table__  # type: ignore[attr-defined]
T_DETAIL: Table = ResourceDetail.__table__  # type: ignore[attr-defined]


def _of(rtype: str, resources: list[dict[str, Any]]) -> Any:
    return and_(T_TAG.c.resource_type == rtype, T_TAG.c.resource_id.in_([r["id"] for r in resources]))


async def forget_annex(conn: AsyncConnection, rtype: str, resource_id: int) -> None:
    """A resource that is gone for good takes its tags and details with it. Called by the
    resource's own entity, in the transaction that removes it."""
    await conn.execute(delete(T_TAG).where(T_TAG.c.resource_type == rtype, T_TAG.c.resource_id == resource_id))
    await conn.execute(delete(T_DETAIL).where(T_DETAIL.c.resource_type == rtype,
                                              T_DETAIL.c.resource_id == resource_id))


class AnnexEntity(Entity):
    kind = "annex"
    table: ClassVar[Table] = T_TAG  # never found by the annex's id: every activation is unborn

    # -- tags -------------------------------------------------------------------------------------
    @operation(creates=True)
    async def create_tags(self, rtype: str, resources: list[dict[str, Any]], tags: dict[str, str],
                          customer: str | None = None) -> dict[str, Any]:
        """`tags` on every resource (each {id, uuid, account_id, domain_id}); a key a resource
        already has (in any case) refuses the whole job."""
        now = utcnow()
        rows = [{"uuid": new_uuid(), "version": 1, "created": now, "resource_type": rtype, "resource_id": r["id"],
                 "resource_uuid": r["uuid"], "name": k, "value": v, "account_id": r.get("account_id"),
                 "domain_id": r.get("domain_id"), "customer": customer} for r in resources for k, v in tags.items()]

        async def work(conn: AsyncConnection) -> None:
            taken = (await conn.execute(select(T_TAG.c.resource_uuid, T_TAG.c.name).where(
                _of(rtype, resources), func.lower(T_TAG.c.name).in_([k.lower() for k in tags])))).first()
            if taken is not None:
                raise ParamError(f"Unable to create tags: {rtype} {taken.resource_uuid} already has a tag "
                                 f"with key {taken.name}")
            await conn.execute(insert(T_TAG), rows)

        try:
            await self.host.writer.submit(work)
        except IntegrityError:  # a job led by another of these resources' annexes got there first
            raise ParamError(f"Unable to create tags: one of the {rtype}s already has one of these keys") from None
        return {"success": True}

    @operation(creates=True)
    async def delete_tags(self, rtype: str, resources: list[dict[str, Any]],
                          tags: list[dict[str, str | None]]) -> dict[str, Any]:
        """All the resources' tags, or those matching a key (any case) and, if given, a value."""
        where = _of(rtype, resources)
        if tags:
            where = and_(where, or_(*(and_(func.lower(T_TAG.c.name) == str(t["key"]).lower(),
                                           *((T_TAG.c.value == t["value"],) if t.get("value") is not None else ()))
                                      for t in tags)))

        async def work(conn: AsyncConnection) -> int:
            return int((await conn.execute(delete(T_TAG).where(where))).rowcount)

        if not await self.host.writer.submit(work):
            raise ParamError("Unable to find any tags which conform to the specified delete parameters")
        return {"success": True}

    # -- details ----------------------------------------------------------------------------------
    @operation(creates=True)
    async def add_details(self, rtype: str, resource_id: int, details: dict[str, str],
                          display: bool = True) -> dict[str, Any]:
        """Set each detail (a key already there takes the new value and visibility)."""
        async def work(conn: AsyncConnection) -> None:
            have = set((await conn.execute(select(T_DETAIL.c.name).where(
                T_DETAIL.c.resource_type == rtype, T_DETAIL.c.resource_id == resource_id,
                T_DETAIL.c.name.in_(list(details))))).scalars())
            for k, v in details.items():
                if k in have:
                    await conn.execute(update(T_DETAIL).where(
                        T_DETAIL.c.resource_type == rtype, T_DETAIL.c.resource_id == resource_id,
                        T_DETAIL.c.name == k).values(value=v, display=display))
            new = [{"resource_type": rtype, "resource_id": resource_id, "name": k, "value": v, "display": display}
                   for k, v in details.items() if k not in have]
            if new:
                await conn.execute(insert(T_DETAIL), new)

        await self.host.writer.submit(work)
        return {"success": True}

    @operation(creates=True)
    async def remove_details(self, rtype: str, resource_id: int, key: str | None = None) -> dict[str, Any]:
        """One detail, or all of them."""
        where = and_(T_DETAIL.c.resource_type == rtype, T_DETAIL.c.resource_id == resource_id,
                     *((T_DETAIL.c.name == key,) if key else ()))

        async def work(conn: AsyncConnection) -> int:
            return int((await conn.execute(delete(T_DETAIL).where(where))).rowcount)

        if not await self.host.writer.submit(work) and key:
            raise ParamError(f"Detail {key} is not set on {rtype} {self.ref.id}")
        return {"success": True}
