"""Primary storage pools and image (secondary) stores as entity actors.

A cluster creates its pools (a zone its zone-wide ones); a zone creates its
image stores, and when a zone gets its first store the built-in templates
become ready there (`template_zone`, DOWNLOADED), as a simulator's secondary
storage VM would report them. Storage URLs are data: nothing here connects to
them. A simulated pool or store reports 1 TiB unless told its size.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.actors.entity import operation
from cloudplane.actors.kinds.infrabase import (
    SIMULATED_BYTES,
    InfraEntity,
    capacity_enabled,
    drop_capacity,
    exists,
    insert_row,
    new_row,
    set_capacity,
)
from cloudplane.errors import InternalError, ParamError
from cloudplane.store.base import utcnow
from cloudplane.store.tables.capacity import CapacityType
from cloudplane.store.tables.images import Template, TemplateZone
from cloudplane.store.tables.storage import ImageStore, Snapshot, StoragePool, StoragePoolTag, Volume

T_POOL: Table = StoragePool.__table__  # type: ignore[attr-defined]
T_PTAG: Table = StoragePoolTag.__table__  # type: ignore[attr-defined]
T_STORE: Table = ImageStore.__table__  # type: ignore[attr-defined]
T_VOL: Table = Volume.__table__  # type: ignore[attr-defined]
T_SNAP: Table = Snapshot.__table__  # type: ignore[attr-defined]
T_TPL: Table = Template.__table__  # type: ignore[attr-defined]
T_TZ: Table = TemplateZone.__table__  # type: ignore[attr-defined]

# Pool status (CloudStack's StoragePoolStatus) as this module moves it.
UP, DISABLED, MAINTENANCE = "Up", "Disabled", "Maintenance"
STORE_PROVIDERS = {"nfs": "NFS", "simulator": "Simulator", "s3": "S3", "swift": "Swift", "smb": "SMB"}
BUILTIN_TYPES = ("SYSTEM", "BUILTIN")


def split_tags(tags: str | list[str] | None) -> list[str]:
    items = tags.split(",") if isinstance(tags, str) else (tags or [])
    return list(dict.fromkeys(t.strip() for t in items if t and t.strip()))


async def write_tags(conn: AsyncConnection, pool_id: int, tags: list[str]) -> None:
    await conn.execute(delete(T_PTAG).where(T_PTAG.c.pool_id == pool_id))
    for t in tags:
        await insert_row(conn, T_PTAG, {"pool_id": pool_id, "tag": t, "is_rule": False})


async def check_pool(conn: AsyncConnection, uuid: str) -> None:
    """CloudStack names a network pool after its host and path: one active pool per export."""
    if await exists(conn, select(T_POOL.c.id).where(T_POOL.c.uuid == uuid)):
        raise InternalError("Another active pool with the same uuid already exists")


async def insert_pool(conn: AsyncConnection, values: dict[str, Any], tags: list[str]) -> int:
    """A pool row (its scope, zone, pod and cluster in `values`), its tags and its storage
    capacity rows (used, and allocated to volumes)."""
    values = {"capacity_bytes": SIMULATED_BYTES, **values}
    pool_id = await insert_row(conn, T_POOL, new_row(**values))
    await write_tags(conn, pool_id, tags)
    where = {"zone_id": values["zone_id"], "pod_id": values.get("pod_id"), "cluster_id": values.get("cluster_id")}
    await set_capacity(conn, "pool", pool_id, CapacityType.STORAGE, int(values["capacity_bytes"]),
                       used=int(values.get("used_bytes") or 0), **where)
    await set_capacity(conn, "pool", pool_id, CapacityType.STORAGE_ALLOCATED, int(values["capacity_bytes"]), used=0,
                       **where)
    return pool_id


async def insert_image_store(conn: AsyncConnection, values: dict[str, Any]) -> int:
    """An image store; an Image store of a zone makes the built-in templates ready there."""
    values = {"total_bytes": SIMULATED_BYTES, "used_bytes": 0, **values}
    store_id = await insert_row(conn, T_STORE, new_row(**values))
    zone_id = values.get("zone_id")
    if zone_id is not None:
        await set_capacity(conn, "image_store", store_id, CapacityType.SECONDARY_STORAGE, int(values["total_bytes"]),
                           used=int(values["used_bytes"]), zone_id=zone_id)
        if values.get("role", "Image") == "Image":
            await templates_ready(conn, zone_id, store_id)
    return store_id


async def templates_ready(conn: AsyncConnection, zone_id: int, store_id: int) -> None:
    """The zone's copies of the system and built-in templates, downloaded (the simulator's
    secondary storage has them at once)."""
    have = {r[0] for r in (await conn.execute(select(T_TZ.c.template_id).where(T_TZ.c.zone_id == zone_id))).all()}
    tpls = (await conn.execute(select(T_TPL.c.id, T_TPL.c.size_bytes).where(
        T_TPL.c.template_type.in_(BUILTIN_TYPES), T_TPL.c.cross_zones.is_(True), T_TPL.c.removed.is_(None)))).all()
    for t in tpls:
        if t.id in have:
            continue
        await insert_row(conn, T_TZ, new_row(template_id=t.id, zone_id=zone_id, image_store_id=store_id,
                                             download_state="DOWNLOADED", download_pct=100,
                                             install_path=f"template/tmpl/1/{t.id}/", size_bytes=t.size_bytes,
                                             physical_size_bytes=t.size_bytes))


class StoragePoolEntity(InfraEntity):
    kind = "storage_pool"
    label = "storage pool"
    table: ClassVar[Table] = T_POOL

    def supervision_path(self) -> tuple[str, ...]:
        return (f"cluster:{self.ref.key}",) if self.ref.key else (f"zone:{self.row.get('zone_id')}",)

    @operation()
    async def update(self, name: str | None = None, tags: list[str] | None = None, capacity_bytes: int | None = None,
                     capacity_iops: int | None = None, enabled: bool | None = None) -> dict[str, Any]:
        self.alive()
        changes: dict[str, Any] = {}
        if name:
            changes["name"] = name
        if capacity_iops is not None:
            changes["capacity_iops"] = capacity_iops
        if capacity_bytes is not None:
            if capacity_bytes <= 0:
                raise ParamError("capacityBytes must be greater than zero")
            changes["capacity_bytes"] = capacity_bytes
        if enabled is not None:
            if self.row["status"] not in (UP, DISABLED):
                raise ParamError(f"Storage pool {self.ref.id} is in state {self.row['status']}: it can not be "
                                 f"{'enabled' if enabled else 'disabled'}")
            changes["status"] = UP if enabled else DISABLED
        pool_id = self.row["id"]

        async def check(conn: AsyncConnection) -> None:
            if capacity_bytes is not None:
                used = (await conn.execute(select(func.coalesce(func.sum(T_VOL.c.size_bytes), 0)).where(
                    T_VOL.c.pool_id == pool_id, T_VOL.c.removed.is_(None)))).scalar_one()
                if capacity_bytes < int(used):
                    raise ParamError(f"Cannot reduce the capacity of storage pool {self.ref.id} below the {used} "
                                     "bytes its volumes use")

        async def apply(conn: AsyncConnection) -> None:
            if tags is not None:
                await write_tags(conn, pool_id, split_tags(tags))
            if capacity_bytes is not None:
                where = {"zone_id": self.row["zone_id"], "pod_id": self.row.get("pod_id"),
                         "cluster_id": self.row.get("cluster_id")}
                for ctype in (CapacityType.STORAGE, CapacityType.STORAGE_ALLOCATED):
                    await set_capacity(conn, "pool", pool_id, ctype, capacity_bytes, **where)
            if enabled is not None:
                await capacity_enabled(conn, "pool", pool_id, enabled)

        await self.transact(changes, check=check, apply=apply)
        return {"id": self.ref.id}

    @operation()
    async def delete(self, forced: bool = False) -> dict[str, Any]:
        self.alive()
        pool_id = self.row["id"]

        async def check(conn: AsyncConnection) -> None:
            vols = select(T_VOL.c.id).where(T_VOL.c.pool_id == pool_id, T_VOL.c.removed.is_(None))
            if not forced and await exists(conn, vols):
                raise InternalError(f"Cannot delete pool {self.row['name']} as there are associated volumes for "
                                    "this pool")
            if forced and await exists(conn, vols.where(T_VOL.c.instance_id.is_not(None))):
                raise InternalError(f"Cannot delete pool {self.row['name']} as there are volumes of virtual "
                                    "machines on it")

        async def apply(conn: AsyncConnection) -> None:
            await conn.execute(update(T_VOL).where(T_VOL.c.pool_id == pool_id, T_VOL.c.removed.is_(None))
                               .values(removed=utcnow(), state="Expunged", version=T_VOL.c.version + 1))
            await conn.execute(delete(T_PTAG).where(T_PTAG.c.pool_id == pool_id))
            await drop_capacity(conn, "pool", [pool_id])

        await self.transact({"removed": utcnow(), "status": "Removed"}, check=check, apply=apply)
        return {"success": True}

    @operation(joinable=True)
    async def maintenance(self, enable: bool) -> dict[str, Any]:
        """Storage maintenance, its states only: Up → Maintenance → Up."""
        self.alive()
        status = self.row["status"]
        if enable:
            if status not in (UP, DISABLED):
                raise ParamError(f"Primary storage with id {self.ref.id} is not ready for migration, as the status "
                                 f"is:{status}")
            new = MAINTENANCE
        else:
            if status not in (MAINTENANCE, "PrepareForMaintenance", "ErrorInMaintenance"):
                raise ParamError(f"Primary storage with id {self.ref.id} is not ready to complete migration, as the "
                                 f"status is:{status}")
            new = UP
        pool_id = self.row["id"]

        async def apply(conn: AsyncConnection) -> None:
            await capacity_enabled(conn, "pool", pool_id, new == UP)

        await self.transact({"status": new}, apply=apply)
        return {"id": self.ref.id}


class ImageStoreEntity(InfraEntity):
    kind = "image_store"
    label = "image store"
    table: ClassVar[Table] = T_STORE

    def supervision_path(self) -> tuple[str, ...]:
        return (f"zone:{self.row['zone_id']}",) if self.row.get("zone_id") else ()

    @operation()
    async def delete(self) -> dict[str, Any]:
        self.alive()
        store_id = self.row["id"]

        async def check(conn: AsyncConnection) -> None:
            # The built-in templates' copies go with the store; anything users put there stays.
            user_tpl = select(T_TZ.c.id).select_from(T_TZ.join(T_TPL, T_TZ.c.template_id == T_TPL.c.id)).where(
                T_TZ.c.image_store_id == store_id, T_TZ.c.removed.is_(None),
                T_TPL.c.template_type.not_in(BUILTIN_TYPES))
            if await exists(conn, user_tpl):
                raise ParamError("Cannot delete image store with active templates backup!")
            if await exists(conn, select(T_SNAP.c.id).where(T_SNAP.c.image_store_id == store_id,
                                                            T_SNAP.c.removed.is_(None))):
                raise ParamError("Cannot delete image store with active snapshots backup!")

        zone_id = self.row.get("zone_id")

        async def apply(conn: AsyncConnection) -> None:
            other = (await conn.execute(select(T_STORE.c.id).where(
                T_STORE.c.zone_id == zone_id, T_STORE.c.id != store_id, T_STORE.c.role == "Image",
                T_STORE.c.removed.is_(None)).limit(1))).scalar() if zone_id is not None else None
            if other is not None:  # another store of the zone holds the copies now
                await conn.execute(update(T_TZ).where(T_TZ.c.image_store_id == store_id).values(
                    image_store_id=other, version=T_TZ.c.version + 1))
            else:
                await conn.execute(delete(T_TZ).where(T_TZ.c.image_store_id == store_id))
            await drop_capacity(conn, "image_store", [store_id])

        await self.transact({"removed": utcnow()}, check=check, apply=apply)
        return {"success": True}
