"""The supervision engine: OTP restart semantics over asyncio children.

A shard reports a crashed entity with `child_exited`; the supervisor applies
the child's restart type, records the restart against its intensity window and
restarts children per its strategy, or gives up: it stops every child and
escalates to its parent supervisor, to the tree owner's `on_escalate`, or by
raising `Escalated`. Each outcome is a `Decision` kept in `history`.

Children must not call back into their own supervisor from `start`/`stop`:
the per-supervisor lock that serialises exit handling is not re-entrant.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from cloudplane.errors import CloudplaneError
from cloudplane.supervisors.intensity import Verdict, record_restart
from cloudplane.supervisors.spec import ChildSpec, Restart, Strategy, SupFlags

log = logging.getLogger(__name__)

ESCALATION_REASON = "shutdown: reached max restart intensity"

EscalateHook = Callable[["Supervisor", str], Awaitable[None]]
_Crash = tuple[str, Exception]  # (child id, what its start raised)


class Escalated(CloudplaneError):
    """A top-level supervisor gave up and nobody was told to handle it."""

    def __init__(self, supervisor: str, reason: str) -> None:
        super().__init__(f"supervisor {supervisor} escalated: {reason}")
        self.supervisor, self.reason = supervisor, reason


class Child(Protocol):
    async def start(self) -> None: ...

    async def stop(self, reason: str) -> None: ...


class Action(StrEnum):
    RESTARTED = "restarted"
    IGNORED = "ignored"  # not restarted: temporary, transient after a normal exit, stale report
    REMOVED = "removed"  # taken out on request (remove_child)
    ESCALATED = "escalated"


@dataclass(frozen=True, slots=True)
class Decision:
    supervisor: str
    child: str
    action: Action
    restarted: tuple[str, ...]  # ids started again, in start order
    reason: str
    at: float  # supervisor clock

    def __str__(self) -> str:
        return f"{self.supervisor}: {self.child} {self.action}: {self.reason}"


@dataclass(slots=True)
class _Entry:
    spec: ChildSpec
    child: Child
    running: bool = False


class Supervisor:
    """Supervises children in insertion order; is itself a Child, so supervisors nest.

    A new supervisor counts as running (it has nothing to start yet);
    `stop()` stops it and `start()` starts it again with a fresh restart window.
    """

    def __init__(
        self,
        name: str,
        flags: SupFlags,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_escalate: EscalateHook | None = None,
        history_len: int = 100,
    ) -> None:
        if not name:
            raise ValueError("supervisor name must not be empty")
        self.name = name
        self.flags = flags.validate()
        self.history: deque[Decision] = deque(maxlen=history_len)
        self._clock = clock
        self._on_escalate = on_escalate
        self._entries: dict[str, _Entry] = {}  # dict order is start order
        self._restarts: tuple[float, ...] = ()
        self._parent: Supervisor | None = None
        self._running = True
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"Supervisor({self.name!r}, {self.flags.strategy}, children={len(self._entries)})"

    @property
    def parent(self) -> Supervisor | None:
        return self._parent

    @property
    def running(self) -> bool:
        return self._running

    def has_child(self, id: str) -> bool:
        return id in self._entries

    def children(self) -> tuple[str, ...]:
        return tuple(self._entries)

    async def add_child(self, spec: ChildSpec, child: Child, *, start: bool = True) -> None:
        """Append a child; start it now if asked and this supervisor is running.

        A child whose start fails is not added and the error propagates, as
        with OTP's start_child.
        """
        spec.validate()
        if isinstance(child, Supervisor):
            # The child escalates as parent.child_exited(child.name), so the names must agree.
            if child.name != spec.id or not spec.is_supervisor:
                needs = f"ChildSpec(id={child.name!r}, is_supervisor=True)"
                raise ValueError(f"supervisor {child.name} needs {needs}")
            if child is self or child._parent is not None:
                raise ValueError(f"supervisor {child.name} already has a parent")
        async with self._lock:
            if spec.id in self._entries:
                raise ValueError(f"{self.name} already has a child {spec.id!r}")
            entry = _Entry(spec, child)
            if start and self._running:
                await child.start()
                entry.running = True
            self._entries[spec.id] = entry
            if isinstance(child, Supervisor):
                child._parent = self

    async def remove_child(self, id: str, reason: str = "removed") -> Decision:
        async with self._lock:
            entry = self._entries.pop(id, None)
            if entry is None:
                raise KeyError(f"{self.name} has no child {id!r}")
            note = await self._stop_one(entry, reason)
            if isinstance(entry.child, Supervisor):
                entry.child._parent = None
            return self._record(id, Action.REMOVED, (), _join(reason, [note] if note else []))

    async def start(self) -> None:
        """Start every child that is not running, in order (a restart by our parent).

        If one fails, all are stopped again and the error propagates, so the
        parent counts it as a failure of this supervisor.
        """
        async with self._lock:
            self._restarts = ()  # a restarted supervisor is a new incarnation, as in OTP
            self._running = True
            for entry in list(self._entries.values()):
                if entry.running:
                    continue
                try:
                    await entry.child.start()
                except Exception:
                    await self._shutdown(f"shutdown: {self.name} failed to start {entry.spec.id}")
                    raise
                entry.running = True

    async def stop(self, reason: str) -> None:
        async with self._lock:
            await self._shutdown(reason)

    async def child_exited(self, id: str, reason: str, *, abnormal: bool = True) -> Decision:
        """Handle the exit of child `id`; calls are serialised per supervisor.

        Raises Escalated when this supervisor, or an ancestor it escalates to,
        gives up with neither a parent nor an on_escalate hook to tell.
        """
        async with self._lock:
            decision = await self._handle_exit(id, reason, abnormal)
        if decision.action is Action.ESCALATED:
            # Outside our lock: the parent will stop and start us.
            await self._escalate(decision.reason)
        return decision

    # -- engine -------------------------------------------------------------

    async def _handle_exit(self, id: str, reason: str, abnormal: bool) -> Decision:
        entry = self._entries.get(id)
        if entry is None or not entry.running or not self._running:
            # A late report for a child we already stopped, removed or never knew.
            state = "unknown" if entry is None else "not running"
            text = f"stale exit report ({reason}): child is {state} or supervisor is stopped"
            return self._record(id, Action.IGNORED, (), text)
        restart = entry.spec.restart
        how = f"exited {'abnormally' if abnormal else 'normally'} ({reason})"
        if restart is Restart.TEMPORARY or (restart is Restart.TRANSIENT and not abnormal):
            # Stop it so the entity can release what it holds; temporaries are dropped.
            notes = await self._stop_group([id], reason)
            outcome = "dropped" if restart is Restart.TEMPORARY else "kept stopped"
            text = f"{restart} child {how}; not restarted, {outcome}"
            return self._record(id, Action.IGNORED, (), _join(text, notes))
        return await self._restart(id, how)

    async def _restart(self, failed: str, why: str) -> Decision:
        flags = self.flags
        while True:  # each pass records a restart, so the intensity bounds the loop
            self._restarts, verdict = record_restart(self._restarts, self._clock(), flags)
            window = f"{len(self._restarts)} restart(s) within {flags.period_s}s, intensity {flags.intensity}"
            if verdict is Verdict.ESCALATE:
                notes = await self._shutdown(ESCALATION_REASON)
                text = f"{failed} {why}; {window} exceeded; stopped all children"
                return self._record(failed, Action.ESCALATED, (), _join(text, notes))
            group = self._group(failed)
            notes = await self._stop_group(group, f"shutdown: {flags.strategy} restart after {failed} {why}")
            started, crash = await self._start_group(group)
            text = f"{failed} {why}; {flags.strategy} restarted {list(started)} ({window})"
            if crash is None:
                return self._record(failed, Action.RESTARTED, started, _join(text, notes))
            bad, exc = crash
            text = f"{text}; start of {bad} failed ({exc!r})"
            self._record(failed, Action.RESTARTED, started, _join(text, notes))
            # OTP retries a child that fails to start as a new failure of that child.
            failed, why = bad, f"failed to start ({exc!r})"

    def _group(self, failed: str) -> list[str]:
        """The ids a failure of `failed` restarts, in start order."""
        ids = list(self._entries)
        match self.flags.strategy:
            case Strategy.ONE_FOR_ONE:
                return [failed]
            case Strategy.ONE_FOR_ALL:
                return ids
            case Strategy.REST_FOR_ONE:
                return ids[ids.index(failed):]

    async def _stop_group(self, ids: list[str], reason: str) -> list[str]:
        """Stop the running ones in reverse order; drop temporaries (never restarted)."""
        notes: list[str] = []
        for cid in reversed(ids):
            entry = self._entries[cid]
            if entry.running and (note := await self._stop_one(entry, reason)):
                notes.append(note)
            if entry.spec.restart is Restart.TEMPORARY:
                del self._entries[cid]
        return notes

    async def _start_group(self, ids: Iterable[str]) -> tuple[tuple[str, ...], _Crash | None]:
        """Start in order; stop at the first failure and say which child it was."""
        started: list[str] = []
        for cid in ids:
            entry = self._entries.get(cid)
            if entry is None:  # a temporary dropped by the stop pass
                continue
            try:
                await entry.child.start()
            except Exception as exc:  # reported to the caller as a failure of this child
                return tuple(started), (cid, exc)
            entry.running = True
            started.append(cid)
        return tuple(started), None

    async def _stop_one(self, entry: _Entry, reason: str) -> str | None:
        """Stop one child; a failing or hanging stop is noted, not raised.

        The child is being discarded either way, and the restart or shutdown
        in progress must go on; the note ends up in the Decision's reason.
        """
        entry.running = False
        limit = entry.spec.shutdown_s
        timeout = None if entry.spec.is_supervisor or math.isinf(limit) else limit
        try:
            async with asyncio.timeout(timeout):
                await entry.child.stop(reason)
        except TimeoutError:
            note = f"{entry.spec.id} did not stop within {limit}s and was abandoned"
        except Exception as exc:
            note = f"stop of {entry.spec.id} failed ({exc!r})"
        else:
            return None
        log.warning("%s: %s", self.name, note)
        return note

    async def _shutdown(self, reason: str) -> list[str]:
        self._running = False
        return await self._stop_group(list(self._entries), reason)

    async def _escalate(self, reason: str) -> None:
        if self._parent is not None:
            await self._parent.child_exited(self.name, ESCALATION_REASON)
        elif self._on_escalate is not None:
            await self._on_escalate(self, reason)
        else:
            raise Escalated(self.name, reason)

    def _record(self, child: str, action: Action, restarted: tuple[str, ...], reason: str) -> Decision:
        decision = Decision(self.name, child, action, restarted, reason, self._clock())
        self.history.append(decision)
        log.log(logging.WARNING if action is Action.ESCALATED else logging.INFO, "%s", decision)
        return decision


def _join(text: str, notes: list[str]) -> str:
    return "; ".join([text, *notes])
