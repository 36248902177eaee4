"""Accounts and users: listing, API keys, and their lifecycles (create,
update with the password rules, lock, disable, enable, delete). Who may act
on whom: api/commands/identity.py."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from cloudplane.actors.identity import EntityRef
from cloudplane.api import scope
from cloudplane.api.commands.base import ADMINS, ALL, command, equalities, page
from cloudplane.api.commands.identity import (
    A,
    R,
    U,
    Ev,
    Target,
    accept_logged,
    account_job_view,
    account_out,
    account_target,
    accounts_out,
    accounts_q,
    TIMEZONE_LEN,
    check_length,
    check_network_domain,
    check_not_blank,
    check_uuid,
    done,
    reaches_account,
    find_account,
    find_role,
    one,
    password_hash,
    require_account,
    require_domain,
    require_grant,
    success_view,
    user_out,
    user_target,
    users_q,
)
from cloudplane.api.context import Accepted, Call, Caller, JobTarget, ListResult, Success
from cloudplane.api.secrets import new_api_keypair, verify_password
from cloudplane.api.service import ApiService
from cloudplane.api.views.identity import ACCOUNT_TYPE_OF_ROLE, ROLE_TYPE_OF_ACCOUNT, user_view
from cloudplane.errors import NotAllowed, ParamError
from cloudplane.store.base import new_uuid


async def find_user(call: Call, uuid: str) -> tuple[Any, Target]:
    """The user and its account as the access rules see it; 431 when absent, 432 out of reach."""
    row = await one(call.service, users_q().where(U.c.uuid == uuid))
    if row is None:
        raise ParamError(f"Unable to find user by id {uuid}")
    t = user_target(row)
    require_account(call.caller, t)
    return row, t


def _not_system(t: Target, what: str) -> None:
    if t.is_system:
        raise NotAllowed(f"User of account {t.name} is a system user, {what} is not allowed")


async def _user_job_view(svc: ApiService, caller: Caller, result: dict[str, Any]) -> dict[str, Any]:
    return {"user": await user_out(svc, caller, result["id"], include_removed=True)}


def _user_ref(row: Any) -> EntityRef:
    return EntityRef("user", row.uuid)


# -- reading -----------------------------------------------------------------------------------


@command("listUsers", object_name="user")
async def list_users(call: Call) -> ListResult:
    c = call.caller
    if call.get("id") and c.role_type != "User" and not any(
            call.get(p) for p in ("listall", "domainid", "account")):
        # CloudStack: an admin looking a user up by id searches its whole reach.
        vis = scope.Visibility(domain_path=c.domain_path, recursive=True)
    else:
        vis = await scope.visibility(call)
    q = users_q().where(vis.clause(U.c.account_id, A.c.domain_id))
    q = q.where(*equalities(call, (("id", U.c.uuid), ("username", U.c.username), ("state", U.c.state))))
    if call.get("accounttype") is not None:
        q = q.where(A.c.account_type == call.get("accounttype"))
    if call.get("keyword"):
        q = q.where(U.c.username.contains(call.get("keyword"), autoescape=True))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, U.c.id)
    return ListResult([user_view(r, caller_domain_path=c.domain_path) for r in rows], total)


@command("getUserKeys", object_name="userkeys")
async def get_user_keys(call: Call) -> dict[str, Any]:
    row, _ = await find_user(call, call.get("id"))
    secret = call.service.key.decrypt(row.secret_key) if row.secret_key else None
    return {k: v for k, v in {"apikey": row.api_key, "secretkey": secret}.items() if v is not None}


@command("registerUserKeys", object_name="userkeys")
async def register_user_keys(call: Call) -> dict[str, Any]:
    row, _ = await find_user(call, call.get("id"))
    api_key, secret = new_api_keypair()
    await call.service.run(call, JobTarget(_user_ref(row), "register_keys",
                                           {"api_key": api_key, "secret_key_enc": call.service.key.encrypt(secret)},
                                           "User"))
    await done(call, Ev("REGISTER.USER.KEY", f"registered user keys for user {row.username}", "User", row.uuid))
    return {"apikey": api_key, "secretkey": secret}


# -- lifecycle -----------------------------------------------------------------------------------


@command("createUser", object_name="user", roles=ADMINS)
async def create_user(call: Call) -> dict[str, Any]:
    c = call.caller
    dom = await scope.domain_by_uuid(call, call.get("domainid")) if call.get("domainid") else None
    if dom is not None:
        require_domain(c, dom.path, dom.uuid)
    check_not_blank(call, "username")
    check_length(call.get("timezone"), "timezone", TIMEZONE_LEN)
    acct = await find_account(call, name=call.get("account"), domain_uuid=call.get("domainid"))
    t = account_target(acct)
    if t.is_system:
        raise NotAllowed(f"Account {t.name} is a system account, can't add a user to it")
    require_account(c, t)
    user = {"username": call.get("username"), "first_name": call.get("firstname"),
            "last_name": call.get("lastname"), "email": call.get("email"), "timezone": call.get("timezone"),
            "password": await password_hash(call)}
    res = await call.service.run(call, JobTarget(EntityRef("account", acct.uuid), "create_user", {
        "user": user, "uuid": check_uuid(call.get("userid"), "userid") or new_uuid()}, "User"))
    await done(call, Ev("USER.CREATE", f"User Name: {user['username']}, Account: {acct.name}", "User", res["id"]))
    return await user_out(call.service, c, res["id"])


async def _password_change(call: Call, row: Any) -> str | None:
    """The new password's hash, after CloudStack's rules: users (not admins)
    must give their current password, and it must be right."""
    if call.get("password") is None:
        return None
    if call.caller.role_type == "User":
        current = call.get("currentpassword")
        if not current:
            raise ParamError("To set a new password the current password must be provided "
                             "(parameter currentpassword).")
        if not await asyncio.to_thread(verify_password, current, row.password):
            raise ParamError("Current password is incorrect (parameter currentpassword).")
    return await password_hash(call)


def _key_pair(call: Call) -> tuple[str | None, str | None]:
    key, secret = call.get("userapikey") or None, call.get("usersecretkey") or None
    if (key is None) != (secret is None):
        raise ParamError("Please provide a userApiKey/userSecretKey pair (parameters userapikey and usersecretkey)")
    if secret is not None and len(secret) > 128:
        raise ParamError("Invalid value for parameter usersecretkey: at most 128 characters")
    return key, call.service.key.encrypt(secret) if secret is not None else None


@command("updateUser", object_name="user", roles=ALL)
async def update_user(call: Call) -> dict[str, Any]:
    c = call.caller
    row, t = await find_user(call, call.get("id"))
    _not_system(t, "update")
    if c.role_type == "User" and row.id != c.user_id:
        raise NotAllowed(f"User {c.username} may update only itself, not user {row.uuid}")
    check_not_blank(call, "username", "firstname", "lastname")
    check_length(call.get("timezone"), "timezone", TIMEZONE_LEN)
    api_key, secret_enc = _key_pair(call)
    changes = {"username": call.get("username"), "first_name": call.get("firstname"),
               "last_name": call.get("lastname"), "email": call.get("email"), "timezone": call.get("timezone"),
               "password": await _password_change(call, row), "api_key": api_key, "secret_key": secret_enc}
    await call.service.run(call, JobTarget(_user_ref(row), "update", changes, "User"))
    await done(call, Ev("USER.UPDATE", f"updated user {row.username}", "User", row.uuid))
    return await user_out(call.service, c, row.uuid)


@command("deleteUser", roles=ADMINS)
async def delete_user(call: Call) -> Success:
    c = call.caller
    row, t = await find_user(call, call.get("id"))
    if row.id == c.user_id:
        raise ParamError("The caller is requesting to delete itself. As a security measure, this operation is not "
                         f"allowed. To delete user {row.username} (ID: {row.uuid}), ask another user with "
                         "permission to do so.")
    if row.is_default:
        raise ParamError("The user is default and can't be removed")
    await call.service.run(call, JobTarget(_user_ref(row), "delete", {}, "User"))
    await done(call, Ev("USER.DELETE", f"deleted user {row.username}", "User", row.uuid))
    return Success()


@command("disableUser", object_name="user", roles=ADMINS, entity_type="User", job_view=_user_job_view)
async def disable_user(call: Call) -> Accepted:
    row, t = await find_user(call, call.get("id"))
    _not_system(t, "disabling")
    return await accept_logged(call, JobTarget(_user_ref(row), "set_state", {"state": "disabled"}, "User"),
                               Ev("USER.DISABLE", f"disabling user {row.username}", "User", row.uuid))


@command("enableUser", object_name="user", roles=ADMINS)
async def enable_user(call: Call) -> dict[str, Any]:
    row, t = await find_user(call, call.get("id"))
    _not_system(t, "enabling")
    await call.service.run(call, JobTarget(_user_ref(row), "set_state", {"state": "enabled"}, "User"))
    if row.a_state != "enabled":
        # As CloudStack does: enabling a user enables its account too.
        await call.service.run(call, JobTarget(EntityRef("account", t.uuid), "set_state", {"state": "enabled"},
                                               "Account"))
    await done(call, Ev("USER.ENABLE", f"enabled user {row.username}", "User", row.uuid))
    return await user_out(call.service, call.caller, row.uuid)


@command("lockUser", object_name="user", roles=ADMINS)
async def lock_user(call: Call) -> dict[str, Any]:
    row, t = await find_user(call, call.get("id"))
    _not_system(t, "locking")
    if row.state == "disabled":
        raise ParamError(f"User {row.username} (parameter id) is disabled; only an enabled user can be locked")
    if row.state == "enabled":
        await call.service.run(call, JobTarget(_user_ref(row), "set_state", {"state": "locked"}, "User"))
        # As CloudStack does: an account left without an enabled user is locked too.
        await call.service.run(call, JobTarget(EntityRef("account", t.uuid), "lock_if_no_enabled_user", {},
                                               "Account"))
        await done(call, Ev("USER.LOCK", f"locked user {row.username}", "User", row.uuid))
    return await user_out(call.service, call.caller, row.uuid)


# -- accounts ----------------------------------------------------------------------------------


async def _accounts_visibility(call: Call) -> scope.Visibility:
    """CloudStack's listAccounts rules: an `id` outside the caller's reach is 432;
    `listall` widens an admin's view to its subtree (or `domainid`'s)."""
    c, admin = call.caller, call.caller.role_type != "User"
    dom = await scope.domain_by_uuid(call, call.get("domainid")) if call.get("domainid") else None
    if dom is not None:
        require_domain(c, dom.path, dom.uuid)
    if call.get("id"):
        t = account_target(await find_account(call, uuid=call.get("id")))
        if not reaches_account(c, t):
            raise NotAllowed(f"Account {c.account_name} does not have permission to view account {t.uuid}")
        return scope.Visibility(account_id=t.account_id)
    if call.get("listall", False) and admin:
        return scope.Visibility(domain_path=dom.path if dom is not None else c.domain_path, recursive=True)
    if not admin or dom is None:
        return scope.Visibility(account_id=c.account_id)
    return scope.Visibility(domain_path=dom.path, recursive=bool(call.get("isrecursive", False)))


@command("listAccounts", object_name="account")
async def list_accounts(call: Call) -> ListResult:
    vis = await _accounts_visibility(call)
    q = accounts_q().where(vis.clause(A.c.id, A.c.domain_id))
    q = q.where(*equalities(call, (("name", A.c.name), ("state", A.c.state), ("accounttype", A.c.account_type),
                                   ("iscleanuprequired", A.c.cleanup_needed))))
    if call.get("keyword"):
        q = q.where(A.c.name.contains(call.get("keyword"), autoescape=True))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, A.c.id)
        items = await accounts_out(conn, call.caller, rows)
    return ListResult(items, total)


async def _role_for_new_account(call: Call) -> Any:
    """The role createAccount gives: `roleid`, or the default role of `accounttype`."""
    if call.get("roleid"):
        role = await find_role(call, call.get("roleid"))
    elif call.get("accounttype") is not None:
        rtype = ROLE_TYPE_OF_ACCOUNT.get(call.get("accounttype"))
        if rtype is None:
            raise ParamError(f"Invalid value {call.get('accounttype')} for parameter accounttype")
        role = await one(call.service, select(R).where(R.c.role_type == rtype, R.c.is_default.is_(True),
                                                       R.c.removed.is_(None)))
    else:
        raise ParamError("Unable to execute API command createaccount due to missing parameter roleid "
                         "or accounttype")
    if role is None:
        raise ParamError(f"No default role for account type {call.get('accounttype')}")
    require_grant(call.caller, role.role_type)
    return role


@command("createAccount", object_name="account", roles=ADMINS)
async def create_account(call: Call) -> dict[str, Any]:
    c = call.caller
    dom = await scope.domain_by_uuid(call, call.get("domainid")) if call.get("domainid") else None
    dom_uuid, dom_path = (dom.uuid, dom.path) if dom is not None else (c.domain_uuid, c.domain_path)
    require_domain(c, dom_path, dom_uuid)
    check_not_blank(call, "username", "account")
    check_length(call.get("timezone"), "timezone", TIMEZONE_LEN)
    check_network_domain(call.get("networkdomain"))
    role = await _role_for_new_account(call)
    user = {"username": call.get("username"), "first_name": call.get("firstname"),
            "last_name": call.get("lastname"), "email": call.get("email"), "timezone": call.get("timezone"),
            "password": await password_hash(call)}
    name = call.get("account") or call.get("username")
    res = await call.service.run(call, JobTarget(EntityRef("domain", dom_uuid), "create_account", {
        "name": name, "account_type": ACCOUNT_TYPE_OF_ROLE[role.role_type], "role_id": role.id, "user": user,
        "network_domain": call.get("networkdomain"),
        "uuid": check_uuid(call.get("accountid"), "accountid") or new_uuid(),
        "user_uuid": check_uuid(call.get("userid"), "userid") or new_uuid()}, "Account"))
    await done(call, Ev("ACCOUNT.CREATE", f"Successfully completed creating Account. Account Name: {name}",
                        "Account", res["id"]))
    return await account_out(call.service, c, res["id"])


async def _target_account(call: Call) -> Target:
    """The account of an account command (`id`, or `account` + `domainid`), checked for reach."""
    t = account_target(await find_account(call, uuid=call.get("id"), name=call.get("account"),
                                          domain_uuid=call.get("domainid")))
    if t.is_system:
        raise NotAllowed(f"Account {t.name} is a system account, {call.spec.name} is not allowed")
    require_account(call.caller, t)
    return t


@command("updateAccount", object_name="account", roles=ADMINS)
async def update_account(call: Call) -> dict[str, Any]:
    c = call.caller
    t = await _target_account(call)
    newname = call.get("newname")
    if newname is not None and not newname.strip():
        raise ParamError(f"The new account name (parameter newname) for account {t.name} is empty")
    check_network_domain(call.get("networkdomain"))
    args: dict[str, Any] = {"name": newname, "network_domain": call.get("networkdomain")}
    if call.get("roleid"):
        role = await find_role(call, call.get("roleid"))
        if (t.role_type == "Admin") != (role.role_type == "Admin"):
            raise NotAllowed(f"Unable to update account role to {role.name}: only an Admin role may replace "
                             "an Admin role, and only on a root admin account")
        require_grant(c, role.role_type)
        args.update(role_id=role.id, account_type=ACCOUNT_TYPE_OF_ROLE[role.role_type])
    await call.service.run(call, JobTarget(EntityRef("account", t.uuid), "update", args, "Account"))
    await done(call, Ev("ACCOUNT.UPDATE", f"updated account {t.name}", "Account", t.uuid))
    return await account_out(call.service, c, t.uuid)


@command("deleteAccount", roles=ADMINS, entity_type="Account", job_view=success_view)
async def delete_account(call: Call) -> Accepted:
    c = call.caller
    t = account_target(await find_account(call, uuid=call.get("id")))
    if t.account_id == c.account_id:
        raise ParamError(f"Deletion of your own account is not allowed. To delete account {t.name} (ID: {t.uuid}), "
                         "request to another user with permissions to perform the operation.")
    require_account(c, t)
    if t.is_default:
        raise ParamError("The account is default and can't be removed")
    return await accept_logged(call, JobTarget(EntityRef("account", t.uuid), "delete", {}, "Account"),
                               Ev("ACCOUNT.DELETE", f"deleting account {t.name}", "Account", t.uuid))


@command("disableAccount", object_name="account", roles=ADMINS, entity_type="Account", job_view=account_job_view)
async def disable_account(call: Call) -> Accepted:
    t = await _target_account(call)
    lock = bool(call.get("lock"))
    return await accept_logged(
        call, JobTarget(EntityRef("account", t.uuid), "set_state", {"state": "locked" if lock else "disabled"},
                        "Account"),
        Ev("ACCOUNT.DISABLE", f"{'locking' if lock else 'disabling'} account {t.name}", "Account", t.uuid))


@command("enableAccount", object_name="account", roles=ADMINS)
async def enable_account(call: Call) -> dict[str, Any]:
    t = await _target_account(call)
    await call.service.run(call, JobTarget(EntityRef("account", t.uuid), "set_state", {"state": "enabled"}, "Account"))
    await done(call, Ev("ACCOUNT.ENABLE", f"enabled account {t.name}", "Account", t.uuid))
    return await account_out(call.service, call.caller, t.uuid)


@command("lockAccount", object_name="account", roles=ADMINS)
async def lock_account(call: Call) -> dict[str, Any]:
    t = await _target_account(call)
    await call.service.run(call, JobTarget(EntityRef("account", t.uuid), "set_state", {"state": "locked"}, "Account"))
    await done(call, Ev("ACCOUNT.DISABLE", f"locked account {t.name}", "Account", t.uuid))
    return await account_out(call.service, call.caller, t.uuid)

