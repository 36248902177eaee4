"""The agent endpoint: `/agent`, a WebSocket per host agent (real or fleet).

The gateway authenticates the agent (its per-host token), attaches it to its
host entity, forwards its pings and answers to the host's shard in batches,
and long-polls every shard's outbox for commands to agents connected here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from sqlalchemy import select

from cloudplane.actors.identity import EntityRef
from cloudplane.agentproto import Power, welcome
from cloudplane.api.agentauth import HelloBatcher
from cloudplane.node import ManagementNode

log = logging.getLogger(__name__)
HELLO_TIMEOUT_S = 10.0
CONFIG_TTL_S = 2.0


class AgentGateway:
    def __init__(self, node: ManagementNode, servers: list[str]) -> None:
        self.node = node
        self.runtime = node.runtime
        self.servers = servers
        self.conns: dict[str, WebSocket] = {}
        self._events: dict[str, list[tuple[str, str | None, dict[str, Any]]]] = {}
        self._wake = asyncio.Event()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._hellos: HelloBatcher | None = None
        self._settings: dict[str, tuple[float, str]] = {}
        self._reading: dict[str, asyncio.Task[str]] = {}

    @property
    def node_id(self) -> str:
        return self.node.node_id

    async def _authenticate(self, hello: dict[str, Any]) -> EntityRef | None:
        if self._hellos is None:
            assert self.node.engine is not None
            self._hellos = HelloBatcher(self.node.engine)
        return await self._hellos.authenticate(hello)

    async def serve(self, ws: WebSocket) -> None:
        await ws.accept()
        ref: EntityRef | None = None
        try:
            hello = await asyncio.wait_for(ws.receive_json(), HELLO_TIMEOUT_S)
            ref = await self._authenticate(hello)
            if ref is None:
                await ws.send_json({"t": "reject", "reason": "unknown host or bad token"})
                await ws.close(code=4401)
                return
            old = self.conns.pop(ref.id, None)
            if old is not None:
                await old.close(code=4409)  # a newer connection of the same host wins
            interval = float(await self._config("ping.interval"))
            await ws.send_json(welcome(interval, self.servers))
            startup = await asyncio.wait_for(ws.receive_json(), HELLO_TIMEOUT_S)
            if startup.get("t") != "startup":
                await ws.close(code=4400)
                return
            self.conns[ref.id] = ws
            self._ensure_poller(self.runtime.shard_for(ref))
            await self.runtime.call(ref, "gateway_attach", {
                "node": self.node_id, "capacity": startup.get("capacity") or {},
                "vms": {k: v for k, v in (startup.get("vms") or {}).items() if v in tuple(Power)}})
            shard = self.runtime.shard_for(ref)
            while True:
                msg = await ws.receive_json()
                if msg.get("t") in ("ping", "ans"):
                    self._events.setdefault(shard, []).append((ref.id, ref.key, msg))
                    self._wake.set()
        except (WebSocketDisconnect, TimeoutError, RuntimeError):
            pass
        except Exception:
            log.exception("agent connection failed")
        finally:
            if ref is not None and self.conns.get(ref.id) is ws:
                del self.conns[ref.id]
                try:
                    await self.runtime.call(ref, "gateway_detach", {"node": self.node_id})
                except Exception:  # the shard may be restarting; its hosts time out into Alert
                    log.warning("could not detach host %s", ref.id)

    async def _config(self, name: str) -> str:
        """A global setting, re-read at most every CONFIG_TTL_S. Thousands of hellos arrive
        together after a restart: one read serves them all, and an expired value is served
        while it is refreshed, so no burst of hellos becomes a burst of queries."""
        at, value = self._settings.get(name, (-1e9, ""))
        if time.monotonic() - at < CONFIG_TTL_S:
            return value
        task = self._reading.get(name)
        if task is None or task.done():
            task = self._reading[name] = asyncio.create_task(self._read_setting(name))
            # A failed background refresh is retried by the next caller; nobody may be awaiting it.
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
        if name in self._settings:
            return value
        return await asyncio.shield(task)

    async def _read_setting(self, name: str) -> str:
        from cloudplane.store.tables.config import Configuration

        t = Configuration.__table__  # type: ignore[attr-defined]
        assert self.node.engine is not None
        async with self.node.engine.connect() as conn:
            v = (await conn.execute(select(t.c.value).where(t.c.name == name, t.c.scope == "global"))).scalar()
        self._settings[name] = (time.monotonic(), str(v or "60"))
        return self._settings[name][1]

    def start(self) -> None:
        self._flusher = asyncio.create_task(self._flush_loop())

    async def stop(self) -> None:
        for t in [*self._tasks.values(), *([self._flusher] if self._flusher else [])]:
            t.cancel()
        for ws in list(self.conns.values()):
            try:
                await ws.close(code=1001)
            except RuntimeError:
                pass

    async def _flush_loop(self) -> None:
        """Pings and answers go to their shards in batches, one Ray call per shard."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(0.01)  # let a burst gather
            batches, self._events = self._events, {}
            for shard, events in batches.items():
                try:
                    await self.runtime.handle(shard).agent_events.remote(events)
                except Exception:
                    log.warning("agent events for %s lost (shard restarting?)", shard)

    def _ensure_poller(self, shard: str) -> None:
        if shard not in self._tasks:
            self._tasks[shard] = asyncio.create_task(self._poll_outbox(shard))

    async def _poll_outbox(self, shard: str) -> None:
        while True:
            try:
                items = await self.runtime.handle(shard).poll_outbox.remote(self.node_id, 2.0)
            except Exception:
                await asyncio.sleep(0.5)
                continue
            for host, msg in items:
                ws = self.conns.get(host)
                if ws is None:
                    self._events.setdefault(shard, []).append((host, None, {
                        "t": "ans", "id": msg["id"], "ok": False, "error": "agent not connected", "retryable": True}))
                    self._wake.set()
                    continue
                try:
                    await ws.send_json(msg)
                except Exception:
                    log.warning("could not send %s to host %s", msg.get("name"), host)


def mount(app: FastAPI, gateway: AgentGateway) -> None:
    async def endpoint(ws: WebSocket) -> None:
        await gateway.serve(ws)

    app.add_api_websocket_route("/agent", endpoint)
