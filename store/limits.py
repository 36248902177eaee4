"""Resource limits: which are in force, and the counts reserved against them.

Why a conditional UPDATE and not the account entity's mailbox: a reservation
is `UPDATE resource_count SET used = used + n WHERE ... AND used + n <= max`,
run in the *same transaction* that inserts the resource (a VM's row, a
network, an address). Two deploys racing for the last slot cannot both win
(the row lock, or SQLite's single writer, orders them), a refused reservation
leaves no row behind, and a crash cannot leak a count: the resource and its
count commit together or not at all. Serialising through the account entity
would need a second durable step (reserve, then create, then confirm) and
would funnel every deploy of an account through one mailbox. It is the rule
host capacity follows (store/capacity.py).

The account and every domain above it (ROOT included) carry a count; each is
checked against its own limit, so a domain's limit caps all its accounts
together. Root-admin accounts and the ROOT domain are never limited (as in
CloudStack) but still counted. A count row is created on first use from the
resources that exist; updateResourceCount recomputes them (`recount`).

Every function runs inside the caller's transaction; a refusal undoes what the
function itself wrote before raising, so a shared GroupWriter batch stays clean.

`reserve` runs in every deploy's birth transaction, about twenty statements each
time, so the statements on its path are built once at import (the `_UPPER_CASE`
ones) and executed with their parameters: building an expression afresh per call
cost more Python than executing it (operators, cache keys).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, and_, bindparam, case, func, insert, literal, literal_column, or_, select, true, update
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.exc import DBAPIError, NoResultFound
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cloudplane.errors import LimitExceeded, ParamError
from cloudplane.store import prepared
from cloudplane.store.configdefs import BY_NAME as BY_SETTING
from cloudplane.store.tables.compute import VmInstance
from cloudplane.store.tables.config import Configuration
from cloudplane.store.tables.identity import Account, Domain
from cloudplane.store.tables.images import Template
from cloudplane.store.tables.limits import UNLIMITED, ResourceCount, ResourceLimit
from cloudplane.store.tables.network import IpAddress, Network
from cloudplane.store.tables.storage import Snapshot, Volume

T_LIMIT: Table = ResourceLimit.__table__  # type: ignore[attr-defined]
T_COUNT: Table = ResourceCount.__table__  # type: ignore[attr-defined]
T_ACCOUNT: Table = Account.__table__  # type: ignore[attr-defined]
T_DOMAIN: Table = Domain.__table__  # type: ignore[attr-defined]
T_VM: Table = VmInstance.__table__  # type: ignore[attr-defined]
T_VOL: Table = Volume.__table__  # type: ignore[attr-defined]
T_SNAP: Table = Snapshot.__table__  # type: ignore[attr-defined]
T_TPL: Table = Template.__table__  # type: ignore[attr-defined]
T_IP: Table = IpAddress.__table__  # type: ignore[attr-defined]
T_NET: Table = Network.__table__  # type: ignore[attr-defined]
T_CONF: Table = Configuration.__table__  # type: ignore[attr-defined]
GiB = 2**30
ROOT_ADMIN = 1  # account_type


@dataclass(frozen=True)
class Kind:
    """One of CloudStack's resource types: its number, its name, the suffix of its
    `max.account.*`/`max.domain.*` settings, and how many counted units one unit of
    its limit is (storage is limited in GiB and counted in bytes)."""

    number: int
    name: str
    setting: str
    unit: int = 1


KINDS: tuple[Kind, ...] = (
    Kind(0, "user_vm", "user.vms"), Kind(1, "public_ip", "public.ips"), Kind(2, "volume", "volumes"),
    Kind(3, "snapshot", "snapshots"), Kind(4, "template", "templates"), Kind(5, "project", "projects"),
    Kind(6, "network", "networks"), Kind(7, "vpc", "vpcs"), Kind(8, "cpu", "cpus"), Kind(9, "memory", "memory"),
    Kind(10, "primary_storage", "primary.storage", GiB), Kind(11, "secondary_storage", "secondary.storage", GiB),
)
BY_NAME = {k.name: k for k in KINDS}
BY_NUMBER = {k.number: k for k in KINDS}

Need = Mapping[str, int]  # resource type name → amount (a count, MiB or bytes)
Defaults = Mapping[tuple[str, str], int]  # (owner type, resource type) → the settings' limit
Owner = tuple[str, int]  # ("account" | "domain", id)


def kind_of(number: int | None = None, name: str | None = None) -> Kind:
    """A resource type by CloudStack's name (which wins) or number, or 431."""
    k = BY_NAME.get(name) if name else BY_NUMBER.get(number) if number is not None else None
    if k is None:
        raise ParamError(f"Please specify a valid resource type (0-11); got {name or number}")
    return k


