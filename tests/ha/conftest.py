"""A management server of the HA tests' own: they shorten ping.interval, crash
hosts and set `ha.tag`, which must not leak into the session's shared server.
Its zone is cloudplane's demo data centre with three hosts per cluster (a
crashed host still leaves two neighbours to investigate it). One server for
the session: each test crashes hosts of its own cluster."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cs
import pytest

from cloudplane.apiclient import ApiClient
from cloudplane.datacenter import Deployer, load_config
from tests.drs.demozone import DEMO, Waiting
from tests.live import LiveServer, admin_keys, start_server

PING_INTERVAL, PING_TIMEOUT = 1, 2  # a silent host is in Alert after 2 s


@dataclass
class HaCloud:
    server: LiveServer
    api: cs.CloudStack
    zone: str
    pod: str
    template: str
    ha_offering: str  # offerha=true
    plain_offering: str
    clusters: list[dict[str, Any]]  # id, hosts (ids, in name order)


def until(fn: Any, timeout: float = 60.0, every: float = 0.2) -> Any:
    """The first truthy value of fn() within timeout, else the last one."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


def _zone_config() -> dict[str, Any]:
    zone = copy.deepcopy(load_config(DEMO)["zones"][0])
    for i, cluster in enumerate(zone["pods"][0]["clusters"], 1):
        cluster["hosts"] = [{"url": f"http://sim/c{i}/h{j}", "username": "root", "password": "password"}
                            for j in (1, 2, 3)]
    zone["name"] = "ha-zone"
    return zone


@pytest.fixture(scope="session")
def ha_cloud(ray_cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HaCloud]:
    d = tmp_path_factory.mktemp("ha-live")
    server = start_server(ray_cluster.address, d, f"sqlite+aiosqlite:///{d / 'cloud.db'}")
    try:
        server.admin_key, server.admin_secret = admin_keys(server)
        api = cs.CloudStack(endpoint=server.url, key=server.admin_key, secret=server.admin_secret, timeout=60,
                            fetch_result=True, poll_interval=0.1, job_timeout=90)
        api.updateConfiguration(name="ping.interval", value=str(PING_INTERVAL))
        api.updateConfiguration(name="ping.timeout", value=str(PING_TIMEOUT))
        cfg = _zone_config()

        async def deploy() -> None:
            waiting = Waiting(ApiClient(server.url, server.admin_key, server.admin_secret))
            try:
                await Deployer(waiting, say=lambda _m: None).zone(cfg)  # type: ignore[arg-type]
            finally:
                await waiting.api.close()

        asyncio.run(deploy())
        zone = api.listZones(name=cfg["name"])["zone"][0]
        pod = api.listPods(zoneid=zone["id"])["pod"][0]["id"]
        tpl = until(lambda: next((t for t in api.listTemplates(templatefilter="featured", zoneid=zone["id"]).get(
            "template", []) if t.get("isready") and t.get("hypervisor") == "Simulator"), None))
        assert tpl, "no ready Simulator template"
        ha = api.createServiceOffering(name="ha-small", displaytext="HA small", cpunumber=1, cpuspeed=100,
                                       memory=256, offerha=True)["serviceoffering"]["id"]
        plain = api.createServiceOffering(name="plain-small", displaytext="small", cpunumber=1, cpuspeed=100,
                                          memory=256)["serviceoffering"]["id"]
        clusters = [{"id": c["id"], "hosts": [h["id"] for h in sorted(
            api.listHosts(clusterid=c["id"], type="Routing")["host"], key=lambda h: h["name"])]}
            for c in sorted(api.listClusters(zoneid=zone["id"])["cluster"], key=lambda c: c["name"])]
        for c in clusters:
            assert until(lambda c=c: all(h["state"] == "Up" for h in api.listHosts(clusterid=c["id"])["host"]))
        yield HaCloud(server, api, zone["id"], pod, tpl["id"], ha, plain, clusters)
    finally:
        server.stop()
