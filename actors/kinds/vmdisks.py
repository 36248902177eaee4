"""A VM's own volumes: the ROOT volume (and data disks) are created with the
VM and placed on a primary storage pool by the VM's first start, in the same
transaction as its host claim (actors/kinds/vmplace.py), next to the host (its
cluster's pool or a zone-wide one).

A pool's allocation is its STORAGE_ALLOCATED capacity row, claimed by
conditional UPDATE (`used + size <= total × ratio`, the pool's ratio from
store/poolrules.py)
and given back when a volume leaves the pool. The full volume API (attach,
resize, snapshots) is its own entity kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.actors.kinds.vmplace import claim_pool, release_pool
from cloudplane.errors import Insufficient
from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.poolrules import load_rules
from cloudplane.store.tables.storage import StoragePool, Volume

T_VOL: Table = Volume.__table__  # type: ignore[attr-defined]
T_POOL: Table = StoragePool.__table__  # type: ignore[attr-defined]


def volume_values(vm: dict[str, Any], volumes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for the volumes a deploy asked for (`type` ROOT or DATADISK, `size` in bytes)."""
    out = []
    for i, v in enumerate(volumes):
        root = v["type"] == "ROOT"
        out.append({
            "uuid": new_uuid(), "version": 1, "created": utcnow(),
            "name": f"{'ROOT' if root else 'DATA'}-{vm['id']}" + ("" if i < 2 else f"-{i}"),
            "account_id": vm["account_id"], "domain_id": vm["domain_id"], "zone_id": vm["zone_id"],
            "instance_id": vm["id"], "device_id": 0 if root else i, "volume_type": v["type"], "state": "Allocated",
            "size_bytes": int(v["size"]), "disk_offering_id": v.get("disk_offering_id"),
            "template_id": v.get("template_id"), "format": "QCOW2", "provisioning_type": v.get("provisioning", "thin"),
            "display": True, "attached": utcnow()})
    return out


Ratio = Callable[[int], float]  # pool id → how many times its capacity it may have allocated


async def zone_ratios(engine: Any, zone_id: int) -> Ratio:
    """The pools' ratios in a zone, as store/poolrules.py reads them at their scopes."""
    async with engine.connect() as conn:
        rules = await load_rules(conn)
    return lambda pool_id: rules.ratio(pool_id, zone_id)


@dataclass(frozen=True)
class Storage:
    """Where a VM's volumes are: bytes not yet on a pool, and the cluster its
    cluster-scoped pools pin it to (None: any cluster of the zone)."""

    unplaced: int = 0
    cluster_id: int | None = None


async def storage_of(conn: AsyncConnection, vm_id: int) -> Storage:
    rows = (await conn.execute(select(T_VOL.c.size_bytes, T_VOL.c.pool_id, T_POOL.c.scope, T_POOL.c.cluster_id)
                               .select_from(T_VOL.outerjoin(T_POOL, T_VOL.c.pool_id == T_POOL.c.id))
                               .where(T_VOL.c.instance_id == vm_id, T_VOL.c.removed.is_(None)))).all()
    unplaced = sum(int(r.size_bytes) for r in rows if r.pool_id is None)
    pinned = next((r.cluster_id for r in rows if r.pool_id is not None and r.scope == "CLUSTER"), None)
    return Storage(unplaced, pinned)


async def _give_back(conn: AsyncConnection, rows: list[Any]) -> None:
    per_pool: dict[int, int] = {}
    for r in rows:
        if r.pool_id is not None:
            per_pool[r.pool_id] = per_pool.get(r.pool_id, 0) + int(r.size_bytes)
    for pool, size in per_pool.items():
        await release_pool(conn, pool, size)


