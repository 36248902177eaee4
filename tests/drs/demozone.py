"""A data centre for the live-server tests of DRS and host HA: cloudplane's
demo config (one zone, a pod, two simulated clusters of two hosts) deployed
through the API by `Deployer`, under a zone name and storage URLs of its own so that tests
sharing the session's server never meet each other's resources."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import cs

from cloudplane.apiclient import ApiClient
from cloudplane.datacenter import Deployer, load_config

DEMO = Path(__file__).resolve().parents[2] / "cloudplane" / "demo.cfg"


class Waiting:
    """Marvin's way: every asynchronous command's job is waited for, its result returned."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api

    async def call(self, command: str, **params: Any) -> dict[str, Any]:
        body = await self.api.call(command, **{k: v for k, v in params.items() if v is not None})
        if "jobid" in body and not set(body) - {"jobid", "id"}:
            return await self.api.wait_job(body["jobid"])
        return body

    call_async = call


def client(server: Any) -> cs.CloudStack:
    return cs.CloudStack(endpoint=server.url, key=server.admin_key, secret=server.admin_secret, timeout=60,
                         fetch_result=True, poll_interval=0.1, job_timeout=90)


def deploy_demo(server: Any) -> dict[str, Any]:
    """The zone's id and, per cluster (in config order), its id and its hosts' ids."""
    spec = load_config(DEMO)
    name = f"demo-{uuid.uuid4().hex[:8]}"
    # Storage URLs name a pool's identity: make them this zone's own too.
    text = json.dumps(spec["zones"][0]).replace("/export/", f"/export/{name}/")
    zone_cfg = {**json.loads(text), "name": name}

    async def run() -> None:
        api = Waiting(ApiClient(server.url, server.admin_key, server.admin_secret))
        try:
            await Deployer(api, say=lambda _m: None).zone(zone_cfg)  # type: ignore[arg-type]
        finally:
            await api.api.close()

    asyncio.run(run())
    c = client(server)
    zone = c.listZones(name=zone_cfg["name"])["zone"][0]
    clusters = sorted(c.listClusters(zoneid=zone["id"])["cluster"], key=lambda x: x["name"])
    return {"zoneid": zone["id"], "clusters": [
        {"id": cl["id"], "hosts": [h["id"] for h in sorted(c.listHosts(clusterid=cl["id"], type="Routing")["host"],
                                                            key=lambda h: h["name"])]}
        for cl in clusters]}
