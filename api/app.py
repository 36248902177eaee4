"""The FastAPI application of a management node.

Routes: `/health` (liveness and shard state), `/metrics` (Prometheus). The
CloudStack query API (api/cloudstack.py) is answered in front of them.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, Response

from cloudplane.api import metrics
from cloudplane.api.cloudstack import CloudStackApi
from cloudplane.node import ManagementNode


class NodeApp(FastAPI):
    """FastAPI, with the query API answered before the framework's own middleware:
    its error, telemetry and body-limit layers wrapped every request and its `send`,
    ~5% of the server's CPU in a deploy benchmark, for a path that renders its
    failures and limits its body itself."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if CloudStackApi.serves(scope):
            await self.state.cloudstack(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(node: ManagementNode) -> FastAPI:
    app = NodeApp(title="cloudplane", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.node = node
    from cloudplane.api.commands.base import JOB_VIEWS, build_registry
    from cloudplane.api.service import ApiService

    app.state.api = ApiService(node, build_registry(), JOB_VIEWS)
    app.state.cloudstack = CloudStackApi(app.state.api)

    from cloudplane.api.agent import AgentGateway
    from cloudplane.api.agent import mount as mount_agents

    s = node.settings
    # Agents are told where to reconnect: a wildcard listen address is no address for them.
    import socket

    host = socket.getfqdn() if s.host in ("0.0.0.0", "::", "") else s.host
    app.state.gateway = AgentGateway(node, [f"ws://{host}:{s.port}/agent"])
    mount_agents(app, app.state.gateway)

    @app.get("/health")
    async def health() -> Response:
        wd = node.watchdog
        shards: dict[str, Any] = {
            name: {"up": h.reachable, "restarts": h.restarts, "crash_looping": h.crash_looping}
            for name, h in wd.health.items()
        }
        ok = wd.healthy and bool(shards)
        body = {"status": "ok" if ok else "degraded", "uptime_s": round(time.time() - node.started_at, 1),
                "placement": node.settings.placement, "shards": shards}
        return Response(orjson.dumps(body), status_code=200 if ok else 503, media_type="application/json")

    @app.get("/metrics")
    async def prometheus() -> PlainTextResponse:
        infos = await node.runtime.shard_infos()
        text = metrics.render(infos, node.watchdog.health, await node.jobs_by_state(),
                              node.runtime.local_stats())
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    return app
