"""Acceptance: Marvin's deployDataCenter sequence for CloudStack's simulator
configs, replayed with the `cs` client against a live server."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import cs
import pytest

from cloudplane.datacenter import Deployer, load_config
from tests.live import admin_keys, start_server

pytestmark = [pytest.mark.ray, pytest.mark.slow]
CONFIGS = Path(__file__).resolve().parents[3] / "shared" / "cloudstack" / "datacenters"


class CsApi:
    """The Deployer's API calls made by the real `cs` client (in a thread: it is synchronous)."""

    def __init__(self, client: cs.CloudStack) -> None:
        self.client = client
        self.calls: list[str] = []

    async def call(self, command: str, **params: Any) -> dict[str, Any]:
        # Marvin's client waits for every asynchronous command's job (createPhysicalNetwork,
        # addTrafficType, updatePhysicalNetwork, ... are asynchronous in CloudStack 4.18).
        self.calls.append(command)
        clean = {k: v for k, v in params.items() if v is not None}
        return await asyncio.to_thread(lambda: getattr(self.client, command)(fetch_result=True, **clean))  # type: ignore[no-any-return]

    async def do(self, command: str, **params: Any) -> dict[str, Any]:
        return await self.call(command, **params)

    async def call_async(self, command: str, **params: Any) -> dict[str, Any]:
        self.calls.append(command)
        clean = {k: v for k, v in params.items() if v is not None}
        return await asyncio.to_thread(lambda: getattr(self.client, command)(fetch_result=True, **clean))  # type: ignore[no-any-return]


def _eventually(fn: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.5)




@pytest.mark.parametrize("cfg", ["advdualzone.cfg", "advanced.cfg", "advancedsg.cfg", "basic.cfg"])
def test_marvin_config_deploys(cfg: str, ray_cluster: Any, tmp_path: Path) -> None:
    if not (CONFIGS / cfg).exists():
        pytest.skip(f"reference config {cfg} is not beside the repository ({CONFIGS})")
    spec = load_config(CONFIGS / cfg)
    server = start_server(ray_cluster.address, tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}")
    try:
        key, secret = admin_keys(server)  # listUsers, registerUserKeys: Marvin's bootstrap
        client = cs.CloudStack(endpoint=server.url, key=key, secret=secret, timeout=60, poll_interval=0.2,
                               job_timeout=120)
        api = CsApi(client)
        asyncio.run(Deployer(api, say=lambda _m: None).deploy(spec))  # type: ignore[arg-type]
        assert api.calls.count("updateConfiguration") == len(spec.get("globalConfig", []))
        zones = client.listZones()["zone"]
        assert sorted(z["name"] for z in zones) == sorted(z["name"] for z in spec["zones"])
        assert {z["allocationstate"] for z in zones} == {"Enabled"}
        n_hosts = sum(len(c.get("hosts", [])) for z in spec["zones"] for p in z.get("pods", [])
                      for c in p.get("clusters", []))
        hosts = client.listHosts(type="Routing")["host"]
        assert len(hosts) == n_hosts and {h["state"] for h in hosts} == {"Up"}
        pools = client.listStoragePools()["storagepool"]
        assert {p["state"] for p in pools} == {"Up"}
        assert len(client.listImageStores()["imagestore"]) == sum(
            len(z.get("secondaryStorages", [])) for z in spec["zones"])
        for z in zones:
            tpls = client.listTemplates(templatefilter="featured", zoneid=z["id"]).get("template", [])
            assert any(t["isready"] for t in tpls), f"no ready built-in template in zone {z['name']}"
        expected = 2 * len(zones)

        def all_running() -> list[dict[str, Any]]:  # every system VM Running, or nothing yet
            running = [v for v in client.listSystemVms().get("systemvm", []) if v["state"] == "Running"]
            return running if len(running) >= expected else []

        svms = _eventually(all_running)
        assert len(svms) == expected, client.listSystemVms()
        assert {v["systemvmtype"] for v in svms} == {"secondarystoragevm", "consoleproxy"}
    finally:
        server.stop()
