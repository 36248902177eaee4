"""Resource details: addResourceDetail, removeResourceDetail, listResourceDetails.

Writes go through the resource's annex entity (actors/kinds/annex.py), like
tags. Users see only the details marked for display (`fordisplay`) of the
resources they may see; the keys a VM's own operations keep (its SSH keys)
are changed through the VM, never here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select

from cloudplane.api import scope
from cloudplane.api.commands.base import ALL, command, equalities, page
from cloudplane.api.commands.tags import annex_ref
from cloudplane.api.context import Accepted, Call, JobTarget, ListResult
from cloudplane.api.resources import owned_resources, owner_query, resource_type
from cloudplane.errors import ParamError
from cloudplane.store.tables.tags import ResourceDetail

DET = ResourceDetail.__table__  # type: ignore[attr-defined]
RESERVED = ("ssh.publickey", "ssh.keypairnames")  # a VM's keys: resetSSHKeyForVirtualMachine


async def _success_view(service: Any, caller: Any, result: dict[str, Any]) -> dict[str, Any]:
    return {"success": True}


def _details(call: Call) -> dict[str, str]:
    out: dict[str, str] = {}
    for d in call.get("details") or []:
        d = {str(k).lower(): v for k, v in d.items()}
        key = str(d.get("key") or "").strip()
        if not key or d.get("value") is None:
            raise ParamError("Every detail needs a key and a value (details[n].key, details[n].value)")
        if key.lower() in RESERVED:
            raise ParamError(f"Detail {key} is set by resetSSHKeyForVirtualMachine, not here")
        out[key] = str(d["value"])
    if not out:
        raise ParamError("details must give at least one key and value (details[0].key, details[0].value)")
    return out


async def _one(call: Call) -> tuple[Any, Any]:
    rt = resource_type(call.get("resourcetype"), details=True)
    async with call.service.engine.connect() as conn:
        row = (await owned_resources(conn, call.caller, rt, [call.get("resourceid")]))[0]
    return rt, row


@command("addResourceDetail", roles=ALL, entity_type="ResourceDetail", job_view=_success_view)
async def add_resource_detail(call: Call) -> Accepted:
    details = _details(call)
    rt, row = await _one(call)
    args = {"rtype": rt.name, "resource_id": row.id, "details": details,
            "display": call.get("fordisplay", True) is not False}
    await call.service.event(call.caller, "CREATE_RESOURCE_DETAILS", f"Adding details {sorted(details)} to {rt.name}",
                             state="Scheduled", resource_type=rt.name, resource_uuid=row.uuid)
    return await call.service.accept(call, JobTarget(annex_ref(rt, row.uuid), "add_details", args, rt.name))


@command("removeResourceDetail", roles=ALL, entity_type="ResourceDetail", job_view=_success_view)
async def remove_resource_detail(call: Call) -> Accepted:
    key = call.get("key")
    if key and str(key).lower() in RESERVED:
        raise ParamError(f"Detail {key} is set by resetSSHKeyForVirtualMachine, not here")
    rt, row = await _one(call)
    args = {"rtype": rt.name, "resource_id": row.id, "key": key}
    await call.service.event(call.caller, "DELETE_RESOURCE_DETAILS", f"Removing details from {rt.name}",
                             state="Scheduled", resource_type=rt.name, resource_uuid=row.uuid)
    return await call.service.accept(call, JobTarget(annex_ref(rt, row.uuid), "remove_details", args, rt.name))


@command("listResourceDetails", object_name="resourcedetail", roles=ALL)
async def list_resource_details(call: Call) -> ListResult:
    rt = resource_type(call.get("resourcetype"), details=True)
    res = owner_query(rt).subquery()
    q = (select(DET.c.id, DET.c.name, DET.c.value, DET.c.display, res.c.uuid)
         .select_from(DET.join(res, and_(DET.c.resource_id == res.c.id, DET.c.resource_type == rt.name))))
    c = call.caller
    if rt.owned:
        vis = await scope.visibility(call) if call.get("resourceid") is None or c.role_type == "User" else None
        if vis is not None:
            q = q.where(vis.clause(res.c.account_id, res.c.domain_id))
        elif not c.is_root_admin:
            q = q.where(res.c.dom_path.startswith(c.domain_path, autoescape=True))
    elif not c.is_root_admin:
        q = q.where(DET.c.display.is_(True))  # offerings and zones: users see what is for display
    if c.role_type == "User":
        q = q.where(DET.c.display.is_(True))
    elif call.get("fordisplay") is not None:
        q = q.where(DET.c.display.is_(bool(call.get("fordisplay"))))
    q = q.where(*equalities(call, (("resourceid", res.c.uuid), ("key", DET.c.name), ("value", DET.c.value))))
    if call.get("keyword"):
        q = q.where(DET.c.name.contains(call.get("keyword"), autoescape=True))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, DET.c.id)
    return ListResult([{"resourceid": r.uuid, "resourcetype": rt.name, "key": r.name, "value": r.value,
                        "fordisplay": bool(r.display)} for r in rows], total)
