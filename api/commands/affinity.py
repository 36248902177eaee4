"""Affinity groups: createAffinityGroup, deleteAffinityGroup, listAffinityGroups,
listAffinityGroupTypes and updateVMAffinityGroup. The planner honours a VM's
groups at every start (supervisors/placement)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from cloudplane.actors.identity import EntityRef
from cloudplane.actors.kinds.affinity import TYPES
from cloudplane.api import scope
from cloudplane.api.commands.base import ALL, command, equalities
from cloudplane.api.commands.vms import lifecycle, owned_vm, vm_job_view
from cloudplane.api.context import Accepted, Call, JobTarget, ListResult
from cloudplane.errors import NotAllowed, ParamError
from cloudplane.store.base import new_uuid
from cloudplane.store.tables.compute import AffinityGroup, AffinityGroupVm, VmInstance
from cloudplane.store.tables.identity import Account, Domain

AG, AGVM, VM, A, D = (t.__table__ for t in (AffinityGroup, AffinityGroupVm, VmInstance, Account, Domain))  # type: ignore[attr-defined]


def _groups_q() -> Any:
    return (select(AG, A.c.name.label("acct"), A.c.uuid.label("acct_uuid"), D.c.uuid.label("dom_uuid"),
                   D.c.name.label("dom_name"), D.c.path.label("dom_path"))
            .select_from(AG.join(A, AG.c.account_id == A.c.id).join(D, AG.c.domain_id == D.c.id))
            .where(AG.c.removed.is_(None)))


async def _out(conn: Any, rows: list[Any]) -> list[dict[str, Any]]:
    members: dict[int, list[str]] = {}
    if rows:
        for m in (await conn.execute(select(AGVM.c.affinity_group_id, VM.c.uuid).select_from(
                AGVM.join(VM, AGVM.c.instance_id == VM.c.id)).where(
                AGVM.c.affinity_group_id.in_([r.id for r in rows]), VM.c.removed.is_(None)))).all():
            members.setdefault(m.affinity_group_id, []).append(m.uuid)
    out = []
    for r in rows:
        item = {"id": r.uuid, "name": r.name, "description": r.description, "account": r.acct,
                "domainid": r.dom_uuid, "domain": r.dom_name, "type": r.type}
        if members.get(r.id):
            item["virtualmachineIds"] = members[r.id]
        out.append({k: v for k, v in item.items() if v is not None})
    return out


async def group_view(service: Any, caller: Any, result: dict[str, Any]) -> dict[str, Any]:
    async with service.engine.connect() as conn:
        rows = (await conn.execute(_groups_q().where(AG.c.uuid == result.get("id")))).all()
        items = await _out(conn, rows)
    return {"affinitygroup": items[0]} if items else {"success": True}


async def _success_view(service: Any, caller: Any, result: dict[str, Any]) -> dict[str, Any]:
    return {"success": True}


async def _owned_group(call: Call) -> Any:
    """deleteAffinityGroup's target: by `id`, or by `name` in the caller's (or the named) account."""
    gid, name = call.get("id"), call.get("name")
    if not gid and not name:
        raise ParamError("Either the affinity group's id or its name must be given")
    q = _groups_q()
    if gid:
        q = q.where(AG.c.uuid == gid)
    else:
        account_id, _ = await scope.target_account(call)
        q = q.where(AG.c.name == name, AG.c.account_id == account_id)
    async with call.service.engine.connect() as conn:
        row = (await conn.execute(q)).first()
    if row is None:
        raise ParamError(f"Unable to find affinity group {gid or name}")
    c = call.caller
    if (c.role_type == "User" and row.account_id != c.account_id) or not row.dom_path.startswith(c.domain_path):
        raise NotAllowed(f"Caller is not allowed to operate on affinity group {row.uuid}")
    return row


@command("createAffinityGroup", object_name="affinitygroup", roles=ALL, entity_type="AffinityGroup",
         job_view=group_view)
async def create_affinity_group(call: Call) -> Accepted:
    if call.get("type") not in TYPES:
        raise ParamError(f"Unable to create affinity group, invalid affinity group type {call.get('type')}; "
                         f"use one of {list(TYPES)}")
    account_id, domain_id = await scope.target_account(call)
    uuid = new_uuid()
    values = {"name": call.get("name"), "description": call.get("description") or call.get("name"),
              "type": call.get("type"), "account_id": account_id, "domain_id": domain_id, "acl_type": "Account"}
    ref = EntityRef("affinity_group", uuid, call.caller.account_uuid)
    return await call.service.accept(call, JobTarget(ref, "create", {"values": values}, "AffinityGroup"), uuid)


@command("deleteAffinityGroup", roles=ALL, entity_type="AffinityGroup", job_view=_success_view)
async def delete_affinity_group(call: Call) -> Accepted:
    g = await _owned_group(call)
    ref = EntityRef("affinity_group", g.uuid, g.acct_uuid)
    return await call.service.accept(call, JobTarget(ref, "delete", {}, "AffinityGroup"), g.uuid)


@command("listAffinityGroups", object_name="affinitygroup", roles=ALL)
async def list_affinity_groups(call: Call) -> ListResult:
    vis = await scope.visibility(call)
    q = _groups_q().where(vis.clause(AG.c.account_id, AG.c.domain_id))
    q = q.where(*equalities(call, (("id", AG.c.uuid), ("name", AG.c.name), ("type", AG.c.type))))
    if call.get("keyword"):
        q = q.where(AG.c.name.contains(call.get("keyword"), autoescape=True))
    if call.get("virtualmachineid"):
        q = q.where(AG.c.id.in_(select(AGVM.c.affinity_group_id).join(VM, AGVM.c.instance_id == VM.c.id).where(
            VM.c.uuid == call.get("virtualmachineid"))))
    size, pg = call.get("pagesize"), call.get("page") or 1
    async with call.service.engine.connect() as conn:
        total = int((await conn.execute(select(func.count()).select_from(q.subquery()))).scalar_one())
        q = q.order_by(AG.c.id)
        if size:
            q = q.limit(size).offset((pg - 1) * size)
        return ListResult(await _out(conn, list((await conn.execute(q)).all())), total)


@command("listAffinityGroupTypes", object_name="affinityGroupType", roles=ALL)
async def list_affinity_group_types(call: Call) -> ListResult:
    return ListResult([{"type": t} for t in ("host anti-affinity", "host affinity")], 2)


@command("updateVMAffinityGroup", object_name="virtualmachine", roles=ALL, entity_type="VirtualMachine",
         job_view=vm_job_view)
async def update_vm_affinity_group(call: Call) -> Accepted:
    vm = await owned_vm(call, call.get("id"))
    ids, names = call.get("affinitygroupids"), call.get("affinitygroupnames")
    if ids is not None and names is not None:
        raise ParamError("affinitygroupids and affinitygroupnames cannot be given together")
    if vm.state != "Stopped":
        raise ParamError(f"VM {vm.uuid} is {vm.state}: its affinity groups can only be changed while it is Stopped")
    wanted: list[int] = []
    if ids or names:
        async with call.service.engine.connect() as conn:
            q = select(AG.c.id, AG.c.uuid, AG.c.name, AG.c.account_id).where(AG.c.removed.is_(None))
            rows = (await conn.execute(q.where(AG.c.uuid.in_(ids)) if ids else
                                       q.where(AG.c.name.in_(names), AG.c.account_id == vm.account_id))).all()
        missing = set(ids or names) - {r.uuid if ids else r.name for r in rows}
        if missing:
            raise ParamError(f"Unable to find affinity group(s) {sorted(missing)}")
        if any(r.account_id != vm.account_id for r in rows):
            raise NotAllowed("Affinity groups must belong to the VM's account")
        wanted = [r.id for r in rows]
    return await lifecycle(call, "set_affinity_groups", {"groups": wanted}, vm.uuid)
