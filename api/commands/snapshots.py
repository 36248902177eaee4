"""Volume snapshots and their policies: createSnapshot, listSnapshots,
deleteSnapshot, revertSnapshot, createSnapshotPolicy, updateSnapshotPolicy,
listSnapshotPolicies, deleteSnapshotPolicies. A snapshot's operations run on
its volume's owning mailbox (the VM's while attached); policies are their own
entities, run by the scheduler in supervisors/snapshots.py."""

from __future__ import annotations

import uuid as _uuid
from typing import Any

from sqlalchemy import bindparam, select

from cloudplane.actors.identity import EntityRef
from cloudplane.api import scope
from cloudplane.api.commands.base import ALL, command
from cloudplane.api.commands.volumes import may_act, owned_volume, owner_ref
from cloudplane.api.context import Accepted, Call, Caller, JobTarget, ListResult, Success
from cloudplane.api.views.volumes import (
    POL,
    SNAP,
    VOL,
    Z,
    id_of,
    page_ids,
    policy_view,
    snapshots_out,
    snapshots_query,
    tag_filters,
)
from cloudplane.errors import ParamError
from cloudplane.store.base import new_uuid
from cloudplane.store.tables.identity import Domain
from cloudplane.supervisors.snapshots import Schedule, zone_of

D = Domain.__table__  # type: ignore[attr-defined]
NS = _uuid.UUID("8b3c1d5e-4f60-4a7b-9c8d-2e1f0a9b8c7d")  # a policy's id: its volume and interval
_SNAPS_BY_IDS = snapshots_query().where(SNAP.c.id.in_(bindparam("ids", expanding=True))).order_by(SNAP.c.id)
_OWNED = (select(SNAP.c.uuid, SNAP.c.account_id, SNAP.c.state, VOL.c.uuid.label("vol_uuid"), D.c.path.label("dom_path"))
          .select_from(SNAP.join(VOL, SNAP.c.volume_id == VOL.c.id).join(D, SNAP.c.domain_id == D.c.id))
          .where(SNAP.c.uuid == bindparam("u"), SNAP.c.removed.is_(None)))


async def snapshot_view(service: Any, caller: Caller, uuid: str | None) -> dict[str, Any]:
    async with service.engine.connect() as conn:
        rows = (await conn.execute(snapshots_query().where(SNAP.c.uuid == uuid))).all()
        items = await snapshots_out(conn, list(rows))
    return {"snapshot": items[0]} if items else {"success": True}


async def snapshot_job_view(service: Any, caller: Caller, result: dict[str, Any]) -> dict[str, Any]:
    return await snapshot_view(service, caller, result.get("snapshot") or result.get("id"))


async def owned_snapshot(call: Call, uuid: str | None) -> tuple[Any, Any]:
    """The snapshot and its volume (with the volume's owner), if the caller may act on them."""
    async with call.service.engine.connect() as conn:
        snap = (await conn.execute(_OWNED, {"u": uuid})).first()
    if snap is None:
        raise ParamError(f"Unable to find snapshot with id {uuid}")
    may_act(call.caller, snap.account_id, snap.dom_path, f"snapshot {uuid}")
    return snap, await owned_volume(call, snap.vol_uuid)


# -- snapshots ---------------------------------------------------------------------------------------
async def create_snapshot_job(call: Call, vol: Any, name: str | None) -> Accepted:
    """The one place a manual snapshot is asked for (resource-count checks hook in here)."""
    uuid = new_uuid()
    target = JobTarget(owner_ref(vol), "snapshot_volume", {"volume": vol.uuid, "snapshot": uuid, "name": name},
                       "Snapshot")
    return await call.service.accept(call, target, uuid)


