"""Volume work shared by the two mailboxes that own a volume.

A volume attached to a VM is changed through its VM's mailbox (so an attach,
a resize or a snapshot never races the VM's start or migration); a detached
volume is its own entity. Both call the functions here, which reload the
volume row, decide, and write it with its version checked together with the
pool capacity they claim or give back, in one transaction: a refusal leaves
nothing behind, and capacity rows always equal the volumes on each pool.

The host-side step (attach a disk to a running domain, take a snapshot, ...)
goes to the VM's host when the VM runs; `Work.agent` is None otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Table, and_, bindparam, case, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.actors.kinds.vmplace import release_pool
from cloudplane.errors import ApiError, Insufficient, ParamError
from cloudplane.store import limits
from cloudplane.store.base import utcnow
from cloudplane.store.poolrules import PoolRules, load_rules
from cloudplane.store.tables.capacity import Capacity, CapacityType
from cloudplane.store.tables.storage import ImageStore, Snapshot, StoragePool, Volume

T_VOL: Table = Volume.__table__  # type: ignore[attr-defined]
T_POOL: Table = StoragePool.__table__  # type: ignore[attr-defined]
T_SNAP: Table = Snapshot.__table__  # type: ignore[attr-defined]
T_STORE: Table = ImageStore.__table__  # type: ignore[attr-defined]
T_CAP: Table = Capacity.__table__  # type: ignore[attr-defined]
GiB = 2**30
Agent = Callable[[str, dict[str, Any]], Awaitable[tuple[bool, str, dict[str, Any]]]]


class VolState(StrEnum):
    """CloudStack's Volume.State values this module moves a volume through."""

    ALLOCATED = "Allocated"  # no pool yet
    READY = "Ready"
    DESTROY = "Destroy"  # destroyed, recoverable, still holding its pool space
    UPLOAD_OP = "UploadOp"  # uploadVolume: the transfer runs
    UPLOADED = "Uploaded"  # on secondary storage; a VM that takes it puts it on a pool
    EXPUNGED = "Expunged"


class SnapState(StrEnum):
    BACKED_UP = "BackedUp"
    DESTROYED = "Destroyed"


# CloudStack's agent command names for the host-side steps.
ATTACH_DISK, DETACH_DISK = "AttachCommand", "DettachCommand"
RESIZE_DISK, MIGRATE_DISK = "ResizeVolumeCommand", "MigrateVolumeCommand"
TAKE_SNAPSHOT = "CreateObjectCommand"
RESERVED_DEVICE = 3  # the CD-ROM's slot
MAX_DEVICE = 15


@dataclass(frozen=True)
class Work:
    """What the owning mailbox lends to a volume operation."""

    engine: Any
    rules: PoolRules
    agent: Agent | None = None  # the VM's host, while the VM runs
    vm_id: int | None = None  # the VM whose mailbox runs this (None: the volume's own)
    cluster_id: int | None = None  # the cluster whose pools the VM can reach (None: any of its zone)


async def pool_rules(engine: Any) -> PoolRules:
    """The pool space rules at their scopes (store/poolrules.py), read when an operation starts."""
    async with engine.connect() as conn:
        return await load_rules(conn)


# -- reading ------------------------------------------------------------------------------------------
_VOLUME = (select(T_VOL, T_POOL.c.cluster_id.label("pool_cluster"), T_POOL.c.scope.label("pool_scope"),
                  T_POOL.c.name.label("pool_name"))
           .select_from(T_VOL.outerjoin(T_POOL, T_VOL.c.pool_id == T_POOL.c.id))
           .where(T_VOL.c.uuid == bindparam("u")))


async def find(conn: AsyncConnection, uuid: str) -> Any:
    """The volume (with its pool's cluster and scope) as it is now, removed or not; None if unknown."""
    return (await conn.execute(_VOLUME, {"u": uuid})).first()


async def load(conn: AsyncConnection, uuid: str) -> Any:
    """The volume as it is now, or 431."""
    row = await find(conn, uuid)
    if row is None or row.removed is not None:
        raise ParamError(f"Unable to find volume with id {uuid}")
    return row


def owned_here(vol: Any, w: Work) -> None:
    """The volume still belongs to the mailbox running this (it may have been attached or
    detached since the API routed the command)."""
    if vol.instance_id != w.vm_id:
        raise ParamError(f"Volume {vol.uuid} was attached or detached meanwhile: try again")