async def load_defaults(config: Callable[[str], Awaitable[str]]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for owner in ("account", "domain"):
        for k in KINDS:
            raw = await config(f"max.{owner}.{k.setting}")
            out[(owner, k.name)] = int(float(raw)) if raw not in (None, "") else UNLIMITED
    return out


_DEFAULT_SETTINGS = select(T_CONF.c.name, T_CONF.c.value).where(
    T_CONF.c.name.in_([f"max.{o}.{k.setting}" for o in ("account", "domain") for k in KINDS]),
    T_CONF.c.scope == "global")


async def stored_defaults(conn: AsyncConnection) -> dict[tuple[str, str], int]:
    """The same, read in the caller's transaction (for code that has no shard at hand)."""
    rows = dict((await conn.execute(_DEFAULT_SETTINGS)).all())

    async def value(name: str) -> str:
        v = rows.get(name)
        return str(v) if v is not None else BY_SETTING[name].default if name in BY_SETTING else ""

    return await load_defaults(value)


# -- who is counted ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Chain:
    """An account and its domains, nearest first (ROOT last)."""

    account_id: int
    account_name: str
    root_admin: bool
    domains: tuple[int, ...]

    @property
    def owners(self) -> list[Owner]:
        return [("account", self.account_id), *(("domain", d) for d in self.domains)]


# The account and its domains in one query: a recursive CTE walks parent_id up from the
# account's domain (the walk a loop of one query per level would do), `depth` orders it.
_UP = select(T_ACCOUNT.c.domain_id.label("id"), literal_column("0").label("depth")).where(
    T_ACCOUNT.c.id == bindparam("b_account")).cte("up", recursive=True)
_UP = _UP.union_all(select(T_DOMAIN.c.parent_id, _UP.c.depth + 1).join_from(
    T_DOMAIN, _UP, T_DOMAIN.c.id == _UP.c.id).where(T_DOMAIN.c.parent_id.is_not(None)))
_CHAIN = select(T_ACCOUNT.c.name, T_ACCOUNT.c.account_type, _UP.c.id).join_from(T_ACCOUNT, _UP, true()).where(
    T_ACCOUNT.c.id == bindparam("b_account")).order_by(_UP.c.depth)
_PARENT = select(T_DOMAIN.c.parent_id).where(T_DOMAIN.c.id == bindparam("b_domain"))


async def chain_of(conn: AsyncConnection, account_id: int) -> Chain:
    rows = (await prepared.execute(conn, _CHAIN, {"b_account": account_id})).all()
    if not rows:
        raise NoResultFound("No row was found when one was required")  # as `.one()` said of the account
    return Chain(account_id, rows[0].name, rows[0].account_type == ROOT_ADMIN, tuple(r.id for r in rows))


async def domain_chain(conn: AsyncConnection, domain_id: int) -> tuple[int, ...]:
    out: list[int] = []
    d: int | None = domain_id
    while d is not None:  # domains are a few levels deep
        out.append(d)
        d = (await prepared.execute(conn, _PARENT, {"b_domain": d})).scalar()
    return tuple(out)


# -- which limit is in force -------------------------------------------------------------------


SetLimits = dict[tuple[str, int, str], int]  # (owner type, owner id, resource type) → max_value

# The limits set on an account and on its domains, in one query (an account id of None
# matches nothing; an empty list of domains neither).
_SET_LIMITS = select(T_LIMIT.c.owner_type, T_LIMIT.c.owner_id, T_LIMIT.c.resource_type, T_LIMIT.c.max_value).where(
    or_(and_(T_LIMIT.c.owner_type == "account", T_LIMIT.c.owner_id == bindparam("b_account")),
        and_(T_LIMIT.c.owner_type == "domain", T_LIMIT.c.owner_id.in_(bindparam("b_domains", expanding=True)))))


async def _set_limits(conn: AsyncConnection, account_id: int | None, domains: Iterable[int]) -> SetLimits:
    rows = (await prepared.execute(conn, _SET_LIMITS, {"b_account": account_id, "b_domains": list(domains)})).all()
    return {(r.owner_type, r.owner_id, r.resource_type): int(r.max_value) for r in rows}


def _domains_in_force(domains: tuple[int, ...], rows: SetLimits, defaults: Defaults, name: str) -> list[int]:
    """CloudStack's rule for each domain of a chain (nearest first): its own limit, else the
    nearest ancestor's, else `max.domain.*`; ROOT (the last of the chain) is unlimited."""
    out = [UNLIMITED] * len(domains)
    found: int | None = None
    for i in range(len(domains) - 2, -1, -1):  # from just below ROOT down: the nearest set limit wins
        found = rows.get(("domain", domains[i], name), found)
        out[i] = found if found is not None else defaults[("domain", name)]
    return out


def _account_in_force(chain: Chain, rows: SetLimits, defaults: Defaults, name: str) -> int:
    """The account's own limit, else `max.account.*`; a root admin is unlimited."""
    if chain.root_admin:
        return UNLIMITED
    return rows.get(("account", chain.account_id, name), defaults[("account", name)])


async def domain_limits(conn: AsyncConnection, domains: tuple[int, ...], defaults: Defaults) -> dict[int, dict[str, int]]:
    """The limits in force for each domain of a chain (nearest first, ROOT last)."""
    if not domains:
        return {}
    rows = await _set_limits(conn, None, domains)
    per_kind = {k.name: _domains_in_force(domains, rows, defaults, k.name) for k in KINDS}
    return {d: {k.name: per_kind[k.name][i] for k in KINDS} for i, d in enumerate(domains)}


async def account_limits(conn: AsyncConnection, chain: Chain, defaults: Defaults) -> dict[str, int]:
    """The limits in force for the account."""
    rows = await _set_limits(conn, chain.account_id, ()) if not chain.root_admin else {}
    return {k.name: _account_in_force(chain, rows, defaults, k.name) for k in KINDS}


# -- counting ----------------------------------------------------------------------------------


def _accounts_of(owner: Owner) -> Any:
    """The ids of the accounts an owner's count covers (a domain: its whole subtree)."""
    otype, oid = owner
    if otype == "account":
        return select(literal(oid))
    path = select(T_DOMAIN.c.path).where(T_DOMAIN.c.id == oid).scalar_subquery()
    subtree = select(T_DOMAIN.c.id).where(func.substr(T_DOMAIN.c.path, 1, func.length(path)) == path)
    return select(T_ACCOUNT.c.id).where(T_ACCOUNT.c.domain_id.in_(subtree))


_GONE_VM = ("Destroyed", "Expunging")
_GONE_VOLUME = ("Destroy", "Expunging", "Expunged")
_GONE_SNAPSHOT = ("Destroyed", "Error")
_HELD_IP = ("Allocated", "Allocating", "Reserved")


async def measure(conn: AsyncConnection, owner: Owner, name: str) -> int:
    """What the resources that exist add up to for one owner and type."""
    accts = _accounts_of(owner)
    vms = and_(T_VM.c.account_id.in_(accts), T_VM.c.type == "User", T_VM.c.removed.is_(None),
               T_VM.c.state.not_in(_GONE_VM))
    vols = and_(T_VOL.c.account_id.in_(accts), T_VOL.c.removed.is_(None), T_VOL.c.state.not_in(_GONE_VOLUME))
    snaps = and_(T_SNAP.c.account_id.in_(accts), T_SNAP.c.removed.is_(None), T_SNAP.c.state.not_in(_GONE_SNAPSHOT))
    tpls = and_(T_TPL.c.account_id.in_(accts), T_TPL.c.removed.is_(None), T_TPL.c.template_type == "USER")
    q: Any
    if name == "user_vm":
        q = select(func.count()).where(vms)
    elif name == "cpu":
        q = select(func.coalesce(func.sum(T_VM.c.cpu_count), 0)).where(vms)
    elif name == "memory":
        q = select(func.coalesce(func.sum(T_VM.c.ram_mb), 0)).where(vms)
    elif name == "volume":
        q = select(func.count()).where(vols)
    elif name == "primary_storage":
        q = select(func.coalesce(func.sum(T_VOL.c.size_bytes), 0)).where(vols)
    elif name == "snapshot":
        q = select(func.count()).where(snaps)
    elif name == "template":
        q = select(func.count()).where(tpls)
    elif name == "secondary_storage":
        t = (await conn.execute(select(func.coalesce(func.sum(T_TPL.c.size_bytes), 0)).where(tpls))).scalar_one()
        s = (await conn.execute(select(func.coalesce(func.sum(T_SNAP.c.physical_size_bytes), 0))
                                .where(snaps))).scalar_one()
        return int(t) + int(s)
    elif name == "public_ip":
        q = select(func.count()).where(T_IP.c.account_id.in_(accts), T_IP.c.removed.is_(None),
                                       T_IP.c.is_system.is_(False), T_IP.c.state.in_(_HELD_IP))
    elif name == "network":
        q = select(func.count()).where(T_NET.c.account_id.in_(accts), T_NET.c.removed.is_(None),
                                       T_NET.c.is_system.is_(False), T_NET.c.acl_type == "Account",
                                       T_NET.c.guest_type.in_(("Isolated", "L2")))
    else:  # vpc, project: nothing of the kind exists yet
        return 0
    return int((await conn.execute(q)).scalar_one())


def _count_row(owner: Owner, name: str) -> Any:
    return and_(T_COUNT.c.owner_type == owner[0], T_COUNT.c.owner_id == owner[1], T_COUNT.c.resource_type == name)


# One owner's count of one type, and what reserve does to it (parameters: b_type, b_id,
# b_name, b_amount, b_ceiling; not column names, which an UPDATE would take as SET values).
_ROW = and_(T_COUNT.c.owner_type == bindparam("b_type"), T_COUNT.c.owner_id == bindparam("b_id"),
            T_COUNT.c.resource_type == bindparam("b_name"))
_EXISTS = select(T_COUNT.c.id).where(_ROW)
_BUMP = update(T_COUNT).where(_ROW).values(used=T_COUNT.c.used + bindparam("b_amount"))
_BUMP_CAPPED = _BUMP.where(T_COUNT.c.used + bindparam("b_amount") <= bindparam("b_ceiling"))
_UNBUMP = update(T_COUNT).where(_ROW).values(
    used=case((T_COUNT.c.used >= bindparam("b_amount"), T_COUNT.c.used - bindparam("b_amount")), else_=0))


def _row_params(owner: Owner, name: str) -> dict[str, Any]:
    return {"b_type": owner[0], "b_id": owner[1], "b_name": name}


async def _ensure(conn: AsyncConnection, owner: Owner, name: str) -> None:
    """A count row, created on first use from what exists. Racing creators: one insert
    wins, the others are ignored (and then add their own amount to the winner's)."""
    if (await prepared.execute(conn, _EXISTS, _row_params(owner, name))).first() is not None:
        return
    values = {"owner_type": owner[0], "owner_id": owner[1], "resource_type": name,
              "used": await measure(conn, owner, name)}
    stmt: Any
    if conn.dialect.name == "sqlite":
        stmt = sqlite.insert(T_COUNT).values(**values).on_conflict_do_nothing()
    elif conn.dialect.name in ("mysql", "mariadb"):
        stmt = mysql.insert(T_COUNT).values(**values).prefix_with("IGNORE")
    else:
        stmt = insert(T_COUNT).values(**values)
    await conn.execute(stmt)


async def prepare(engine: AsyncEngine, account_id: int, names: Iterable[str], attempts: int = 5) -> None:
    """Create the count rows a reservation will need, in a transaction of their own. Inside
    the reserving transaction, racing first creations take MariaDB gap locks on the unique
    key and deadlock each other; here a loser just tries again and finds the row."""
    names = list(names)
    for attempt in range(attempts):
        try:
            async with engine.begin() as conn:
                chain = await chain_of(conn, account_id)
                have = {(o, n) for o, c in (await counts(conn, chain.owners)).items() for n in c}
                for owner in chain.owners:
                    for name in names:
                        if (owner, name) not in have:
                            await _ensure(conn, owner, name)
            return
        except DBAPIError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.01 * (attempt + 1))


