"""Many deploys at once through the runtime: capacity is never overbooked or
leaked, and the losers fail with 533."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

import pytest

from cloudplane.actors.identity import EntityRef
from cloudplane.errors import ApiError
from cloudplane.store.base import new_uuid
from tests.simulator.fixtures import Site, site
from tests.vms.bed import add_host, capacity_matches_vms, hosts_up, states, values, vm_row

pytestmark = [pytest.mark.ray, pytest.mark.slow]
HOSTS, PER_HOST, WANT = 25, 32, 1000  # 25 hosts x 8 GiB hold 800 VMs of 256 MiB
GiB = 2**30


async def _zone(s: Site) -> None:
    await s.set_config(**{"cluster.cpu.allocated.capacity.disablethreshold": "1",
                          "cluster.memory.allocated.capacity.disablethreshold": "1"})
    hosts = await asyncio.gather(*(add_host(s) for _ in range(HOSTS)))
    await hosts_up(s, list(hosts))


async def _deploy_many(s: Site, n: int) -> tuple[list[EntityRef], list[Any]]:
    vals = await values(s, ram_mb=256, mhz=100)
    refs = [EntityRef("vm", new_uuid(), s.cluster) for _ in range(n)]
    jobs = await asyncio.gather(*(s.rt.submit(r, "create", {"values": vals, "start": True}) for r in refs))
    return refs, list(jobs)


async def _clean(s: Site, refs: list[EntityRef]) -> None:
    jobs = await asyncio.gather(*(s.rt.submit(r, "destroy", {"expunge": True}) for r in refs))
    res = await asyncio.gather(*(s.rt.wait(j, 120) for j in jobs))
    assert all(r.ok for r in res), [r.result for r in res if not r.ok][:3]
    assert set((await capacity_matches_vms(s)).values()) == {0}, "capacity leaked"


async def test_a_thousand_deploys_into_room_for_eight_hundred(ray_cluster: Any, tmp_path: Path) -> None:
    async with site("sqlite", tmp_path) as s:
        await _zone(s)
        t0 = time.monotonic()
        refs, jobs = await _deploy_many(s, WANT)
        results = await asyncio.gather(*(s.rt.wait(j, 120) for j in jobs))
        elapsed = time.monotonic() - t0
        ok = [r for r in results if r.ok]
        assert len(ok) == HOSTS * PER_HOST, (len(ok), elapsed)
        assert sorted({r.code for r in results if not r.ok}) == [533]
        assert await states(s) == {"Running": 800, "Error": 200}
        per_host = await capacity_matches_vms(s)
        assert sorted(per_host.values()) == [8 * GiB] * HOSTS
        failed = next(r for r in results if not r.ok)
        assert "Unable to create a deployment" in failed.result["errortext"]
        await _clean(s, refs)

        # Again, with random stops and destroys while the deploys run.
        rng = random.Random(7)
        refs, jobs = await _deploy_many(s, WANT)
        chaos: list[str] = []
        for r in rng.sample(refs, 200):
            await asyncio.sleep(rng.random() * 0.01)
            op = rng.choice(["stop", "destroy"])
            chaos.append(await s.rt.submit(r, op, {"forced": True} if op == "stop" else {}))
        results = await asyncio.gather(*(s.rt.wait(j, 120) for j in jobs))
        others = await asyncio.gather(*(s.rt.wait(j, 120) for j in chaos))
        assert {r.code for r in results if not r.ok} <= {533}
        assert {r.code for r in others if not r.ok} <= {431}, [r.result for r in others if not r.ok][:3]
        st = await states(s)
        assert st.get("Running", 0) <= 800 and set(st) <= {"Running", "Stopped", "Destroyed", "Error"}, st
        await capacity_matches_vms(s)
        # Whatever ended Stopped or Destroyed holds nothing.
        for r in refs[:50]:
            row = await vm_row(s, r.id)
            assert (row.host_id is None) == (row.state != "Running"), (row.state, row.host_id)
        await _clean(s, refs)


async def test_fifty_starts_of_one_vm_are_one_start(ray_cluster: Any, tmp_path: Path, backend: str) -> None:
    async with site(backend, tmp_path) as s:
        hosts = [await add_host(s) for _ in range(2)]
        await hosts_up(s, hosts)
        ref = EntityRef("vm", new_uuid(), s.cluster)
        await s.rt.run(ref, "create", {"values": await values(s), "start": False})
        jobs = await asyncio.gather(*(s.rt.submit(ref, "start", {}) for _ in range(50)))
        results = await asyncio.gather(*(s.rt.wait(j, 60) for j in jobs))
        assert all(r.ok for r in results)
        row = await vm_row(s, ref.id)
        assert row.state == "Running"
        used = await capacity_matches_vms(s)
        assert sorted(used.values()) == [0, 1 * GiB]
        # Started once: Stopped -> Starting -> Running is two versions after the birth's.
        assert row.version <= 4, row.version


async def test_a_stop_during_a_start_ends_stopped(ray_cluster: Any, tmp_path: Path) -> None:
    async with site("sqlite", tmp_path) as s:
        host = await add_host(s)
        await hosts_up(s, [host])
        from sqlalchemy import insert

        from cloudplane.store.tables.simulator import SimulatorMock

        assert s.rt.engine is not None
        async with s.rt.engine.begin() as conn:
            await conn.execute(insert(SimulatorMock.__table__).values(  # type: ignore[attr-defined]
                name="StartCommand", value="wait:700", host_uuid=host, fired=0))
        await s.rt.reset_caches()
        ref = EntityRef("vm", new_uuid(), s.cluster)
        start = await s.rt.submit(ref, "create", {"values": await values(s), "start": True})
        await asyncio.sleep(0.2)
        stop = await s.rt.submit(ref, "stop", {})
        assert (await s.rt.wait(start, 30)).ok and (await s.rt.wait(stop, 30)).ok
        row = await vm_row(s, ref.id)
        assert row.state == "Stopped" and row.host_id is None
        assert set((await capacity_matches_vms(s)).values()) == {0}


async def test_a_start_without_room_fails_533_and_stays_stopped(ray_cluster: Any, tmp_path: Path) -> None:
    async with site("sqlite", tmp_path) as s:
        host = await add_host(s)
        await hosts_up(s, [host])
        big = EntityRef("vm", new_uuid(), s.cluster)
        await s.rt.run(big, "create", {"values": await values(s, ram_mb=6 * 1024), "start": True})
        small = EntityRef("vm", new_uuid(), s.cluster)
        await s.rt.run(small, "create", {"values": await values(s, ram_mb=4 * 1024), "start": False})
        with pytest.raises(ApiError) as e:
            await s.rt.run(small, "start", {})
        assert e.value.code == 533 and "past its threshold 0.85: cluster c1" in e.value.text
        assert (await vm_row(s, small.id)).state == "Stopped"
        await capacity_matches_vms(s)



async def test_concurrent_deploys_never_overbook_on_each_backend(ray_cluster: Any, tmp_path: Path,
                                                                  backend: str) -> None:
    async with site(backend, tmp_path) as s:
        await s.set_config(**{"cluster.memory.allocated.capacity.disablethreshold": "1"})
        hosts = await asyncio.gather(*(add_host(s) for _ in range(3)))
        await hosts_up(s, list(hosts))
        vals = await values(s, ram_mb=1024, mhz=100)
        refs = [EntityRef("vm", new_uuid(), s.cluster) for _ in range(40)]  # room for 24
        jobs = await asyncio.gather(*(s.rt.submit(r, "create", {"values": vals, "start": True}) for r in refs))
        results = await asyncio.gather(*(s.rt.wait(j, 120) for j in jobs))
        assert sum(r.ok for r in results) == 24 and {r.code for r in results if not r.ok} == {533}
        assert sorted((await capacity_matches_vms(s)).values()) == [8 * GiB] * 3
        await _clean(s, refs)