async def write(conn: AsyncConnection, vol: Any, **changes: Any) -> None:
    """The volume row, if nobody changed it since `vol` was read."""
    res = await conn.execute(update(T_VOL).where(T_VOL.c.id == vol.id, T_VOL.c.version == vol.version).values(
        **changes, version=vol.version + 1))
    if res.rowcount != 1:
        raise ParamError(f"Volume {vol.uuid} changed meanwhile: try again")


# -- pool space --------------------------------------------------------------------------------------
_POOL_ROW = and_(T_CAP.c.owner_type == "pool", T_CAP.c.owner_id == bindparam("p"),
                 T_CAP.c.capacity_type == int(CapacityType.STORAGE_ALLOCATED))
_CLAIM = update(T_CAP).where(_POOL_ROW, T_CAP.c.enabled.is_(True),
                             T_CAP.c.used + bindparam("a") <= T_CAP.c.total * bindparam("r")).values(
    used=T_CAP.c.used + bindparam("a2"))


async def claim(conn: AsyncConnection, pool_id: int, zone_id: int, size: int, rules: PoolRules) -> bool:
    """`size` bytes of the pool's allocation, by conditional UPDATE (a lost race changes nothing),
    within the pool's own over-provisioning factor and its zone's disable threshold."""
    if size <= 0:
        await release_pool(conn, pool_id, -size)
        return True
    ratio = rules.ratio(pool_id, zone_id)
    return (await conn.execute(_CLAIM, {"p": pool_id, "a": size, "a2": size, "r": ratio})).rowcount == 1


async def reachable_pools(conn: AsyncConnection, zone_id: int, cluster_id: int | None) -> list[Any]:
    """Up pools of the zone a VM in `cluster_id` can use: that cluster's, then zone-wide ones."""
    q = select(T_POOL.c.id, T_POOL.c.pod_id, T_POOL.c.cluster_id, T_POOL.c.scope).where(
        T_POOL.c.zone_id == zone_id, T_POOL.c.status == "Up", T_POOL.c.removed.is_(None))
    if cluster_id is not None:
        q = q.where((T_POOL.c.cluster_id == cluster_id) | (T_POOL.c.scope == "ZONE"))
    rows = (await conn.execute(q.order_by(case((T_POOL.c.scope == "CLUSTER", 0), else_=1), T_POOL.c.id))).all()
    return list(rows)


async def place(conn: AsyncConnection, vol: Any, w: Work, prefer: int | None = None) -> tuple[int, int | None]:
    """A pool for an unplaced volume, claimed: `prefer` (the VM's ROOT pool) first. (pool, pod)."""
    pools = await reachable_pools(conn, vol.zone_id, w.cluster_id)
    pools.sort(key=lambda p: p.id != prefer)
    for p in pools:
        if await claim(conn, p.id, vol.zone_id, int(vol.size_bytes), w.rules):
            return p.id, p.pod_id
    raise Insufficient(f"No primary storage the VM can reach has {int(vol.size_bytes) / GiB:.1f} GiB left for "
                       f"volume {vol.uuid} (pool.storage.capacity.disablethreshold "
                       f"{w.rules.threshold_of(vol.zone_id)}, storage.overprovisioning.factor of each pool)")


def reach_error(vol: Any, cluster_id: int | None) -> str | None:
    """Why a VM in `cluster_id` cannot use the volume's pool, if it cannot."""
    if vol.pool_id is None or cluster_id is None or vol.pool_scope != "CLUSTER" or vol.pool_cluster == cluster_id:
        return None
    return (f"Volume {vol.uuid} is on storage pool {vol.pool_name} of another cluster than the VM's: a VM can "
            "only use volumes on its cluster's or zone-wide storage; migrate the volume (migrateVolume) first")


# -- operations (run by the owning mailbox) ------------------------------------------------------------
async def host_step(w: Work, cmd: str, args: dict[str, Any], what: str) -> None:
    if w.agent is None:
        return
    ok, why, _ = await w.agent(cmd, args)
    if not ok:
        raise ApiError(f"Failed to {what}: {why}", 530)