async def _bump(conn: AsyncConnection, owner: Owner, name: str, amount: int, ceiling: int) -> bool:
    """used += amount if it stays within `ceiling` (counted units; < 0: unlimited)."""
    row = _row_params(owner, name)
    stmt, params = (_BUMP_CAPPED, {**row, "b_amount": amount, "b_ceiling": ceiling}) if ceiling >= 0 else \
        (_BUMP, {**row, "b_amount": amount})
    if (await prepared.execute(conn, stmt, params)).rowcount == 1:
        return True
    if ceiling >= 0 and (await prepared.execute(conn, _EXISTS, row)).first():
        return False  # the row is there: the limit refused
    await _ensure(conn, owner, name)
    return bool((await prepared.execute(conn, stmt, params)).rowcount)


async def _unbump(conn: AsyncConnection, owner: Owner, name: str, amount: int) -> None:
    await prepared.execute(conn, _UNBUMP, {**_row_params(owner, name), "b_amount": amount})


def _exceeded(chain: Chain, owner: Owner, name: str) -> LimitExceeded:
    if owner[0] == "account":
        return LimitExceeded(f"Maximum number of resources of type '{name}' for account name={chain.account_name} "
                             f"in domain id={chain.domains[0]} has been exceeded.")
    return LimitExceeded(f"Maximum number of resources of type '{name}' for domain id={owner[1]} has been exceeded.")


