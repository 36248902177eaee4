"""Volumes: createVolume, attachVolume, detachVolume, resizeVolume,
deleteVolume, destroyVolume, recoverVolume, migrateVolume and listVolumes.

A handler checks what the caller may ask for and routes the job: an attached
volume's operations go to its VM's mailbox, a detached volume's to its own
(actors/kinds/volume.py); both re-check the volume's state when they run.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select

from cloudplane.actors.identity import EntityRef
from cloudplane.api import scope
from cloudplane.api.commands.base import ALL, command
from cloudplane.api.commands.templates import check_url
from cloudplane.api.commands.vms import owned_vm, vm_ref
from cloudplane.api.context import Accepted, Call, Caller, JobTarget, ListResult, Success
from cloudplane.api.views.volumes import DO, VOL, VOLUMES_BY_IDS, Z, page_ids, volume_filters, volumes_out
from cloudplane.errors import NotAllowed, ParamError
from cloudplane.store.base import new_uuid
from cloudplane.store.tables.compute import VmInstance
from cloudplane.store.tables.identity import Domain
from cloudplane.store.tables.storage import Snapshot

VM, D, SNAP = VmInstance.__table__, Domain.__table__, Snapshot.__table__  # type: ignore[attr-defined]
GiB = 2**30
_OWNED = (select(VOL, D.c.path.label("dom_path"), VM.c.uuid.label("vm_uuid"), VM.c.placement_key,
                 VM.c.state.label("vm_state"))
          .select_from(VOL.join(D, VOL.c.domain_id == D.c.id).outerjoin(VM, VOL.c.instance_id == VM.c.id))
          .where(VOL.c.uuid == bindparam("u")))


def may_act(c: Caller, account_id: int, dom_path: str, what: str) -> None:
    """A user acts on its own account's resources, an admin on its domain subtree's."""
    if (c.role_type == "User" and account_id != c.account_id) or \
            (c.role_type != "User" and not dom_path.startswith(c.domain_path)):
        raise NotAllowed(f"Caller {c.username} is not allowed to operate on {what}")


async def owned_volume(call: Call, uuid: str | None) -> Any:
    """The volume (with its VM's uuid and placement key), if the caller may act on it."""
    if not uuid:
        raise ParamError("Unable to find volume: no id given")
    async with call.service.engine.connect() as conn:
        row = (await conn.execute(_OWNED, {"u": uuid})).first()
    if row is None or row.removed is not None:
        raise ParamError(f"Unable to find volume with id {uuid}")
    may_act(call.caller, row.account_id, row.dom_path, f"volume {uuid}")
    return row


def owner_ref(row: Any) -> EntityRef:
    """Whose mailbox runs an operation of this volume: its VM's while attached, else its own."""
    if row.instance_id is not None:
        return EntityRef("vm", row.vm_uuid, row.placement_key)
    return EntityRef("volume", row.uuid)


async def volume_view(service: Any, caller: Caller, uuid: str | None) -> dict[str, Any]:
    async with service.engine.connect() as conn:
        ids = [r[0] for r in (await conn.execute(select(VOL.c.id).where(VOL.c.uuid == uuid))).all()]
        rows = (await conn.execute(VOLUMES_BY_IDS, {"ids": ids})).all() if ids else []
        items = await volumes_out(conn, list(rows), admin=caller.role_type != "User")
    return {"volume": items[0]} if items else {"success": True}


async def volume_job_view(service: Any, caller: Caller, result: dict[str, Any]) -> dict[str, Any]:
    return await volume_view(service, caller, result.get("id"))


# -- birth ----------------------------------------------------------------------------------------
async def _size(call: Call, offering: Any, snapshot: Any) -> int:
    if snapshot is not None:
        return int(snapshot.size_bytes)
    if offering.customized:
        gb = call.get("size")
        if not gb or gb <= 0:
            raise ParamError(f"Disk offering {offering.uuid} is customized: give size (GB) greater than 0")
        return int(gb) * GiB
    if call.get("size"):
        raise ParamError(f"Disk offering {offering.uuid} has a fixed size: size cannot be given")
    return int(offering.disk_size_bytes)


async def create_volume_job(call: Call, values: dict[str, Any], vm: Any = None) -> Accepted:
    """The one place a volume is born (resource-count checks hook in here)."""
    uuid = new_uuid()
    args: dict[str, Any] = {"values": values}
    if vm is not None:
        args["vm"] = [vm.uuid, vm.placement_key]
    return await call.service.accept(call, JobTarget(EntityRef("volume", uuid), "create", args, "Volume"), uuid)


@command("createVolume", object_name="volume", roles=ALL, entity_type="Volume", job_view=volume_job_view)
async def create_volume(call: Call) -> Accepted:
    offering, snapshot, vm = None, None, None
    async with call.service.engine.connect() as conn:
        if call.get("snapshotid"):
            snapshot = (await conn.execute(select(SNAP, D.c.path.label("dom_path")).join(
                D, SNAP.c.domain_id == D.c.id).where(SNAP.c.uuid == call.get("snapshotid"),
                                                     SNAP.c.removed.is_(None)))).first()
            if snapshot is None:
                raise ParamError(f"Unable to find snapshot with id {call.get('snapshotid')}")
            may_act(call.caller, snapshot.account_id, snapshot.dom_path, f"snapshot {snapshot.uuid}")
        if call.get("diskofferingid"):
            offering = (await conn.execute(select(DO).where(DO.c.uuid == call.get("diskofferingid"),
                                                            DO.c.removed.is_(None)))).first()
            if offering is None or offering.state != "Active":
                raise ParamError(f"Unable to find disk offering with id {call.get('diskofferingid')}")
        zone_uuid = call.get("zoneid")
        zone = (await conn.execute(select(Z).where(Z.c.uuid == zone_uuid, Z.c.removed.is_(None)))).first() \
            if zone_uuid else None
    if offering is None and snapshot is None:
        raise ParamError("Either disk offering id or snapshot id must be passed whilst creating volume")
    if call.get("virtualmachineid"):
        vm = await owned_vm(call, call.get("virtualmachineid"))
    if zone_uuid and zone is None:
        raise ParamError(f"Unable to find zone by id {zone_uuid}")
    zone_id = zone.id if zone is not None else (snapshot.zone_id if snapshot is not None else
                                                (vm.zone_id if vm is not None else None))
    if zone_id is None:
        raise ParamError("Please specify the zone (zoneid) of the new volume")
    if zone is not None and zone.allocation_state != "Enabled" and not call.caller.is_root_admin:
        raise ParamError(f"Cannot perform this operation, Zone is currently disabled: {zone.uuid}")
    account_id, domain_id = await scope.target_account(call)
    if vm is not None and vm.account_id != account_id:
        raise NotAllowed(f"VM {vm.uuid} belongs to another account than the new volume")
    size = await _size(call, offering, snapshot)
    if offering is None and snapshot is not None:
        async with call.service.engine.connect() as conn:
            offering = (await conn.execute(select(DO).join(VOL, VOL.c.disk_offering_id == DO.c.id).where(
                VOL.c.id == snapshot.volume_id))).first()
    values = {"name": call.get("name") or f"volume-{new_uuid()[:8]}", "account_id": account_id,
              "domain_id": domain_id, "zone_id": zone_id, "size_bytes": size,
              "disk_offering_id": offering.id if offering is not None else None,
              "provisioning_type": offering.provisioning_type if offering is not None else "thin",
              "min_iops": call.get("miniops") or (offering.min_iops if offering is not None else None),
              "max_iops": call.get("maxiops") or (offering.max_iops if offering is not None else None),
              "display": call.get("displayvolume", True) is not False}
    return await create_volume_job(call, values, vm)


# -- attach, detach -------------------------------------------------------------------------------
@command("attachVolume", object_name="volume", roles=ALL, entity_type="Volume", job_view=volume_job_view)
async def attach_volume(call: Call) -> Accepted:
    vol = await owned_volume(call, call.get("id"))
    vm = await owned_vm(call, call.get("virtualmachineid"))
    if vol.instance_id is not None:
        raise ParamError(f"Volume {vol.uuid} is already attached to VM {vol.vm_uuid}")
    return await call.service.accept(call, JobTarget(vm_ref(vm), "attach_volume", {
        "volume": vol.uuid, "device_id": call.get("deviceid")}, "Volume"), vol.uuid)


@command("detachVolume", object_name="volume", roles=ALL, entity_type="Volume", job_view=volume_job_view)
async def detach_volume(call: Call) -> Accepted:
    uuid = call.get("id")
    if not uuid:
        if not (call.get("virtualmachineid") and call.get("deviceid") is not None):
            raise ParamError("Please provide either a volume id, or a tuple (device id, instance id)")
        vm = await owned_vm(call, call.get("virtualmachineid"))
        async with call.service.engine.connect() as conn:
            uuid = (await conn.execute(select(VOL.c.uuid).where(
                VOL.c.instance_id == vm.id, VOL.c.device_id == call.get("deviceid"),
                VOL.c.removed.is_(None)))).scalar()
        if uuid is None:
            raise ParamError(f"VM {vm.uuid} has no volume with device id {call.get('deviceid')}")
    vol = await owned_volume(call, uuid)
    if vol.instance_id is None:
        raise ParamError(f"Volume {vol.uuid} is not attached to any VM")
    if vol.volume_type == "ROOT":
        raise ParamError("Please specify a data volume: a ROOT volume cannot be detached from its VM")
    return await call.service.accept(call, JobTarget(owner_ref(vol), "detach_volume", {"volume": vol.uuid},
                                                     "Volume"), vol.uuid)


# -- size and place ----------------------------------------------------------------------------------
@command("resizeVolume", object_name="volume", roles=ALL, entity_type="Volume", job_view=volume_job_view)
async def resize_volume(call: Call) -> Accepted:
    vol = await owned_volume(call, call.get("id"))
    offering = None
    if call.get("diskofferingid"):
        async with call.service.engine.connect() as conn:
            offering = (await conn.execute(select(DO).where(DO.c.uuid == call.get("diskofferingid"),
                                                            DO.c.removed.is_(None)))).first()
        if offering is None:
            raise ParamError(f"Unable to find disk offering with id {call.get('diskofferingid')}")
    if offering is not None and not offering.customized:
        size = int(offering.disk_size_bytes)
    elif call.get("size"):
        size = int(call.get("size")) * GiB
    else:
        raise ParamError("Please specify the new size (GB) of the volume, or a disk offering of a fixed size")
    if size <= 0:
        raise ParamError("The new size of a volume must be greater than 0")
    args = {"volume": vol.uuid, "size": size, "shrink_ok": bool(call.get("shrinkok", False)),
            "offering_id": offering.id if offering is not None else None,
            "min_iops": call.get("miniops"), "max_iops": call.get("maxiops")}
    if size < int(vol.size_bytes) and not args["shrink_ok"]:
        raise ParamError(f"Going from existing size of {int(vol.size_bytes)} to size of {size} would shrink the "
                         "volume. Need to sign off by supplying the shrinkok parameter with value of true.")
    return await call.service.accept(call, JobTarget(owner_ref(vol), "resize_volume", args, "Volume"), vol.uuid)


@command("migrateVolume", object_name="volume", roles=ALL, entity_type="Volume", job_view=volume_job_view)
async def migrate_volume(call: Call) -> Accepted:
    vol = await owned_volume(call, call.get("volumeid"))
    args = {"volume": vol.uuid, "pool": call.get("storageid"), "live": bool(call.get("livemigrate", False))}
    return await call.service.accept(call, JobTarget(owner_ref(vol), "migrate_volume", args, "Volume"), vol.uuid)


# -- death ------------------------------------------------------------------------------------------
def _detached(vol: Any) -> None:
    if vol.instance_id is not None:
        raise ParamError(f"Please specify a volume that is not attached to any VM: volume {vol.uuid} is attached "
                         f"to VM {vol.vm_uuid}; detach it first")


@command("deleteVolume", roles=ALL, entity_type="Volume")
async def delete_volume(call: Call) -> Success:
    vol = await owned_volume(call, call.get("id"))
    _detached(vol)
    await call.service.run(call, JobTarget(EntityRef("volume", vol.uuid), "delete", {}, "Volume"))
    return Success()


@command("destroyVolume", object_name="volume", roles=ALL, entity_type="Volume", job_view=volume_job_view)
async def destroy_volume(call: Call) -> Accepted:
    vol = await owned_volume(call, call.get("id"))
    _detached(vol)
    return await call.service.accept(call, JobTarget(EntityRef("volume", vol.uuid), "destroy", {
        "expunge": bool(call.get("expunge", False))}, "Volume"), vol.uuid)


@command("recoverVolume", object_name="volume", roles=ALL, entity_type="Volume")
async def recover_volume(call: Call) -> dict[str, Any]:
    vol = await owned_volume(call, call.get("id"))
    await call.service.run(call, JobTarget(EntityRef("volume", vol.uuid), "recover", {}, "Volume"))
    return (await volume_view(call.service, call.caller, vol.uuid))["volume"]


# -- transfers (simulated: nothing is fetched from or sent to a URL) --------------------------------
UPLOAD_FORMATS = ("VHD", "VHDX", "OVA", "QCOW2", "RAW", "VMDK")


@command("uploadVolume", object_name="volume", roles=ALL, entity_type="Volume", job_view=volume_job_view)
async def upload_volume(call: Call) -> Accepted:
    fmt = str(call.get("format")).upper()
    if fmt not in UPLOAD_FORMATS:
        raise ParamError(f"Image format: {call.get('format')} is incorrect. Supported formats are "
                         f"{', '.join(UPLOAD_FORMATS)}")
    check_url(str(call.get("url")), fmt)
    async with call.service.engine.connect() as conn:
        zone = (await conn.execute(select(Z).where(Z.c.uuid == call.get("zoneid"), Z.c.removed.is_(None)))).first()
        offering = (await conn.execute(select(DO).where(DO.c.uuid == call.get("diskofferingid"),
                                                        DO.c.removed.is_(None)))).first() \
            if call.get("diskofferingid") else None
    if zone is None:
        raise ParamError(f"Unable to find zone by id {call.get('zoneid')}")
    if call.get("diskofferingid") and offering is None:
        raise ParamError(f"Unable to find disk offering with id {call.get('diskofferingid')}")
    account_id, domain_id = await scope.target_account(call)
    values = {"name": call.get("name"), "account_id": account_id, "domain_id": domain_id, "zone_id": zone.id,
              "size_bytes": int(offering.disk_size_bytes) if offering is not None and not offering.customized else 0,
              "disk_offering_id": offering.id if offering is not None else None, "format": fmt,
              "url": call.get("url")}
    return await create_volume_job(call, values)


async def extract_job_view(service: Any, caller: Caller, result: dict[str, Any]) -> dict[str, Any]:
    async with service.engine.connect() as conn:
        zone = (await conn.execute(select(Z.c.uuid, Z.c.name).where(Z.c.id == result["zone_id"]))).one()
    return {"volume": {"id": result["id"], "name": result["name"], "extractId": result["id"],
                       "extractMode": result["mode"], "url": result["url"], "state": result["state"],
                       "status": "Download Complete" if result["mode"] == "HTTP_DOWNLOAD" else "Upload Complete",
                       "uploadpercentage": 100, "zoneid": zone.uuid, "zonename": zone.name,
                       "accountid": caller.account_uuid, "storagetype": "shared"}}


@command("extractVolume", object_name="volume", roles=ALL, entity_type="Volume", job_view=extract_job_view)
async def extract_volume(call: Call) -> Accepted:
    mode = str(call.get("mode")).upper()
    if mode not in ("HTTP_DOWNLOAD", "FTP_UPLOAD"):
        raise ParamError("Please specify a valid extract Mode. Supported modes: HTTP_DOWNLOAD, FTP_UPLOAD")
    if not call.caller.is_root_admin and (await call.service.config("disable.extraction")).lower() == "true":
        raise NotAllowed("Extraction has been disabled by admin")
    vol = await owned_volume(call, call.get("id"))
    async with call.service.engine.connect() as conn:
        zone = (await conn.execute(select(Z.c.id).where(Z.c.uuid == call.get("zoneid")))).scalar()
    if zone is None or zone != vol.zone_id:
        raise ParamError(f"Volume {vol.uuid} is not in zone {call.get('zoneid')}")
    if mode == "FTP_UPLOAD":
        if not call.get("url"):
            raise ParamError("Please specify the url (ftp://...) to upload the volume to")
        url = str(call.get("url"))
    else:
        settings = call.service.node.settings
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
        url = f"http://{host}:{settings.port}/userdata/{new_uuid()}.{(vol.format or 'qcow2').lower()}"
    return await call.service.accept(call, JobTarget(owner_ref(vol), "extract_volume", {
        "volume": vol.uuid, "mode": mode, "url": url}, "Volume"), vol.uuid)


# -- listing ----------------------------------------------------------------------------------------
@command("listVolumes", object_name="volume", roles=ALL)
async def list_volumes(call: Call) -> ListResult:
    if call.get("id") and call.get("ids"):
        raise ParamError("id and ids are mutually exclusive")
    vis = await scope.visibility(call)
    admin = call.caller.role_type != "User"
    where = volume_filters(call, vis, admin=admin)
    async with call.service.engine.connect() as conn:
        ids, total = await page_ids(call, conn, VOL, where)
        rows = (await conn.execute(VOLUMES_BY_IDS, {"ids": ids})).all() if ids else []
        return ListResult(await volumes_out(conn, list(rows), admin=admin), total)

