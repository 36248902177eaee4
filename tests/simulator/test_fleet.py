"""Fleet mode: simulated agents as real WebSocket clients of a management node."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import insert, select

from cloudplane.actors.kinds.host import host_ref
from cloudplane.api.app import create_app
from cloudplane.apiclient import ApiClient
from cloudplane.node import ManagementNode
from cloudplane.settings import Settings
from cloudplane.simulator import fleet
from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.tables.infra import Cluster, Host, Pod, Zone

pytestmark = pytest.mark.ray
Z, P, C, H = (t.__table__ for t in (Zone, Pod, Cluster, Host))  # type: ignore[attr-defined]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _cluster(node: ManagementNode) -> tuple[str, str, str]:
    assert node.engine is not None
    base = {"version": 1, "created": utcnow()}
    cuuid, zuuid, puuid = new_uuid(), new_uuid(), new_uuid()
    async with node.engine.begin() as conn:
        z = (await conn.execute(insert(Z).values(uuid=zuuid, name="fz", **base))).inserted_primary_key[0]
        p = (await conn.execute(insert(P).values(uuid=puuid, name="fp", zone_id=z, **base))).inserted_primary_key[0]
        await conn.execute(insert(C).values(uuid=cuuid, name="fc", zone_id=z, pod_id=p, hypervisor_type="Simulator",
                                            **base))
    return cuuid, zuuid, puuid


async def _statuses(node: ManagementNode, ids: list[str]) -> dict[str, str]:
    assert node.engine is not None
    async with node.engine.connect() as conn:
        return {r.uuid: r.status for r in (await conn.execute(select(H.c.uuid, H.c.status).where(
            H.c.uuid.in_(ids)))).all()}


async def test_fleet_agents_connect_answer_and_disconnect(ray_cluster: Any, tmp_path: Path) -> None:
    port = _port()
    settings = Settings(data_dir=tmp_path, db_url=f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", port=port,
                        ray_address=ray_cluster.address, namespace=f"fleet-{time.monotonic_ns()}")
    node = ManagementNode(settings)
    await node.start()
    app = create_app(node)
    app.state.gateway.start()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    stats = fleet.FleetStats()
    runner: asyncio.Task[Any] | None = None
    try:
        while not server.started:
            await asyncio.sleep(0.05)
        cluster, zone, pod = await _cluster(node)
        api = await ApiClient.bootstrap(f"http://127.0.0.1:{port}/client/api")
        hosts = await fleet.register_hosts(api, cluster, 20, zone=zone, pod=pod)
        assert len({t for _, t in hosts}) == 20
        runner = asyncio.create_task(fleet.run_fleet(hosts, [f"ws://127.0.0.1:{port}/agent"], stats=stats))
        ids = [h for h, _ in hosts]
        for _ in range(200):
            if set((await _statuses(node, ids)).values()) == {"Up"}:
                break
            await asyncio.sleep(0.1)
        assert set((await _statuses(node, ids)).values()) == {"Up"}
        # A command from a host entity travels shard outbox → gateway → WebSocket → agent and back.
        ans = await node.runtime.run(host_ref(ids[0], cluster), "command", {
            "name": "StartCommand", "args": {"vm": {"name": "i-2-1-VM"}}})
        assert ans["ok"] and ans["result"]["state"] == "PowerOn"
        # A bad token is refused.
        bad = await fleet.run_fleet([(ids[0], "wrong")], [f"ws://127.0.0.1:{port}/agent"], duration=1.0)
        assert bad.rejected >= 1
        # The fleet goes away: its hosts are Disconnected.
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        runner = None
        for _ in range(100):
            if set((await _statuses(node, ids)).values()) == {"Disconnected"}:
                break
            await asyncio.sleep(0.1)
        assert set((await _statuses(node, ids)).values()) == {"Disconnected"}
        await api.close()
    finally:
        if runner is not None:
            runner.cancel()
        server.should_exit = True
        await serving
        await app.state.gateway.stop()
        await node.stop()
