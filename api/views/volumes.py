"""Volume, snapshot, snapshot policy and VM snapshot rows → CloudStack's
responses, and listVolumes' filters as conditions on `volume` alone (joined
things become subqueries, as api/views/vms.py does)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.api.dates import format_date
from cloudplane.api.views.tags import tag_filter, tags_by_resource
from cloudplane.store.tables.compute import DiskOffering, ServiceOffering, VmInstance
from cloudplane.store.tables.identity import Account, Domain
from cloudplane.store.tables.images import Template
from cloudplane.store.tables.infra import Cluster, Host, Pod, Zone
from cloudplane.store.tables.storage import Snapshot, SnapshotPolicy, StoragePool, Volume, VmSnapshot
from cloudplane.store.tables.tags import ResourceTag

VOL, SNAP, POL, VMS, POOL = (t.__table__ for t in (Volume, Snapshot, SnapshotPolicy, VmSnapshot, StoragePool))  # type: ignore[attr-defined]
VM, Z, A, D, DO, SO, T, C, P, TAG = (t.__table__ for t in (  # type: ignore[attr-defined]
    VmInstance, Zone, Account, Domain, DiskOffering, ServiceOffering, Template, Cluster, Pod, ResourceTag))
H: Any = Host.__table__  # type: ignore[attr-defined]
PARENT = VMS.alias("parent")


def id_of(table: Any, uuid: str) -> Any:
    return select(table.c.id).where(table.c.uuid == uuid).scalar_subquery()


def tag_filters(call: Any, id_col: Any, resource_type: str) -> list[Any]:
    """`tags[n].key` / `tags[n].value` (keys in any case): the shared filter of every taggable list."""
    return tag_filter(call, resource_type, id_col)


async def tags_of(conn: AsyncConnection, resource_type: str, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    return dict(await tags_by_resource(conn, resource_type, ids))


async def page_ids(call: Any, conn: AsyncConnection, table: Any, where: list[Any]) -> tuple[list[int], int]:
    """One page's ids (CloudStack's page/pagesize, at most default.page.size) and the total."""
    max_size = await call.service.config_int("default.page.size") or 500
    size, pg = call.get("pagesize"), call.get("page")
    if size is None or size <= 0 or size > max_size:
        size = max_size
    total = int((await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one())
    q = select(table.c.id).where(*where).order_by(table.c.id).limit(size)
    if pg and pg > 1:
        q = q.offset((pg - 1) * size)
    return [r[0] for r in (await conn.execute(q)).all()], total


# -- volumes ------------------------------------------------------------------------------------------
def volume_filters(call: Any, vis: Any, *, admin: bool) -> list[ColumnElement[bool]]:
    where: list[Any] = [VOL.c.removed.is_(None), vis.clause(VOL.c.account_id, VOL.c.domain_id)]
    for p, col in (("id", VOL.c.uuid), ("name", VOL.c.name), ("type", VOL.c.volume_type), ("state", VOL.c.state),
                   ("displayvolume", VOL.c.display)):
        if call.get(p) is not None:
            where.append(col == call.get(p))
    for p, col, table in (("zoneid", VOL.c.zone_id, Z), ("podid", VOL.c.pod_id, P),
                          ("diskofferingid", VOL.c.disk_offering_id, DO),
                          ("virtualmachineid", VOL.c.instance_id, VM)):
        if call.get(p) is not None:
            where.append(col == id_of(table, call.get(p)))
    if call.get("storageid") is not None and admin:
        where.append(VOL.c.pool_id == id_of(POOL, call.get("storageid")))
    if call.get("clusterid") is not None:
        where.append(VOL.c.pool_id.in_(select(POOL.c.id).where(POOL.c.cluster_id == id_of(C, call.get("clusterid")))))
    if call.get("ids"):
        where.append(VOL.c.uuid.in_(call.get("ids")))
    if call.get("keyword"):
        where.append(VOL.c.name.contains(call.get("keyword"), autoescape=True))
    if call.get("hostid") is not None:  # the volumes of the VMs that host runs
        where.append(VOL.c.instance_id.in_(select(VM.c.id).where(VM.c.host_id == id_of(H, call.get("hostid")))))
    # As CloudStack: system VMs' volumes only for a root admin who asks (listsystemvms).
    if not (call.get("listsystemvms", False) and call.caller.is_root_admin):
        where.append(VOL.c.instance_id.is_(None) | VOL.c.instance_id.in_(select(VM.c.id).where(VM.c.type == "User")))
    return where + tag_filters(call, VOL.c.id, "Volume")


def volumes_query() -> Any:
    return (select(VOL, Z.c.uuid.label("zone_uuid"), Z.c.name.label("zone_name"), A.c.name.label("acct_name"),
                   D.c.uuid.label("dom_uuid"), D.c.name.label("dom_name"), POOL.c.uuid.label("pool_uuid"),
                   POOL.c.name.label("pool_name"), POOL.c.pool_type, C.c.uuid.label("cluster_uuid"),
                   C.c.name.label("cluster_name"), P.c.uuid.label("pod_uuid"), P.c.name.label("pod_name"),
                   VM.c.uuid.label("vm_uuid"), VM.c.name.label("vm_name"), VM.c.display_name.label("vm_dname"),
                   VM.c.state.label("vm_state"), VM.c.type.label("vm_type"), VM.c.hypervisor_type,
                   DO.c.uuid.label("do_uuid"), DO.c.name.label("do_name"), DO.c.display_text.label("do_text"),
                   DO.c.storage_type, SO.c.uuid.label("so_uuid"), SO.c.name.label("so_name"),
                   SO.c.display_text.label("so_text"), T.c.uuid.label("tpl_uuid"), T.c.name.label("tpl_name"),
                   T.c.display_text.label("tpl_text"), T.c.format.label("tpl_format"))
            .select_from(VOL.join(Z, VOL.c.zone_id == Z.c.id).join(A, VOL.c.account_id == A.c.id)
                         .join(D, VOL.c.domain_id == D.c.id).outerjoin(POOL, VOL.c.pool_id == POOL.c.id)
                         .outerjoin(C, POOL.c.cluster_id == C.c.id).outerjoin(P, VOL.c.pod_id == P.c.id)
                         .outerjoin(VM, VOL.c.instance_id == VM.c.id)
                         .outerjoin(DO, VOL.c.disk_offering_id == DO.c.id)
                         .outerjoin(SO, VM.c.service_offering_id == SO.c.id)
                         .outerjoin(T, VOL.c.template_id == T.c.id)))


VOLUMES_BY_IDS = volumes_query().where(VOL.c.id.in_(bindparam("ids", expanding=True))).order_by(VOL.c.id)


async def volumes_out(conn: AsyncConnection, rows: list[Any], *, admin: bool) -> list[dict[str, Any]]:
    tags = await tags_of(conn, "Volume", [r.id for r in rows])
    return [volume_view(r, tags.get(r.id, []), admin=admin) for r in rows]


def volume_view(r: Any, tags: list[dict[str, Any]], *, admin: bool) -> dict[str, Any]:
    root = r.volume_type == "ROOT"
    out: dict[str, Any] = {
        "id": r.uuid, "name": r.name, "zoneid": r.zone_uuid, "zonename": r.zone_name, "type": r.volume_type,
        "deviceid": r.device_id, "virtualmachineid": r.vm_uuid, "vmname": r.vm_name,
        "vmdisplayname": r.vm_dname or r.vm_name, "vmstate": r.vm_state, "vmtype": r.vm_type,
        "provisioningtype": r.provisioning_type, "size": int(r.size_bytes), "miniops": r.min_iops,
        "maxiops": r.max_iops, "created": format_date(r.created), "state": r.state, "account": r.acct_name,
        "domainid": r.dom_uuid, "domain": r.dom_name, "storagetype": r.storage_type or "shared",
        "hypervisor": r.hypervisor_type or ("Simulator" if r.pool_uuid else "None"),
        "diskofferingid": r.do_uuid, "diskofferingname": r.do_name, "diskofferingdisplaytext": r.do_text,
        "serviceofferingid": r.so_uuid if root else None, "serviceofferingname": r.so_name if root else None,
        "serviceofferingdisplaytext": r.so_text if root else None,
        "destroyed": r.state == "Destroy", "isextractable": r.tpl_uuid is None or not root,
        "displayvolume": bool(r.display), "tags": tags, "templateid": r.tpl_uuid if r.tpl_format != "ISO" else None,
        "templatename": r.tpl_name, "templatedisplaytext": r.tpl_text, "podid": r.pod_uuid, "podname": r.pod_name,
        "attached": format_date(r.attached) if r.attached is not None and r.vm_uuid else None,
        "storage": r.pool_name, "physicalsize": int(r.size_bytes) if r.pool_uuid else None,
        "virtualsize": int(r.size_bytes), "supportsstoragesnapshot": False, "quiescevm": False,
        "hasannotations": False, "status": _transfer_status(r),
    }
    if admin:
        out.update(storageid=r.pool_uuid, path=r.path, clusterid=r.cluster_uuid, clustername=r.cluster_name,
                   chaininfo=r.chain_info)
    return {k: v for k, v in out.items() if v is not None}


def _transfer_status(r: Any) -> str | None:
    """An uploaded volume's transfer, as CloudStack words it."""
    if r.url is None or r.download_state is None:
        return None
    if r.download_state == "DOWNLOADED":
        return "Download Complete"
    if r.download_state == "DOWNLOAD_ERROR":
        return "Download Error"
    return f"{r.download_pct}% Downloaded"


