"""Domains, accounts, users and roles as entity actors.

A parent creates its children (a domain creates accounts and subdomains, an
account creates users), so every write still goes through one entity's
mailbox. Secrets arrive already protected: the API hashes passwords and
encrypts secret keys before they enter a job row.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import String, Table, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.actors.entity import Entity, operation
from cloudplane.errors import ParamError
from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.tables.identity import Account, Domain, Role, RolePermission, User

T_DOMAIN: Table = Domain.__table__  # type: ignore[attr-defined]
T_ACCOUNT: Table = Account.__table__  # type: ignore[attr-defined]
T_USER: Table = User.__table__  # type: ignore[attr-defined]
T_ROLE: Table = Role.__table__  # type: ignore[attr-defined]
T_PERM: Table = RolePermission.__table__  # type: ignore[attr-defined]

USER_FIELDS = ("username", "password", "first_name", "last_name", "email", "timezone")


def _row(**values: Any) -> dict[str, Any]:
    return {"uuid": new_uuid(), "version": 1, "created": utcnow(), **values}


async def _insert(conn: AsyncConnection, table: Table, values: dict[str, Any]) -> int:
    return int((await conn.execute(insert(table).values(**values))).inserted_primary_key[0])


async def _exists(conn: AsyncConnection, q: Any) -> bool:
    return (await conn.execute(q.limit(1))).first() is not None


class DomainEntity(Entity):
    kind = "domain"
    table: ClassVar[Table] = T_DOMAIN

    @operation()
    async def create_domain(self, name: str, network_domain: str | None = None) -> dict[str, Any]:
        path = f"{self.row['path']}{name}/"

        async def work(conn: AsyncConnection) -> str:
            if await _exists(conn, select(T_DOMAIN.c.id).where(T_DOMAIN.c.path == path, T_DOMAIN.c.removed.is_(None))):
                raise ParamError(f"Domain with name {name} already exists for the parent id={self.ref.id}")
            values = _row(name=name, parent_id=self.row["id"], path=path, level=self.row["level"] + 1,
                          network_domain=network_domain, state="Active")
            await _insert(conn, T_DOMAIN, values)
            return str(values["uuid"])

        return {"id": await self.host.writer.submit(work)}

    @operation()
    async def create_account(self, name: str, account_type: int, role_id: int | None,
                             user: dict[str, Any], network_domain: str | None = None) -> dict[str, Any]:
        async def work(conn: AsyncConnection) -> dict[str, str]:
            if await _exists(conn, select(T_ACCOUNT.c.id).where(
                    T_ACCOUNT.c.name == name, T_ACCOUNT.c.domain_id == self.row["id"], T_ACCOUNT.c.removed.is_(None))):
                raise ParamError(f"The specified account: {name} already exists")
            if await _exists(conn, select(T_USER.c.id).join(T_ACCOUNT, T_USER.c.account_id == T_ACCOUNT.c.id).where(
                    T_USER.c.username == user["username"], T_ACCOUNT.c.domain_id == self.row["id"],
                    T_USER.c.removed.is_(None))):
                raise ParamError(f"The user {user['username']} already exists in domain {self.row['name']}")
            acct = _row(name=name, domain_id=self.row["id"], role_id=role_id, account_type=account_type,
                        state="enabled", network_domain=network_domain, is_default=False, cleanup_needed=False)
            aid = await _insert(conn, T_ACCOUNT, acct)
            usr = _row(account_id=aid, state="enabled", source="native", is_default=False,
                       **{k: user.get(k) for k in USER_FIELDS})
            await _insert(conn, T_USER, usr)
            return {"id": str(acct["uuid"]), "userid": str(usr["uuid"])}

        return dict(await self.host.writer.submit(work))

    @operation()
    async def update(self, name: str | None = None, network_domain: str | None = None) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if name and name != self.row["name"]:
            if self.row["parent_id"] is None:
                raise ParamError("ROOT domain can not be edited with a new name")
            changes["name"] = name
            changes["path"] = self.row["path"].rsplit(self.row["name"] + "/", 1)[0] + name + "/"
        if network_domain is not None:
            changes["network_domain"] = network_domain
        if changes:
            old_path = self.row["path"]
            await self.save(**changes)
            if "path" in changes:
                new_path = changes["path"]

                async def repath(conn: AsyncConnection) -> None:
                    # Subdomains carry the path prefix; rewrite it in one statement.
                    await conn.execute(update(T_DOMAIN).where(T_DOMAIN.c.path.startswith(old_path),
                                                              T_DOMAIN.c.id != self.row["id"])
                                       .values(path=literal(new_path, String) + func.substr(T_DOMAIN.c.path, len(old_path) + 1),
                                               version=T_DOMAIN.c.version + 1))

                await self.host.writer.submit(repath)
        return {"id": self.ref.id}

    @operation()
    async def delete(self, cleanup: bool = False) -> dict[str, Any]:
        if self.row["parent_id"] is None:
            raise ParamError("ROOT domain can not be deleted")

        async def check(conn: AsyncConnection) -> None:
            if await _exists(conn, select(T_DOMAIN.c.id).where(T_DOMAIN.c.parent_id == self.row["id"],
                                                               T_DOMAIN.c.removed.is_(None))):
                raise ParamError(f"Domain {self.row['name']} has subdomains; delete them first")
            if not cleanup and await _exists(conn, select(T_ACCOUNT.c.id).where(
                    T_ACCOUNT.c.domain_id == self.row["id"], T_ACCOUNT.c.removed.is_(None))):
                raise ParamError(f"Domain {self.row['name']} still has accounts; use cleanup=true")
            if cleanup:
                await conn.execute(update(T_ACCOUNT).where(T_ACCOUNT.c.domain_id == self.row["id"],
                                                           T_ACCOUNT.c.removed.is_(None))
                                   .values(removed=utcnow(), state="disabled", version=T_ACCOUNT.c.version + 1))

        await self.host.writer.submit(check)
        await self.save(removed=utcnow(), state="Inactive")
        return {"success": True}

    @operation()
    async def create_role(self, name: str, role_type: str, description: str | None = None,
                          rules: list[tuple[str, str, str | None]] | None = None) -> dict[str, Any]:
        """Roles are global; the ROOT domain's actor is their parent."""
        async def work(conn: AsyncConnection) -> str:
            if await _exists(conn, select(T_ROLE.c.id).where(T_ROLE.c.name == name, T_ROLE.c.removed.is_(None))):
                raise ParamError(f"Role with name {name} already exists")
            role = _row(name=name, role_type=role_type, description=description, is_default=False)
            rid = await _insert(conn, T_ROLE, role)
            for i, (rule, perm, desc) in enumerate(rules or []):
                await _insert(conn, T_PERM, _row(role_id=rid, rule=rule, permission=perm, description=desc,
                                                 sort_order=i))
            return str(role["uuid"])

        return {"id": await self.host.writer.submit(work)}


