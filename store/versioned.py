"""Optimistic concurrency: every write names the version it read.

A write that finds a newer version changes nothing and raises StaleVersion, so
two activations of one entity (a split brain) can never both commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.errors import EntityNotFound, StaleVersion


async def versioned_update(
    conn: AsyncConnection, table: Table, row_id: int, expected: int, changes: dict[str, Any]
) -> int:
    """Apply `changes` if the row is still at `expected`; return the new version."""
    new_version = expected + 1
    res = await conn.execute(
        update(table)
        .where(table.c.id == row_id, table.c.version == expected)
        .values(**changes, version=new_version)
    )
    if res.rowcount != 1:
        raise StaleVersion(table.name, row_id, expected)
    return new_version


async def load_by_uuid(conn: AsyncConnection, table: Table, uuid: str) -> dict[str, Any]:
    row = (await conn.execute(select(table).where(table.c.uuid == uuid))).mappings().first()
    if row is None:
        raise EntityNotFound(table.name, uuid)
    return dict(row)


async def load_many_by_uuid(
    conn: AsyncConnection, table: Table, uuids: list[str]
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for i in range(0, len(uuids), 500):
        chunk = uuids[i : i + 500]
        rows = (await conn.execute(select(table).where(table.c.uuid.in_(chunk)))).mappings()
        for r in rows:
            out[r["uuid"]] = dict(r)
    return out
