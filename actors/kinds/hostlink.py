"""How a host entity reaches its agent.

`InProcessLink` wraps a simulated agent living in the same shard.
`GatewayLink` reaches a real (or fleet) agent whose WebSocket ends on a
management node: commands wait in this shard's `Outbox` until that node's
gateway long-polls them, and answers come back through `Outbox.answer`.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any, Protocol

from cloudplane.agentproto import Answer, command, parse_answer
from cloudplane.simulator.agent import SimAgent


class AgentLink(Protocol):
    @property
    def reachable(self) -> bool: ...

    async def send(self, name: str, args: dict[str, Any]) -> Answer: ...

    def close(self) -> None: ...


class InProcessLink:
    def __init__(self, sim: SimAgent) -> None:
        self.sim = sim

    @property
    def reachable(self) -> bool:
        return self.sim.reachable

    async def send(self, name: str, args: dict[str, Any]) -> Answer:
        return await self.sim.handle(name, args)

    def close(self) -> None:
        self.sim.forget()


class Outbox:
    """Commands for agents connected to other processes, by management node."""

    def __init__(self) -> None:
        self._queues: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._pending: dict[int, tuple[str, asyncio.Future[Answer]]] = {}
        self._ids = itertools.count(1)

    def send(self, node: str, host: str, name: str, args: dict[str, Any]) -> asyncio.Future[Answer]:
        cid = next(self._ids)
        fut: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._pending[cid] = (node, fut)
        self._queues.setdefault(node, []).append((host, command(cid, name, args)))
        self._wake.setdefault(node, asyncio.Event()).set()
        fut.add_done_callback(lambda _f: self._pending.pop(cid, None))
        return fut

    async def poll(self, node: str, timeout: float) -> list[tuple[str, dict[str, Any]]]:
        ev = self._wake.setdefault(node, asyncio.Event())
        if not self._queues.get(node):
            ev.clear()
            try:
                await asyncio.wait_for(ev.wait(), timeout)
            except TimeoutError:
                return []
        items, self._queues[node] = self._queues.get(node, []), []
        return items

    def answer(self, msg: dict[str, Any]) -> None:
        entry = self._pending.get(int(msg.get("id", -1)))
        if entry is not None and not entry[1].done():
            entry[1].set_result(parse_answer(msg))

    def fail(self, node: str, reason: str) -> None:
        """A node's gateway is gone: the commands it holds will never be answered."""
        for _cid, (n, fut) in list(self._pending.items()):
            if n == node and not fut.done():
                fut.set_result(Answer(False, error=reason, retryable=True))


class GatewayLink:
    def __init__(self, outbox: Outbox, node: str, host: str) -> None:
        self.outbox, self.node, self.host = outbox, node, host
        self.open = True

    @property
    def reachable(self) -> bool:
        return self.open

    async def send(self, name: str, args: dict[str, Any]) -> Answer:
        return await self.outbox.send(self.node, self.host, name, args)

    def close(self) -> None:
        self.open = False
