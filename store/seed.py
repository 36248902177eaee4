"""A fresh install's rows, as a new CloudStack has them: domain ROOT, the four
default roles, the system and admin accounts, user `admin` (password
`password` unless one is given), and every setting of the catalogue.

Idempotent: run at every start; it adds only what is missing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.configdefs import CATALOGUE
from cloudplane.store.tables.config import Configuration
from cloudplane.store.tables.identity import Account, Domain, Role, RolePermission, User

DEFAULT_ADMIN_PASSWORD = "password"

# (name, role_type, account type that uses it)
DEFAULT_ROLES = (
    ("Root Admin", "Admin"),
    ("Resource Admin", "ResourceAdmin"),
    ("Domain Admin", "DomainAdmin"),
    ("User", "User"),
)

T_DOMAIN, T_ROLE, T_PERM = Domain.__table__, Role.__table__, RolePermission.__table__  # type: ignore[attr-defined]
T_ACCOUNT, T_USER, T_CONF = Account.__table__, User.__table__, Configuration.__table__  # type: ignore[attr-defined]


def _base() -> dict[str, Any]:
    return {"uuid": new_uuid(), "version": 1, "created": utcnow()}


async def _insert(conn: AsyncConnection, table: Any, values: dict[str, Any]) -> int:
    res = await conn.execute(insert(table).values(**_base(), **values))
    return int(res.inserted_primary_key[0])


async def seed(engine: AsyncEngine, *, admin_password_hash: str) -> bool:
    """Create the fresh-install rows; return True if this was a fresh install."""
    async with engine.begin() as conn:
        fresh = (await conn.execute(select(T_DOMAIN.c.id).where(T_DOMAIN.c.parent_id.is_(None)))).first() is None
        if fresh:
            root = await _insert(conn, T_DOMAIN, {"name": "ROOT", "parent_id": None, "path": "/", "level": 0,
                                                  "state": "Active"})
            roles: dict[str, int] = {}
            for name, rtype in DEFAULT_ROLES:
                rid = await _insert(conn, T_ROLE, {"name": name, "role_type": rtype, "is_default": True,
                                                   "description": f"Default {name.lower()} role"})
                roles[rtype] = rid
                # Every default role may call whatever its role type is allowed to (the
                # registry's bound); operators narrow it with more rules.
                await _insert(conn, T_PERM, {"role_id": rid, "rule": "*", "permission": "allow", "sort_order": 0})
            system = await _insert(conn, T_ACCOUNT, {"name": "system", "domain_id": root, "role_id": roles["Admin"],
                                                     "account_type": 1, "state": "enabled", "is_default": True})
            admin = await _insert(conn, T_ACCOUNT, {"name": "admin", "domain_id": root, "role_id": roles["Admin"],
                                                    "account_type": 1, "state": "enabled", "is_default": True})
            await _insert(conn, T_USER, {"account_id": system, "username": "system", "password": None,
                                         "state": "enabled", "is_default": True, "first_name": "system",
                                         "last_name": "cloud"})
            await _insert(conn, T_USER, {"account_id": admin, "username": "admin", "password": admin_password_hash,
                                         "state": "enabled", "is_default": True, "first_name": "Admin",
                                         "last_name": "User"})
        have = {r[0] for r in (await conn.execute(
            select(T_CONF.c.name).where(T_CONF.c.scope == "global"))).all()}
        for d in CATALOGUE:
            if d.name not in have:
                await _insert(conn, T_CONF, {"name": d.name, "scope": "global", "scope_id": 0, "value": d.default,
                                             "default_value": d.default, "value_type": d.type, "category": d.category,
                                             "description": d.description, "is_dynamic": d.dynamic})
    return fresh
