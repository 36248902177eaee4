"""Snapshot policies as entity actors: a volume's schedule of recurring
snapshots (one policy per volume and interval type, as CloudStack keeps them;
a second createSnapshotPolicy of the same interval updates the first, which
is why its id is derived from the volume and the interval). The scheduler
(supervisors/snapshots.py) reads them and submits the snapshots."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import Table

from cloudplane.actors.entity import Entity, operation
from cloudplane.store.base import utcnow
from cloudplane.store.tables.storage import SnapshotPolicy

T_POLICY: Table = SnapshotPolicy.__table__  # type: ignore[attr-defined]
EDITABLE = ("schedule", "timezone", "max_snaps", "display", "active")


class SnapshotPolicyEntity(Entity):
    kind = "snapshot_policy"
    table: ClassVar[Table] = T_POLICY

    @operation(creates=True)
    async def create(self, values: dict[str, Any]) -> dict[str, Any]:
        if self.unborn:
            await self.born({"version": 1, "created": utcnow(), **values})
            return {"id": self.ref.id}
        return await self._update({k: v for k, v in values.items() if k in EDITABLE})

    @operation()
    async def update(self, **changes: Any) -> dict[str, Any]:
        return await self._update({k: v for k, v in changes.items() if k in EDITABLE and v is not None})

    async def _update(self, changes: dict[str, Any]) -> dict[str, Any]:
        changes = {k: v for k, v in changes.items() if self.row.get(k) != v}
        if self.row.get("removed") is not None:
            changes["removed"] = None  # the interval's policy again
        if changes:
            await self.save(**changes)
        return {"id": self.ref.id}

    @operation()
    async def delete(self) -> dict[str, Any]:
        if self.row.get("removed") is None:
            await self.save(removed=utcnow(), active=False)
        return {"success": True}
