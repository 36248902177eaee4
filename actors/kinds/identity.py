"""Domains, accounts, users and roles as entity actors.

A parent creates its children (a domain creates accounts and subdomains, an
account creates users, the ROOT domain creates roles) and removes them when it
is removed with cleanup, so every write still goes through one entity's
mailbox. Secrets arrive already protected: the API hashes passwords and
encrypts secret keys before they enter a job row.

The API decides who may act (api/commands/identity.py); the operations here
keep the invariants that need the store: unique names, no removal of what is
in use, no edits of default roles.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from sqlalchemy import String, Table, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.actors.entity import Entity, operation
from cloudplane.actors.kinds.limits import LimitOps
from cloudplane.errors import NotAllowed, ParamError
from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.tables.identity import Account, Domain, Role, RolePermission, User
from cloudplane.store.versioned import load_by_uuid, versioned_update

T_DOMAIN: Table = Domain.__table__  # type: ignore[attr-defined]
T_ACCOUNT: Table = Account.__table__  # type: ignore[attr-defined]
T_USER: Table = User.__table__  # type: ignore[attr-defined]
T_ROLE: Table = Role.__table__  # type: ignore[attr-defined]
T_PERM: Table = RolePermission.__table__  # type: ignore[attr-defined]

PATH_LEN = 255  # domain.path
USER_FIELDS = ("username", "password", "first_name", "last_name", "email", "timezone")
Work = Callable[[AsyncConnection], Awaitable[Any]]
Rule = tuple[str, str, str | None]  # (rule, allow|deny, description)


def _row(**values: Any) -> dict[str, Any]:
    return {"uuid": new_uuid(), "version": 1, "created": utcnow(), **values}


async def _insert(conn: AsyncConnection, table: Table, values: dict[str, Any]) -> int:
    return int((await conn.execute(insert(table).values(**values))).inserted_primary_key[0])


async def _exists(conn: AsyncConnection, q: Any) -> bool:
    return (await conn.execute(q.limit(1))).first() is not None


def _live(table: Table) -> Any:
    return table.c.removed.is_(None)


def _same_name(col: Any, name: str) -> Any:
    # Case-insensitive on every backend: MariaDB's collation already is, and a
    # domain path must never be a LIKE prefix of a sibling's.
    return func.lower(col) == name.lower()


async def _username_taken(conn: AsyncConnection, username: str, domain_id: int, but: int | None = None) -> bool:
    q = (select(T_USER.c.id).join(T_ACCOUNT, T_USER.c.account_id == T_ACCOUNT.c.id)
         .where(T_USER.c.username == username, T_ACCOUNT.c.domain_id == domain_id, _live(T_USER)))
    if but is not None:
        q = q.where(T_USER.c.id != but)
    return await _exists(conn, q)


async def _replayed(conn: AsyncConnection, table: Table, uuid: str, **same: Any) -> bool:
    """Creates are idempotent by the new row's uuid (chosen by the API before the
    job): a row already there with the same key is this job run again (True);
    with another key, the uuid was taken (431)."""
    row = (await conn.execute(select(table).where(table.c.uuid == uuid))).mappings().first()
    if row is None:
        return False
    if all(row[k] == v for k, v in same.items()):
        return True
    raise ParamError(f"The id {uuid} is already in use")


async def _insert_rules(conn: AsyncConnection, role_id: int, rules: list[Rule], first: int = 0) -> None:
    for i, (rule, permission, description) in enumerate(rules, start=first):
        await _insert(conn, T_PERM, _row(role_id=role_id, rule=rule, permission=permission,
                                         description=description, sort_order=i))


class IdentityEntity(Entity):
    """Identity rows are also written by a parent's cascade (a removed domain
    removes its accounts, a renamed one repaths its subdomains), so each
    operation decides from the row as stored, not from the copy in memory."""

    label: ClassVar[str] = ""

    async def fresh(self) -> None:
        async with self.host.writer.engine.connect() as conn:
            self.row = await load_by_uuid(conn, self.table, self.ref.id)
        if self.row.get("removed") is not None:
            raise ParamError(f"Unable to find {self.label} by id {self.ref.id}")

    # A refused write item leaves what it already wrote in the writer's shared
    # transaction, so every refusal comes before the first write.

    async def commit(self, changes: dict[str, Any], *, check: Work | None = None,
                     cascade: Work | None = None) -> None:
        """Change our row, in one transaction: `check` (reads that may refuse),
        the versioned update (refuses if the row moved on), then `cascade`
        (writes to other rows that never refuse)."""
        row_id, expected = self.row["id"], self.version

        async def work(conn: AsyncConnection) -> int:
            if check is not None:
                await check(conn)
            version = await versioned_update(conn, self.table, row_id, expected, changes)
            if cascade is not None:
                await cascade(conn)
            return version

        version = await self.host.writer.submit(work)
        self.row.update(changes)
        self.row["version"] = version

    async def write(self, work: Work) -> Any:
        """Write other rows (children, rules) without changing ours: `work`
        decides, refusing before it writes."""
        return await self.host.writer.submit(work)


class DomainEntity(LimitOps, IdentityEntity):
    kind = "domain"
    label = "domain"
    table: ClassVar[Table] = T_DOMAIN

    def _require_active(self) -> None:
        if self.row["state"] != "Active":
            raise ParamError(f"Domain {self.row['name']} is being deleted; nothing can be created in it")

    @operation()
    async def create_domain(self, name: str, network_domain: str | None = None,
                            uuid: str | None = None) -> dict[str, Any]:
        await self.fresh()
        self._require_active()
        values = _row(name=name, parent_id=self.row["id"], path=f"{self.row['path']}{name}/",
                      level=self.row["level"] + 1, network_domain=network_domain, state="Active")
        values["uuid"] = uuid or values["uuid"]

        async def work(conn: AsyncConnection) -> None:
            if await _replayed(conn, T_DOMAIN, values["uuid"], parent_id=self.row["id"], name=name):
                return
            if await _exists(conn, select(T_DOMAIN.c.id).where(
                    T_DOMAIN.c.parent_id == self.row["id"], _same_name(T_DOMAIN.c.name, name), _live(T_DOMAIN))):
                raise ParamError(f"Domain with name [{name}] already exists for the parent with ID [{self.ref.id}]")
            await _insert(conn, T_DOMAIN, values)

        await self.write(work)
        return {"id": values["uuid"]}

    @operation()
    async def create_account(self, name: str, account_type: int, role_id: int | None, user: dict[str, Any],
                             network_domain: str | None = None, uuid: str | None = None,
                             user_uuid: str | None = None) -> dict[str, Any]:
        await self.fresh()
        self._require_active()
        acct = _row(name=name, domain_id=self.row["id"], role_id=role_id, account_type=account_type,
                    state="enabled", network_domain=network_domain, is_default=False, cleanup_needed=False)
        usr = _row(state="enabled", source="native", is_default=False, **{k: user.get(k) for k in USER_FIELDS})
        acct["uuid"] = uuid or acct["uuid"]
        usr["uuid"] = user_uuid or usr["uuid"]

        async def work(conn: AsyncConnection) -> None:
            if await _replayed(conn, T_ACCOUNT, acct["uuid"], domain_id=self.row["id"], name=name):
                return
            if await _exists(conn, select(T_ACCOUNT.c.id).where(
                    _same_name(T_ACCOUNT.c.name, name), T_ACCOUNT.c.domain_id == self.row["id"], _live(T_ACCOUNT))):
                raise ParamError(f"The specified account: {name} already exists")
            if await _username_taken(conn, user["username"], self.row["id"]):
                raise ParamError(f"The user {user['username']} already exists in domain {self.row['name']}")
            if await _exists(conn, select(T_USER.c.id).where(T_USER.c.uuid == usr["uuid"])):
                raise ParamError(f"The id {usr['uuid']} (parameter userid) is already in use")
            usr["account_id"] = await _insert(conn, T_ACCOUNT, acct)
            await _insert(conn, T_USER, usr)

        await self.write(work)
        return {"id": acct["uuid"], "userid": usr["uuid"]}

    @operation()
    async def update(self, name: str | None = None, network_domain: str | None = None) -> dict[str, Any]:
        """Rename (subdomain paths follow in the same transaction) or set the network domain ("" clears it)."""
        await self.fresh()
        changes: dict[str, Any] = {}
        old_path = self.row["path"]
        if name is not None and name != self.row["name"]:
            if self.row["parent_id"] is None:
                raise ParamError("ROOT domain can not be edited with a new name")
            changes["name"] = name
            changes["path"] = old_path[: -len(self.row["name"]) - 1] + name + "/"
        if network_domain is not None:
            changes["network_domain"] = network_domain or None
        if not changes:
            return {"id": self.ref.id}

        async def check(conn: AsyncConnection) -> None:
            if "name" not in changes:
                return
            if await _exists(conn, select(T_DOMAIN.c.id).where(
                    T_DOMAIN.c.parent_id == self.row["parent_id"], _same_name(T_DOMAIN.c.name, name),
                    T_DOMAIN.c.id != self.row["id"], _live(T_DOMAIN))):
                raise ParamError(f"Failed to update specified domain id with name '{name}' since it already "
                                 "exists in the system")
            # length() counts bytes on MariaDB, characters on SQLite: errs on the safe side.
            longest = (await conn.execute(select(func.max(func.length(T_DOMAIN.c.path))).where(
                T_DOMAIN.c.path.startswith(old_path, autoescape=True), _live(T_DOMAIN)))).scalar() or len(old_path)
            if longest - len(old_path) + len(changes["path"]) > PATH_LEN:
                raise ParamError(f"Invalid domain name (parameter name): a subdomain's path would exceed "
                                 f"{PATH_LEN} characters")

        async def repath(conn: AsyncConnection) -> None:
            new_path = changes["path"]
            await conn.execute(update(T_DOMAIN).where(T_DOMAIN.c.path.startswith(old_path, autoescape=True),
                                                      T_DOMAIN.c.id != self.row["id"], _live(T_DOMAIN))
                               .values(path=literal(new_path, String) + func.substr(T_DOMAIN.c.path, len(old_path) + 1),
                                       version=T_DOMAIN.c.version + 1))

        await self.commit(changes, check=check, cascade=repath if "path" in changes else None)
        return {"id": self.ref.id}

    @operation()
    async def delete(self, cleanup: bool = False) -> dict[str, Any]:
        """Remove the domain; with `cleanup` its subdomains, their accounts and users too."""
        await self.fresh()
        if self.row["parent_id"] is None:
            raise NotAllowed("Can't delete ROOT domain")
        path, now = self.row["path"], utcnow()
        subtree = select(T_DOMAIN.c.id).where(T_DOMAIN.c.path.startswith(path, autoescape=True))

        async def check(conn: AsyncConnection) -> None:
            if cleanup:
                return
            if await _exists(conn, select(T_DOMAIN.c.id).where(T_DOMAIN.c.parent_id == self.row["id"],
                                                               _live(T_DOMAIN))) or \
                    await _exists(conn, select(T_ACCOUNT.c.id).where(T_ACCOUNT.c.domain_id == self.row["id"],
                                                                     _live(T_ACCOUNT))):
                raise ParamError(f"Delete failed on domain {self.row['name']} (id: {self.ref.id}); please make sure "
                                 "all users and sub domains have been removed from the domain before deleting, "
                                 "or use cleanup=true")

        async def remove_subtree(conn: AsyncConnection) -> None:
            accounts = select(T_ACCOUNT.c.id).where(T_ACCOUNT.c.domain_id.in_(subtree), _live(T_ACCOUNT))
            await conn.execute(update(T_USER).where(T_USER.c.account_id.in_(accounts), _live(T_USER))
                               .values(removed=now, state="disabled", api_key=None, secret_key=None,
                                       version=T_USER.c.version + 1))
            await conn.execute(update(T_ACCOUNT).where(T_ACCOUNT.c.domain_id.in_(subtree), _live(T_ACCOUNT))
                               .values(removed=now, state="disabled", version=T_ACCOUNT.c.version + 1))
            # A direct condition, not `id IN (subtree)`: MariaDB refuses a subquery on the updated table.
            await conn.execute(update(T_DOMAIN).where(T_DOMAIN.c.path.startswith(path, autoescape=True),
                                                      T_DOMAIN.c.id != self.row["id"], _live(T_DOMAIN))
                               .values(removed=now, state="Inactive", version=T_DOMAIN.c.version + 1))

        await self.commit({"removed": now, "state": "Inactive"}, check=check,
                          cascade=remove_subtree if cleanup else None)
        return {"success": True}

    @operation()
    async def create_role(self, name: str, role_type: str, description: str | None = None,
                          rules: list[Rule] | None = None, clone_from: int | None = None,
                          uuid: str | None = None) -> dict[str, Any]:
        """Roles are global; the ROOT domain's actor is their parent. `clone_from`
        copies another role's rules in their order."""
        await self.fresh()
        role = _row(name=name, role_type=role_type, description=description, is_default=False)
        role["uuid"] = uuid or role["uuid"]

        async def work(conn: AsyncConnection) -> None:
            if await _replayed(conn, T_ROLE, role["uuid"], name=name):
                return
            if await _exists(conn, select(T_ROLE.c.id).where(_same_name(T_ROLE.c.name, name), _live(T_ROLE))):
                raise ParamError(f"Role with name {name} already exists")
            rid = await _insert(conn, T_ROLE, role)
            copied: list[Rule] = list(rules or [])
            if clone_from is not None:
                src = await conn.execute(select(T_PERM.c.rule, T_PERM.c.permission, T_PERM.c.description)
                                         .where(T_PERM.c.role_id == clone_from, _live(T_PERM))
                                         .order_by(T_PERM.c.sort_order, T_PERM.c.id))
                copied = [(r.rule, r.permission, r.description) for r in src.all()]
            await _insert_rules(conn, rid, copied)

        await self.write(work)
        return {"id": role["uuid"]}


