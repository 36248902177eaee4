"""Placement through the runtime: each planner and allocation algorithm,
host tags, ha.tag, affinity groups (also under concurrency), cluster-scoped
overprovisioning and thresholds, hosts in maintenance."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from cloudplane.actors.identity import EntityRef
from cloudplane.actors.kinds.host import host_ref
from cloudplane.errors import ApiError
from cloudplane.store.base import new_uuid
from tests.simulator.fixtures import Site, site
from tests.vms.bed import (
    add_cluster,
    add_host,
    capacity_matches_vms,
    deploy,
    group,
    home,
    host_ids,
    hosts_up,
    set_cluster_config,
    set_offering,
    values,
    vm_row,
)

pytestmark = pytest.mark.ray


async def _placed(s: Site, refs: list[EntityRef]) -> list[int]:
    return [(await vm_row(s, r.id)).host_id for r in refs]


async def _wipe(s: Site, refs: list[EntityRef]) -> None:
    for r in refs:
        await s.rt.run(r, "destroy", {"expunge": True})
    refs.clear()


async def test_planners_and_allocators(ray_cluster: Any, tmp_path: Path) -> None:
    async with site("sqlite", tmp_path) as s:
        await s.set_config(**{"cluster.cpu.allocated.capacity.disablethreshold": "1",
                              "cluster.memory.allocated.capacity.disablethreshold": "1"})
        c1 = home(s)
        c2 = await add_cluster(s)
        c3 = await add_cluster(s, new_pod=True)
        hosts = {c.cluster: [await add_host(s, c) for _ in range(2)] for c in (c1, c2, c3)}
        await hosts_up(s, [h for hs in hosts.values() for h in hs])
        ids = await host_ids(s, [h for hs in hosts.values() for h in hs])
        cluster_of = {ids[h]: c for c, hs in hosts.items() for h in hs}
        pod_of = {c1.cluster: c1.pod_id, c2.cluster: c2.pod_id, c3.cluster: c3.pod_id}
        vals = await values(s, ram_mb=512)
        refs: list[EntityRef] = []

        # UserDispersingPlanner: an account's VMs spread over clusters.
        await s.set_config(vm_deployment_planner="UserDispersingPlanner")
        refs += [await deploy(s, vals) for _ in range(6)]
        assert Counter(cluster_of[h] for h in await _placed(s, refs)) == {c: 2 for c in hosts}
        await _wipe(s, refs)

        # UserConcentratedPodPlanner: the account stays in the pod of its first VM.
        await s.set_config(vm_deployment_planner="UserConcentratedPodPlanner")
        refs += [await deploy(s, vals) for _ in range(5)]
        assert len({pod_of[cluster_of[h]] for h in await _placed(s, refs)}) == 1
        await _wipe(s, refs)

        # FirstFitPlanner with the firstfit allocator: one host fills up first.
        await s.set_config(vm_deployment_planner="FirstFitPlanner", vm_allocation_algorithm="firstfit")
        refs += [await deploy(s, vals, cluster=c2.cluster) for _ in range(4)]
        assert len(set(await _placed(s, refs))) == 1
        await _wipe(s, refs)

        # firstfitleastconsumed and userdispersing: hosts of a cluster take turns.
        for algorithm in ("firstfitleastconsumed", "userdispersing"):
            await s.set_config(vm_allocation_algorithm=algorithm)
            refs += [await deploy(s, vals, cluster=c2.cluster) for _ in range(4)]
            assert sorted(Counter(await _placed(s, refs)).values()) == [2, 2], algorithm
            await _wipe(s, refs)

        # random: spread over the zone, each start on some host.
        await s.set_config(vm_allocation_algorithm="random")
        refs += [await deploy(s, vals) for _ in range(6)]
        assert all(h is not None for h in await _placed(s, refs))
        await _wipe(s, refs)

        # An offering's deployment planner wins over vm.deployment.planner.
        dispersing = await set_offering(s, deployment_planner="UserDispersingPlanner")
        await s.set_config(vm_deployment_planner="FirstFitPlanner")
        refs += [await deploy(s, await values(s, ram_mb=512, offering=dispersing)) for _ in range(3)]
        assert len({cluster_of[h] for h in await _placed(s, refs)}) == 3
        await _wipe(s, refs)
        await capacity_matches_vms(s)


async def test_tags_ha_hosts_maintenance_and_overprovisioning(ray_cluster: Any, tmp_path: Path) -> None:
    async with site("sqlite", tmp_path) as s:
        await s.set_config(ha_tag="ha", vm_allocation_algorithm="firstfit")
        gpu = await add_host(s, tags=["gpu"])
        ha = await add_host(s, tags=["ha"])
        plain = await add_host(s)
        await hosts_up(s, [gpu, ha, plain])
        ids = await host_ids(s, [gpu, ha, plain])

        tagged = await set_offering(s, host_tags="gpu")
        ref = await deploy(s, await values(s, offering=tagged))
        assert (await vm_row(s, ref.id)).host_id == ids[gpu]
        missing = await set_offering(s, host_tags="fpga")
        with pytest.raises(ApiError) as e:
            await deploy(s, await values(s, offering=missing))
        assert e.value.code == 533 and "lacks host tags ['fpga']" in e.value.text

        # Ordinary VMs never land on the HA host, even when everything else is full.
        big = await values(s, ram_mb=5 * 1024)
        placed = [await deploy(s, big) for _ in range(2)]
        assert {(await vm_row(s, r.id)).host_id for r in placed} == {ids[gpu], ids[plain]}
        with pytest.raises(ApiError) as e:
            await deploy(s, big)
        assert "reserved for HA restarts (tag ha)" in e.value.text
        # ...but an HA restart may use it.
        stopped = EntityRef("vm", new_uuid(), s.cluster)
        await s.rt.run(stopped, "create", {"values": big, "start": False})
        await s.rt.run(stopped, "ha_restart", {"failed_host_id": None})
        assert (await vm_row(s, stopped.id)).host_id == ids[ha]

        # Cluster-scoped overprovisioning and thresholds override the global values.
        await s.set_config(ha_tag="")
        c2 = await add_cluster(s)
        dense = await add_host(s, c2)
        await hosts_up(s, [dense])
        await set_cluster_config(s, c2.cluster_id, mem_overprovisioning_factor="2",
                                 cluster_memory_allocated_capacity_disablethreshold="0.5")
        one_gib = await values(s, ram_mb=1024)
        in_c2 = [await deploy(s, one_gib, cluster=c2.cluster) for _ in range(8)]  # 8 of 16 GiB: the threshold
        with pytest.raises(ApiError) as e:
            await deploy(s, one_gib, cluster=c2.cluster)
        assert "past its threshold 0.5" in e.value.text
        await set_cluster_config(s, c2.cluster_id, cluster_memory_allocated_capacity_disablethreshold="1")
        await s.set_config(vm_placement_cache_seconds="0")
        in_c2 += [await deploy(s, one_gib, cluster=c2.cluster) for _ in range(8)]  # 16 GiB on an 8 GiB host
        dense_id = (await host_ids(s, [dense]))[dense]
        used = await capacity_matches_vms(s, {dense_id: 2.0})
        assert used[dense_id] == 16 * 2**30

        # A host in maintenance takes nothing.
        on_plain = next([r for r in placed if (await vm_row(s, r.id)).host_id == ids[plain]].__iter__())
        await s.rt.run(on_plain, "stop", {})
        await s.rt.run(host_ref(plain, s.cluster), "prepare_maintenance", {})
        with pytest.raises(ApiError) as e:
            await s.rt.run(on_plain, "start", {"host": plain})
        assert e.value.code == 533 and "resource state Maintenance" in e.value.text
        assert (await vm_row(s, on_plain.id)).state == "Stopped"


async def test_affinity_groups_hold_under_concurrency(ray_cluster: Any, tmp_path: Path, backend: str) -> None:
    async with site(backend, tmp_path) as s:
        hosts = [await add_host(s) for _ in range(4)]
        await hosts_up(s, hosts)
        vals = await values(s, ram_mb=256)
        anti = await group(s, "host anti-affinity", "spread")
        refs = [EntityRef("vm", new_uuid(), s.cluster) for _ in range(6)]
        jobs = await asyncio.gather(*(s.rt.submit(r, "create", {"values": vals, "start": True, "groups": anti})
                                      for r in refs))
        res = await asyncio.gather(*(s.rt.wait(j, 60) for j in jobs))
        placed = [h for h in await _placed(s, refs) if h is not None]
        assert len(placed) == 4 and len(set(placed)) == 4, placed
        failed = [r for r in res if not r.ok]
        assert len(failed) == 2 and {r.code for r in failed} == {533}
        assert "anti-affinity" in failed[0].result["errortext"]

        together = await group(s, "host affinity", "pack")
        refs2 = [EntityRef("vm", new_uuid(), s.cluster) for _ in range(3)]
        jobs = await asyncio.gather(*(s.rt.submit(r, "create", {"values": vals, "start": True, "groups": together})
                                      for r in refs2))
        assert all(r.ok for r in await asyncio.gather(*(s.rt.wait(j, 60) for j in jobs)))
        assert len(set(await _placed(s, refs2))) == 1
        await capacity_matches_vms(s)
