"""Losing a Ray node: its shards come back on a surviving node and every job finishes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from cloudplane.actors.runtime import Runtime
from cloudplane.settings import Settings
from cloudplane.store.engine import make_engine
from tests.actors.local import create_schema, new_probes
from tests.dbs import fresh_database

pytestmark = [pytest.mark.ray, pytest.mark.slow]


@ray.remote(num_cpus=0)
def _where() -> str:
    return ray.get_runtime_context().get_node_id()


async def test_node_loss_replaces_shards_and_finishes_jobs(ray_cluster: Any, tmp_path: Path) -> None:
    head_id = ray.get_runtime_context().get_node_id()
    node = ray_cluster.add_node(num_cpus=1, object_store_memory=100 * 2**20)
    ray_cluster.wait_for_nodes()
    # Until the new raylet takes work, soft affinity would quietly fall back to the head.
    on_node = NodeAffinitySchedulingStrategy(node.node_id, soft=False)
    assert ray.get(_where.options(scheduling_strategy=on_node).remote(), timeout=60) == node.node_id
    # The GCS places actors from its own resource view, which lags the raylet.
    for _ in range(100):
        if node.node_id in ray._private.state.available_resources_per_node():
            break
        time.sleep(0.1)
    async with fresh_database("sqlite", tmp_path) as url:
        engine = make_engine(url)
        await create_schema(engine)
        await engine.dispose()
        rt, doomed = None, set()
        for attempt in range(5):
            rt = Runtime(
                Settings(db_url=url, shards=2, fault_injection=True),
                namespace=f"t-multinode-{time.monotonic_ns()}", reconcile_interval_s=1.0,
                # Prefer the doomed node; soft, so Ray may re-place the shards when it is gone.
                shard_options={"scheduling_strategy": NodeAffinitySchedulingStrategy(node.node_id, soft=True)},
            )
            await rt.start()
            before = {i.name: i.node_id for i in await rt.shard_infos()}
            doomed = {name for name, nid in before.items() if nid == node.node_id}
            if doomed:
                break
            await rt.stop()
            await asyncio.sleep(1.0)
        assert rt is not None and doomed, "no shard could be started on the node to be removed"
        try:
            refs = [r for r in await new_probes(rt.engine, 80) if rt.shard_for(r) in doomed]  # type: ignore[arg-type]
            assert refs
            jobs = [await rt.submit(r, "start", {"delay": 1.0}) for r in refs]
            jobs += [await rt.submit(r, "incr", {}) for r in refs]
            await asyncio.sleep(0.3)
            ray_cluster.remove_node(node)
            results = await asyncio.gather(*(rt.wait(j, 120) for j in jobs))
            assert all(r.ok for r in results), [r.result for r in results if not r.ok][:3]
            infos = await rt.shard_infos()
            assert {i.node_id for i in infos} == {head_id}
            assert sum(i.recovered_jobs for i in infos if i.name in doomed) >= 1
        finally:
            await rt.stop()