# -- snapshots ---------------------------------------------------------------------------------------
def snapshots_query() -> Any:
    return (select(SNAP, VOL.c.uuid.label("vol_uuid"), VOL.c.name.label("vol_name"),
                   VOL.c.volume_type, VOL.c.instance_id, Z.c.uuid.label("zone_uuid"),
                   A.c.name.label("acct_name"), D.c.uuid.label("dom_uuid"), D.c.name.label("dom_name"))
            .select_from(SNAP.join(VOL, SNAP.c.volume_id == VOL.c.id).join(Z, SNAP.c.zone_id == Z.c.id)
                         .join(A, SNAP.c.account_id == A.c.id).join(D, SNAP.c.domain_id == D.c.id))
            .where(SNAP.c.removed.is_(None)))


def snapshot_view(r: Any, tags: list[dict[str, Any]], *, revertable: bool) -> dict[str, Any]:
    out = {"id": r.uuid, "name": r.name, "account": r.acct_name, "domainid": r.dom_uuid, "domain": r.dom_name,
           "snapshottype": r.snapshot_type, "volumeid": r.vol_uuid, "volumename": r.vol_name,
           "volumetype": r.volume_type, "created": format_date(r.created), "intervaltype": r.interval_type,
           "state": r.state, "zoneid": r.zone_uuid, "locationtype": r.location_type, "tags": tags,
           "revertable": revertable, "physicalsize": int(r.physical_size_bytes), "virtualsize": int(r.size_bytes),
           "hasannotations": False}
    return {k: v for k, v in out.items() if v is not None}


