"""A VM's own volumes at deployment: the ROOT volume (and a data disk) are
created with the VM and placed on a primary storage pool when the VM first
starts, next to its host (the host's cluster, or a zone-wide pool). The full
volume API (attach, resize, migrate, snapshots) is its own entity kind."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, and_, func, or_, select, update

from cloudplane.errors import Insufficient
from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.tables.compute import ServiceOffering
from cloudplane.store.tables.storage import StoragePool, StoragePoolTag, Volume

if TYPE_CHECKING:
    from cloudplane.actors.kinds.vm import VmEntity
    from cloudplane.supervisors.placement import Candidate

T_VOL: Table = Volume.__table__  # type: ignore[attr-defined]
T_POOL: Table = StoragePool.__table__  # type: ignore[attr-defined]
T_PTAG: Table = StoragePoolTag.__table__  # type: ignore[attr-defined]
T_SO: Table = ServiceOffering.__table__  # type: ignore[attr-defined]


async def volume_rows(vm: VmEntity, volumes: list[dict[str, Any]]) -> None:
    r = vm.row
    for i, v in enumerate(volumes):
        values = {"uuid": new_uuid(), "version": 1, "created": utcnow(),
                  "name": f"{'ROOT' if v['type'] == 'ROOT' else 'DATA'}-{r['id']}" + ("" if i < 2 else f"-{i}"),
                  "account_id": r["account_id"], "domain_id": r["domain_id"], "zone_id": r["zone_id"],
                  "instance_id": r["id"], "device_id": 0 if v["type"] == "ROOT" else i, "volume_type": v["type"],
                  "state": "Allocated", "size_bytes": int(v["size"]), "disk_offering_id": v.get("disk_offering_id"),
                  "template_id": v.get("template_id"), "format": "QCOW2",
                  "provisioning_type": v.get("provisioning", "thin"), "display": True, "attached": utcnow()}
        await vm.host.writer.insert(T_VOL, values)


async def place_volumes(vm: VmEntity, host: Candidate) -> None:
    """Put unplaced volumes on a pool the host can reach, within the overprovisioned capacity."""
    factor = float(await vm.host.config("storage.overprovisioning.factor") or 2)
    async with vm.host.engine.connect() as conn:
        offering_tags = (await conn.execute(select(T_SO.c.storage_tags).where(
            T_SO.c.id == vm.row["service_offering_id"]))).scalar()
        tags = tuple(t.strip() for t in (offering_tags or "").split(",") if t.strip())
        todo = (await conn.execute(select(T_VOL.c.id, T_VOL.c.size_bytes).where(
            T_VOL.c.instance_id == vm.row["id"], T_VOL.c.pool_id.is_(None), T_VOL.c.removed.is_(None)))).all()
        if not todo:
            return
        need = sum(v.size_bytes for v in todo)
        used = (select(T_VOL.c.pool_id, func.coalesce(func.sum(T_VOL.c.size_bytes), 0).label("alloc"))
                .where(T_VOL.c.removed.is_(None), T_VOL.c.pool_id.is_not(None)).group_by(T_VOL.c.pool_id).subquery())
        q = (select(T_POOL.c.id, T_POOL.c.capacity_bytes, func.coalesce(used.c.alloc, 0).label("alloc"))
             .select_from(T_POOL.outerjoin(used, used.c.pool_id == T_POOL.c.id))
             .where(T_POOL.c.removed.is_(None), T_POOL.c.status == "Up", T_POOL.c.zone_id == vm.row["zone_id"],
                    or_(and_(T_POOL.c.scope == "CLUSTER", T_POOL.c.cluster_id == host.cluster_id),
                        T_POOL.c.scope == "ZONE")))
        pools = (await conn.execute(q)).all()
        pool_tags: dict[int, set[str]] = {}
        if pools and tags:
            for t in (await conn.execute(select(T_PTAG.c.pool_id, T_PTAG.c.tag).where(
                    T_PTAG.c.pool_id.in_([p.id for p in pools])))).all():
                pool_tags.setdefault(t.pool_id, set()).add(t.tag)
    fits = [p for p in pools if p.alloc + need <= p.capacity_bytes * factor and set(tags) <= pool_tags.get(p.id, set())]
    if not fits:
        raise Insufficient(f"no primary storage near host {host.uuid} has {need // 2**30} GiB free"
                           + (f" with tags {list(tags)}" if tags else ""))
    pool = min(fits, key=lambda p: p.alloc / max(1, p.capacity_bytes))

    async def work(conn: Any) -> None:
        await conn.execute(update(T_VOL).where(T_VOL.c.id.in_([v.id for v in todo])).values(
            pool_id=pool.id, pod_id=host.pod_id, state="Ready", path=T_VOL.c.uuid, version=T_VOL.c.version + 1))

    await vm.host.writer.submit(work)


async def expunge_volumes(vm: VmEntity) -> None:
    async def work(conn: Any) -> None:
        await conn.execute(update(T_VOL).where(T_VOL.c.instance_id == vm.row["id"], T_VOL.c.volume_type == "ROOT",
                                               T_VOL.c.removed.is_(None))
                           .values(removed=utcnow(), state="Expunged", version=T_VOL.c.version + 1))
        # Data disks outlive their VM, detached (CloudStack keeps them).
        await conn.execute(update(T_VOL).where(T_VOL.c.instance_id == vm.row["id"], T_VOL.c.removed.is_(None))
                           .values(instance_id=None, device_id=None, attached=None, version=T_VOL.c.version + 1))

    await vm.host.writer.submit(work)