class AccountEntity(LimitOps, IdentityEntity):
    kind = "account"
    label = "account"
    table: ClassVar[Table] = T_ACCOUNT

    @operation()
    async def create_user(self, user: dict[str, Any], uuid: str | None = None) -> dict[str, Any]:
        await self.fresh()
        usr = _row(account_id=self.row["id"], state="enabled", source="native", is_default=False,
                   **{k: user.get(k) for k in USER_FIELDS})
        usr["uuid"] = uuid or usr["uuid"]

        async def work(conn: AsyncConnection) -> None:
            if await _replayed(conn, T_USER, usr["uuid"], account_id=self.row["id"], username=user["username"]):
                return
            if await _username_taken(conn, user["username"], self.row["domain_id"]):
                raise ParamError(f"The user {user['username']} already exists in the domain")
            await _insert(conn, T_USER, usr)

        await self.write(work)
        return {"id": usr["uuid"]}

    @operation()
    async def update(self, name: str | None = None, network_domain: str | None = None,
                     role_id: int | None = None, account_type: int | None = None) -> dict[str, Any]:
        """Rename, set the network domain ("" clears it) or change the role (and with it the type)."""
        await self.fresh()
        changes: dict[str, Any] = {}
        if name is not None and name != self.row["name"]:
            changes["name"] = name
        if network_domain is not None:
            changes["network_domain"] = network_domain or None
        if role_id is not None:
            changes["role_id"] = role_id
            if account_type is not None:
                changes["account_type"] = account_type

        async def check(conn: AsyncConnection) -> None:
            if "name" in changes and await _exists(conn, select(T_ACCOUNT.c.id).where(
                    _same_name(T_ACCOUNT.c.name, changes["name"]), T_ACCOUNT.c.domain_id == self.row["domain_id"],
                    T_ACCOUNT.c.id != self.row["id"], _live(T_ACCOUNT))):
                raise ParamError(f"The account with the proposed name '{changes['name']}' (parameter newname) "
                                 "already exists in the domain")

        if changes:
            await self.commit(changes, check=check)
        return {"id": self.ref.id}

    @operation(joinable=True)
    async def set_state(self, state: str) -> dict[str, Any]:
        await self.fresh()
        if self.row.get("is_default") and state != "enabled":
            raise ParamError("The default admin and system accounts can not be disabled or locked")
        if self.row["state"] != state:
            await self.commit({"state": state})
        return {"id": self.ref.id}

    @operation(joinable=True)
    async def lock_if_no_enabled_user(self) -> dict[str, Any]:
        """After a user was locked: an account whose users are all locked or disabled is locked too."""
        await self.fresh()

        async def any_enabled(conn: AsyncConnection) -> bool:
            return await _exists(conn, select(T_USER.c.id).where(
                T_USER.c.account_id == self.row["id"], T_USER.c.state == "enabled", _live(T_USER)))

        if self.row["state"] == "enabled" and not self.row.get("is_default") \
                and not await self.host.writer.submit(any_enabled):
            await self.commit({"state": "locked"})
        return {"id": self.ref.id}

    @operation()
    async def delete(self) -> dict[str, Any]:
        await self.fresh()
        if self.row.get("is_default"):
            raise ParamError("The account is default and can't be removed")
        now = utcnow()

        async def users(conn: AsyncConnection) -> None:
            await conn.execute(update(T_USER).where(T_USER.c.account_id == self.row["id"], _live(T_USER))
                               .values(removed=now, state="disabled", api_key=None, secret_key=None,
                                       version=T_USER.c.version + 1))

        await self.commit({"removed": now, "state": "disabled"}, cascade=users)
        return {"success": True}


