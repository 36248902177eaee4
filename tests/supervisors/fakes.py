"""Fake clock and recording children for supervision tests (no Ray, no sleeps)."""

from __future__ import annotations

import asyncio


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


Journal = list[tuple[str, str]]  # ("start" | "stop", child id), in call order


class FakeChild:
    """Records start/stop into a shared journal; can fail or hang on demand."""

    def __init__(self, id: str, journal: Journal, *, fail_starts: int = 0) -> None:
        self.id = id
        self.journal = journal
        self.fail_starts = fail_starts  # how many of the next start() calls raise
        self.fail_stop = False
        self.stop_gate: asyncio.Event | None = None  # stop() waits on it when set
        self.stop_entered = asyncio.Event()
        self.stop_reasons: list[str] = []

    async def start(self) -> None:
        self.journal.append(("start", self.id))
        if self.fail_starts > 0:
            self.fail_starts -= 1
            raise RuntimeError(f"{self.id} cannot start")

    async def stop(self, reason: str) -> None:
        self.journal.append(("stop", self.id))
        self.stop_reasons.append(reason)
        self.stop_entered.set()
        if self.stop_gate is not None:
            await self.stop_gate.wait()
        if self.fail_stop:
            raise RuntimeError(f"{self.id} cannot stop")


def starts(*ids: str) -> Journal:
    return [("start", i) for i in ids]


def stops(*ids: str) -> Journal:
    return [("stop", i) for i in ids]
