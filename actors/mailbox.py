"""A mailbox runs one operation of its entity at a time, in arrival order.

It holds no task while idle: the first message starts a drain task that ends
when the queue is empty, so 100k idle entities cost only their objects.

Joining: an operation submitted with a `key` equal to one already queued or
running gets that operation's future instead of a second run (two identical
`start`s → one start, both callers get its result).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

Thunk = Callable[[], Awaitable[Any]]


class Mailbox:
    __slots__ = ("_queue", "_pending", "_task", "running_key")

    def __init__(self) -> None:
        self._queue: deque[tuple[Hashable | None, Thunk, asyncio.Future[Any]]] | None = None
        self._pending: dict[Hashable, asyncio.Future[Any]] | None = None
        self._task: asyncio.Task[None] | None = None
        self.running_key: Hashable | None = None

    def submit(self, key: Hashable | None, thunk: Thunk) -> asyncio.Future[Any]:
        if key is not None and self._pending is not None:
            joined = self._pending.get(key)
            if joined is not None:
                return joined
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self._queue is None:
            self._queue = deque()
        self._queue.append((key, thunk, fut))
        if key is not None:
            if self._pending is None:
                self._pending = {}
            self._pending[key] = fut
        if self._task is None:
            self._task = asyncio.create_task(self._drain())
        return fut

    @property
    def depth(self) -> int:
        """Queued plus running."""
        return (len(self._queue) if self._queue else 0) + (1 if self._task is not None else 0)

    @property
    def idle(self) -> bool:
        return self._task is None

    async def _drain(self) -> None:
        q = self._queue
        assert q is not None
        try:
            while q:
                key, thunk, fut = q.popleft()
                self.running_key = key
                try:
                    result = await thunk()
                except asyncio.CancelledError:
                    if not fut.done():
                        fut.cancel()
                    raise
                except BaseException as e:  # delivered to the caller, who decides
                    if not fut.done():
                        fut.set_exception(e)
                else:
                    if not fut.done():
                        fut.set_result(result)
                finally:
                    self.running_key = None
                    if key is not None and self._pending is not None:
                        if self._pending.get(key) is fut:
                            del self._pending[key]
        finally:
            self._task = None
            if not q:
                # Drop the containers so idle entities stay small.
                self._queue = None
                if not self._pending:
                    self._pending = None