class UserEntity(IdentityEntity):
    kind = "user"
    label = "user"
    table: ClassVar[Table] = T_USER

    @operation()
    async def register_keys(self, api_key: str, secret_key_enc: str) -> dict[str, Any]:
        await self.fresh()
        await self.commit({"api_key": api_key, "secret_key": secret_key_enc})
        return {"id": self.ref.id}

    @operation()
    async def update(self, **changes: Any) -> dict[str, Any]:
        """Profile fields, the password hash, or an API key pair (given together)."""
        await self.fresh()
        fields = USER_FIELDS + ("api_key", "secret_key")
        wanted = {k: v for k, v in changes.items() if k in fields and v is not None}

        async def check(conn: AsyncConnection) -> None:
            username = wanted.get("username")
            if username is not None and username != self.row["username"]:
                domain_id = (await conn.execute(select(T_ACCOUNT.c.domain_id).where(
                    T_ACCOUNT.c.id == self.row["account_id"]))).scalar_one()
                if await _username_taken(conn, username, domain_id, but=self.row["id"]):
                    raise ParamError(f"The user {username} (parameter username) already exists in the domain")
            key = wanted.get("api_key")
            if key is not None and await _exists(conn, select(T_USER.c.id).where(
                    T_USER.c.api_key == key, T_USER.c.id != self.row["id"])):
                raise ParamError(f"The API key [{key}] (parameter userapikey) already exists in the system. "
                                 "Please provide a unique key.")

        if wanted:
            await self.commit(wanted, check=check)
        return {"id": self.ref.id}

    @operation(joinable=True)
    async def set_state(self, state: str) -> dict[str, Any]:
        await self.fresh()
        if self.row.get("is_default") and state != "enabled":
            raise ParamError("The default admin and system users can not be disabled or locked")
        if self.row["state"] != state:
            await self.commit({"state": state})
        return {"id": self.ref.id}

    @operation()
    async def delete(self) -> dict[str, Any]:
        await self.fresh()
        if self.row.get("is_default"):
            raise ParamError("The user is default and can't be removed")
        await self.commit({"removed": utcnow(), "state": "disabled", "api_key": None, "secret_key": None})
        return {"success": True}


