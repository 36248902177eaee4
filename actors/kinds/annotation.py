"""Annotations (operators' comments on a resource) as entity actors: their
birth, their visibility and their removal (kept, with `removed` set, as
CloudStack keeps them for listAnnotations' history)."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import Table

from cloudplane.actors.entity import Entity, operation
from cloudplane.store.base import utcnow
from cloudplane.store.tables.tags import Annotation

T_ANNOTATION: Table = Annotation.__table__  # type: ignore[attr-defined]


class AnnotationEntity(Entity):
    kind = "annotation"
    table: ClassVar[Table] = T_ANNOTATION

    @operation(creates=True)
    async def create(self, values: dict[str, Any]) -> dict[str, Any]:
        if self.unborn:
            await self.born({**values, "version": 1, "created": utcnow()})
        return {"id": self.ref.id}

    @operation(joinable=True)
    async def set_visibility(self, admins_only: bool) -> dict[str, Any]:
        if bool(self.row["admins_only"]) != admins_only:
            await self.save(admins_only=admins_only)
        return {"id": self.ref.id}

    @operation(joinable=True)
    async def remove(self) -> dict[str, Any]:
        if self.row.get("removed") is None:
            await self.save(removed=utcnow())
        return {"id": self.ref.id}