async def resize(w: Work, uuid: str, size: int, shrink_ok: bool, offering_id: int | None,
                 min_iops: int | None, max_iops: int | None) -> dict[str, Any]:
    async with w.engine.connect() as conn:
        vol = await load(conn, uuid)
    owned_here(vol, w)
    if vol.state not in (VolState.READY, VolState.ALLOCATED):
        raise ParamError(f"Volume {uuid} is {vol.state}: only a Ready or Allocated volume can be resized")
    old = int(vol.size_bytes)
    if size < old and not shrink_ok:
        raise ParamError(f"Going from existing size of {old} to size of {size} would shrink the volume. Need to "
                         "sign off by supplying the shrinkok parameter with value of true.")
    changes: dict[str, Any] = {"size_bytes": size}
    if offering_id is not None:
        changes["disk_offering_id"] = offering_id
    if min_iops is not None:
        changes["min_iops"] = min_iops
    if max_iops is not None:
        changes["max_iops"] = max_iops
    await _prepare_count(w, vol, size - old)
    async with w.engine.begin() as conn:
        await limits.reserve(conn, vol.account_id, {"primary_storage": size - old})  # 532 past the limit
        if vol.pool_id is not None and not await claim(conn, vol.pool_id, vol.zone_id, size - old, w.rules):
            raise Insufficient(f"Storage pool {vol.pool_name} has no room to grow volume {uuid} to {size / GiB:.1f} GiB")
        await write(conn, vol, **changes)
    try:
        await host_step(w, RESIZE_DISK, {"volume": vol.path or vol.uuid, "size": size, "shrink": size < old},
                         f"resize volume {uuid}")
    except ApiError:
        async with w.engine.begin() as conn:  # give the old size back
            now = await load(conn, uuid)
            await _recount(conn, vol, old - size)
            if vol.pool_id is not None:
                await claim(conn, vol.pool_id, vol.zone_id, old - size, w.rules)
            await write(conn, now, size_bytes=old)
        raise
    return {"id": uuid}


async def _prepare_count(w: Work, vol: Any, delta: int) -> None:
    """The count rows a growth reserves against, made to exist outside the reserving transaction."""
    if delta > 0:
        await limits.prepare(w.engine, vol.account_id, ["primary_storage"])


async def _recount(conn: AsyncConnection, vol: Any, delta: int) -> None:
    """Undoing a size change's count: a shrink counted again whatever the limit, a growth given back."""
    if delta > 0:
        await limits.restore(conn, vol.account_id, {"primary_storage": delta})
    else:
        await limits.release(conn, vol.account_id, {"primary_storage": -delta})


async def migrate(w: Work, uuid: str, pool_uuid: str, live: bool) -> dict[str, Any]:
    async with w.engine.connect() as conn:
        vol = await load(conn, uuid)
        dst = (await conn.execute(select(T_POOL).where(T_POOL.c.uuid == pool_uuid,
                                                       T_POOL.c.removed.is_(None)))).first()
    owned_here(vol, w)
    if dst is None:
        raise ParamError(f"Unable to find storage pool with id {pool_uuid}")
    if vol.state != VolState.READY or vol.pool_id is None:
        raise ParamError(f"Volume {uuid} is {vol.state}: only a Ready volume on a pool can be migrated")
    if dst.id == vol.pool_id:
        raise ParamError(f"Volume {uuid} is already on storage pool {dst.name}")
    if dst.status != "Up":
        raise ParamError(f"Storage pool {dst.name} is {dst.status}: it takes no volumes")
    if dst.zone_id != vol.zone_id:
        raise ParamError(f"Storage pool {dst.name} is in another zone than volume {uuid}")
    if w.agent is not None and not live:
        raise ParamError(f"Volume {uuid} is attached to a running VM: migrate it with livemigrate=true")
    cluster = w.cluster_id if w.vm_id is not None else None
    if w.vm_id is not None and cluster is None and vol.pool_scope == "CLUSTER":
        cluster = vol.pool_cluster
    if cluster is not None and dst.scope == "CLUSTER" and dst.cluster_id != cluster:
        raise ParamError(f"Storage pool {dst.name} is in another cluster than the VM of volume {uuid}: an "
                         "attached volume moves between the pools of its VM's cluster (or zone-wide ones)")
    size = int(vol.size_bytes)
    async with w.engine.begin() as conn:
        if not await claim(conn, dst.id, dst.zone_id, size, w.rules):
            raise Insufficient(f"Storage pool {dst.name} has no room for volume {uuid} ({size / GiB:.1f} GiB)")
        await release_pool(conn, vol.pool_id, size)
        await write(conn, vol, pool_id=dst.id, pod_id=dst.pod_id)
    try:
        await host_step(w, MIGRATE_DISK, {"volume": vol.path or vol.uuid, "dest": dst.uuid},
                         f"migrate volume {uuid}")
    except ApiError:
        async with w.engine.begin() as conn:
            now = await load(conn, uuid)
            await claim(conn, vol.pool_id, vol.zone_id, size, PoolRules(1e9, 1.0))  # the old place, unconditionally back
            await release_pool(conn, dst.id, size)
            await write(conn, now, pool_id=vol.pool_id, pod_id=vol.pod_id)
        raise
    return {"id": uuid}


