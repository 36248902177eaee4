"""The control loop every management-side reconciler shares.

Each reconciler is level-triggered, as Kubernetes controllers are: a round
reads what should be from the store, compares it with what is and acts through
the ordinary path (durable jobs on entities). A round that fails is logged and
simply retried on the next one, so nothing here needs to remember an error.
Subclasses say what a round does and how long to wait between rounds.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from typing import Any

from sqlalchemy import select

from cloudplane.actors.runtime import Runtime
from cloudplane.store.configdefs import BY_NAME
from cloudplane.store.tables.config import Configuration

log = logging.getLogger(__name__)
CONF = Configuration.__table__  # type: ignore[attr-defined]


async def global_setting(conn: Any, name: str, default: float | None = None) -> float:
    """A numeric global setting; unset or unreadable falls back to `default`, else to the
    catalogue's default (a typo in a setting must not stop a control loop)."""
    v = (await conn.execute(select(CONF.c.value).where(CONF.c.name == name, CONF.c.scope == "global"))).scalar()
    fallback = default if default is not None else float(BY_NAME[name].default)
    try:
        return float(v) if v not in (None, "") else fallback
    except ValueError:
        log.warning("global setting %s = %r is not a number; using %s", name, v, fallback)
        return fallback


class Reconciler(ABC):
    """start() runs rounds until stop(); `what` names the loop in the log."""

    what = "reconcile"

    def __init__(self, runtime: Runtime, interval_s: float) -> None:
        self.runtime = runtime
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    @property
    def engine(self) -> Any:
        assert self.runtime.engine is not None
        return self.runtime.engine

    async def setting(self, name: str, default: float | None = None) -> float:
        async with self.engine.connect() as conn:
            return await global_setting(conn, name, default)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    @abstractmethod
    async def round(self) -> None:
        """One look at the world, acting on what differs."""

    async def pause(self) -> float:
        """Seconds until the next round."""
        return self.interval_s

    async def _loop(self) -> None:
        while True:
            try:
                await self.round()
            except Exception:  # a bad round is retried next time
                log.exception("%s failed", self.what)
            try:
                pause = await self.pause()
            except Exception:
                log.exception("%s: could not read its interval", self.what)
                pause = self.interval_s
            await asyncio.sleep(pause)
