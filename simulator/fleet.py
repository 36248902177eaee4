"""Fleet mode: N simulated agents as real WebSocket clients of management
servers, reconnecting with jittered exponential back-off (`cloudplane simulate`).

Each fleet agent is a `SimAgent` behind a WebSocket: hello with its host token,
startup with its capacity, pings every `ping_interval`, answers to commands.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets

from cloudplane.agentproto import answer, hello, ping, startup
from cloudplane.apiclient import ApiClient
from cloudplane.simulator.agent import DEFAULT_CAPACITY, SimAgent, Where

log = logging.getLogger(__name__)


@dataclass
class FleetStats:
    connects: int = 0
    reconnects: int = 0
    rejected: int = 0
    commands: int = 0
    up: set[str] = field(default_factory=set)


class FleetAgent:
    def __init__(self, host: str, token: str, servers: list[str], stats: FleetStats,
                 backoff_base: float = 0.5, backoff_cap: float = 30.0) -> None:
        self.host, self.token, self.servers = host, token, list(servers)
        self.sim = SimAgent(Where(host), DEFAULT_CAPACITY)
        self.stats = stats
        self.base, self.cap = backoff_base, backoff_cap
        self.stopping = False

    async def run(self) -> None:
        attempt, idx = 0, random.randrange(len(self.servers))
        while not self.stopping:
            url = self.servers[idx % len(self.servers)]
            try:
                async with websockets.connect(url, open_timeout=10, max_queue=None) as ws:
                    attempt = 0
                    await self._session(ws)
            except Exception as e:  # any failure: back off and try the next server
                log.debug("agent %s: %s: %s", self.host, url, e)
            self.stats.up.discard(self.host)
            if self.stopping:
                return
            self.stats.reconnects += 1
            idx += 1
            attempt += 1
            # Full jitter: spreads a reconnect storm over the whole window.
            await asyncio.sleep(random.uniform(0, min(self.cap, self.base * 2 ** min(attempt, 10))))

    async def _session(self, ws: Any) -> None:
        await ws.send(json.dumps(hello(self.host, self.token, "sim")))
        msg = json.loads(await ws.recv())
        if msg.get("t") != "welcome":
            self.stats.rejected += 1
            raise ConnectionError(msg.get("reason", "rejected"))
        if msg.get("servers"):
            self.servers = list(msg["servers"]) + [s for s in self.servers if s not in msg["servers"]]
        interval = float(msg.get("ping_interval", 60))
        await ws.send(json.dumps(startup(self.sim.capacity, self.sim.power_states())))
        self.stats.connects += 1
        self.stats.up.add(self.host)
        pinger = asyncio.create_task(self._pings(ws, interval))
        try:
            async for raw in ws:
                m = json.loads(raw)
                if m.get("t") == "cmd":
                    asyncio.create_task(self._command(ws, m))
        finally:
            pinger.cancel()

    async def _pings(self, ws: Any, interval: float) -> None:
        await asyncio.sleep(random.uniform(0, interval))
        while True:
            if await self.sim.ping_ok():
                await ws.send(json.dumps(ping(self.sim.power_states())))
            await asyncio.sleep(interval)

    async def _command(self, ws: Any, m: dict[str, Any]) -> None:
        self.stats.commands += 1
        ans = await self.sim.handle(m["name"], m.get("args") or {})
        await ws.send(json.dumps(answer(m["id"], ans)))


async def register_hosts(api: ApiClient, cluster: str, n: int, prefix: str = "fleet", concurrency: int = 32,
                         zone: str | None = None, pod: str | None = None) -> list[tuple[str, str]]:
    """addHost ×n (url http://<prefix>-<i>/): each answer carries the host's agent token once."""
    if zone is None or pod is None:
        c = (await api.call("listClusters", id=cluster))["cluster"][0]
        zone, pod = c["zoneid"], c["podid"]
    sem = asyncio.Semaphore(concurrency)
    out: list[tuple[str, str]] = []

    async def one(i: int) -> None:
        async with sem:
            h = (await api.call("addHost", clusterid=cluster, zoneid=zone, podid=pod, hypervisor="Simulator",
                                url=f"http://{prefix}-{i}/", username="root", password="unused"))["host"][0]
            out.append((h["id"], h["agenttoken"]))

    await asyncio.gather(*(one(i) for i in range(n)))
    return out


async def run_fleet(hosts: list[tuple[str, str]], servers: list[str], *, duration: float | None = None,
                    stats: FleetStats | None = None) -> FleetStats:
    stats = stats or FleetStats()
    agents = [FleetAgent(h, t, servers, stats) for h, t in hosts]
    tasks = [asyncio.create_task(a.run()) for a in agents]
    try:
        if duration is None:
            await asyncio.gather(*tasks)
        else:
            await asyncio.sleep(duration)
    finally:
        for a in agents:
            a.stopping = True
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return stats


def save_tokens(path: Path, hosts: list[tuple[str, str]]) -> None:
    path.write_text(json.dumps(hosts))
    path.chmod(0o600)


def load_tokens(path: Path) -> list[tuple[str, str]]:
    return [(h, t) for h, t in json.loads(path.read_text())]
