"""Volume operations racing over a real runtime, on each database backend:
two VMs taking one volume (exactly one wins), and many attaches, resizes and
detaches at once keeping every pool's allocation equal to its volumes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from cloudplane.actors.identity import EntityRef
from cloudplane.actors.kinds.storage import insert_image_store, insert_pool
from cloudplane.store.base import new_uuid
from cloudplane.store.tables.capacity import Capacity
from cloudplane.store.tables.storage import Volume
from tests.simulator.fixtures import Site, site
from tests.vms.bed import add_host, deploy, hosts_up, values

pytestmark = pytest.mark.ray
GiB = 2**30
VOL, CAP = Volume.__table__, Capacity.__table__  # type: ignore[attr-defined]


async def _bed(s: Site, vms: int) -> list[EntityRef]:
    assert s.rt.engine is not None
    async with s.rt.engine.begin() as conn:
        await insert_pool(conn, {"name": "p1", "zone_id": s.ids["zone"], "pod_id": s.ids["pod"],
                                 "cluster_id": s.ids["cluster"], "pool_type": "NetworkFilesystem"}, [])
        await insert_image_store(conn, {"name": "sec", "zone_id": s.ids["zone"], "url": "nfs://192.0.2.1/sec"})
    await hosts_up(s, [await add_host(s), await add_host(s)])
    vals = await values(s, ram_mb=128, mhz=100)
    return list(await asyncio.gather(*(deploy(s, vals, volumes=[{"type": "ROOT", "size": GiB}])
                                       for _ in range(vms))))


async def _volume(s: Site, gb: int = 1) -> str:
    vals = await values(s)
    uuid = new_uuid()
    await s.rt.run(EntityRef("volume", uuid), "create", {"values": {
        "name": "d", "account_id": vals["account_id"], "domain_id": vals["domain_id"], "zone_id": s.ids["zone"],
        "size_bytes": gb * GiB}})
    return uuid


async def _pools_match(s: Site) -> int:
    assert s.rt.engine is not None
    async with s.rt.engine.connect() as conn:
        held = dict((await conn.execute(select(VOL.c.pool_id, func.sum(VOL.c.size_bytes)).where(
            VOL.c.removed.is_(None), VOL.c.pool_id.is_not(None)).group_by(VOL.c.pool_id))).all())
        used = dict((await conn.execute(select(CAP.c.owner_id, CAP.c.used).where(
            CAP.c.owner_type == "pool", CAP.c.capacity_type == 3))).all())
    for pool, amount in used.items():
        assert amount == int(held.get(pool, 0)), (pool, amount, held)
    return sum(used.values())


async def _run(s: Site, ref: EntityRef, op: str, args: dict[str, Any]) -> Any:
    return await s.rt.wait(await s.rt.submit(ref, op, args), 60)


async def test_two_vms_race_for_one_volume(ray_cluster: Any, backend: str, tmp_path: Path) -> None:
    async with site(backend, tmp_path) as s:
        a, b = await _bed(s, 2)
        vol = await _volume(s)
        results = await asyncio.gather(*(_run(s, r, "attach_volume", {"volume": vol}) for r in (a, b)))
        assert sorted(r.ok for r in results) == [False, True]
        lost = next(r for r in results if not r.ok)
        assert lost.code == 431 and ("attached" in lost.result["errortext"] or "meanwhile" in lost.result["errortext"])
        assert await _pools_match(s) == 3 * GiB  # two ROOT volumes and the data disk, once


async def test_many_volume_operations_at_once_keep_pools_exact(ray_cluster: Any, backend: str,
                                                              tmp_path: Path) -> None:
    async with site(backend, tmp_path) as s:
        vms = await _bed(s, 4)
        vols = [await _volume(s) for _ in range(12)]
        attached = await asyncio.gather(*(_run(s, vms[i % 4], "attach_volume", {"volume": v})
                                          for i, v in enumerate(vols)))
        assert all(r.ok for r in attached), [r.result for r in attached if not r.ok]
        # grow every volume while snapshotting and detaching some, all at once
        ops = [_run(s, vms[i % 4], "resize_volume", {"volume": v, "size": 3 * GiB}) for i, v in enumerate(vols)]
        ops += [_run(s, vms[i % 4], "snapshot_volume", {"volume": v, "snapshot": new_uuid()})
                for i, v in enumerate(vols[:6])]
        ops += [_run(s, vms[i % 4], "detach_volume", {"volume": v}) for i, v in enumerate(vols) if i % 3 == 0]
        results = await asyncio.gather(*ops)
        bad = [r.result for r in results if not r.ok]
        assert not bad, bad[:3]
        assert await _pools_match(s) == 4 * GiB + 12 * 3 * GiB
        gone = await asyncio.gather(*(_run(s, EntityRef("volume", v), "delete", {})
                                      for i, v in enumerate(vols) if i % 3 == 0))
        assert all(r.ok for r in gone)
        assert await _pools_match(s) == 4 * GiB + 8 * 3 * GiB
