"""Roles and their permission rules (CloudStack's dynamic roles).

Only root admins manage roles; domain and resource admins may list them but
never see Admin roles. A role's rules are tried in order and the first whose
name or wildcard (`list*`) matches the command decides; no match is a denial.
Default roles can be read but neither changed nor removed.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from cloudplane.actors.identity import EntityRef
from cloudplane.api.commands.base import ADMINS, ROOT, command, page
from cloudplane.api.commands.identity import (
    D,
    R,
    ROLE_TYPES,
    Ev,
    check_length,
    check_not_blank,
    check_uuid,
    find_role,
    one,
)
from cloudplane.api.context import Call, JobTarget, ListResult, Success
from cloudplane.api.views.identity import permission_view, role_view
from cloudplane.errors import ParamError
from cloudplane.store.base import new_uuid
from cloudplane.store.tables._common import DESC_LEN, NAME_LEN
from cloudplane.store.tables.identity import RolePermission

P = RolePermission.__table__  # type: ignore[attr-defined]
_RULE = re.compile(r"[A-Za-z0-9*]+", re.ASCII)
Rule = tuple[str, str, str | None]


def _role_type(value: str | None, param: str = "type") -> str | None:
    if value is None:
        return None
    for t in ROLE_TYPES:
        if value.lower() == t.lower():
            return t
    raise ParamError(f"Invalid value {value} for parameter {param}: valid options are {', '.join(ROLE_TYPES)}")


def _rule(value: str, param: str = "rule") -> str:
    if not _RULE.fullmatch(value or ""):
        raise ParamError(f"Only API names and wildcards are allowed, invalid rule provided: {value} "
                         f"(parameter {param})")
    return value


def _permission(value: str | None, param: str = "permission") -> str:
    if value is None or value.lower() not in ("allow", "deny"):
        raise ParamError(f"Values for permission parameter should be: allow or deny (parameter {param})")
    return value.lower()


async def _root_domain(call: Call) -> str:
    return str((await one(call.service, select(D.c.uuid).where(D.c.parent_id.is_(None)))).uuid)


async def _role_out(call: Call, uuid: str) -> dict[str, Any]:
    return role_view(await one(call.service, select(R).where(R.c.uuid == uuid)))


async def _changed(call: Call, ev: Ev) -> None:
    """A role or its rules changed: this node re-reads rules at once (others within 2 s)."""
    call.service.rules_changed()
    call.service.auth.invalidate()
    await call.service.event(call.caller, ev.type, ev.description, resource_type=ev.resource_type,
                             resource_uuid=ev.resource_uuid)


# -- roles ----------------------------------------------------------------------------------------


@command("listRoles", object_name="role", roles=ADMINS)
async def list_roles(call: Call) -> ListResult:
    q = select(R).where(R.c.removed.is_(None))
    if not call.caller.is_root_admin:
        q = q.where(R.c.role_type != "Admin")
    if call.get("id"):
        q = q.where(R.c.uuid == call.get("id"))
    if call.get("name"):
        q = q.where(R.c.name == call.get("name"))
    if call.get("type"):
        q = q.where(R.c.role_type == _role_type(call.get("type")))
    if call.get("keyword"):
        q = q.where(R.c.name.contains(call.get("keyword"), autoescape=True))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, R.c.id)
    return ListResult([role_view(r) for r in rows], total)


@command("createRole", object_name="role", roles=ROOT)
async def create_role(call: Call) -> dict[str, Any]:
    """A new role of `type`, or a copy of role `roleid` with its rules."""
    name, rtype, source = call.get("name"), _role_type(call.get("type")), call.get("roleid")
    check_not_blank(call, "name")
    if (rtype is None) == (source is None):
        raise ParamError("Either the parameter type or the parameter roleid must be given, not both")
    clone_from = None
    if source is not None:
        src = await find_role(call, source)
        rtype, clone_from = src.role_type, src.id
    res = await call.service.run(call, JobTarget(EntityRef("domain", await _root_domain(call)), "create_role", {
        "name": name, "role_type": rtype, "description": call.get("description"), "clone_from": clone_from,
        "uuid": new_uuid()}, "Role"))
    await _changed(call, Ev("ROLE.CREATE", f"Role: {name}, type: {rtype}", "Role", res["id"]))
    return await _role_out(call, res["id"])


@command("updateRole", object_name="role", roles=ROOT)
async def update_role(call: Call) -> dict[str, Any]:
    role = await find_role(call, call.get("id"), "id")
    check_not_blank(call, "name")
    await call.service.run(call, JobTarget(EntityRef("role", role.uuid), "update", {
        "name": call.get("name"), "description": call.get("description"),
        "role_type": _role_type(call.get("type"))}, "Role"))
    await _changed(call, Ev("ROLE.UPDATE", f"updated role {role.name}", "Role", role.uuid))
    return await _role_out(call, role.uuid)


@command("deleteRole", roles=ROOT)
async def delete_role(call: Call) -> Success:
    role = await find_role(call, call.get("id"), "id")
    await call.service.run(call, JobTarget(EntityRef("role", role.uuid), "delete", {}, "Role"))
    await _changed(call, Ev("ROLE.DELETE", f"deleted role {role.name}", "Role", role.uuid))
    return Success()


def _import_rules(entries: list[dict[str, str]] | None) -> list[Rule]:
    """`rules[i].rule`, `rules[i].permission`, `rules[i].description`, in index order."""
    if not entries:
        raise ParamError("Unable to execute API command importrole due to missing parameter rules")
    rules: list[Rule] = []
    for i, e in enumerate(entries):
        fields = {k.lower(): v for k, v in e.items()}
        check_length(fields.get("rule"), f"rules[{i}].rule", NAME_LEN)
        check_length(fields.get("description"), f"rules[{i}].description", DESC_LEN)
        rules.append((_rule(fields.get("rule", ""), f"rules[{i}].rule"),
                      _permission(fields.get("permission"), f"rules[{i}].permission"), fields.get("description")))
    return rules


@command("importRole", object_name="role", roles=ROOT)
async def import_role(call: Call) -> dict[str, Any]:
    """A role with its rules in one call; `forced` replaces a custom role of the same name and type."""
    name, description = call.get("name"), call.get("description")
    check_not_blank(call, "name")
    rtype = _role_type(call.get("type"))
    if rtype is None:
        raise ParamError("Invalid role type provided (parameter type)")
    rules = _import_rules(call.get("rules"))
    existing = await one(call.service, select(R).where(R.c.name == name, R.c.removed.is_(None)))
    if existing is not None:
        if not call.get("forced", False):
            raise ParamError(f"Role {name} (parameter name) already exists; use forced=true to replace it")
        if existing.role_type != rtype:
            raise ParamError(f"Role {name} (parameter name) already exists with type {existing.role_type}")
        await call.service.run(call, JobTarget(EntityRef("role", existing.uuid), "replace", {
            "role_type": rtype, "description": description, "rules": rules}, "Role"))
        rid = existing.uuid
    else:
        res = await call.service.run(call, JobTarget(EntityRef("domain", await _root_domain(call)), "create_role", {
            "name": name, "role_type": rtype, "description": description, "rules": rules, "uuid": new_uuid()}, "Role"))
        rid = res["id"]
    await _changed(call, Ev("ROLE.IMPORT", f"imported role {name} with {len(rules)} rules", "Role", rid))
    return await _role_out(call, rid)


# -- role permissions ----------------------------------------------------------------------------


@command("listRolePermissions", object_name="rolepermission", roles=ROOT)
async def list_role_permissions(call: Call) -> ListResult:
    q = (select(P, R.c.uuid.label("r_uuid"), R.c.name.label("r_name"))
         .select_from(P.join(R, P.c.role_id == R.c.id)).where(P.c.removed.is_(None), R.c.removed.is_(None)))
    if call.get("roleid"):
        q = q.where(P.c.role_id == (await find_role(call, call.get("roleid"))).id)
    async with call.service.engine.connect() as conn:
        rows = (await conn.execute(q.order_by(P.c.role_id, P.c.sort_order, P.c.id))).all()
    items = [permission_view(r, role_uuid=r.r_uuid, role_name=r.r_name) for r in rows]
    return ListResult(items, len(items))


@command("createRolePermission", object_name="rolepermission", roles=ROOT)
async def create_role_permission(call: Call) -> dict[str, Any]:
    role = await find_role(call, call.get("roleid"))
    rule, permission = _rule(call.get("rule")), _permission(call.get("permission"))
    res = await call.service.run(call, JobTarget(EntityRef("role", role.uuid), "add_permission", {
        "rule": rule, "permission": permission, "description": call.get("description"), "uuid": new_uuid()},
        "Role"))
    await _changed(call, Ev("ROLE.PERMISSION.CREATE", f"Role id: {role.uuid}, rule: {rule}, permission: {permission}",
                            "Role", role.uuid))
    row = await one(call.service, select(P).where(P.c.uuid == res["id"]))
    return permission_view(row, role_uuid=role.uuid, role_name=role.name)


@command("updateRolePermission", roles=ROOT)
async def update_role_permission(call: Call) -> Success:
    """Either a new order of every rule (`ruleorder`) or one rule's permission (`ruleid` + `permission`)."""
    role = await find_role(call, call.get("roleid"))
    order = call.get("ruleorder")
    if order is not None:
        if call.get("ruleid") or call.get("permission") is not None:
            raise ParamError("Parameters permission and ruleid must be mutually exclusive with ruleorder")
        uuids = [check_uuid(u, "ruleorder") for u in order]
        op, args, what = "reorder_permissions", {"order": uuids}, f"reordered the rules of role {role.name}"
    elif call.get("ruleid") and call.get("permission") is not None:
        permission = _permission(call.get("permission"))
        op, args = "set_permission", {"permission_uuid": call.get("ruleid"), "permission": permission}
        what = f"rule {call.get('ruleid')} of role {role.name} is now {permission}"
    else:
        raise ParamError("Unable to execute API command updaterolepermission due to missing parameter ruleorder "
                         "(or ruleid and permission)")
    await call.service.run(call, JobTarget(EntityRef("role", role.uuid), op, args, "Role"))
    await _changed(call, Ev("ROLE.PERMISSION.UPDATE", what, "Role", role.uuid))
    return Success()


@command("deleteRolePermission", roles=ROOT)
async def delete_role_permission(call: Call) -> Success:
    perm = await one(call.service, select(P.c.uuid, R.c.uuid.label("r_uuid"), R.c.name.label("r_name"))
                     .select_from(P.join(R, P.c.role_id == R.c.id))
                     .where(P.c.uuid == call.get("id"), P.c.removed.is_(None)))
    if perm is None:
        raise ParamError(f"Invalid role permission id {call.get('id')} (parameter id) provided")
    await call.service.run(call, JobTarget(EntityRef("role", perm.r_uuid), "delete_permission",
                                           {"permission_uuid": perm.uuid}, "Role"))
    await _changed(call, Ev("ROLE.PERMISSION.DELETE", f"deleted rule {perm.uuid} of role {perm.r_name}",
                            "Role", perm.r_uuid))
    return Success()
