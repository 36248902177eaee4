"""VM snapshots: createVMSnapshot, listVMSnapshot, revertToVMSnapshot and
deleteVMSnapshot, all through the VM's mailbox (actors/kinds/vmvolumes.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select

from cloudplane.api import scope
from cloudplane.api.commands.base import ALL, command, equalities
from cloudplane.api.commands.vms import owned_vm, vm_job_view, vm_ref
from cloudplane.api.context import Accepted, Call, Caller, JobTarget, ListResult
from cloudplane.api.views.volumes import VM, VMS, id_of, page_ids, tag_filters, vm_snapshot_view, vm_snapshots_query
from cloudplane.errors import ParamError
from cloudplane.store.base import new_uuid

_BY_IDS = vm_snapshots_query().where(VMS.c.id.in_(bindparam("ids", expanding=True))).order_by(VMS.c.id)


async def vm_snapshot_job_view(service: Any, caller: Caller, result: dict[str, Any]) -> dict[str, Any]:
    async with service.engine.connect() as conn:
        rows = (await conn.execute(vm_snapshots_query().where(VMS.c.uuid == result.get("id")))).all()
    return {"vmsnapshot": vm_snapshot_view(rows[0], [])} if rows else {"success": True}


async def _snapshot_vm(call: Call, uuid: str | None) -> Any:
    """The VM a VM snapshot belongs to, if the caller may act on it."""
    async with call.service.engine.connect() as conn:
        vm_uuid = (await conn.execute(select(VM.c.uuid).select_from(VMS.join(VM, VMS.c.instance_id == VM.c.id))
                                      .where(VMS.c.uuid == uuid, VMS.c.removed.is_(None)))).scalar()
    if vm_uuid is None:
        raise ParamError(f"Unable to find VM snapshot with id {uuid}")
    return await owned_vm(call, vm_uuid)


@command("createVMSnapshot", object_name="vmsnapshot", roles=ALL, entity_type="VMSnapshot",
         job_view=vm_snapshot_job_view)
async def create_vm_snapshot(call: Call) -> Accepted:
    vm = await owned_vm(call, call.get("virtualmachineid"))
    uuid = new_uuid()
    name = f"i-{vm.account_id}-{vm.id}-VM_VS_{uuid[:8]}"
    args = {"snapshot": uuid, "name": name, "display_name": call.get("name") or name,
            "description": call.get("description"), "memory": bool(call.get("snapshotmemory", False))}
    return await call.service.accept(call, JobTarget(vm_ref(vm), "create_vm_snapshot", args, "VMSnapshot"), uuid)


@command("revertToVMSnapshot", object_name="virtualmachine", roles=ALL, entity_type="VirtualMachine",
         job_view=vm_job_view)
async def revert_to_vm_snapshot(call: Call) -> Accepted:
    vm = await _snapshot_vm(call, call.get("vmsnapshotid"))
    return await call.service.accept(call, JobTarget(vm_ref(vm), "revert_to_vm_snapshot", {
        "snapshot": call.get("vmsnapshotid")}, "VirtualMachine"), vm.uuid)


@command("deleteVMSnapshot", roles=ALL, entity_type="VMSnapshot")
async def delete_vm_snapshot(call: Call) -> Accepted:
    vm = await _snapshot_vm(call, call.get("vmsnapshotid"))
    return await call.service.accept(call, JobTarget(vm_ref(vm), "delete_vm_snapshot", {
        "snapshot": call.get("vmsnapshotid")}, "VMSnapshot"), call.get("vmsnapshotid"))


@command("listVMSnapshot", object_name="vmSnapshot", roles=ALL)
async def list_vm_snapshot(call: Call) -> ListResult:
    vis = await scope.visibility(call)
    where: list[Any] = [VMS.c.removed.is_(None), vis.clause(VMS.c.account_id, VMS.c.domain_id)]
    where.extend(equalities(call, (("vmsnapshotid", VMS.c.uuid), ("name", VMS.c.name), ("state", VMS.c.state))))
    if call.get("virtualmachineid"):
        where.append(VMS.c.instance_id == id_of(VM, call.get("virtualmachineid")))
    if call.get("vmsnapshotids"):
        where.append(VMS.c.uuid.in_(call.get("vmsnapshotids")))
    if call.get("keyword"):
        kw = call.get("keyword")
        where.append(VMS.c.name.contains(kw, autoescape=True) | VMS.c.display_name.contains(kw, autoescape=True))
    where += tag_filters(call, VMS.c.id, "VMSnapshot")
    async with call.service.engine.connect() as conn:
        ids, total = await page_ids(call, conn, VMS, where)
        rows = (await conn.execute(_BY_IDS, {"ids": ids})).all() if ids else []
    return ListResult([vm_snapshot_view(r, []) for r in rows], total)
