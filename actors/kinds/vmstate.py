"""CloudStack's VM state machine, as data."""

from __future__ import annotations

from enum import StrEnum

from cloudplane.errors import IllegalTransition


class VmState(StrEnum):
    STOPPED = "Stopped"
    STARTING = "Starting"
    RUNNING = "Running"
    STOPPING = "Stopping"
    MIGRATING = "Migrating"
    DESTROYED = "Destroyed"
    EXPUNGING = "Expunging"
    ERROR = "Error"


V = VmState
EDGES: dict[VmState, frozenset[VmState]] = {
    V.STOPPED: frozenset({V.STARTING, V.DESTROYED, V.EXPUNGING, V.ERROR}),
    V.STARTING: frozenset({V.RUNNING, V.STOPPED, V.ERROR}),
    V.RUNNING: frozenset({V.STOPPING, V.MIGRATING, V.STOPPED, V.ERROR}),
    V.STOPPING: frozenset({V.STOPPED, V.RUNNING, V.ERROR}),
    V.MIGRATING: frozenset({V.RUNNING, V.STOPPED, V.ERROR}),
    V.DESTROYED: frozenset({V.STOPPED, V.EXPUNGING}),
    V.EXPUNGING: frozenset({V.EXPUNGING}),
    V.ERROR: frozenset({V.DESTROYED, V.EXPUNGING, V.STOPPED}),
}
TRANSITIONAL = frozenset({V.STARTING, V.STOPPING, V.MIGRATING, V.EXPUNGING})


def check(src: str, dst: VmState) -> None:
    if dst not in EDGES.get(VmState(src), frozenset()):
        raise IllegalTransition("vm", src, dst)
