"""Counts stay exact under concurrency: many deploys of one account race for the
last slots of its limit on every shard at once, on SQLite and MariaDB."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from cloudplane.actors.identity import EntityRef
from cloudplane.store.base import new_uuid
from cloudplane.store.tables.compute import VmInstance
from cloudplane.store.tables.identity import Account, Domain
from cloudplane.store.tables.limits import ResourceCount
from cloudplane.store.tables.storage import Volume
from tests.dbs import BACKENDS
from tests.simulator.fixtures import Site, site
from tests.vms.bed import values

pytestmark = [pytest.mark.ray]
VM, VOL, A, D, RC = (t.__table__ for t in (VmInstance, Volume, Account, Domain, ResourceCount))  # type: ignore[attr-defined]
GiB = 2**30
WANT, LIMIT = 50, 10


async def new_account(s: Site, name: str) -> tuple[str, int, int]:
    """An ordinary (type 0) account in a new subdomain of ROOT: (uuid, id, domain id)."""
    assert s.rt.engine is not None
    async with s.rt.engine.connect() as conn:
        root = (await conn.execute(select(D.c.uuid).where(D.c.parent_id.is_(None)))).scalar_one()
    dom = await s.rt.run(EntityRef("domain", root), "create_domain", {"name": f"d-{name}"})
    acct = await s.rt.run(EntityRef("domain", dom["id"]), "create_account", {
        "name": name, "account_type": 0, "role_id": None, "user": {"username": name}})
    async with s.rt.engine.connect() as conn:
        r = (await conn.execute(select(A.c.id, A.c.domain_id).where(A.c.uuid == acct["id"]))).one()
    return acct["id"], r.id, r.domain_id


async def counted(s: Site, owner_type: str, owner_id: int) -> dict[str, int]:
    assert s.rt.engine is not None
    async with s.rt.engine.connect() as conn:
        rows = (await conn.execute(select(RC.c.resource_type, RC.c.used).where(
            RC.c.owner_type == owner_type, RC.c.owner_id == owner_id))).all()
    return {r.resource_type: int(r.used) for r in rows}


async def live_rows(s: Site, account_id: int) -> tuple[int, int]:
    assert s.rt.engine is not None
    async with s.rt.engine.connect() as conn:
        vms = (await conn.execute(select(func.count()).where(
            VM.c.account_id == account_id, VM.c.removed.is_(None)))).scalar_one()
        vols = (await conn.execute(select(func.count()).where(
            VOL.c.account_id == account_id, VOL.c.removed.is_(None)))).scalar_one()
    return int(vms), int(vols)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_fifty_deploys_against_a_limit_of_ten(ray_cluster: Any, tmp_path: Path, backend: str) -> None:
    async with site(backend, tmp_path) as s:
        uuid, acct_id, dom_id = await new_account(s, "racer")
        await s.rt.run(EntityRef("account", uuid), "set_limit", {"resource_type": "user_vm", "max_value": LIMIT})
        vals = await values(s, ram_mb=256, account="racer")
        # Random placement keys: the deploys land on every shard, not one mailbox.
        refs = [EntityRef("vm", new_uuid(), new_uuid()) for _ in range(WANT)]
        jobs = await asyncio.gather(*(s.rt.submit(r, "create", {
            "values": vals, "volumes": [{"type": "ROOT", "size": 2 * GiB}]}) for r in refs))
        results = await asyncio.gather(*(s.rt.wait(j, 120) for j in jobs))

        won = [ref for ref, r in zip(refs, results) if r.ok]
        assert len(won) == LIMIT, [r.result for r in results][:2]
        assert {r.code for r in results if not r.ok} == {532}, [r.result for r in results if not r.ok and r.code != 532][:2]
        assert "user_vm" in next(r for r in results if not r.ok).result["errortext"]
        assert await live_rows(s, acct_id) == (LIMIT, LIMIT)  # losers left no VM or volume behind
        expect = {"user_vm": LIMIT, "cpu": LIMIT, "memory": LIMIT * 256, "volume": LIMIT,
                  "primary_storage": LIMIT * 2 * GiB}
        assert await counted(s, "account", acct_id) == expect
        assert await counted(s, "domain", dom_id) == expect

        # Destroy gives the VM back; expunge its ROOT volume.
        await asyncio.gather(*(s.rt.run(r, "destroy", {"expunge": True}) for r in won))
        assert await counted(s, "account", acct_id) == dict.fromkeys(expect, 0)
        assert await counted(s, "domain", dom_id) == dict.fromkeys(expect, 0)
