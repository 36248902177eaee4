"""Rows → CloudStack response objects for domains, accounts, users, roles.

User and account rows come from the joined queries in api/commands/identity.py:
the account's columns are labelled `a_*`, its domain's `d_*` and its role's
`r_*` (absent for an account without a role).
"""

from __future__ import annotations

from typing import Any

from cloudplane.api.dates import format_date

ROLE_TYPE_OF_ACCOUNT = {0: "User", 1: "Admin", 2: "DomainAdmin", 3: "ResourceAdmin"}
ACCOUNT_TYPE_OF_ROLE = {v: k for k, v in ROLE_TYPE_OF_ACCOUNT.items()}


def domain_path_text(path: str) -> str:
    """Our `/a/b/` as CloudStack writes it: `ROOT/a/b`."""
    return "ROOT" + path.rstrip("/") if path != "/" else "ROOT"


def domain_view(r: Any, *, has_child: bool = False, parent: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": r.uuid, "name": r.name, "level": r.level, "path": domain_path_text(r.path),
                           "haschild": has_child, "state": r.state, "created": format_date(r.created)}
    if parent is not None:
        out["parentdomainid"] = parent.uuid
        out["parentdomainname"] = parent.name
    if r.network_domain:
        out["networkdomain"] = r.network_domain
    return out


def _role_fields(r: Any) -> dict[str, Any]:
    if r.r_uuid is None:
        return {}
    return {"roleid": r.r_uuid, "rolename": r.r_name, "roletype": r.r_type}


def user_view(u: Any, *, caller_domain_path: str = "/", secret: str | None = None) -> dict[str, Any]:
    """A user row joined with its account, domain and role."""
    out: dict[str, Any] = {
        "id": u.uuid, "username": u.username, "firstname": u.first_name, "lastname": u.last_name,
        "email": u.email, "created": format_date(u.created), "state": u.state, "account": u.a_name,
        "accountid": u.a_uuid, "accounttype": u.a_type, **_role_fields(u), "domainid": u.d_uuid,
        "domain": u.d_name, "timezone": u.timezone, "apikey": u.api_key, "secretkey": secret,
        "isdefault": bool(u.is_default), "usersource": u.source,
        "iscallerchilddomain": u.d_path != caller_domain_path and u.d_path.startswith(caller_domain_path),
    }
    return {k: v for k, v in out.items() if v is not None}


def account_view(a: Any, *, users: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An account row joined with its domain and role, and its users' views."""
    out: dict[str, Any] = {
        "id": a.uuid, "name": a.name, "accounttype": a.account_type, **_role_fields(a), "domainid": a.d_uuid,
        "domain": a.d_name, "domainpath": domain_path_text(a.d_path), "state": a.state,
        "isdefault": bool(a.is_default), "iscleanuprequired": bool(a.cleanup_needed),
        "created": format_date(a.created), "groups": [], "user": users or [],
    }
    if a.network_domain:
        out["networkdomain"] = a.network_domain
    return out


def role_view(r: Any) -> dict[str, Any]:
    return {"id": r.uuid, "name": r.name, "type": r.role_type, "description": r.description or "",
            "isdefault": bool(r.is_default)}


def permission_view(p: Any, *, role_uuid: str, role_name: str) -> dict[str, Any]:
    return {"id": p.uuid, "roleid": role_uuid, "rolename": role_name, "rule": p.rule,
            "permission": p.permission, "description": p.description or ""}
