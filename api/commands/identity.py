"""Accounts, users and domains: the commands Marvin's key bootstrap and the
tenancy model need first. (Roles: roles.py.)"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from cloudplane.actors.identity import EntityRef
from cloudplane.api import scope
from cloudplane.api.commands.base import ADMINS, ALL, command, page
from cloudplane.api.context import Call, JobTarget, ListResult
from cloudplane.api.secrets import hash_password, new_api_keypair
from cloudplane.api.views.identity import account_view, domain_view, user_view
from cloudplane.errors import NotAllowed, ParamError
from cloudplane.store.tables.identity import Account, Domain, Role, User

U, A, D, R = (t.__table__ for t in (User, Account, Domain, Role))  # type: ignore[attr-defined]
TYPE_OF_ROLE = {"Admin": 1, "DomainAdmin": 2, "ResourceAdmin": 3, "User": 0}


def _users_q() -> Any:
    return (select(U, A.c.id.label("a_id"), A.c.uuid.label("a_uuid"), A.c.name.label("a_name"),
                   A.c.account_type.label("a_type"), D.c.uuid.label("d_uuid"), D.c.name.label("d_name"),
                   D.c.path.label("d_path"), R.c.uuid.label("r_uuid"), R.c.name.label("r_name"),
                   R.c.role_type.label("r_type"))
            .select_from(U.join(A, U.c.account_id == A.c.id).join(D, A.c.domain_id == D.c.id)
                         .outerjoin(R, A.c.role_id == R.c.id))
            .where(U.c.removed.is_(None), A.c.removed.is_(None)))


class _Obj:
    """Attribute access over a prefixed slice of a joined row."""

    def __init__(self, row: Any, prefix: str) -> None:
        m = row._mapping
        self.__dict__.update({k[len(prefix):]: m[k] for k in m.keys() if k.startswith(prefix)})


def _user_out(row: Any, caller_path: str, secret: str | None = None) -> dict[str, Any]:
    a = type("A", (), {"name": row.a_name, "uuid": row.a_uuid, "account_type": row.a_type})
    d = type("D", (), {"uuid": row.d_uuid, "name": row.d_name, "path": row.d_path})
    role = _Obj(row, "r_") if row.r_uuid else None
    if role is not None:
        role.role_type = row.r_type
    return user_view(row, a, d, role=role, secret=secret, caller_domain_path=caller_path)


async def _user_row(call: Call, user_uuid: str) -> Any:
    async with call.service.engine.connect() as conn:
        row = (await conn.execute(_users_q().where(U.c.uuid == user_uuid))).first()
    if row is None:
        raise ParamError(f"Unable to find user by id {user_uuid}")
    c = call.caller
    if c.role_type == "User" and row.a_id != c.account_id:
        raise NotAllowed(f"Caller {c.username} is not allowed to access user {user_uuid}")
    if c.role_type != "User" and not row.d_path.startswith(c.domain_path):
        raise NotAllowed(f"User {user_uuid} is outside the caller's domain subtree")
    return row


@command("listUsers", object_name="user")
async def list_users(call: Call) -> ListResult:
    vis = await scope.visibility(call)
    q = _users_q().where(vis.clause(A.c.id, A.c.domain_id))
    for p, col in (("id", U.c.uuid), ("username", U.c.username), ("state", U.c.state),
                   ("accounttype", A.c.account_type)):
        if call.get(p) is not None:
            q = q.where(col == call.get(p))
    if call.get("keyword"):
        q = q.where(U.c.username.contains(call.get("keyword")))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, U.c.id)
    return ListResult([_user_out(r, call.caller.domain_path) for r in rows], total)


@command("getUserKeys", object_name="userkeys")
async def get_user_keys(call: Call) -> dict[str, Any]:
    row = await _user_row(call, call.get("id"))
    secret = call.service.key.decrypt(row.secret_key) if row.secret_key else None
    return {k: v for k, v in {"apikey": row.api_key, "secretkey": secret}.items() if v is not None}


@command("registerUserKeys", object_name="userkeys")
async def register_user_keys(call: Call) -> dict[str, Any]:
    row = await _user_row(call, call.get("id"))
    api_key, secret = new_api_keypair()
    await call.service.run(call, JobTarget(EntityRef("user", row.uuid), "register_keys",
                                           {"api_key": api_key, "secret_key_enc": call.service.key.encrypt(secret)},
                                           "User"))
    call.service.auth.invalidate()
    await call.service.event(call.caller, "REGISTER.USER.KEY", f"registered user keys for user {row.username}",
                             resource_type="User", resource_uuid=row.uuid)
    return {"apikey": api_key, "secretkey": secret}


async def account_out(call: Call, conn: Any, account_rows: list[Any]) -> list[dict[str, Any]]:
    if not account_rows:
        return []
    ids = [r.id for r in account_rows]
    users = (await conn.execute(_users_q().where(A.c.id.in_(ids)).order_by(U.c.id))).all()
    by_acct: dict[int, list[dict[str, Any]]] = {}
    for u in users:
        by_acct.setdefault(u.a_id, []).append(_user_out(u, call.caller.domain_path))
    out = []
    for r in account_rows:
        d = type("D", (), {"uuid": r.d_uuid, "name": r.d_name, "path": r.d_path})
        role = type("R", (), {"uuid": r.r_uuid, "name": r.r_name, "role_type": r.r_type}) if r.r_uuid else None
        out.append(account_view(r, d, role=role, users=by_acct.get(r.id, [])))
    return out


def _accounts_q() -> Any:
    return (select(A, D.c.uuid.label("d_uuid"), D.c.name.label("d_name"), D.c.path.label("d_path"),
                   R.c.uuid.label("r_uuid"), R.c.name.label("r_name"), R.c.role_type.label("r_type"))
            .select_from(A.join(D, A.c.domain_id == D.c.id).outerjoin(R, A.c.role_id == R.c.id))
            .where(A.c.removed.is_(None)))


@command("listAccounts", object_name="account")
async def list_accounts(call: Call) -> ListResult:
    vis = await scope.visibility(call)
    q = _accounts_q().where(vis.clause(A.c.id, A.c.domain_id))
    for p, col in (("id", A.c.uuid), ("name", A.c.name), ("state", A.c.state), ("accounttype", A.c.account_type)):
        if call.get(p) is not None:
            q = q.where(col == call.get(p))
    if call.get("keyword"):
        q = q.where(A.c.name.contains(call.get("keyword")))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, A.c.id)
        items = await account_out(call, conn, rows)
    return ListResult(items, total)


async def load_account(call: Call, uuid: str) -> dict[str, Any]:
    async with call.service.engine.connect() as conn:
        rows = (await conn.execute(_accounts_q().where(A.c.uuid == uuid))).all()
        items = await account_out(call, conn, rows)
    if not items:
        raise ParamError(f"Unable to find account by id {uuid}")
    return items[0]


async def resolve_role(call: Call) -> tuple[int, Any]:
    """The (account type, role row) for createAccount from `roleid` or `accounttype`."""
    async with call.service.engine.connect() as conn:
        if call.get("roleid"):
            role = (await conn.execute(select(R).where(R.c.uuid == call.get("roleid"), R.c.removed.is_(None)))).first()
            if role is None:
                raise ParamError(f"Unable to find role by id {call.get('roleid')}")
        elif call.get("accounttype") is not None:
            rtype = {0: "User", 1: "Admin", 2: "DomainAdmin", 3: "ResourceAdmin"}.get(call.get("accounttype"))
            if rtype is None:
                raise ParamError(f"Invalid account type {call.get('accounttype')}")
            role = (await conn.execute(select(R).where(R.c.role_type == rtype, R.c.is_default.is_(True),
                                                       R.c.removed.is_(None)))).first()
        else:
            raise ParamError("Unable to execute API command createaccount due to missing parameter "
                             "roleid or accounttype")
    assert role is not None
    c = call.caller
    rank = {"User": 0, "DomainAdmin": 1, "ResourceAdmin": 1, "Admin": 2}
    if rank[role.role_type] > rank[c.role_type] or (role.role_type == "Admin" and not c.is_root_admin):
        raise NotAllowed(f"Caller {c.username} can not create an account with role type {role.role_type}")
    return TYPE_OF_ROLE[role.role_type], role


@command("createAccount", object_name="account", roles=ADMINS)
async def create_account(call: Call) -> dict[str, Any]:
    c = call.caller
    dom = await scope.domain_by_uuid(call, call.get("domainid")) if call.get("domainid") else None
    if dom is None:
        dom_uuid, dom_path = c.domain_uuid, c.domain_path
    else:
        dom_uuid, dom_path = dom.uuid, dom.path
    if not dom_path.startswith(c.domain_path):
        raise NotAllowed("Caller can not create an account outside its domain subtree")
    account_type, role = await resolve_role(call)
    user = {"username": call.get("username"), "first_name": call.get("firstname"),
            "last_name": call.get("lastname"), "email": call.get("email"), "timezone": call.get("timezone"),
            "password": await asyncio.to_thread(hash_password, call.get("password"))}
    name = call.get("account") or call.get("username")
    res = await call.service.run(call, JobTarget(EntityRef("domain", dom_uuid), "create_account", {
        "name": name, "account_type": account_type, "role_id": role.id, "user": user,
        "network_domain": call.get("networkdomain")}, "Account"))
    await call.service.event(c, "ACCOUNT.CREATE", f"Successfully completed creating Account. Account Name: {name}",
                             resource_type="Account", resource_uuid=res["id"])
    return await load_account(call, res["id"])


@command("listDomains", object_name="domain", roles=ALL)
async def list_domains(call: Call) -> ListResult:
    c = call.caller
    q = select(D).where(D.c.removed.is_(None))
    if c.role_type == "User":
        q = q.where(D.c.id == c.domain_id)
    elif call.get("listall") or call.get("id") or call.get("name") or call.get("level") is not None:
        q = q.where(D.c.path.startswith(c.domain_path))
    else:
        q = q.where(D.c.id == c.domain_id)
    if call.get("id"):
        q = q.where(D.c.uuid == call.get("id"))
    if call.get("name"):
        q = q.where(D.c.name == call.get("name"))
    if call.get("level") is not None:
        q = q.where(D.c.level == call.get("level"))
    if call.get("keyword"):
        q = q.where(D.c.name.contains(call.get("keyword")))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, D.c.id)
        items = await domains_out(conn, rows)
    return ListResult(items, total)


async def domains_out(conn: Any, rows: list[Any]) -> list[dict[str, Any]]:
    if not rows:
        return []
    ids = [r.id for r in rows]
    parents_ids = {r.parent_id for r in rows if r.parent_id}
    kids = {r.parent_id for r in (await conn.execute(select(D.c.parent_id).where(
        D.c.parent_id.in_(ids), D.c.removed.is_(None)))).all()}
    parents = {r.id: r for r in (await conn.execute(select(D).where(D.c.id.in_(parents_ids)))).all()} \
        if parents_ids else {}
    return [domain_view(r, has_child=r.id in kids, parent=parents.get(r.parent_id)) for r in rows]