@command("createSnapshot", object_name="snapshot", roles=ALL, entity_type="Snapshot", job_view=snapshot_job_view)
async def create_snapshot(call: Call) -> Accepted:
    vol = await owned_volume(call, call.get("volumeid"))
    if vol.state != "Ready":
        raise ParamError(f"VolumeId: {vol.uuid} is not in Ready state but {vol.state}. Cannot take snapshot.")
    return await create_snapshot_job(call, vol, call.get("name"))


@command("deleteSnapshot", roles=ALL, entity_type="Snapshot")
async def delete_snapshot(call: Call) -> Accepted:
    snap, vol = await owned_snapshot(call, call.get("id"))
    return await call.service.accept(call, JobTarget(owner_ref(vol), "delete_snapshot", {"snapshot": snap.uuid},
                                                     "Snapshot"), snap.uuid)


@command("revertSnapshot", object_name="snapshot", roles=ALL, entity_type="Snapshot", job_view=snapshot_job_view)
async def revert_snapshot(call: Call) -> Accepted:
    snap, vol = await owned_snapshot(call, call.get("id"))
    target = JobTarget(owner_ref(vol), "revert_snapshot", {"snapshot": snap.uuid}, "Snapshot")
    return await call.service.accept(call, target, snap.uuid)


@command("listSnapshots", object_name="snapshot", roles=ALL)
async def list_snapshots(call: Call) -> ListResult:
    vis = await scope.visibility(call)
    where: list[Any] = [SNAP.c.removed.is_(None), vis.clause(SNAP.c.account_id, SNAP.c.domain_id)]
    for p, col in (("id", SNAP.c.uuid), ("name", SNAP.c.name), ("snapshottype", SNAP.c.snapshot_type),
                   ("intervaltype", SNAP.c.interval_type)):
        if call.get(p) is not None:
            where.append(col == (call.get(p).upper() if p in ("snapshottype", "intervaltype") else call.get(p)))
    if call.get("volumeid"):
        where.append(SNAP.c.volume_id == id_of(VOL, call.get("volumeid")))
    if call.get("zoneid"):
        where.append(SNAP.c.zone_id == id_of(Z, call.get("zoneid")))
    if call.get("ids"):
        where.append(SNAP.c.uuid.in_(call.get("ids")))
    if call.get("keyword"):
        where.append(SNAP.c.name.contains(call.get("keyword"), autoescape=True))
    where += tag_filters(call, SNAP.c.id, "Snapshot")
    async with call.service.engine.connect() as conn:
        ids, total = await page_ids(call, conn, SNAP, where)
        rows = (await conn.execute(_SNAPS_BY_IDS, {"ids": ids})).all() if ids else []
        return ListResult(await snapshots_out(conn, list(rows)), total)


# -- policies ----------------------------------------------------------------------------------------
def _policy_ref(uuid: str) -> EntityRef:
    return EntityRef("snapshot_policy", uuid)


def _checked(interval: str, schedule: str, tz: str) -> None:
    try:
        Schedule.parse(interval, schedule)
        zone_of(tz)
    except ValueError as e:
        raise ParamError(str(e)) from None


@command("createSnapshotPolicy", object_name="snapshotpolicy", roles=ALL, entity_type="Snapshot")
async def create_snapshot_policy(call: Call) -> dict[str, Any]:
    vol = await owned_volume(call, call.get("volumeid"))
    interval = str(call.get("intervaltype") or "").upper()
    _checked(interval, call.get("schedule") or "", call.get("timezone") or "")
    keep = call.get("maxsnaps")
    if keep is None or keep <= 0:
        raise ParamError("maxSnaps must be greater than 0")
    if vol.state != "Ready" and vol.state != "Allocated":
        raise ParamError(f"Volume {vol.uuid} is {vol.state}: it cannot have a snapshot policy")
    uuid = str(_uuid.uuid5(NS, f"{vol.uuid}:{interval}"))
    values = {"volume_id": vol.id, "interval_type": interval, "schedule": call.get("schedule"),
              "timezone": call.get("timezone"), "max_snaps": keep, "active": True,
              "display": call.get("fordisplay", True) is not False}
    await call.service.run(call, JobTarget(_policy_ref(uuid), "create", {"values": values}, "Snapshot"))
    return await _policy_out(call, uuid)


