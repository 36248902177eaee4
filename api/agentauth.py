"""Agent authentication in batches: the hellos that arrive together (thousands
after a management-node restart) are checked with one indexed query per
burst rather than one connection each, which would drain the pool and time
agents out into a reconnect storm that never settles."""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cloudplane.actors.identity import EntityRef
from cloudplane.actors.kinds.host import host_ref, token_hash
from cloudplane.store.tables.infra import Cluster, Host
from cloudplane.store.tables.tags import ResourceDetail

H, C, D = Host.__table__, Cluster.__table__, ResourceDetail.__table__  # type: ignore[attr-defined]
BURST_S = 0.01  # how long a first hello waits for others to join its query
CHUNK = 500  # hosts per query (well inside every backend's bound-parameter limit)

Waiter = tuple[str, str, "asyncio.Future[EntityRef | None]"]


class HelloBatcher:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._pending: list[Waiter] = []
        self._task: asyncio.Task[None] | None = None

    async def authenticate(self, hello: dict[str, Any]) -> EntityRef | None:
        """The host a hello names, if its token is that host's; None otherwise."""
        if hello.get("t") != "hello" or not hello.get("host") or not hello.get("token"):
            return None
        fut: asyncio.Future[EntityRef | None] = asyncio.get_running_loop().create_future()
        self._pending.append((str(hello["host"]), str(hello["token"]), fut))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        await asyncio.sleep(BURST_S)
        while self._pending:
            batch, self._pending = self._pending[:CHUNK], self._pending[CHUNK:]
            try:
                found = await self._lookup(sorted({h for h, _, _ in batch}))
            except Exception as e:  # each waiting agent sees the failure and reconnects later
                for _, _, fut in batch:
                    if not fut.done():
                        fut.set_exception(e)
                continue
            for host, token, fut in batch:
                row = found.get(host)
                ok = row is not None and hmac.compare_digest(row[1], token_hash(token))
                if not fut.done():
                    fut.set_result(host_ref(host, row[0]) if ok and row is not None else None)

    async def _lookup(self, hosts: list[str]) -> dict[str, tuple[str | None, str]]:
        """host uuid -> (cluster uuid, token hash), for live hosts that have a token."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(
                select(H.c.uuid, C.c.uuid.label("c"), D.c.value).select_from(
                    H.outerjoin(C, H.c.cluster_id == C.c.id).join(
                        D, (D.c.resource_type == "Host") & (D.c.resource_id == H.c.id)
                        & (D.c.name == "agent.token.sha256")))
                .where(H.c.uuid.in_(hosts), H.c.removed.is_(None)))).all()
        return {r.uuid: (r.c, r.value) for r in rows}
