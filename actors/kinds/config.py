"""Configuration settings as entity actors.

One actor per setting: the setting's *global* row. Scoped values (zone,
cluster, storage pool, image store, account, domain) are rows of the same
name with another (scope, scope_id); the global row's actor creates and
changes them too, so every write to one setting goes through one mailbox.

A scoped row whose value is NULL means "not overridden": resetting a scoped
value keeps the row (the unique key (name, scope, scope_id) stays valid) and
clears the value. The API validates and canonicalises values before they
enter the job (store/configdefs.coerce).
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.actors.entity import Entity, operation
from cloudplane.errors import ParamError, StaleVersion
from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.tables.config import GLOBAL_SCOPE, Configuration

T_CONFIG: Table = Configuration.__table__  # type: ignore[attr-defined]

# Columns a scoped row copies from its global row.
_INHERITED = ("value_type", "category", "description", "is_dynamic", "default_value")


class ConfigurationEntity(Entity):
    kind = "configuration"
    table: ClassVar[Table] = T_CONFIG

    @operation()
    async def set_value(self, value: str | None, scope: str = GLOBAL_SCOPE, scope_id: int = 0) -> dict[str, Any]:
        """Set the value at one scope; a scoped row that does not exist yet is created."""
        if self.row["scope"] != GLOBAL_SCOPE:
            raise ParamError(f"configuration {self.row['name']}: scoped rows are changed through the global one")
        if scope == GLOBAL_SCOPE:
            if value != self.row["value"]:
                await self.save(value=value)
            return self._result(value, scope, scope_id)
        await self.host.writer.submit(self._upsert_scoped(value, scope, scope_id))
        return self._result(value, scope, scope_id)

    @operation()
    async def reset(self, scope: str = GLOBAL_SCOPE, scope_id: int = 0) -> dict[str, Any]:
        """Back to the default (global) or to no override (scoped)."""
        if scope == GLOBAL_SCOPE:
            return await self.set_value(self.row["default_value"])
        await self.host.writer.submit(self._upsert_scoped(None, scope, scope_id, create=False))
        return self._result(None, scope, scope_id)

    def _result(self, value: str | None, scope: str, scope_id: int) -> dict[str, Any]:
        return {"name": self.row["name"], "value": value, "scope": scope, "scope_id": scope_id}

    def _upsert_scoped(self, value: str | None, scope: str, scope_id: int, *, create: bool = True) -> Any:
        name = self.row["name"]

        async def work(conn: AsyncConnection) -> None:
            found = (await conn.execute(select(T_CONFIG.c.id, T_CONFIG.c.version, T_CONFIG.c.value).where(
                T_CONFIG.c.name == name, T_CONFIG.c.scope == scope, T_CONFIG.c.scope_id == scope_id))).first()
            if found is None:
                if create:
                    await conn.execute(insert(T_CONFIG).values(
                        uuid=new_uuid(), version=1, created=utcnow(), name=name, scope=scope, scope_id=scope_id,
                        value=value, **{k: self.row[k] for k in _INHERITED}))
                return
            if found.value == value:
                return
            res = await conn.execute(update(T_CONFIG).where(T_CONFIG.c.id == found.id,
                                                            T_CONFIG.c.version == found.version)
                                     .values(value=value, version=found.version + 1))
            if res.rowcount != 1:
                raise StaleVersion(T_CONFIG.name, found.id, found.version)

        return work
