"""What every identity command shares: the joined user and account queries,
who may act on whom, input checks, and async jobs that log their events.
(The commands: users.py for accounts and users, domains.py, roles.py.)

Who may act on whom is CloudStack's `checkAccess` plus its privilege rule:
- a user reaches only its own account (and its own domain, to read it);
- a domain or resource admin reaches its domain and everything below it;
- a root admin reaches everything;
- nobody acts on an account whose role type outranks its own, and nobody but a
  root admin gives an account more privilege than it has itself.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from cloudplane.api import scope
from cloudplane.api.context import Accepted, Call, Caller, JobTarget
from cloudplane.api.secrets import hash_password
from cloudplane.api.service import ApiService
from cloudplane.api.views.identity import ROLE_TYPE_OF_ACCOUNT, account_view, user_view
from cloudplane.api.views.limits import owners_limit_fields
from cloudplane.errors import NotAllowed, ParamError
from cloudplane.store.tables.compute import VmInstance
from cloudplane.store.tables.identity import Account, Domain, Role, User

log = logging.getLogger(__name__)

U, A, D, R = (t.__table__ for t in (User, Account, Domain, Role))  # type: ignore[attr-defined]

# CloudStack's RoleType order: a lower rank is more privileged.
RANK = {"Admin": 0, "ResourceAdmin": 1, "DomainAdmin": 2, "User": 3}
ROLE_TYPES = tuple(RANK)


# -- queries -------------------------------------------------------------------------------


def users_q(*, include_removed: bool = False) -> Any:
    """Users joined with their account (`a_*`), domain (`d_*`) and role (`r_*`)."""
    q = (select(U, A.c.uuid.label("a_uuid"), A.c.name.label("a_name"), A.c.account_type.label("a_type"),
                A.c.state.label("a_state"), A.c.is_default.label("a_default"), D.c.uuid.label("d_uuid"),
                D.c.name.label("d_name"), D.c.path.label("d_path"), R.c.uuid.label("r_uuid"),
                R.c.name.label("r_name"), R.c.role_type.label("r_type"))
         .select_from(U.join(A, U.c.account_id == A.c.id).join(D, A.c.domain_id == D.c.id)
                      .outerjoin(R, A.c.role_id == R.c.id)))
    return q if include_removed else q.where(U.c.removed.is_(None), A.c.removed.is_(None))


def accounts_q(*, include_removed: bool = False) -> Any:
    """Accounts joined with their domain (`d_*`) and role (`r_*`)."""
    q = (select(A, D.c.uuid.label("d_uuid"), D.c.name.label("d_name"), D.c.path.label("d_path"),
                R.c.uuid.label("r_uuid"), R.c.name.label("r_name"), R.c.role_type.label("r_type"))
         .select_from(A.join(D, A.c.domain_id == D.c.id).outerjoin(R, A.c.role_id == R.c.id)))
    return q if include_removed else q.where(A.c.removed.is_(None))


async def one(svc: ApiService, q: Any) -> Any:
    async with svc.engine.connect() as conn:
        return (await conn.execute(q)).first()


# -- who may act on whom (pure) ---------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """The account a command acts on, as the access rules see it."""

    account_id: int
    uuid: str
    name: str
    role_type: str
    domain_path: str
    is_default: bool

    @property
    def is_system(self) -> bool:
        return self.is_default and self.name == "system" and self.domain_path == "/"


def account_target(row: Any) -> Target:
    """From an accounts_q row."""
    return Target(row.id, row.uuid, row.name, row.r_type or ROLE_TYPE_OF_ACCOUNT.get(row.account_type, "User"),
                  row.d_path, bool(row.is_default))


def user_target(row: Any) -> Target:
    """The account of a users_q row."""
    return Target(row.account_id, row.a_uuid, row.a_name, row.r_type or ROLE_TYPE_OF_ACCOUNT.get(row.a_type, "User"),
                  row.d_path, bool(row.a_default))


def reaches_domain(c: Caller, path: str) -> bool:
    return path == c.domain_path if c.role_type == "User" else path.startswith(c.domain_path)


def require_domain(c: Caller, path: str, uuid: str) -> None:
    if not reaches_domain(c, path):
        raise NotAllowed(f"Account {c.account_name} does not have permission to operate within domain id={uuid}")


def reaches_account(c: Caller, t: Target) -> bool:
    return t.account_id == c.account_id if c.role_type == "User" else t.domain_path.startswith(c.domain_path)


def require_account(c: Caller, t: Target) -> None:
    """Reach and privilege: CloudStack's checkAccess(OperateEntry) and its role-type rule."""
    if not reaches_account(c, t):
        raise NotAllowed(f"Account {c.account_name} does not have permission to operate on account {t.uuid}")
    if RANK[c.role_type] > RANK[t.role_type]:
        raise NotAllowed(f"Account {c.account_name} can not operate on account {t.uuid}: its role type "
                         f"{t.role_type} is more privileged than the caller's")


