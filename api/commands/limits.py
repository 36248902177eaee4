"""Resource limits and counts: listResourceLimits, updateResourceLimit,
updateResourceCount. Setting a limit and recounting are operations of the
account or domain entity (actors/kinds/limits.py); reservations happen where
resources are created (store/limits.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, select

from cloudplane.actors.identity import EntityRef
from cloudplane.api import scope
from cloudplane.api.commands.base import ALL, command
from cloudplane.api.context import Call, JobTarget, ListResult
from cloudplane.errors import ParamError, PermissionDenied
from cloudplane.store import limits
from cloudplane.store.tables.identity import Account, Domain
from cloudplane.store.tables.limits import ResourceLimit

A: Table = Account.__table__  # type: ignore[attr-defined]
D: Table = Domain.__table__  # type: ignore[attr-defined]
L: Table = ResourceLimit.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Owner:
    """An account (`account_id` set) or a domain, with what the responses name."""

    kind: str
    id: int
    uuid: str
    name: str
    domain_id: int
    domain_uuid: str
    domain_name: str
    domain_path: str
    parent_id: int | None = None
    account_type: int = 0

    def names(self) -> dict[str, Any]:
        out = {"domainid": self.domain_uuid, "domain": self.domain_name}
        if self.kind == "account":
            out = {"account": self.name, **out}
        return out


async def _account(call: Call, account_id: int) -> Owner:
    async with call.service.engine.connect() as conn:
        r = (await conn.execute(select(A.c.id, A.c.uuid, A.c.name, A.c.account_type, D.c.id.label("d_id"),
                                       D.c.uuid.label("d_uuid"), D.c.name.label("d_name"), D.c.path)
                                .select_from(A.join(D, A.c.domain_id == D.c.id)).where(A.c.id == account_id))).one()
    return Owner("account", r.id, r.uuid, r.name, r.d_id, r.d_uuid, r.d_name, r.path, account_type=r.account_type)


def _domain(row: Any) -> Owner:
    return Owner("domain", row.id, row.uuid, row.name, row.id, row.uuid, row.name, row.path, parent_id=row.parent_id)


async def _owner(call: Call, *, default_own: bool) -> Owner:
    """`account`+`domainid`: that account; `domainid` alone: that domain; neither: the
    caller's account (or refuse). Only within the caller's reach."""
    c = call.caller
    account, domain_uuid = call.get("account"), call.get("domainid")
    if account and not domain_uuid:
        raise ParamError("account must be used with the domainid parameter")
    if not domain_uuid:
        if not default_own:
            raise ParamError("Please specify domainid")
        return await _account(call, c.account_id)
    dom = await scope.domain_by_uuid(call, domain_uuid)
    if not scope.in_subtree(c, dom.path) or (c.role_type == "User" and dom.id != c.domain_id):
        raise PermissionDenied(f"Account {c.account_name} does not have permission to operate within domain "
                               f"id={domain_uuid}")
    if account:
        row = await scope.account_in(call, account, dom.id)
        if c.role_type == "User" and row.id != c.account_id:
            raise PermissionDenied(f"Account {c.account_name} does not have permission to operate on account "
                                   f"{account}")
        return await _account(call, row.id)
    if c.role_type == "User":
        return await _account(call, c.account_id)  # a user's domain view is its own account
    return _domain(dom)


def _kinds(call: Call) -> tuple[limits.Kind, ...]:
    if call.get("resourcetypename") is not None or call.get("resourcetype") is not None:
        return (limits.kind_of(call.get("resourcetype"), call.get("resourcetypename")),)
    return limits.KINDS


def _limit_view(o: Owner, k: limits.Kind, max_value: int) -> dict[str, Any]:
    return {**o.names(), "resourcetype": str(k.number), "resourcetypename": k.name, "max": max_value}


@command("listResourceLimits", object_name="resourcelimit", roles=ALL)
async def list_resource_limits(call: Call) -> ListResult:
    """One owner's limits in force; `id`: one set limit by its row id; `listall` (or
    `domainid` with `isrecursive`): every domain and account of the subtree, read at once."""
    if call.get("id") is not None:
        return await _limit_by_id(call, int(call.get("id")))
    kinds = _kinds(call)
    owners = await _subtree(call) if _wants_subtree(call) else [await _owner(call, default_own=True)]
    defaults = await limits.load_defaults(call.service.config)
    async with call.service.engine.connect() as conn:
        in_force = await limits.page_in_force(
            conn, [(o.id, o.account_type) for o in owners if o.kind == "account"],
            [(o.id, o.domain_path) for o in owners if o.kind == "domain"], defaults)
    items = [_limit_view(o, k, in_force[(o.kind, o.id)][k.name]) for o in owners for k in kinds]
    return ListResult(await _page(call, items), len(items))


def _wants_subtree(call: Call) -> bool:
    if call.caller.role_type == "User" or call.get("account"):
        return False
    return bool(call.get("listall", False)) or (bool(call.get("isrecursive", False)) and bool(call.get("domainid")))


async def _subtree(call: Call) -> list[Owner]:
    """The domains and accounts at and below `domainid` (the caller's domain by default)."""
    c = call.caller
    dom = await scope.domain_by_uuid(call, call.get("domainid") or c.domain_uuid)
    if not scope.in_subtree(c, dom.path):
        raise PermissionDenied(f"Account {c.account_name} does not have permission to operate within domain "
                               f"id={dom.uuid}")
    under = D.c.path.startswith(dom.path, autoescape=True)
    async with call.service.engine.connect() as conn:
        doms = (await conn.execute(select(D).where(under, D.c.removed.is_(None)).order_by(D.c.path))).all()
        accts = (await conn.execute(
            select(A.c.id, A.c.uuid, A.c.name, A.c.account_type, D.c.id.label("d_id"), D.c.uuid.label("d_uuid"),
                   D.c.name.label("d_name"), D.c.path).select_from(A.join(D, A.c.domain_id == D.c.id))
            .where(under, A.c.removed.is_(None)).order_by(D.c.path, A.c.id))).all()
    return [*(_domain(d) for d in doms),
            *(Owner("account", a.id, a.uuid, a.name, a.d_id, a.d_uuid, a.d_name, a.path, account_type=a.account_type)
              for a in accts)]


async def _limit_by_id(call: Call, limit_id: int) -> ListResult:
    """CloudStack's `id` is a set limit's row id; another account's (or a domain's, for a
    user) out of the caller's reach is refused."""
    async with call.service.engine.connect() as conn:
        row = (await conn.execute(select(L).where(L.c.id == limit_id))).first()
    if row is None:
        return ListResult([], 0)
    c = call.caller
    if row.owner_type == "account":
        o = await _account(call, row.owner_id)
        mine = o.id == c.account_id
    else:
        async with call.service.engine.connect() as conn:
            o = _domain((await conn.execute(select(D).where(D.c.id == row.owner_id))).one())
        mine = False
    if not mine and (c.role_type == "User" or not scope.in_subtree(c, o.domain_path)):
        raise PermissionDenied(f"Account {c.account_name} does not have permission to view resource limit {limit_id}")
    return ListResult([_limit_view(o, limits.kind_of(name=row.resource_type), int(row.max_value))], 1)


async def _page(call: Call, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    max_size = await call.service.config_int("default.page.size") or 500
    size, pg = call.get("pagesize"), call.get("page") or 1
    if size is None or size <= 0 or size > max_size:
        size = max_size
    return items[(max(pg, 1) - 1) * size:max(pg, 1) * size]


@command("updateResourceLimit", object_name="resourcelimit", roles=ALL)
async def update_resource_limit(call: Call) -> dict[str, Any]:
    c = call.caller
    if c.role_type == "User":
        raise PermissionDenied(f"Account {c.account_name} does not have permission to update resource limits")
    k = limits.kind_of(call.get("resourcetype"))
    o = await _owner(call, default_own=False)
    if not c.is_root_admin and (o.id == (c.account_id if o.kind == "account" else c.domain_id)):
        raise PermissionDenied(f"Account {c.account_name} cannot update the limits of its own {o.kind}")
    max_value = call.get("max")
    res = await call.service.run(call, JobTarget(EntityRef(o.kind, o.uuid), "set_limit", {
        "resource_type": k.name, "max_value": -1 if max_value is None else int(max_value)}))
    return _limit_view(o, k, int(res["max"]))


@command("updateResourceCount", object_name="resourcecount", roles=ALL)
async def update_resource_count(call: Call) -> ListResult:
    o = await _owner(call, default_own=False)
    kinds = _kinds(call)
    rows = await call.service.run(call, JobTarget(EntityRef(o.kind, o.uuid), "recount", {
        "names": [k.name for k in kinds]}))
    # CloudStack answers with the counts of the owner asked for, one per type.
    mine = {r["resource_type"]: int(r["used"]) for r in rows if (r["owner_type"], r["owner_id"]) == (o.kind, o.id)}
    items = [{**o.names(), "resourcetype": str(k.number), "resourcetypename": k.name,
              "resourcecount": mine.get(k.name, 0)} for k in kinds]
    return ListResult(items, len(items))
