"""VM commands beyond the lifecycle: scaling, migration, passwords, restore and
ISOs. Handlers check offerings, templates and policy; the VM entity applies
the change (actors/kinds/vmchange.py, vmmove.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select

from cloudplane.api.commands.base import ALL, ROOT, command
from cloudplane.api.commands.hosts import load_hosts
from cloudplane.api.commands.vms import (
    READY,
    lifecycle,
    new_password,
    one,
    owned_vm,
    size_of,
    vm_job_view,
    vm_password_view,
    vm_ref,
    vm_view_by_uuid,
)
from cloudplane.api.context import Accepted, Call, JobTarget, ListResult
from cloudplane.errors import NotAllowed, ParamError
from cloudplane.store.tables.compute import ServiceOffering
from cloudplane.store.tables.images import ISO_FORMAT, Template, TemplateZone
from cloudplane.store.tables.infra import Host
from cloudplane.store.tables.storage import StoragePool, Volume
from cloudplane.supervisors.placement import PlacementRequest, load_snapshot, plan

SO, T, TZ = ServiceOffering.__table__, Template.__table__, TemplateZone.__table__  # type: ignore[attr-defined]
VOL, SP, H = Volume.__table__, StoragePool.__table__, Host.__table__  # type: ignore[attr-defined]
GiB = 2**30


# -- size ----------------------------------------------------------------------------------------------


async def _scale_args(call: Call, vm: Any) -> dict[str, Any]:
    so = await one(call, SO, call.get("serviceofferingid"), "service offering")
    if so.is_system or so.state != "Active":
        raise ParamError(f"Unable to use service offering {so.uuid} for a user VM")
    cpus, mhz, mib = size_of(call, so.cpu_count, so.cpu_speed_mhz, so.ram_mb, so.uuid)
    if so.id == vm.service_offering_id and (cpus, mhz, mib) == (vm.cpu_count, vm.cpu_speed_mhz, vm.ram_mb):
        raise ParamError(f"Not upgrading VM {vm.uuid}: it already has service offering {so.uuid}")
    why = ""
    enabled = (await call.service.config("enable.dynamic.scale.vm", [("zone", vm.zone_id)])).lower() == "true"
    if not enabled:
        why = "dynamic scaling is disabled (enable.dynamic.scale.vm is false)"
    elif not vm.dynamically_scalable:
        why = "the VM is not dynamically scalable"
    elif not so.dynamic_scaling_enabled:
        why = f"service offering {so.uuid} does not allow dynamic scaling"
    return {"offering_id": so.id, "cpu_count": cpus, "cpu_speed_mhz": mhz, "ram_mb": mib,
            "running_allowed": not why, "why_not": why}


@command("scaleVirtualMachine", object_name="virtualmachine", entity_type="VirtualMachine", job_view=vm_job_view)
async def scale_virtual_machine(call: Call) -> Accepted:
    vm = await owned_vm(call, call.get("id"))
    return await lifecycle(call, "scale", await _scale_args(call, vm), vm.uuid)


@command("changeServiceForVirtualMachine", object_name="virtualmachine", entity_type="VirtualMachine")
async def change_service_for_virtual_machine(call: Call) -> dict[str, Any]:
    vm = await owned_vm(call, call.get("id"))
    await call.service.run(call, JobTarget(vm_ref(vm), "scale", await _scale_args(call, vm), "VirtualMachine"))
    return (await vm_view_by_uuid(call.service, call.caller, vm.uuid))["virtualmachine"]


# -- migration -----------------------------------------------------------------------------------------


async def _host_in_zone(call: Call, uuid: str, zone_id: int) -> None:
    async with call.service.engine.connect() as conn:
        row = (await conn.execute(select(H.c.zone_id).where(H.c.uuid == uuid, H.c.removed.is_(None)))).first()
    if row is None:
        raise ParamError(f"Unable to find the host with id {uuid}")
    if row.zone_id != zone_id:
        raise ParamError(f"Host {uuid} is not in the VM's zone")


@command("migrateVirtualMachine", object_name="virtualmachine", roles=ROOT, entity_type="VirtualMachine",
         job_view=vm_job_view)
async def migrate_virtual_machine(call: Call) -> Accepted:
    vm = await owned_vm(call, call.get("virtualmachineid"))
    host, pool = call.get("hostid"), call.get("storageid")
    if host and pool:
        raise ParamError("Give either hostid or storageid, not both")
    if pool:
        if vm.state == "Running":
            raise ParamError(f"VM {vm.uuid} is Running: migrate its storage with migrateVirtualMachineWithVolume")
        return await lifecycle(call, "migrate_storage", {"pool": pool}, vm.uuid)
    if vm.state != "Running":
        raise ParamError(f"VM {vm.uuid} is {vm.state}; only a Running VM can be migrated to another host")
    if host:
        await _host_in_zone(call, host, vm.zone_id)
    elif call.get("autoselect") is False:
        raise ParamError("Give hostid, or autoselect=true to let the planner choose")
    return await lifecycle(call, "migrate", {"host": host}, vm.uuid)


@command("migrateVirtualMachineWithVolume", object_name="virtualmachine", roles=ROOT,
         entity_type="VirtualMachine", job_view=vm_job_view)
async def migrate_virtual_machine_with_volume(call: Call) -> Accepted:
    vm = await owned_vm(call, call.get("virtualmachineid"))
    if vm.state != "Running":
        raise ParamError(f"VM {vm.uuid} is {vm.state}; only a Running VM can be migrated with its volumes")
    if call.get("hostid"):
        await _host_in_zone(call, call.get("hostid"), vm.zone_id)
    moves: dict[str, str] = {}
    for m in call.get("migrateto") or []:
        vol, pool = m.get("volume"), m.get("pool")
        if not vol or not pool:
            raise ParamError("migrateto entries need volume and pool")
        moves[str(vol)] = str(pool)
    if moves:
        async with call.service.engine.connect() as conn:
            mine = {r[0] for r in (await conn.execute(select(VOL.c.uuid).where(
                VOL.c.instance_id == vm.id, VOL.c.removed.is_(None)))).all()}
        stray = set(moves) - mine
        if stray:
            raise ParamError(f"Volume(s) {sorted(stray)} are not attached to VM {vm.uuid}")
    return await lifecycle(call, "migrate_with_volumes", {"host": call.get("hostid"), "volumes": moves}, vm.uuid)


@command("findHostsForMigration", object_name="host", roles=ROOT)
async def find_hosts_for_migration(call: Call) -> ListResult:
    """Every other Up host of the VM's zone; `suitableformigration` is what the planner
    would accept now, `requiresStorageMotion` whether its volumes would have to move."""
    vm = await owned_vm(call, call.get("virtualmachineid"))
    if vm.state != "Running" or vm.host_id is None:
        raise ParamError(f"VM {vm.uuid} is {vm.state}; only a Running VM can be migrated")
    async with call.service.engine.connect() as conn:
        snap = await load_snapshot(conn, vm.zone_id)
        pinned = (await conn.execute(select(SP.c.cluster_id).select_from(VOL.join(SP, VOL.c.pool_id == SP.c.id)).where(
            VOL.c.instance_id == vm.id, VOL.c.removed.is_(None), SP.c.scope == "CLUSTER"))).scalar()
    so = snap.offerings.get(vm.service_offering_id)
    req = PlacementRequest(zone_id=vm.zone_id, cpu_mhz=vm.cpu_count * vm.cpu_speed_mhz, mem_bytes=vm.ram_mb * 2**20,
                           cpu_cores=vm.cpu_count, cpu_speed_mhz=vm.cpu_speed_mhz, vm=vm.uuid,
                           host_tags=so.host_tags if so else (), avoid=frozenset([vm.host_id]),
                           algorithm="firstfit")
    suitable = {h.id for h in plan(snap, req, limit=len(snap.hosts) + 1).hosts}
    others = [h for h in snap.hosts.values() if h.id != vm.host_id and h.status == "Up"]
    kw = call.get("keyword")
    if kw:
        others = [h for h in others if kw.lower() in h.name.lower()]
    others.sort(key=lambda h: (h.id not in suitable, h.id))
    size, pg = call.get("pagesize"), call.get("page") or 1
    shown = others[(pg - 1) * size: pg * size] if size else others
    items = {h["id"]: h for h in await load_hosts(call, [h.uuid for h in shown])}
    out = []
    for h in shown:
        item = dict(items.get(h.uuid, {"id": h.uuid, "name": h.name}))
        item["suitableformigration"] = h.id in suitable
        item["requiresStorageMotion"] = pinned is not None and h.cluster_id != pinned
        out.append(item)
    return ListResult(out, len(others))


# -- password ------------------------------------------------------------------------------------------


async def _template_of(call: Call, vm: Any) -> Any:
    if vm.template_id is None:
        return None
    async with call.service.engine.connect() as conn:
        return (await conn.execute(select(T).where(T.c.id == vm.template_id))).first()


@command("resetPasswordForVirtualMachine", object_name="virtualmachine", entity_type="VirtualMachine",
         job_view=vm_password_view)
async def reset_password_for_virtual_machine(call: Call) -> Accepted:
    vm = await owned_vm(call, call.get("id"))
    tpl = await _template_of(call, vm)
    if tpl is None or not tpl.password_enabled:
        raise ParamError("Fail to reset password for the virtual machine, the template is not password enabled")
    if vm.state != "Stopped":
        raise ParamError(f"Vm {vm.uuid} should be stopped to do password reset")
    _plain, encrypted = await new_password(call)
    return await lifecycle(call, "reset_password", {"encrypted": encrypted}, vm.uuid)


@command("getVMPassword", object_name="password", roles=ALL)
async def get_vm_password(call: Call) -> dict[str, Any]:
    """CloudStack answers with the password encrypted by the VM's SSH public key; with no
    SSH key pairs here, `encryptedpassword` carries the password itself (see docs)."""
    vm = await owned_vm(call, call.get("id"))
    if not vm.password:
        raise ParamError("No password for VM with specified id found.")
    try:
        return {"encryptedpassword": call.service.key.decrypt(vm.password)}
    except ValueError:
        raise ParamError("No password for VM with specified id found.") from None


# -- restore and ISOs ------------------------------------------------------------------------------------


async def _ready_in(call: Call, tpl_id: int, zone_id: int) -> bool:
    async with call.service.engine.connect() as conn:
        state = (await conn.execute(select(TZ.c.download_state).where(and_(
            TZ.c.template_id == tpl_id, TZ.c.zone_id == zone_id, TZ.c.removed.is_(None))))).scalar()
    return state in READY


def _may_use(call: Call, image: Any, vm: Any, what: str) -> None:
    if not image.is_public and image.account_id != vm.account_id and not call.caller.is_root_admin:
        raise NotAllowed(f"{what} {image.uuid} is private to another account")


@command("restoreVirtualMachine", object_name="virtualmachine", entity_type="VirtualMachine", job_view=vm_job_view)
async def restore_virtual_machine(call: Call) -> Accepted:
    vm = await owned_vm(call, call.get("virtualmachineid"))
    tpl = await one(call, T, call.get("templateid"), "template") if call.get("templateid") else \
        await _template_of(call, vm)
    if tpl is None:
        raise ParamError(f"VM {vm.uuid} has no template to restore from (it was deployed from an ISO)")
    if tpl.format == ISO_FORMAT:
        raise ParamError(f"{tpl.uuid} is an ISO: restoreVirtualMachine needs a template")
    _may_use(call, tpl, vm, "Template")
    if not await _ready_in(call, tpl.id, vm.zone_id):
        raise ParamError(f"Template {tpl.uuid} is not ready in the VM's zone")
    async with call.service.engine.connect() as conn:
        so_root = (await conn.execute(select(SO.c.root_disk_size_bytes).where(
            SO.c.id == vm.service_offering_id))).scalar()
    size = tpl.size_bytes or so_root or 8 * GiB
    return await lifecycle(call, "restore", {"template_id": tpl.id, "root_size": int(size)}, vm.uuid)


@command("attachIso", object_name="virtualmachine", entity_type="VirtualMachine", job_view=vm_job_view)
async def attach_iso(call: Call) -> Accepted:
    vm = await owned_vm(call, call.get("virtualmachineid"))
    iso = await one(call, T, call.get("id"), "ISO")
    if iso.format != ISO_FORMAT:
        raise ParamError(f"{iso.uuid} is not an ISO")
    _may_use(call, iso, vm, "ISO")
    if not await _ready_in(call, iso.id, vm.zone_id):
        raise ParamError(f"ISO {iso.uuid} is not ready in the VM's zone")
    if vm.iso_id is not None:
        raise ParamError(f"An ISO is already attached to VM {vm.display_name or vm.name}")
    return await lifecycle(call, "attach_iso", {"iso_id": iso.id, "iso_uuid": iso.uuid}, vm.uuid)


@command("detachIso", object_name="virtualmachine", entity_type="VirtualMachine", job_view=vm_job_view)
async def detach_iso(call: Call) -> Accepted:
    vm = await owned_vm(call, call.get("virtualmachineid"))
    if vm.iso_id is None:
        raise ParamError("The specified VM has no ISO attached to it.")
    return await lifecycle(call, "detach_iso", {}, vm.uuid)