async def reserve(conn: AsyncConnection, account_id: int, need: Need, defaults: Defaults | None = None) -> None:
    """Count `need` against the account and its domains, or raise LimitExceeded (532)
    and change nothing. Negative amounts are given back (a VM scaled down). Without
    `defaults`, the settings are read in this transaction."""
    need = {n: a for n, a in need.items() if a}
    if not need:
        return
    if defaults is None:
        defaults = await stored_defaults(conn)
    chain = await chain_of(conn, account_id)
    rows = await _set_limits(conn, chain.account_id, chain.domains) if not chain.root_admin else {}
    owners = chain.owners
    done: list[tuple[Owner, str, int]] = []
    free: list[dict[str, Any]] = []  # counts no limit caps: added together once nothing refused
    for name, amount in need.items():
        unit = BY_NAME[name].unit
        if amount < 0:
            for owner in owners:
                await _unbump(conn, owner, name, -amount)
            continue
        # The limit of each owner, in `owners` order (a root admin's domains do not limit it).
        caps = [UNLIMITED] * len(owners) if chain.root_admin else [
            _account_in_force(chain, rows, defaults, name), *_domains_in_force(chain.domains, rows, defaults, name)]
        for owner, limit in zip(owners, caps):
            if limit < 0:
                free.append({**_row_params(owner, name), "b_amount": amount})
                continue
            if not await _bump(conn, owner, name, amount, limit * unit):
                for o, n, a in done:  # undo our part before refusing
                    await _unbump(conn, o, n, a)
                raise _exceeded(chain, owner, name)
            done.append((owner, name, amount))
    if free:
        await _bump_all(conn, free)