def require_grant(c: Caller, role_type: str) -> None:
    """May `c` give an account a role of `role_type`?"""
    if RANK[role_type] < RANK[c.role_type] or (role_type == "Admin" and not c.is_root_admin):
        raise NotAllowed(f"Account {c.account_name} can not grant the role type {role_type}")


# -- input checks (431 naming the parameter) ---------------------------------------------------

TIMEZONE_LEN = 64  # app_user.timezone

_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?", re.ASCII)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII | re.IGNORECASE)


def check_network_domain(value: str | None, param: str = "networkdomain") -> None:
    """NetUtils.verifyDomainName: labels of 1-63 letters, digits and inner hyphens, 190 at most."""
    if value and (len(value) > 190 or not all(_LABEL.fullmatch(x) for x in value.split("."))):
        raise ParamError(f"Invalid network domain {value!r} (parameter {param}). Total length should not exceed "
                         "190 chars. Each domain label must be between 1 and 63 characters long. It can contain "
                         "ASCII letters 'a' through 'z', the digits '0' through '9', and the hyphen ('-'); it "
                         "cannot start or end with \"-\".")


def check_not_blank(call: Call, *params: str) -> None:
    for p in params:
        v = call.get(p)
        if v is not None and not str(v).strip():
            raise ParamError(f"Unable to execute API command {call.spec.error_name} due to empty value for "
                             f"parameter {p}")


def check_length(value: str | None, param: str, limit: int) -> None:
    """Columns narrower than the parameter CloudStack declares (MariaDB refuses what does not fit)."""
    if value is not None and len(value) > limit:
        raise ParamError(f"Invalid value for parameter {param}: at most {limit} characters")


def check_uuid(value: str | None, param: str) -> str | None:
    if value is None or value == "":
        return None
    if not _UUID.fullmatch(value):
        raise ParamError(f"Invalid value {value} for parameter {param}: a UUID is expected")
    return value.lower()


async def password_hash(call: Call, param: str = "password") -> str:
    password = call.get(param)
    if password is None or not str(password).strip():
        raise ParamError(f"Password cannot be empty or blank (parameter {param})")
    # PBKDF2 takes tens of milliseconds: keep it off the event loop.
    return await asyncio.to_thread(hash_password, password)


# -- finding targets ---------------------------------------------------------------------------


async def find_account(call: Call, *, uuid: str | None = None, name: str | None = None,
                       domain_uuid: str | None = None) -> Any:
    """By id, or by name in a domain (the caller's when none is given); 431 when absent."""
    if uuid:
        row = await one(call.service, accounts_q().where(A.c.uuid == uuid))
        if row is None:
            raise ParamError(f"Unable to find account by id {uuid}")
        return row
    if not name:
        raise ParamError(f"Unable to execute API command {call.spec.error_name} due to missing parameter id "
                         "(or account and domainid)")
    dom = await scope.domain_by_uuid(call, domain_uuid) if domain_uuid else None
    row = await one(call.service, accounts_q().where(
        A.c.name == name, A.c.domain_id == (dom.id if dom is not None else call.caller.domain_id)))
    if row is None:
        raise ParamError(f"Unable to find account by name {name} (parameter account) in domain "
                         f"{domain_uuid or call.caller.domain_uuid}")
    return row


async def find_role(call: Call, uuid: str, param: str = "roleid") -> Any:
    row = await one(call.service, select(R).where(R.c.uuid == uuid, R.c.removed.is_(None)))
    # Admin roles are invisible to anyone but root admins.
    if row is None or (row.role_type == "Admin" and not call.caller.is_root_admin):
        raise ParamError(f"Invalid role id {uuid} (parameter {param}) provided")
    return row