async def snapshots_out(conn: AsyncConnection, rows: list[Any]) -> list[dict[str, Any]]:
    tags = await tags_of(conn, "Snapshot", [r.id for r in rows])
    return [snapshot_view(r, tags.get(r.id, []), revertable=r.state == "BackedUp") for r in rows]


def policy_view(r: Any, vol_uuid: str) -> dict[str, Any]:
    return {"id": r.uuid, "volumeid": vol_uuid, "schedule": r.schedule, "intervaltype": INTERVAL_CODES[r.interval_type],
            "maxsnaps": r.max_snaps, "timezone": r.timezone, "fordisplay": bool(r.display), "tags": []}


# CloudStack answers a policy's interval as its ordinal (HOURLY 0 ... MONTHLY 3).
INTERVAL_CODES = {"HOURLY": 0, "DAILY": 1, "WEEKLY": 2, "MONTHLY": 3}


# -- VM snapshots ------------------------------------------------------------------------------------
def vm_snapshots_query() -> Any:
    return (select(VMS, VM.c.uuid.label("vm_uuid"), VM.c.name.label("vm_name"), VM.c.hypervisor_type,
                   Z.c.uuid.label("zone_uuid"), Z.c.name.label("zone_name"), A.c.name.label("acct_name"),
                   D.c.uuid.label("dom_uuid"), D.c.name.label("dom_name"), PARENT.c.uuid.label("parent_uuid"),
                   PARENT.c.name.label("parent_name"))
            .select_from(VMS.join(VM, VMS.c.instance_id == VM.c.id).join(Z, VMS.c.zone_id == Z.c.id)
                         .join(A, VMS.c.account_id == A.c.id).join(D, VMS.c.domain_id == D.c.id)
                         .outerjoin(PARENT, VMS.c.parent_id == PARENT.c.id))
            .where(VMS.c.removed.is_(None)))


def vm_snapshot_view(r: Any, tags: list[dict[str, Any]]) -> dict[str, Any]:
    out = {"id": r.uuid, "name": r.name, "displayname": r.display_name or r.name, "description": r.description,
           "state": r.state, "type": r.snapshot_type, "current": bool(r.is_current), "created": format_date(r.created),
           "virtualmachineid": r.vm_uuid, "virtualmachinename": r.vm_name, "parent": r.parent_uuid,
           "parentName": r.parent_name, "zoneid": r.zone_uuid, "zonename": r.zone_name, "account": r.acct_name,
           "domainid": r.dom_uuid, "domain": r.dom_name, "hypervisor": r.hypervisor_type, "tags": tags,
           "hasannotations": False}
    return {k: v for k, v in out.items() if v is not None}