async def expunge_volumes(conn: AsyncConnection, vm_id: int) -> None:
    """The ROOT volume goes with its VM (its pool allocation given back); data disks
    outlive it, detached, as CloudStack keeps them."""
    roots = (await conn.execute(select(T_VOL.c.id, T_VOL.c.pool_id, T_VOL.c.size_bytes).where(
        T_VOL.c.instance_id == vm_id, T_VOL.c.volume_type == "ROOT", T_VOL.c.removed.is_(None)))).all()
    await _give_back(conn, list(roots))
    if roots:
        await conn.execute(update(T_VOL).where(T_VOL.c.id.in_([r.id for r in roots])).values(
            removed=utcnow(), state="Expunged", version=T_VOL.c.version + 1))
    await conn.execute(update(T_VOL).where(T_VOL.c.instance_id == vm_id, T_VOL.c.removed.is_(None)).values(
        instance_id=None, device_id=None, attached=None, version=T_VOL.c.version + 1))


async def forget_volumes(conn: AsyncConnection, vm_id: int) -> None:
    """A deploy that failed half-way: its volumes never existed."""
    rows = (await conn.execute(select(T_VOL.c.id, T_VOL.c.pool_id, T_VOL.c.size_bytes).where(
        T_VOL.c.instance_id == vm_id, T_VOL.c.removed.is_(None)))).all()
    await _give_back(conn, list(rows))
    await conn.execute(update(T_VOL).where(T_VOL.c.instance_id == vm_id, T_VOL.c.removed.is_(None)).values(
        removed=utcnow(), state="Expunged", version=T_VOL.c.version + 1))


async def replace_root(conn: AsyncConnection, vm: dict[str, Any], template_id: int | None, size: int,
                       ratio: Ratio) -> str:
    """restoreVirtualMachine: a new ROOT volume from the template on the old one's pool
    (claimed; unplaced if that pool has no room, to be placed at the next start); the old
    ROOT volume is expunged."""
    old = (await conn.execute(select(T_VOL.c.id, T_VOL.c.pool_id, T_VOL.c.pod_id, T_VOL.c.size_bytes,
                                     T_VOL.c.disk_offering_id, T_VOL.c.provisioning_type).where(
        T_VOL.c.instance_id == vm["id"], T_VOL.c.volume_type == "ROOT", T_VOL.c.removed.is_(None)))).first()
    await _give_back(conn, [old] if old is not None else [])
    pool = old.pool_id if old is not None else None
    if pool is not None and not await claim_pool(conn, pool, size, ratio(pool)):
        pool = None
    if old is not None:
        await conn.execute(update(T_VOL).where(T_VOL.c.id == old.id).values(
            removed=utcnow(), state="Expunged", instance_id=None, version=T_VOL.c.version + 1))
    row = volume_values(vm, [{"type": "ROOT", "size": size, "template_id": template_id,
                              "disk_offering_id": old.disk_offering_id if old is not None else None}])[0]
    if pool is not None:
        row.update(pool_id=pool, pod_id=old.pod_id, state="Ready", path=row["uuid"])
    await conn.execute(insert(T_VOL).values(**row))
    return str(row["uuid"])


async def move_volumes(conn: AsyncConnection, vm_id: int, moves: dict[int, int], ratio: Ratio) -> None:
    """Volumes (by id) to other pools: the destination claimed, the source given back."""
    rows = (await conn.execute(select(T_VOL.c.id, T_VOL.c.pool_id, T_VOL.c.size_bytes).where(
        T_VOL.c.instance_id == vm_id, T_VOL.c.id.in_(list(moves)), T_VOL.c.removed.is_(None)))).all()
    done: list[Any] = []
    for r in rows:
        dst = moves[r.id]
        if dst == r.pool_id:
            continue
        if not await claim_pool(conn, dst, int(r.size_bytes), ratio(dst)):
            for d in done:  # undo our part before refusing
                await release_pool(conn, moves[d.id], int(d.size_bytes))
            raise Insufficient(f"storage pool {dst} has no room for volume {r.id} ({int(r.size_bytes) // 2**30} GiB)")
        done.append(r)
    await _give_back(conn, done)
    for r in done:
        await conn.execute(update(T_VOL).where(T_VOL.c.id == r.id).values(
            pool_id=moves[r.id], state="Ready", version=T_VOL.c.version + 1))