async def _bump_all(conn: AsyncConnection, params: list[dict[str, Any]]) -> None:
    """Unconditional increments in one executemany (ROOT's counts, unlimited accounts': most
    of a deploy's ten). A row missing (never counted yet) is created and counted after."""
    if await prepared.executemany(conn, _BUMP, params) == len(params):
        return
    for p in params:
        if (await prepared.execute(conn, _EXISTS, p)).first() is None:
            owner = (p["b_type"], p["b_id"])
            await _ensure(conn, owner, p["b_name"])
            await prepared.execute(conn, _BUMP, p)


async def _every_owner(conn: AsyncConnection, account_id: int, need: Need) -> list[dict[str, Any]]:
    """The positive amounts of `need`, as statement parameters for the account and each of
    its domains (in reserve's order: name, then owner)."""
    need = {n: a for n, a in need.items() if a > 0}
    if not need:
        return []
    owners = (await chain_of(conn, account_id)).owners
    return [{**_row_params(owner, name), "b_amount": amount} for name, amount in need.items() for owner in owners]


async def release(conn: AsyncConnection, account_id: int, need: Need) -> None:
    """Give `need` back to the account and its domains (never below zero)."""
    params = await _every_owner(conn, account_id, need)
    if params:
        await prepared.executemany(conn, _UNBUMP, params)


async def restore(conn: AsyncConnection, account_id: int, need: Need) -> None:
    """Count `need` again whatever the limits say: undoing a give-back (a shrink whose
    host step failed), so the count keeps equal to what exists."""
    params = await _every_owner(conn, account_id, need)
    if params:
        await _bump_all(conn, params)


