"""store/limits.py without a server, on each backend: the prebuilt statements of
`reserve` (the chain in one recursive query, the set limits in one query, the
conditional UPDATEs with their parameters) keep CloudStack's rules: the nearest
set limit of a domain, ROOT and root admins unlimited, a refusal that undoes
what it wrote, a count row created on first use, amounts given back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import NoResultFound
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

import cloudplane.store.tables  # noqa: F401
from cloudplane.errors import LimitExceeded
from cloudplane.store import limits
from cloudplane.store.engine import make_engine
from cloudplane.store.tables.compute import ServiceOffering, VmInstance
from cloudplane.store.tables.identity import Account, Domain
from cloudplane.store.tables.infra import Zone
from cloudplane.store.tables.limits import UNLIMITED, ResourceCount, ResourceLimit

D, A, L, C, VM, ZONE, OFFERING = (t.__table__ for t in (  # type: ignore[attr-defined]
    Domain, Account, ResourceLimit, ResourceCount, VmInstance, Zone, ServiceOffering))
GiB = 2**30
# ROOT(1) > a(2) > b(3) > c(4); accounts: 10 in c, 11 in a, 12 a root admin in ROOT.
DOMAINS = [(1, None, "/"), (2, 1, "/a/"), (3, 2, "/a/b/"), (4, 3, "/a/b/c/")]
USER, OTHER, ADMIN = 10, 11, 12


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(db_url)
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)
        await conn.execute(insert(D), [{"id": i, "name": p.strip("/").split("/")[-1] or "ROOT", "parent_id": parent,
                                        "path": p, "level": p.count("/") - 1} for i, parent, p in DOMAINS])
        await conn.execute(insert(A), [{"id": USER, "name": "user", "domain_id": 4, "account_type": 0},
                                       {"id": OTHER, "name": "other", "domain_id": 2, "account_type": 0},
                                       {"id": ADMIN, "name": "admin", "domain_id": 1, "account_type": 1}])
    yield engine
    await engine.dispose()


async def set_limit(engine: AsyncEngine, owner: limits.Owner, name: str, value: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(L).values(owner_type=owner[0], owner_id=owner[1], resource_type=name,
                                            max_value=value))


async def used(engine: AsyncEngine) -> dict[tuple[str, int, str], int]:
    async with engine.connect() as conn:
        return {(r.owner_type, r.owner_id, r.resource_type): int(r.used)
                for r in (await conn.execute(select(C.c.owner_type, C.c.owner_id, C.c.resource_type, C.c.used)))}


async def reserve(engine: AsyncEngine, account: int, need: dict[str, int], defaults: Any = None) -> None:
    async with engine.begin() as conn:
        await limits.reserve(conn, account, need, defaults)


def everywhere(owners: list[limits.Owner], counts: dict[str, int]) -> dict[tuple[str, int, str], int]:
    return {(t, i, n): v for t, i in owners for n, v in counts.items()}


USER_OWNERS: list[limits.Owner] = [("account", USER), ("domain", 4), ("domain", 3), ("domain", 2), ("domain", 1)]


async def test_the_chain_and_the_limits_in_force(engine: AsyncEngine) -> None:
    await set_limit(engine, ("domain", 3), "user_vm", 7)  # b: inherited by c, not by a
    await set_limit(engine, ("domain", 2), "user_vm", 9)
    await set_limit(engine, ("domain", 1), "cpu", 3)  # ROOT's own limit never applies
    await set_limit(engine, ("account", USER), "memory", UNLIMITED)
    async with engine.connect() as conn:
        defaults = await limits.stored_defaults(conn)
        chain = await limits.chain_of(conn, USER)
        assert chain == limits.Chain(USER, "user", False, (4, 3, 2, 1))
        assert (await limits.chain_of(conn, ADMIN)).root_admin and (await limits.chain_of(conn, ADMIN)).domains == (1,)
        with pytest.raises(NoResultFound):
            await limits.chain_of(conn, 999)
        assert await limits.domain_chain(conn, 3) == (3, 2, 1)
        doms = await limits.domain_limits(conn, chain.domains, defaults)
        assert [doms[d]["user_vm"] for d in (4, 3, 2, 1)] == [7, 7, 9, UNLIMITED]
        assert [doms[d]["cpu"] for d in (4, 3, 2, 1)] == [80, 80, 80, UNLIMITED]  # max.domain.cpus
        assert await limits.domain_limits(conn, (), defaults) == {}
        acct = await limits.account_limits(conn, chain, defaults)
        assert (acct["memory"], acct["user_vm"], acct["cpu"]) == (UNLIMITED, 20, 40)
        admin = await limits.account_limits(conn, await limits.chain_of(conn, ADMIN), defaults)
        assert set(admin.values()) == {UNLIMITED} and len(admin) == len(limits.KINDS)


async def test_reserve_counts_everywhere_and_creates_rows_from_what_exists(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:  # a VM that exists before any count row
        zone = (await conn.execute(insert(ZONE).values(name="z"))).inserted_primary_key[0]
        offering = (await conn.execute(insert(OFFERING).values(name="o"))).inserted_primary_key[0]
        await conn.execute(insert(VM).values(account_id=USER, domain_id=4, zone_id=zone, service_offering_id=offering,
                                             type="User", state="Running", cpu_count=2, ram_mb=512, name="old"))
    await reserve(engine, USER, {"user_vm": 1, "cpu": 2, "memory": 256, "volume": 0})  # no defaults: read them
    assert await used(engine) == everywhere(USER_OWNERS, {"user_vm": 2, "cpu": 4, "memory": 768})
    async with engine.connect() as conn:
        defaults = await limits.stored_defaults(conn)
    await reserve(engine, USER, {"user_vm": -1, "cpu": -8, "primary_storage": GiB}, defaults)  # -8: down to 0
    assert await used(engine) == {**everywhere(USER_OWNERS, {"user_vm": 1, "cpu": 0, "memory": 768}),
                                  **everywhere(USER_OWNERS, {"primary_storage": GiB})}


async def test_a_refusal_names_the_owner_and_undoes_its_part(engine: AsyncEngine) -> None:
    await set_limit(engine, ("domain", 3), "cpu", 5)
    await set_limit(engine, ("account", OTHER), "cpu", 1)
    await reserve(engine, USER, {"user_vm": 1, "cpu": 4})
    before = await used(engine)
    with pytest.raises(LimitExceeded, match=r"type 'cpu' for domain id=4 has"):  # c inherits b's 5
        await reserve(engine, USER, {"user_vm": 1, "cpu": 2})
    assert await used(engine) == before  # user_vm and the account's cpu given back
    with pytest.raises(LimitExceeded, match=r"type 'cpu' for account name=other in domain id=2 has"):
        await reserve(engine, OTHER, {"cpu": 2})
    await reserve(engine, USER, {"cpu": 1})  # up to the limit exactly
    assert (await used(engine))[("domain", 3, "cpu")] == 5


async def test_storage_is_limited_in_gib_and_root_admins_are_not_limited(engine: AsyncEngine) -> None:
    await set_limit(engine, ("account", USER), "primary_storage", 2)
    await reserve(engine, USER, {"primary_storage": 2 * GiB})
    with pytest.raises(LimitExceeded, match="primary_storage"):
        await reserve(engine, USER, {"primary_storage": 1})
    await set_limit(engine, ("account", ADMIN), "user_vm", 0)
    await reserve(engine, ADMIN, {"user_vm": 50})
    assert (await used(engine))[("account", ADMIN, "user_vm")] == 50


async def test_release_and_restore(engine: AsyncEngine) -> None:
    await reserve(engine, USER, {"volume": 3})
    async with engine.begin() as conn:
        await limits.release(conn, USER, {"volume": 5})  # never below zero
        await limits.restore(conn, USER, {"volume": 30})  # past the limit: restore does not check
    assert await used(engine) == everywhere(USER_OWNERS, {"volume": 30})