class AccountEntity(Entity):
    kind = "account"
    table: ClassVar[Table] = T_ACCOUNT

    @operation()
    async def create_user(self, user: dict[str, Any]) -> dict[str, Any]:
        async def work(conn: AsyncConnection) -> str:
            if await _exists(conn, select(T_USER.c.id).join(T_ACCOUNT, T_USER.c.account_id == T_ACCOUNT.c.id).where(
                    T_USER.c.username == user["username"], T_ACCOUNT.c.domain_id == self.row["domain_id"],
                    T_USER.c.removed.is_(None))):
                raise ParamError(f"The user {user['username']} already exists in the domain")
            usr = _row(account_id=self.row["id"], state="enabled", source="native", is_default=False,
                       **{k: user.get(k) for k in USER_FIELDS})
            await _insert(conn, T_USER, usr)
            return str(usr["uuid"])

        return {"id": await self.host.writer.submit(work)}

    @operation()
    async def update(self, **changes: Any) -> dict[str, Any]:
        allowed = {k: v for k, v in changes.items() if k in ("name", "network_domain", "role_id") and v is not None}
        if allowed:
            await self.save(**allowed)
        return {"id": self.ref.id}

    @operation(joinable=True)
    async def set_state(self, state: str) -> dict[str, Any]:
        if self.row.get("is_default") and state != "enabled":
            raise ParamError("The default admin and system accounts can not be disabled or locked")
        if self.row["state"] != state:
            await self.save(state=state)
        return {"id": self.ref.id}

    @operation()
    async def delete(self) -> dict[str, Any]:
        if self.row.get("is_default"):
            raise ParamError("The default admin and system accounts can not be deleted")
        now = utcnow()

        async def users(conn: AsyncConnection) -> None:
            await conn.execute(update(T_USER).where(T_USER.c.account_id == self.row["id"], T_USER.c.removed.is_(None))
                               .values(removed=now, state="disabled", api_key=None, secret_key=None,
                                       version=T_USER.c.version + 1))

        await self.save(removed=now, state="disabled")
        await self.host.writer.submit(users)
        return {"success": True}


