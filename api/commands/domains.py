"""Domains: listDomains, listDomainChildren, createDomain, updateDomain and
deleteDomain. An admin manages the domains at and below its own; only a root
admin reaches ROOT. Paths are stored as `/a/b/` and shown as `ROOT/a/b`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from cloudplane.actors.identity import EntityRef
from cloudplane.api.commands.base import ADMINS, ALL, command, page
from cloudplane.api.commands.identity import (
    D,
    Ev,
    accept_logged,
    check_network_domain,
    check_uuid,
    done,
    one,
    require_domain,
    success_view,
)
from cloudplane.api.context import Accepted, Call, JobTarget, ListResult
from cloudplane.api.views.identity import domain_view
from cloudplane.api.views.limits import owners_limit_fields
from cloudplane.errors import NotAllowed, ParamError
from cloudplane.store.base import new_uuid


def _active() -> Any:
    return select(D).where(D.c.removed.is_(None), D.c.state == "Active")


async def _domain(call: Call, uuid: str, param: str = "id") -> Any:
    row = await one(call.service, select(D).where(D.c.uuid == uuid, D.c.removed.is_(None)))
    if row is None:
        raise ParamError(f"Unable to find domain by id {uuid} (parameter {param})")
    return row


async def domains_out(conn: Any, rows: list[Any]) -> list[dict[str, Any]]:
    if not rows:
        return []
    ids = [r.id for r in rows]
    parent_ids = {r.parent_id for r in rows if r.parent_id}
    with_children = {r.parent_id for r in (await conn.execute(select(D.c.parent_id).where(
        D.c.parent_id.in_(ids), D.c.removed.is_(None)))).all()}
    parents = {r.id: r for r in (await conn.execute(select(D).where(D.c.id.in_(parent_ids)))).all()} \
        if parent_ids else {}
    held = await owners_limit_fields(conn, domains=[(r.id, r.path) for r in rows])
    return [{**domain_view(r, has_child=r.id in with_children, parent=parents.get(r.parent_id)),
             **held[("domain", r.id)]} for r in rows]


async def domain_out(call: Call, uuid: str) -> dict[str, Any]:
    async with call.service.engine.connect() as conn:
        rows = (await conn.execute(select(D).where(D.c.uuid == uuid))).all()
        return (await domains_out(conn, rows))[0]


async def _listed(call: Call, q: Any) -> ListResult:
    if call.get("keyword"):
        q = q.where(D.c.name.contains(call.get("keyword"), autoescape=True))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, D.c.id)
        return ListResult(await domains_out(conn, rows), total)


PATH_LEN = 255  # domain.path holds every name from ROOT down


def _check_name(name: str | None, parent_path: str = "/") -> None:
    if name is not None and (not name.strip() or "/" in name):
        raise ParamError(f"Invalid domain name {name!r} (parameter name): it must not be blank or contain '/'")
    if name is not None and len(parent_path) + len(name) + 1 > PATH_LEN:
        raise ParamError(f"Invalid domain name (parameter name): the domain's path would exceed {PATH_LEN} "
                         "characters")


@command("listDomains", object_name="domain", roles=ALL)
async def list_domains(call: Call) -> ListResult:
    """CloudStack's rules: `id` must be within reach (432 if not); otherwise a
    root admin sees every domain, others their own (and below it with listall)."""
    c = call.caller
    q = _active()
    if call.get("id"):
        dom = await _domain(call, call.get("id"))
        require_domain(c, dom.path, dom.uuid)
        q = q.where(D.c.id == dom.id)
    elif not c.is_root_admin:
        q = q.where(D.c.path.startswith(c.domain_path, autoescape=True)) if call.get("listall", False) \
            else q.where(D.c.id == c.domain_id)
    if call.get("name"):
        q = q.where(D.c.name == call.get("name"))
    if call.get("level") is not None:
        q = q.where(D.c.level == call.get("level"))
    return await _listed(call, q)


@command("listDomainChildren", object_name="domain", roles=ADMINS)
async def list_domain_children(call: Call) -> ListResult:
    """The children of `id` (the caller's domain by default); with isrecursive
    (and not listall, as in CloudStack) every descendant."""
    c = call.caller
    dom = await _domain(call, call.get("id")) if call.get("id") else await _domain(call, c.domain_uuid)
    require_domain(c, dom.path, dom.uuid)
    if call.get("isrecursive", False) and not call.get("listall", False):
        q = _active().where(D.c.path.startswith(dom.path, autoescape=True), D.c.id != dom.id)
    else:
        q = _active().where(D.c.parent_id == dom.id)
    if call.get("name"):
        q = q.where(D.c.name.contains(call.get("name"), autoescape=True))
    return await _listed(call, q)


@command("createDomain", object_name="domain", roles=ADMINS)
async def create_domain(call: Call) -> dict[str, Any]:
    c = call.caller
    name = call.get("name")
    if call.get("parentdomainid"):
        parent = await _domain(call, call.get("parentdomainid"), "parentdomainid")
    else:  # CloudStack: no parent means ROOT
        parent = await one(call.service, select(D).where(D.c.parent_id.is_(None)))
    require_domain(c, parent.path, parent.uuid)
    _check_name(name, parent.path)
    check_network_domain(call.get("networkdomain"))
    res = await call.service.run(call, JobTarget(EntityRef("domain", parent.uuid), "create_domain", {
        "name": name, "network_domain": call.get("networkdomain") or None,
        "uuid": check_uuid(call.get("domainid"), "domainid") or new_uuid()}, "Domain"))
    await done(call, Ev("DOMAIN.CREATE", f"created domain {name} under {parent.name}", "Domain", res["id"]))
    return await domain_out(call, res["id"])


@command("updateDomain", object_name="domain", roles=ADMINS)
async def update_domain(call: Call) -> dict[str, Any]:
    dom = await _domain(call, call.get("id"))
    if dom.parent_id is None and call.get("name") is not None:
        raise ParamError("ROOT domain can not be edited with a new name (parameter name)")
    require_domain(call.caller, dom.path, dom.uuid)
    _check_name(call.get("name"))
    check_network_domain(call.get("networkdomain"))
    await call.service.run(call, JobTarget(EntityRef("domain", dom.uuid), "update", {
        "name": call.get("name"), "network_domain": call.get("networkdomain")}, "Domain"))
    # A rename moves the paths that callers below it are cached with: done() forgets them.
    await done(call, Ev("DOMAIN.UPDATE", f"updated domain {dom.name}", "Domain", dom.uuid))
    return await domain_out(call, dom.uuid)


@command("deleteDomain", roles=ADMINS, entity_type="Domain", job_view=success_view)
async def delete_domain(call: Call) -> Accepted:
    c = call.caller
    dom = await _domain(call, call.get("id"))
    if dom.parent_id is None:
        raise NotAllowed("Can't delete ROOT domain")
    require_domain(c, dom.path, dom.uuid)
    if dom.id == c.domain_id:
        raise NotAllowed(f"Account {c.account_name} can not delete its own domain {dom.uuid}")
    return await accept_logged(call, JobTarget(EntityRef("domain", dom.uuid), "delete",
                                               {"cleanup": bool(call.get("cleanup", False))}, "Domain"),
                               Ev("DOMAIN.DELETE", f"deleting domain {dom.name}", "Domain", dom.uuid))