async def recount(conn: AsyncConnection, owner: Owner, names: Iterable[str]) -> dict[str, int]:
    """Set the owner's counts to what its resources add up to. The count row is locked
    first, so a reservation racing with us waits and then adds to the fresh value."""
    out: dict[str, int] = {}
    for name in names:
        await _ensure(conn, owner, name)
        await conn.execute(select(T_COUNT.c.id).where(_count_row(owner, name)).with_for_update())
        out[name] = await measure(conn, owner, name)
        await conn.execute(update(T_COUNT).where(_count_row(owner, name)).values(used=out[name]))
    return out


async def counts(conn: AsyncConnection, owners: Iterable[Owner]) -> dict[Owner, dict[str, int]]:
    """The stored counts (types never counted yet are absent)."""
    return await _counts_where(conn, [and_(T_COUNT.c.owner_type == t, T_COUNT.c.owner_id == i) for t, i in owners])


async def _counts_where(conn: AsyncConnection, conds: list[Any]) -> dict[Owner, dict[str, int]]:
    out: dict[Owner, dict[str, int]] = {}
    if not conds:
        return out
    for r in (await conn.execute(select(T_COUNT.c.owner_type, T_COUNT.c.owner_id, T_COUNT.c.resource_type,
                                        T_COUNT.c.used).where(or_(*conds)))).all():
        out.setdefault((r.owner_type, r.owner_id), {})[r.resource_type] = int(r.used)
    return out


# -- a page of owners at once (listAccounts, listDomains) ----------------------------------------


async def page_in_force(conn: AsyncConnection, accounts: Iterable[tuple[int, int]],
                        domains: Iterable[tuple[int, str]], defaults: Defaults) -> dict[Owner, dict[str, int]]:
    """The limits in force for a page of accounts ((id, account_type)) and domains ((id, path)),
    by the rules of `account_limits` and `domain_limits`, in two queries whatever the page's size."""
    accounts, domains = list(accounts), list(domains)
    paths = {p for _, path in domains for p in _prefixes(path)}
    ancestors = dict((await conn.execute(select(T_DOMAIN.c.path, T_DOMAIN.c.id).where(
        T_DOMAIN.c.path.in_(paths), T_DOMAIN.c.removed.is_(None)))).all()) if paths else {}
    acct_ids, dom_ids = [a for a, _ in accounts], list(ancestors.values())
    conds = [and_(T_LIMIT.c.owner_type == t, T_LIMIT.c.owner_id.in_(ids))
             for t, ids in (("account", acct_ids), ("domain", dom_ids)) if ids]
    set_ = {(r.owner_type, r.owner_id, r.resource_type): int(r.max_value) for r in (await conn.execute(select(
        T_LIMIT.c.owner_type, T_LIMIT.c.owner_id, T_LIMIT.c.resource_type, T_LIMIT.c.max_value).where(
        or_(*conds)))).all()} if conds else {}
    out: dict[Owner, dict[str, int]] = {}
    for a, account_type in accounts:
        out[("account", a)] = {k.name: UNLIMITED if account_type == ROOT_ADMIN else
                               set_.get(("account", a, k.name), defaults[("account", k.name)]) for k in KINDS}
    for d, path in domains:
        chain = [ancestors[p] for p in reversed(_prefixes(path)) if p in ancestors][:-1]  # nearest first, no ROOT
        out[("domain", d)] = {k.name: UNLIMITED if path == "/" else next(
            (set_[("domain", a, k.name)] for a in chain if ("domain", a, k.name) in set_),
            defaults[("domain", k.name)]) for k in KINDS}
    return out


def _prefixes(path: str) -> list[str]:
    """A domain path and its ancestors', ROOT first: `/a/b/` → `/`, `/a/`, `/a/b/`."""
    parts = [p for p in path.split("/") if p]
    return ["/" + "".join(f"{p}/" for p in parts[:i]) for i in range(len(parts) + 1)]


async def page_counts(conn: AsyncConnection, account_ids: Iterable[int],
                      domain_ids: Iterable[int]) -> dict[Owner, dict[str, int]]:
    """The stored counts of a page of owners, in one query (a type never counted is absent:
    nothing of it was ever reserved, so its count is 0)."""
    return await _counts_where(conn, [and_(T_COUNT.c.owner_type == t, T_COUNT.c.owner_id.in_(list(ids)))
                                      for t, ids in (("account", set(account_ids)), ("domain", set(domain_ids)))
                                      if ids])
