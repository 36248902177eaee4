"""Simulated hosts through the runtime: connect, ping, Alert, mocks, faults."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from cloudplane.actors.kinds.host import host_ref
from cloudplane.errors import ApiError
from cloudplane.store.tables.simulator import SimulatorMock
from tests.simulator.fixtures import site

pytestmark = pytest.mark.ray
MOCKS = SimulatorMock.__table__  # type: ignore[attr-defined]


async def test_host_connects_and_goes_up(ray_cluster: Any, tmp_path: Path, backend: str) -> None:
    async with site(backend, tmp_path) as s:
        h = await s.add_host()
        await s.wait_status(h, "Up")
        row = await s.host(h)
        assert (row.cpus, row.cpu_speed_mhz, row.memory_bytes) == (4, 8000, 8 * 2**30)
        assert row.resource_state == "Enabled" and row.mgmt_server_id.startswith("shard-")


async def test_silent_host_goes_to_alert_in_time_and_back_up(ray_cluster: Any, tmp_path: Path) -> None:
    async with site("sqlite", tmp_path) as s:
        await s.set_config(ping_interval="1", ping_timeout="2")
        h = await s.add_host()
        await s.wait_status(h, "Up")
        ref = host_ref(h, s.cluster)
        await s.rt.run(ref, "sim_fault", {"fault": "partition"})
        took = await s.wait_status(h, "Alert", timeout=30)
        assert took <= 1 * 2 + 1, f"Alert after {took:.1f}s, limit is ping.interval x ping.timeout + 1 s"
        await s.rt.run(ref, "sim_fault", {"fault": "heal"})
        await s.wait_status(h, "Up", timeout=5)


async def test_start_command_mock_with_count_fails_exactly_once(ray_cluster: Any, tmp_path: Path) -> None:
    async with site("sqlite", tmp_path) as s:
        h = await s.add_host()
        await s.wait_status(h, "Up")
        async with s.rt.engine.begin() as conn:  # type: ignore[union-attr]
            await conn.execute(insert(MOCKS).values(name="StartCommand", value="result:fail", count=1, fired=0))
        await s.rt.reset_caches()
        ref = host_ref(h, s.cluster)
        answers = [await s.rt.run(ref, "command", {"name": "StartCommand", "args": {"vm": {"name": f"i-{i}"}}})
                   for i in range(3)]
        assert [a["ok"] for a in answers] == [False, True, True]


async def test_crashed_host_does_not_answer(ray_cluster: Any, tmp_path: Path) -> None:
    async with site("sqlite", tmp_path) as s:
        h = await s.add_host()
        await s.wait_status(h, "Up")
        ref = host_ref(h, s.cluster)
        await s.rt.run(ref, "sim_fault", {"fault": "crash"})
        with pytest.raises(ApiError) as ei:
            await s.rt.run(ref, "command", {"name": "StopCommand", "args": {"vm": "i-1"}, "timeout": 0.5})
        assert "no agent connection" in ei.value.text or "timed out" in ei.value.text


async def test_hosts_come_back_after_their_shard_restarts(ray_cluster: Any, tmp_path: Path) -> None:
    async with site("sqlite", tmp_path) as s:
        await s.set_config(ping_interval="1", ping_timeout="2")
        h = await s.add_host()
        await s.wait_status(h, "Up")
        ref = host_ref(h, s.cluster)
        await s.rt.crash_shard(s.rt.shard_for(ref))
        # The new incarnation activates its hosts at start: the agent is there again, and pinging.
        answer = await s.rt.run(ref, "command", {"name": "CheckHealthCommand", "args": {}}, timeout=30)
        assert answer["ok"]
        await s.rt.run(ref, "sim_fault", {"fault": "partition"})
        await s.wait_status(h, "Alert", timeout=30)


async def test_shorter_ping_interval_applies_at_once_and_pings_reach_the_store(ray_cluster: Any,
                                                                                  tmp_path: Path) -> None:
    async with site("sqlite", tmp_path) as s:
        await s.set_config(ping_interval="60", ping_timeout="2")
        hosts = [await s.add_host(f"http://sim/c1/h{i}") for i in range(3)]
        for h in hosts:
            await s.wait_status(h, "Up")
        connected = {h: (await s.host(h)).last_pinged for h in hosts}
        # From 60 s to 1 s: turns up to 60 s away move into the new interval, and nobody goes to
        # Alert for having been silent under the old one.
        await s.set_config(ping_interval="1", ping_timeout="2")
        deadline = asyncio.get_running_loop().time() + 15
        while True:
            rows = {h: await s.host(h) for h in hosts}
            assert all(r.status == "Up" for r in rows.values()), {h: r.status for h, r in rows.items()}
            if all(rows[h].last_pinged > connected[h] for h in hosts):
                break  # every host pinged, and the batch write recorded it
            assert asyncio.get_running_loop().time() < deadline, "pings did not reach host.last_pinged"
            await asyncio.sleep(0.3)