def counted(vol: Any) -> dict[str, int]:
    """What a volume counts against its account's limits (store/limits.py)."""
    return {"volume": 1, "primary_storage": int(vol.size_bytes)}


async def expunge(conn: AsyncConnection, vol: Any) -> None:
    if vol.pool_id is not None:
        await release_pool(conn, vol.pool_id, int(vol.size_bytes))
    if vol.state != VolState.DESTROY:  # a destroyed one was given back already
        await limits.release(conn, vol.account_id, counted(vol))
    await write(conn, vol, state=VolState.EXPUNGED, removed=utcnow(), instance_id=None, device_id=None)


async def extract(w: Work, uuid: str, mode: str, url: str, seconds: str) -> dict[str, Any]:
    """extractVolume, simulated: the copy to secondary storage (HTTP_DOWNLOAD, then served at
    `url`) or to `url` (FTP_UPLOAD) takes `simulator.template.download.seconds`; nothing is
    sent anywhere. Runs beside the mailbox: it changes nothing."""
    async with w.engine.connect() as conn:
        vol = await load(conn, uuid)
    owned_here(vol, w)
    if vol.state != VolState.READY or vol.pool_id is None:
        raise ParamError(f"Volume {uuid} is {vol.state}: only a Ready volume on primary storage can be extracted")
    if w.agent is not None:
        raise ParamError(f"Volume {uuid} is attached to a running VM: stop the VM (or detach the volume) first")
    try:
        await asyncio.sleep(min(max(float(seconds or 0), 0.0), 60.0))
    except ValueError:
        pass
    return {"id": uuid, "zone_id": vol.zone_id, "account_id": vol.account_id, "name": vol.name, "url": url,
            "mode": mode, "state": "DOWNLOAD_URL_CREATED" if mode == "HTTP_DOWNLOAD" else "UPLOADED"}


# -- snapshots -------------------------------------------------------------------------------------
async def take_snapshot(w: Work, uuid: str, snap_uuid: str, name: str | None, interval: str | None = None,
                        keep: int | None = None) -> dict[str, Any]:
    """A snapshot of the volume, backed up to the zone's image store; a recurring one
    (`interval`) keeps the newest `keep` of its interval. Taken once per `snap_uuid`."""
    async with w.engine.connect() as conn:
        vol = await load(conn, uuid)
        store = (await conn.execute(select(T_STORE.c.id).where(
            T_STORE.c.zone_id == vol.zone_id, T_STORE.c.role == "Image", T_STORE.c.removed.is_(None))
            .order_by(T_STORE.c.id).limit(1))).scalar()
        existing = (await conn.execute(select(T_SNAP.c.id).where(T_SNAP.c.uuid == snap_uuid))).first()
    if existing is not None:  # a resumed job: it is done
        return {"id": snap_uuid}
    owned_here(vol, w)
    if vol.state != VolState.READY:
        raise ParamError(f"VolumeId: {uuid} is not in Ready state but {vol.state}. Cannot take snapshot.")
    if store is None:
        raise ParamError(f"Zone of volume {uuid} has no secondary storage to back the snapshot up to")
    await host_step(w, TAKE_SNAPSHOT, {"volume": vol.path or vol.uuid, "snapshot": snap_uuid},
                     f"take a snapshot of volume {uuid}")
    now = utcnow()
    values = {"uuid": snap_uuid, "version": 1, "created": now, "account_id": vol.account_id,
              "domain_id": vol.domain_id, "zone_id": vol.zone_id, "volume_id": vol.id,
              "name": name or f"{vol.name}_{now.strftime('%Y%m%d%H%M%S')}",
              "snapshot_type": interval or "MANUAL", "interval_type": interval, "state": SnapState.BACKED_UP,
              "hypervisor": "Simulator", "location_type": "SECONDARY", "image_store_id": store,
              "path": f"snapshots/{vol.account_id}/{vol.id}/{snap_uuid}", "size_bytes": int(vol.size_bytes),
              "physical_size_bytes": int(vol.size_bytes)}
    need = {"snapshot": 1, "secondary_storage": int(values["physical_size_bytes"])}
    await limits.prepare(w.engine, vol.account_id, list(need))
    async with w.engine.begin() as conn:
        await limits.reserve(conn, vol.account_id, need)  # 532: no snapshot row
        await conn.execute(T_SNAP.insert().values(**values))
        if keep is not None:
            await prune(conn, vol.id, interval, keep)
    return {"id": snap_uuid}