async def account_out(svc: ApiService, caller: Caller, uuid: str, *, include_removed: bool = False) -> dict[str, Any]:
    async with svc.engine.connect() as conn:
        rows = (await conn.execute(accounts_q(include_removed=include_removed).where(A.c.uuid == uuid))).all()
        items = await accounts_out(conn, caller, rows)
    if not items:
        raise ParamError(f"Unable to find account by id {uuid}")
    return items[0]


async def accounts_out(conn: Any, caller: Caller, rows: list[Any]) -> list[dict[str, Any]]:
    if not rows:
        return []
    users = (await conn.execute(users_q(include_removed=True).where(
        U.c.account_id.in_([r.id for r in rows]), U.c.removed.is_(None)).order_by(U.c.id))).all()
    by_acct: dict[int, list[dict[str, Any]]] = {}
    for u in users:
        by_acct.setdefault(u.account_id, []).append(user_view(u, caller_domain_path=caller.domain_path))
    held = await owners_limit_fields(conn, accounts=[(r.id, r.account_type) for r in rows])
    vms = await _vm_states(conn, [r.id for r in rows])
    return [{**account_view(r, users=by_acct.get(r.id, [])), **held[("account", r.id)],
             "vmrunning": vms.get((r.id, "Running"), 0), "vmstopped": vms.get((r.id, "Stopped"), 0)}
            for r in rows]


async def _vm_states(conn: Any, account_ids: list[int]) -> dict[tuple[int, str], int]:
    """User VMs per (account, state) for a page of accounts, in one query."""
    vm = VmInstance.__table__  # type: ignore[attr-defined]
    q = (select(vm.c.account_id, vm.c.state, func.count()).where(
        vm.c.account_id.in_(account_ids), vm.c.type == "User", vm.c.removed.is_(None),
        vm.c.state.in_(("Running", "Stopped"))).group_by(vm.c.account_id, vm.c.state))
    return {(a, st): int(n) for a, st, n in (await conn.execute(q)).all()}


async def user_out(svc: ApiService, caller: Caller, uuid: str, *, include_removed: bool = False) -> dict[str, Any]:
    row = await one(svc, users_q(include_removed=include_removed).where(U.c.uuid == uuid))
    if row is None:
        raise ParamError(f"Unable to find user by id {uuid}")
    return user_view(row, caller_domain_path=caller.domain_path)


# -- async jobs and their events -----------------------------------------------------------------


@dataclass(frozen=True)
class Ev:
    """An event to record for a command: CloudStack's type, a description, its subject."""

    type: str
    description: str
    resource_type: str
    resource_uuid: str


async def done(call: Call, ev: Ev) -> None:
    """A synchronous identity change succeeded: forget cached callers, log it."""
    call.service.auth.invalidate()
    await call.service.event(call.caller, ev.type, ev.description, resource_type=ev.resource_type,
                             resource_uuid=ev.resource_uuid)


_watchers: set[asyncio.Task[None]] = set()


async def accept_logged(call: Call, target: JobTarget, ev: Ev) -> Accepted:
    """An async command: the job is accepted (a Scheduled event); when it ends,
    cached callers are forgotten and a Completed event tells how it went."""
    svc, caller = call.service, call.caller
    accepted = await svc.accept(call, target)
    svc.auth.invalidate()
    await svc.event(caller, ev.type, f"Scheduled: {ev.description}", state="Scheduled",
                    resource_type=ev.resource_type, resource_uuid=ev.resource_uuid)

    async def completed() -> None:
        try:
            res = await svc.runtime.wait(accepted.jobid, 3600)
            svc.auth.invalidate()
            text = ev.description if res.ok else f"Error: {ev.description}: {(res.result or {}).get('errortext')}"
            await svc.event(caller, ev.type, text, level="INFO" if res.ok else "ERROR",
                            resource_type=ev.resource_type, resource_uuid=ev.resource_uuid)
        except Exception:  # a detached task: nobody else would hear of it
            log.exception("job %s (%s): recording its completion failed", accepted.jobid, ev.type)

    task = asyncio.create_task(completed())
    _watchers.add(task)
    task.add_done_callback(_watchers.discard)
    return accepted


async def success_view(svc: ApiService, caller: Caller, result: dict[str, Any]) -> dict[str, Any]:
    return {"success": True}


async def account_job_view(svc: ApiService, caller: Caller, result: dict[str, Any]) -> dict[str, Any]:
    return {"account": await account_out(svc, caller, result["id"], include_removed=True)}