class UserEntity(Entity):
    kind = "user"
    table: ClassVar[Table] = T_USER

    @operation()
    async def register_keys(self, api_key: str, secret_key_enc: str) -> dict[str, Any]:
        await self.save(api_key=api_key, secret_key=secret_key_enc)
        return {"id": self.ref.id}

    @operation()
    async def update(self, **changes: Any) -> dict[str, Any]:
        fields = USER_FIELDS + ("api_key", "secret_key")
        allowed = {k: v for k, v in changes.items() if k in fields and v is not None}
        if allowed:
            await self.save(**allowed)
        return {"id": self.ref.id}

    @operation(joinable=True)
    async def set_state(self, state: str) -> dict[str, Any]:
        if self.row.get("is_default") and state != "enabled":
            raise ParamError("The default admin and system users can not be disabled or locked")
        if self.row["state"] != state:
            await self.save(state=state)
        return {"id": self.ref.id}

    @operation()
    async def delete(self) -> dict[str, Any]:
        if self.row.get("is_default"):
            raise ParamError("The default admin and system users can not be deleted")
        await self.save(removed=utcnow(), state="disabled", api_key=None, secret_key=None)
        return {"success": True}


class RoleEntity(Entity):
    kind = "role"
    table: ClassVar[Table] = T_ROLE

    @operation()
    async def update(self, **changes: Any) -> dict[str, Any]:
        allowed = {k: v for k, v in changes.items() if k in ("name", "description", "role_type") and v is not None}
        if self.row.get("is_default") and ("name" in allowed or "role_type" in allowed):
            raise ParamError("Default roles can not be renamed or retyped")
        if allowed:
            await self.save(**allowed)
        return {"id": self.ref.id}

    @operation()
    async def delete(self) -> dict[str, Any]:
        if self.row.get("is_default"):
            raise ParamError("Default roles can not be deleted")

        async def in_use(conn: AsyncConnection) -> None:
            if await _exists(conn, select(T_ACCOUNT.c.id).where(T_ACCOUNT.c.role_id == self.row["id"],
                                                                T_ACCOUNT.c.removed.is_(None))):
                raise ParamError("Role is in use by one or more accounts; it can not be deleted")

        await self.host.writer.submit(in_use)
        await self.save(removed=utcnow())
        return {"success": True}

    @operation()
    async def add_permission(self, rule: str, permission: str, description: str | None = None) -> dict[str, Any]:
        async def work(conn: AsyncConnection) -> str:
            top = (await conn.execute(select(func.max(T_PERM.c.sort_order)).where(
                T_PERM.c.role_id == self.row["id"], T_PERM.c.removed.is_(None)))).scalar()
            values = _row(role_id=self.row["id"], rule=rule, permission=permission, description=description,
                          sort_order=(top if top is not None else -1) + 1)
            await _insert(conn, T_PERM, values)
            return str(values["uuid"])

        return {"id": await self.host.writer.submit(work)}

    @operation()
    async def update_permission(self, permission_uuid: str | None = None, permission: str | None = None,
                                order: list[str] | None = None) -> dict[str, Any]:
        async def work(conn: AsyncConnection) -> None:
            if order:
                for i, puuid in enumerate(order):
                    await conn.execute(update(T_PERM).where(T_PERM.c.uuid == puuid, T_PERM.c.role_id == self.row["id"])
                                       .values(sort_order=i, version=T_PERM.c.version + 1))
            if permission_uuid and permission:
                res = await conn.execute(update(T_PERM).where(T_PERM.c.uuid == permission_uuid,
                                                              T_PERM.c.role_id == self.row["id"])
                                         .values(permission=permission, version=T_PERM.c.version + 1))
                if res.rowcount != 1:
                    raise ParamError(f"Role permission {permission_uuid} does not belong to role {self.ref.id}")

        await self.host.writer.submit(work)
        return {"success": True}

    @operation()
    async def delete_permission(self, permission_uuid: str) -> dict[str, Any]:
        async def work(conn: AsyncConnection) -> None:
            res = await conn.execute(update(T_PERM).where(T_PERM.c.uuid == permission_uuid,
                                                          T_PERM.c.role_id == self.row["id"], T_PERM.c.removed.is_(None))
                                     .values(removed=utcnow(), version=T_PERM.c.version + 1))
            if res.rowcount != 1:
                raise ParamError(f"Unable to find role permission {permission_uuid}")

        await self.host.writer.submit(work)
        return {"success": True}
