"""Events as entity actors, for the two writes an event ever sees after it is
appended: archiving and deleting (deleteEvents, archiveEvents).

Appending an event is the one write that bypasses actors (ApiService.event):
nobody else can hold a new row. Everything after that goes through here.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import Table

from cloudplane.actors.entity import Entity, operation
from cloudplane.store.base import utcnow
from cloudplane.store.tables.events import Event

T_EVENT: Table = Event.__table__  # type: ignore[attr-defined]


class EventEntity(Entity):
    kind = "event"
    table: ClassVar[Table] = T_EVENT

    @operation(joinable=True)
    async def archive(self) -> dict[str, Any]:
        if not self.row["archived"] and self.row["removed"] is None:
            await self.save(archived=True)
        return {"success": True}

    @operation(joinable=True)
    async def delete(self) -> dict[str, Any]:
        if self.row["removed"] is None:
            await self.save(removed=utcnow())
        return {"success": True}
