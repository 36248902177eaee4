"""Resource limits as operations of the account and domain entities: setting
one (updateResourceLimit) and recounting (updateResourceCount). Reserving
against them is not here: it is a conditional UPDATE in the transaction that
creates the resource (store/limits.py explains why).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.actors.entity import Entity, operation
from cloudplane.errors import ParamError
from cloudplane.store import limits
from cloudplane.store.tables.identity import Account, Domain
from cloudplane.store.tables.limits import UNLIMITED, ResourceLimit

T_LIMIT: Table = ResourceLimit.__table__  # type: ignore[attr-defined]
T_ACCOUNT: Table = Account.__table__  # type: ignore[attr-defined]
T_DOMAIN: Table = Domain.__table__  # type: ignore[attr-defined]


async def _upsert(conn: AsyncConnection, owner: limits.Owner, name: str, max_value: int) -> None:
    where = and_(T_LIMIT.c.owner_type == owner[0], T_LIMIT.c.owner_id == owner[1], T_LIMIT.c.resource_type == name)
    if (await conn.execute(update(T_LIMIT).where(where).values(max_value=max_value))).rowcount == 0:
        await conn.execute(T_LIMIT.insert().values(owner_type=owner[0], owner_id=owner[1], resource_type=name,
                                                   max_value=max_value))


class LimitOps(Entity):
    """Mixed into AccountEntity and DomainEntity, first (an entity kind collects the
    operations of the first base that has any); `kind` names the owner type, and
    `fresh` and `label` are IdentityEntity's."""

    async def _parent_cap(self, conn: AsyncConnection, name: str, defaults: limits.Defaults) -> int:
        """The limit in force one level up (the account's domain, the domain's parent)."""
        if self.kind == "account":
            start = int(self.row["domain_id"])
        elif self.row.get("parent_id") is None:
            return UNLIMITED
        else:
            start = int(self.row["parent_id"])
        chain = await limits.domain_chain(conn, start)
        return (await limits.domain_limits(conn, chain, defaults))[start][name]

    @operation()
    async def set_limit(self, resource_type: str, max_value: int) -> dict[str, Any]:
        """CloudStack's rules: -1 is unlimited; root admins and ROOT are unlimited and cannot
        be limited; a limit may not exceed the one in force above it."""
        await self.fresh()  # type: ignore[attr-defined]
        if self.kind == "domain" and self.row.get("parent_id") is None:
            raise ParamError("Cannot update the resource limits of the ROOT domain: it is unlimited")
        if self.kind == "account" and int(self.row["account_type"]) == limits.ROOT_ADMIN:
            raise ParamError(f"Cannot update the resource limits of root admin account {self.row['name']}")
        max_value = UNLIMITED if max_value < 0 else max_value
        defaults = await limits.load_defaults(self.host.config)
        owner = (self.kind, int(self.row["id"]))

        async def work(conn: AsyncConnection) -> None:
            cap = await self._parent_cap(conn, resource_type, defaults)
            if cap >= 0 and (max_value < 0 or max_value > cap):
                above = "its domain's" if self.kind == "account" else "its parent domain's"
                raise ParamError(f"The {resource_type} limit of {self.kind} {self.row['name']} cannot exceed "
                                 f"{above} limit ({cap})")
            await _upsert(conn, owner, resource_type, max_value)

        await self.host.writer.submit(work)
        return {"owner_type": self.kind, "owner_id": owner[1], "resource_type": resource_type, "max": max_value}

    @operation()
    async def recount(self, names: list[str]) -> list[dict[str, Any]]:
        """Recompute counts from the resources that exist: an account's own, or a domain's,
        every subdomain's and every account's below it. In a transaction of its own (not the
        group commit), so its reads start after it has locked the count rows."""
        await self.fresh()  # type: ignore[attr-defined]
        out: list[dict[str, Any]] = []
        async with self.host.engine.begin() as conn:
            owners: list[limits.Owner] = [(self.kind, int(self.row["id"]))]
            if self.kind == "domain":
                path = self.row["path"]
                doms = (await conn.execute(select(T_DOMAIN.c.id).where(
                    T_DOMAIN.c.path.startswith(path, autoescape=True), T_DOMAIN.c.removed.is_(None),
                    T_DOMAIN.c.id != self.row["id"]).order_by(T_DOMAIN.c.level.desc()))).scalars().all()
                accts = (await conn.execute(select(T_ACCOUNT.c.id).where(
                    T_ACCOUNT.c.domain_id.in_([self.row["id"], *doms]), T_ACCOUNT.c.removed.is_(None)))
                         ).scalars().all()
                owners = [("account", int(a)) for a in accts] + [("domain", int(d)) for d in doms] + owners
            for owner in owners:
                for name, used in (await limits.recount(conn, owner, names)).items():
                    out.append({"owner_type": owner[0], "owner_id": owner[1], "resource_type": name, "used": used})
        return out


async def reservation(host: Any, account_id: int, need: limits.Need) -> limits.Defaults:
    """Before reserving `need`: the settings' defaults, and the account's count rows made
    to exist (once per shard and account: rows are never deleted)."""
    if not need:
        return {}
    ready: set[tuple[int, str]] = host.kind_state.setdefault("limits.ready", set())
    missing = [n for n in need if (account_id, n) not in ready]
    if missing:
        await limits.prepare(host.engine, account_id, missing)
        ready.update((account_id, n) for n in missing)
    return await limits.load_defaults(host.config)


# -- what a VM counts ----------------------------------------------------------------------------


def vm_need(row: dict[str, Any]) -> dict[str, int]:
    """A user VM's own share of its account's counts (its volumes count on their own);
    system VMs are not counted, as in CloudStack."""
    if (row.get("type") or "User") != "User":
        return {}
    return {"user_vm": 1, "cpu": int(row["cpu_count"]), "memory": int(row["ram_mb"])}


def volumes_need(row: dict[str, Any], sizes: list[int]) -> dict[str, int]:
    if (row.get("type") or "User") != "User" or not sizes:
        return {}
    return {"volume": len(sizes), "primary_storage": sum(sizes)}


def negate(need: dict[str, int]) -> dict[str, int]:
    return {k: -v for k, v in need.items()}


def network_need(row: dict[str, Any]) -> dict[str, int]:
    """An account's own guest network counts (isolated or L2; shared ones and system
    networks do not), as `store.limits.measure` counts them."""
    counted = (row.get("acl_type") or "Account") == "Account" and not row.get("is_system") \
        and row.get("guest_type") in ("Isolated", "L2")
    return {"network": 1} if counted else {}


def template_need(row: dict[str, Any]) -> dict[str, int]:
    """A user's template or ISO counts, with its size as known (`measure` sums the same)."""
    if (row.get("template_type") or "USER") != "USER":
        return {}
    return {"template": 1, "secondary_storage": int(row.get("size_bytes") or 0)}
