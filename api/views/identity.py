"""Rows → CloudStack response objects for domains, accounts, users, roles."""

from __future__ import annotations

from typing import Any

from cloudplane.api.dates import format_date

ROLE_TYPE_OF_ACCOUNT = {0: "User", 1: "Admin", 2: "DomainAdmin", 3: "ResourceAdmin"}


def domain_view(r: Any, *, has_child: bool = False, parent: Any = None) -> dict[str, Any]:
    path = "ROOT" + r.path.rstrip("/") if r.path != "/" else "ROOT"
    out: dict[str, Any] = {"id": r.uuid, "name": r.name, "level": r.level, "path": path,
                           "haschild": has_child, "state": r.state, "created": format_date(r.created)}
    if parent is not None:
        out["parentdomainid"] = parent.uuid
        out["parentdomainname"] = parent.name
    if r.network_domain:
        out["networkdomain"] = r.network_domain
    return out


def user_view(u: Any, a: Any, d: Any, *, role: Any = None, secret: str | None = None,
              caller_domain_path: str = "/") -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": u.uuid, "username": u.username, "firstname": u.first_name, "lastname": u.last_name,
        "email": u.email, "created": format_date(u.created), "state": u.state, "account": a.name,
        "accountid": a.uuid, "accounttype": a.account_type, "domainid": d.uuid, "domain": d.name,
        "isdefault": bool(u.is_default), "usersource": u.source,
        "iscallerchilddomain": d.path != caller_domain_path and d.path.startswith(caller_domain_path),
    }
    if role is not None:
        out.update(roleid=role.uuid, rolename=role.name, roletype=role.role_type)
    if u.timezone:
        out["timezone"] = u.timezone
    if u.api_key:
        out["apikey"] = u.api_key
    if secret is not None:
        out["secretkey"] = secret
    return {k: v for k, v in out.items() if v is not None}


def account_view(a: Any, d: Any, *, role: Any = None, users: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": a.uuid, "name": a.name, "accounttype": a.account_type, "domainid": d.uuid, "domain": d.name,
        "domainpath": "ROOT" + d.path.rstrip("/") if d.path != "/" else "ROOT",
        "state": a.state, "isdefault": bool(a.is_default), "created": format_date(a.created),
        "user": users or [],
    }
    if role is not None:
        out.update(roleid=role.uuid, rolename=role.name, roletype=role.role_type)
    if a.network_domain:
        out["networkdomain"] = a.network_domain
    return out


def role_view(r: Any) -> dict[str, Any]:
    return {"id": r.uuid, "name": r.name, "type": r.role_type, "description": r.description or "",
            "isdefault": bool(r.is_default)}


def permission_view(p: Any, role: Any) -> dict[str, Any]:
    return {"id": p.uuid, "roleid": role.uuid, "rolename": role.name, "rule": p.rule,
            "permission": p.permission, "description": p.description or ""}
