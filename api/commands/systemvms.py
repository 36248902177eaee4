"""System VMs: listSystemVms and start/stop/reboot/destroy. The reconciler
(supervisors/systemvms.py) keeps one of each per enabled zone running; these
commands let an operator act on them by hand."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from cloudplane.actors.identity import EntityRef
from cloudplane.api.commands.base import ROOT, command, equalities, page
from cloudplane.api.context import Call, JobTarget, ListResult
from cloudplane.api.dates import format_date
from cloudplane.errors import ParamError
from cloudplane.store.tables.compute import VmInstance
from cloudplane.store.tables.images import Template
from cloudplane.store.tables.infra import Host, Pod, Zone

VM, H, P, Z, T = (t.__table__ for t in (VmInstance, Host, Pod, Zone, Template))  # type: ignore[attr-defined]
SYSTEM_TYPES = {"secondarystoragevm": "SecondaryStorageVm", "consoleproxy": "ConsoleProxy"}


def _q() -> Any:
    return (select(VM, Z.c.uuid.label("zone_uuid"), Z.c.name.label("zone_name"), H.c.uuid.label("host_uuid"),
                   H.c.name.label("host_name"), H.c.status.label("host_status"), P.c.uuid.label("pod_uuid"),
                   P.c.name.label("pod_name"), T.c.uuid.label("tpl_uuid"), T.c.name.label("tpl_name"))
            .select_from(VM.join(Z, VM.c.zone_id == Z.c.id).outerjoin(H, VM.c.host_id == H.c.id)
                         .outerjoin(P, VM.c.pod_id == P.c.id).outerjoin(T, VM.c.template_id == T.c.id))
            .where(VM.c.type.in_(list(SYSTEM_TYPES.values())), VM.c.removed.is_(None)))


def system_vm_view(r: Any) -> dict[str, Any]:
    out = {"id": r.uuid, "name": r.instance_name or r.name, "systemvmtype": r.type.lower(), "state": r.state,
           "zoneid": r.zone_uuid, "zonename": r.zone_name, "podid": r.pod_uuid, "podname": r.pod_name,
           "hostid": r.host_uuid, "hostname": r.host_name, "hypervisor": r.hypervisor_type,
           "templateid": r.tpl_uuid, "templatename": r.tpl_name, "created": format_date(r.created),
           "agentstate": "Up" if r.state == "Running" else None, "activeviewersessions": 0,
           "isdynamicallyscalable": bool(r.dynamically_scalable), "hasannotations": False}
    return {k: v for k, v in out.items() if v is not None}


async def _load(call: Call, uuid: str) -> Any:
    async with call.service.engine.connect() as conn:
        row = (await conn.execute(_q().where(VM.c.uuid == uuid))).first()
    if row is None:
        raise ParamError(f"Unable to find system vm by id {uuid}")
    return row


async def system_vm_job_view(service: Any, caller: Any, result: dict[str, Any]) -> dict[str, Any]:
    async with service.engine.connect() as conn:
        row = (await conn.execute(_q().where(VM.c.uuid == result.get("id")))).first()
    return {"systemvm": system_vm_view(row)} if row is not None else {"success": True}


@command("listSystemVms", object_name="systemvm", roles=ROOT)
async def list_system_vms(call: Call) -> ListResult:
    q = _q()
    if call.get("systemvmtype"):
        t = SYSTEM_TYPES.get(str(call.get("systemvmtype")).lower())
        if t is None:
            raise ParamError("systemvmtype must be secondarystoragevm or consoleproxy")
        q = q.where(VM.c.type == t)
    q = q.where(*equalities(call, (("id", VM.c.uuid), ("state", VM.c.state), ("zoneid", Z.c.uuid), ("podid", P.c.uuid),
                                   ("hostid", H.c.uuid), ("name", VM.c.instance_name))))
    if call.get("keyword"):
        q = q.where(VM.c.instance_name.contains(call.get("keyword")))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, VM.c.id)
    return ListResult([system_vm_view(r) for r in rows], total)


async def _act(call: Call, op: str, args: dict[str, Any]) -> Any:
    row = await _load(call, call.get("id"))
    ref = EntityRef("vm", row.uuid, row.placement_key or row.zone_uuid)
    return await call.service.accept(call, JobTarget(ref, op, args, "SystemVm"), row.uuid)


for _name, _op in (("startSystemVm", "start"), ("rebootSystemVm", "reboot"), ("destroySystemVm", "destroy")):
    async def _handler(call: Call, _op: str = _op) -> Any:
        return await _act(call, _op, {"expunge": True} if _op == "destroy" else {})

    command(_name, object_name="systemvm", roles=ROOT, entity_type="SystemVm",
            job_view=system_vm_job_view)(_handler)


@command("stopSystemVm", object_name="systemvm", roles=ROOT, entity_type="SystemVm", job_view=system_vm_job_view)
async def stop_system_vm(call: Call) -> Any:
    return await _act(call, "stop", {"forced": bool(call.get("forced", False))})