async def prune(conn: AsyncConnection, vol_id: int, interval: str | None, keep: int) -> None:
    """A policy keeps its newest `keep` snapshots; older ones of its interval are deleted."""
    rows = (await conn.execute(select(T_SNAP.c.id).where(
        T_SNAP.c.volume_id == vol_id, T_SNAP.c.interval_type == interval, T_SNAP.c.removed.is_(None))
        .order_by(T_SNAP.c.created.desc(), T_SNAP.c.id.desc()))).all()
    old = [r.id for r in rows[max(keep, 0):]]
    if old:
        await release_snapshots(conn, T_SNAP.c.id.in_(old))
        await conn.execute(update(T_SNAP).where(T_SNAP.c.id.in_(old)).values(
            state=SnapState.DESTROYED, removed=utcnow(), version=T_SNAP.c.version + 1))


async def release_snapshots(conn: AsyncConnection, which: Any) -> None:
    """Give back what live snapshots matching `which` count, before they are removed."""
    for r in (await conn.execute(select(T_SNAP.c.account_id, T_SNAP.c.physical_size_bytes).where(
            which, T_SNAP.c.removed.is_(None)))).all():
        await limits.release(conn, r.account_id, {"snapshot": 1, "secondary_storage": int(r.physical_size_bytes)})


async def delete_snapshot(w: Work, snap_uuid: str) -> dict[str, Any]:
    async with w.engine.begin() as conn:
        await release_snapshots(conn, T_SNAP.c.uuid == snap_uuid)
        await conn.execute(update(T_SNAP).where(T_SNAP.c.uuid == snap_uuid, T_SNAP.c.removed.is_(None)).values(
            state=SnapState.DESTROYED, removed=utcnow(), version=T_SNAP.c.version + 1))
    return {"success": True}


async def revert_snapshot(w: Work, snap_uuid: str, vm_running: bool) -> dict[str, Any]:
    """The volume back to the snapshot's content (and size, its pool space adjusted)."""
    async with w.engine.connect() as conn:
        snap = (await conn.execute(select(T_SNAP).where(T_SNAP.c.uuid == snap_uuid,
                                                        T_SNAP.c.removed.is_(None)))).first()
        if snap is None:
            raise ParamError(f"Unable to find snapshot with id {snap_uuid}")
        vol_uuid = (await conn.execute(select(T_VOL.c.uuid).where(T_VOL.c.id == snap.volume_id))).scalar_one()
        vol = await load(conn, vol_uuid)
    owned_here(vol, w)
    if vm_running:
        raise ParamError(f"Volume {vol_uuid} is attached to a running VM: stop the VM to revert its snapshot")
    if vol.state != VolState.READY or snap.state != SnapState.BACKED_UP:
        raise ParamError(f"Snapshot {snap_uuid} ({snap.state}) cannot be reverted onto volume {vol_uuid} "
                         f"({vol.state})")
    size, old = int(snap.size_bytes), int(vol.size_bytes)
    await _prepare_count(w, vol, size - old)
    async with w.engine.begin() as conn:
        await limits.reserve(conn, vol.account_id, {"primary_storage": size - old})
        if vol.pool_id is not None and not await claim(conn, vol.pool_id, vol.zone_id, size - old, w.rules):
            raise Insufficient(f"Storage pool {vol.pool_name} has no room to revert volume {vol_uuid}")
        await write(conn, vol, size_bytes=size)
    return {"id": vol_uuid}
