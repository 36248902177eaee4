"""Primary storage: createStoragePool (its cluster, or for a zone-wide pool its
zone, creates it), updateStoragePool, deleteStoragePool, listStoragePools,
listStorageTags, and storage maintenance (its states only)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from cloudplane.actors.identity import EntityRef
from cloudplane.actors.kinds.infra import cluster_ref, zone_ref
from cloudplane.actors.kinds.ipranges import name_uuid, parse_pool_url
from cloudplane.actors.kinds.storage import split_tags
from cloudplane.api.commands.base import ROOT, command, page
from cloudplane.api.commands.infrautil import find, hypervisor, job_view
from cloudplane.api.context import Accepted, Call, JobTarget, ListResult, Success
from cloudplane.api.views.infra import pool_view
from cloudplane.errors import InternalError, NotAllowed, ParamError
from cloudplane.store.base import new_uuid
from cloudplane.store.tables.infra import Cluster, Pod, Zone
from cloudplane.store.tables.storage import StoragePool, StoragePoolTag, Volume

SP, TAG, VOL = StoragePool.__table__, StoragePoolTag.__table__, Volume.__table__  # type: ignore[attr-defined]
C, P, Z = Cluster.__table__, Pod.__table__, Zone.__table__  # type: ignore[attr-defined]
ZONE_WIDE_HYPERVISORS = ("KVM", "VMware", "Hyperv", "LXC", "Any", "Simulator")


def pools_q() -> Any:
    return (select(SP, Z.c.uuid.label("zone_uuid"), Z.c.name.label("zone_name"), P.c.uuid.label("pod_uuid"),
                   P.c.name.label("pod_name"), C.c.uuid.label("cluster_uuid"), C.c.name.label("cluster_name"))
            .select_from(SP.join(Z, SP.c.zone_id == Z.c.id).outerjoin(P, SP.c.pod_id == P.c.id)
                         .outerjoin(C, SP.c.cluster_id == C.c.id))
            .where(SP.c.removed.is_(None)))


async def pools_out(call: Call, conn: Any, rows: list[Any]) -> list[dict[str, Any]]:
    if not rows:
        return []
    ids = [r.id for r in rows]
    tags: dict[int, list[str]] = {}
    for t in (await conn.execute(select(TAG.c.pool_id, TAG.c.tag).where(TAG.c.pool_id.in_(ids))
                                 .order_by(TAG.c.id))).all():
        tags.setdefault(t.pool_id, []).append(t.tag)
    alloc = {p: int(n or 0) for p, n in (await conn.execute(
        select(VOL.c.pool_id, func.sum(VOL.c.size_bytes)).where(VOL.c.pool_id.in_(ids), VOL.c.removed.is_(None))
        .group_by(VOL.c.pool_id))).all()}
    factor = float(await call.service.config("storage.overprovisioning.factor") or 2)
    return [pool_view(r, tags=tags.get(r.id, []), allocated=alloc.get(r.id, 0), factor=factor) for r in rows]


async def load_pool(call: Call, uuid: str) -> dict[str, Any]:
    async with call.service.engine.connect() as conn:
        items = await pools_out(call, conn, (await conn.execute(pools_q().where(SP.c.uuid == uuid))).all())
    if not items:
        raise ParamError(f"Unable to find storage pool by id {uuid}")
    return items[0]


async def pool_target(call: Call) -> tuple[Any, EntityRef]:
    """The pool named by `id` and its ref (keyed by its cluster, so it lives with it)."""
    pool = await find(call, SP, "id")
    key = None
    if pool.cluster_id is not None:
        async with call.service.engine.connect() as conn:
            key = (await conn.execute(select(C.c.uuid).where(C.c.id == pool.cluster_id))).scalar()
    return pool, EntityRef("storage_pool", pool.uuid, key)


async def _pool_uuid(call: Call, host: str, path: str, networked: bool) -> str:
    """CloudStack's id of a network pool is named after its export; a removed pool's id
    is not reused."""
    if not networked:
        return new_uuid()
    uuid = name_uuid(host + path)
    async with call.service.engine.connect() as conn:
        old = (await conn.execute(select(SP.c.removed).where(SP.c.uuid == uuid))).first()
    if old is not None and old.removed is None:
        raise InternalError("Another active pool with the same uuid already exists")
    return uuid if old is None else new_uuid()


@command("createStoragePool", object_name="storagepool", roles=ROOT, entity_type="StoragePool")
async def create_storage_pool(call: Call) -> dict[str, Any]:
    zone = await find(call, Z, "zoneid")
    if zone.allocation_state == "Disabled" and not call.caller.is_root_admin:
        raise NotAllowed(f"Cannot perform this operation, Zone is currently disabled: {zone.uuid}")
    scope = str(call.get("scope") or "cluster").lower()
    if scope not in ("cluster", "zone"):
        raise ParamError("Only cluster-wide and zone-wide primary storage is supported")
    url = parse_pool_url(call.get("url"))
    tags = split_tags(call.get("tags"))
    values: dict[str, Any] = {
        "name": call.get("name"), "pool_type": url.pool_type, "host_address": url.host, "path": url.path,
        "port": url.port, "url": call.get("url"), "provider": call.get("provider") or "DefaultPrimary",
        "managed": bool(call.get("managed", False)), "capacity_iops": call.get("capacityiops"), "status": "Up",
        "used_bytes": 0}
    if call.get("capacitybytes") is not None:
        if call.get("capacitybytes") <= 0:
            raise ParamError("capacityBytes must be greater than zero")
        values["capacity_bytes"] = call.get("capacitybytes")
    uuid = await _pool_uuid(call, url.host, url.path, url.scheme in ("nfs", "gluster"))
    if scope == "cluster":
        if call.get("clusterid") is None:
            raise ParamError("cluster id can't be null, if scope is cluster")
        if call.get("podid") is None:
            raise ParamError("pod id can't be null, if scope is cluster")
        cluster = await find(call, C, "clusterid")
        pod = await find(call, P, "podid")
        if cluster.pod_id != pod.id or pod.zone_id != zone.id:
            raise ParamError(f"Cluster {cluster.uuid} is not in pod {pod.uuid} of zone {zone.uuid}")
        values["hypervisor"] = cluster.hypervisor_type
        target = JobTarget(cluster_ref(cluster.uuid), "create_pool", {"uuid": uuid, "values": values, "tags": tags})
    else:
        if not call.get("hypervisor"):
            raise ParamError("hypervisor type can't be null, if scope is zone")
        hv = hypervisor(call.get("hypervisor"))
        if hv not in ZONE_WIDE_HYPERVISORS:
            raise ParamError(f"zone wide storage pool is not supported for hypervisor type {call.get('hypervisor')}")
        values["hypervisor"] = hv
        target = JobTarget(zone_ref(zone.uuid), "create_pool", {"uuid": uuid, "values": values, "tags": tags})
    await call.service.run(call, target)
    return await load_pool(call, uuid)


@command("updateStoragePool", object_name="storagepool", roles=ROOT, entity_type="StoragePool")
async def update_storage_pool(call: Call) -> dict[str, Any]:
    pool, ref = await pool_target(call)
    args = {"name": call.get("name"), "tags": call.get("tags"), "capacity_bytes": call.get("capacitybytes"),
            "capacity_iops": call.get("capacityiops"), "enabled": call.get("enabled")}
    await call.service.run(call, JobTarget(ref, "update", args))
    return await load_pool(call, pool.uuid)


@command("deleteStoragePool", roles=ROOT, entity_type="StoragePool")
async def delete_storage_pool(call: Call) -> Success:
    pool, ref = await pool_target(call)
    await call.service.run(call, JobTarget(ref, "delete", {"forced": bool(call.get("forced", False))}))
    return Success()


@command("listStoragePools", object_name="storagepool", roles=ROOT)
async def list_storage_pools(call: Call) -> ListResult:
    q = pools_q()
    for param, col in (("id", SP.c.uuid), ("name", SP.c.name), ("zoneid", Z.c.uuid), ("podid", P.c.uuid),
                       ("clusterid", C.c.uuid), ("ipaddress", SP.c.host_address), ("path", SP.c.path)):
        if call.get(param) is not None:
            q = q.where(col == call.get(param))
    if call.get("scope"):
        q = q.where(SP.c.scope == str(call.get("scope")).upper())
    if call.get("keyword"):
        q = q.where(SP.c.name.contains(call.get("keyword")))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, SP.c.id)
        items = await pools_out(call, conn, rows)
    return ListResult(items, total)


@command("listStorageTags", object_name="storagetag", roles=ROOT)
async def list_storage_tags(call: Call) -> ListResult:
    q = (select(TAG.c.id, TAG.c.tag, TAG.c.pool_id).select_from(TAG.join(SP, TAG.c.pool_id == SP.c.id))
         .where(SP.c.removed.is_(None)))
    if call.get("keyword"):
        q = q.where(TAG.c.tag.contains(call.get("keyword")))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, TAG.c.id)
    return ListResult([{"id": str(r.id), "name": r.tag, "poolid": r.pool_id} for r in rows], total)


async def _pool_for_job(call: Call, uuid: str) -> dict[str, Any]:
    return await load_pool(call, uuid)


POOL_JOB_VIEW = job_view("storagepool", "listStoragePools", _pool_for_job)


async def _maintenance(call: Call, enable: bool) -> Accepted:
    pool, ref = await pool_target(call)
    return await call.service.accept(call, JobTarget(ref, "maintenance", {"enable": enable}))


@command("enableStorageMaintenance", object_name="storagepool", roles=ROOT, entity_type="StoragePool",
         job_view=POOL_JOB_VIEW)
async def enable_storage_maintenance(call: Call) -> Accepted:
    return await _maintenance(call, True)


@command("cancelStorageMaintenance", object_name="storagepool", roles=ROOT, entity_type="StoragePool",
         job_view=POOL_JOB_VIEW)
async def cancel_storage_maintenance(call: Call) -> Accepted:
    return await _maintenance(call, False)