async def _policy_out(call: Call, uuid: str) -> dict[str, Any]:
    async with call.service.engine.connect() as conn:
        r = (await conn.execute(select(POL, VOL.c.uuid.label("vol_uuid")).join(VOL, POL.c.volume_id == VOL.c.id)
                                .where(POL.c.uuid == uuid))).one()
    return policy_view(r, r.vol_uuid)


async def _owned_policies(call: Call, uuids: list[str]) -> list[Any]:
    async with call.service.engine.connect() as conn:
        rows = (await conn.execute(select(POL.c.uuid, VOL.c.uuid.label("vol_uuid")).join(
            VOL, POL.c.volume_id == VOL.c.id).where(POL.c.uuid.in_(uuids), POL.c.removed.is_(None)))).all()
    missing = set(uuids) - {r.uuid for r in rows}
    if missing:
        raise ParamError(f"Unable to find snapshot policy with id {sorted(missing)[0]}")
    for r in rows:
        await owned_volume(call, r.vol_uuid)
    return list(rows)


@command("updateSnapshotPolicy", object_name="snapshotpolicy", roles=ALL, entity_type="Snapshot",
         job_view=lambda service, caller, result: _policy_job_view(service, result))
async def update_snapshot_policy(call: Call) -> Accepted:
    (pol,) = await _owned_policies(call, [call.get("id")])
    changes = {"display": call.get("fordisplay")}
    return await call.service.accept(call, JobTarget(_policy_ref(pol.uuid), "update", changes, "Snapshot"), pol.uuid)


async def _policy_job_view(service: Any, result: dict[str, Any]) -> dict[str, Any]:
    async with service.engine.connect() as conn:
        r = (await conn.execute(select(POL, VOL.c.uuid.label("vol_uuid")).join(VOL, POL.c.volume_id == VOL.c.id)
                                .where(POL.c.uuid == result.get("id")))).first()
    return {"snapshotpolicy": policy_view(r, r.vol_uuid)} if r is not None else {"success": True}


@command("listSnapshotPolicies", object_name="snapshotpolicy", roles=ALL)
async def list_snapshot_policies(call: Call) -> ListResult:
    where: list[Any] = [POL.c.removed.is_(None)]
    if call.get("volumeid"):
        vol = await owned_volume(call, call.get("volumeid"))
        where.append(POL.c.volume_id == vol.id)
    else:
        vis = await scope.visibility(call)
        where.append(POL.c.volume_id.in_(select(VOL.c.id).where(vis.clause(VOL.c.account_id, VOL.c.domain_id))))
    if call.get("id"):
        where.append(POL.c.uuid == call.get("id"))
    if call.get("fordisplay") is not None:
        where.append(POL.c.display == call.get("fordisplay"))
    async with call.service.engine.connect() as conn:
        ids, total = await page_ids(call, conn, POL, where)
        rows = (await conn.execute(select(POL, VOL.c.uuid.label("vol_uuid")).join(VOL, POL.c.volume_id == VOL.c.id)
                                   .where(POL.c.id.in_(ids)).order_by(POL.c.id))).all() if ids else []
    return ListResult([policy_view(r, r.vol_uuid) for r in rows], total)


@command("deleteSnapshotPolicies", roles=ALL, entity_type="Snapshot")
async def delete_snapshot_policies(call: Call) -> Success:
    uuids = list(call.get("ids") or []) + ([call.get("id")] if call.get("id") else [])
    if not uuids:
        raise ParamError("Please provide the id or ids of the snapshot policies to delete")
    for pol in await _owned_policies(call, uuids):
        await call.service.run(call, JobTarget(_policy_ref(pol.uuid), "delete", {}, "Snapshot"))
    return Success()