class RoleEntity(IdentityEntity):
    kind = "role"
    label = "role"
    table: ClassVar[Table] = T_ROLE

    def _require_custom(self, what: str) -> None:
        if self.row.get("is_default"):
            raise NotAllowed(what)

    def _in_use(self) -> Any:
        return select(T_ACCOUNT.c.id).where(T_ACCOUNT.c.role_id == self.row["id"], _live(T_ACCOUNT))

    @operation()
    async def update(self, name: str | None = None, description: str | None = None,
                     role_type: str | None = None) -> dict[str, Any]:
        await self.fresh()
        self._require_custom("Default roles cannot be updated")
        changes = {k: v for k, v in (("name", name), ("description", description), ("role_type", role_type))
                   if v is not None and v != self.row[k]}

        async def check(conn: AsyncConnection) -> None:
            if "role_type" in changes and await _exists(conn, self._in_use()):
                raise NotAllowed("Found accounts that have role in use, won't allow to change role type")
            if "name" in changes and await _exists(conn, select(T_ROLE.c.id).where(
                    _same_name(T_ROLE.c.name, changes["name"]), T_ROLE.c.id != self.row["id"], _live(T_ROLE))):
                raise ParamError(f"Role with name {changes['name']} (parameter name) already exists")

        if changes:
            await self.commit(changes, check=check)
        return {"id": self.ref.id}

    @operation()
    async def delete(self) -> dict[str, Any]:
        await self.fresh()
        self._require_custom("Default roles cannot be deleted")
        now = utcnow()

        async def check(conn: AsyncConnection) -> None:
            if await _exists(conn, self._in_use()):
                raise NotAllowed("Found accounts that have role in use, won't allow to delete role")

        async def rules(conn: AsyncConnection) -> None:
            await conn.execute(update(T_PERM).where(T_PERM.c.role_id == self.row["id"], _live(T_PERM))
                               .values(removed=now, version=T_PERM.c.version + 1))

        await self.commit({"removed": now}, check=check, cascade=rules)
        return {"success": True}

    @operation()
    async def replace(self, role_type: str, description: str | None, rules: list[Rule]) -> dict[str, Any]:
        """importRole with forced=true over an existing role: new rules, type and description."""
        await self.fresh()
        self._require_custom(f"Failed to import the role: {self.row['name']}, default role cannot be overridden")
        now = utcnow()

        async def check(conn: AsyncConnection) -> None:
            if role_type != self.row["role_type"] and await _exists(conn, self._in_use()):
                raise NotAllowed("Found accounts that have role in use, won't allow to change role type")

        async def new_rules(conn: AsyncConnection) -> None:
            await conn.execute(update(T_PERM).where(T_PERM.c.role_id == self.row["id"], _live(T_PERM))
                               .values(removed=now, version=T_PERM.c.version + 1))
            await _insert_rules(conn, self.row["id"], rules)

        await self.commit({"role_type": role_type, "description": description}, check=check, cascade=new_rules)
        return {"id": self.ref.id}

    def _rule(self, permission_uuid: str) -> Any:
        return (T_PERM.c.uuid == permission_uuid) & (T_PERM.c.role_id == self.row["id"]) & _live(T_PERM)

    @operation()
    async def add_permission(self, rule: str, permission: str, description: str | None = None,
                             uuid: str | None = None) -> dict[str, Any]:
        await self.fresh()
        self._require_custom("Role permission cannot be added for Default roles")
        values = _row(role_id=self.row["id"], rule=rule, permission=permission, description=description)
        values["uuid"] = uuid or values["uuid"]

        async def work(conn: AsyncConnection) -> None:
            if await _replayed(conn, T_PERM, values["uuid"], role_id=self.row["id"], rule=rule):
                return
            if await _exists(conn, select(T_PERM.c.id).where(
                    T_PERM.c.role_id == self.row["id"], _same_name(T_PERM.c.rule, rule), _live(T_PERM))):
                raise NotAllowed(f"Rule already exists for the role: {self.row['name']}")
            top = (await conn.execute(select(func.max(T_PERM.c.sort_order)).where(
                T_PERM.c.role_id == self.row["id"], _live(T_PERM)))).scalar()
            values["sort_order"] = (top if top is not None else -1) + 1
            await _insert(conn, T_PERM, values)

        await self.write(work)
        return {"id": values["uuid"]}

    @operation()
    async def set_permission(self, permission_uuid: str, permission: str) -> dict[str, Any]:
        await self.fresh()
        self._require_custom("Role permission cannot be updated for Default roles")

        async def work(conn: AsyncConnection) -> None:
            if not await _exists(conn, select(T_PERM.c.id).where(self._rule(permission_uuid))):
                raise ParamError(f"Invalid rule id {permission_uuid} (parameter ruleid) provided")
            await conn.execute(update(T_PERM).where(self._rule(permission_uuid))
                               .values(permission=permission, version=T_PERM.c.version + 1))

        await self.write(work)
        return {"success": True}

    @operation()
    async def reorder_permissions(self, order: list[str]) -> dict[str, Any]:
        """`order` names every rule of the role once, first rule first."""
        await self.fresh()
        self._require_custom("Role permission cannot be updated for Default roles")

        async def work(conn: AsyncConnection) -> None:
            current = {r.uuid for r in (await conn.execute(select(T_PERM.c.uuid).where(
                T_PERM.c.role_id == self.row["id"], _live(T_PERM)))).all()}
            if len(order) != len(current) or set(order) != current:
                raise ParamError("Provided role permissions (parameter ruleorder) must list every rule of the "
                                 "role exactly once: role permissions order mismatch")
            for i, puuid in enumerate(order):
                await conn.execute(update(T_PERM).where(self._rule(puuid))
                                   .values(sort_order=i, version=T_PERM.c.version + 1))

        await self.write(work)
        return {"success": True}

    @operation()
    async def delete_permission(self, permission_uuid: str) -> dict[str, Any]:
        await self.fresh()
        self._require_custom("Role permission cannot be deleted for Default roles")

        async def work(conn: AsyncConnection) -> None:
            res = await conn.execute(update(T_PERM).where(self._rule(permission_uuid))
                                     .values(removed=utcnow(), version=T_PERM.c.version + 1))
            if res.rowcount != 1:
                raise ParamError(f"Invalid role permission id {permission_uuid} (parameter id) provided")

        await self.write(work)
        return {"success": True}
