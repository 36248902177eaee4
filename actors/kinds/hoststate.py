"""The host's two CloudStack state machines, as data.

Status is the connection (Creating, Connecting, Up, Disconnected, Alert, Down,
Removed, Error); resource state is the operator's intent (Enabled, Disabled,
PrepareForMaintenance, ErrorInPrepareForMaintenance, Maintenance,
ErrorInMaintenance).
"""

from __future__ import annotations

from enum import StrEnum

from cloudplane.errors import IllegalTransition


class Status(StrEnum):
    CREATING = "Creating"
    CONNECTING = "Connecting"
    UP = "Up"
    DISCONNECTED = "Disconnected"
    ALERT = "Alert"
    DOWN = "Down"
    REMOVED = "Removed"
    ERROR = "Error"


class Resource(StrEnum):
    ENABLED = "Enabled"
    DISABLED = "Disabled"
    PREPARE_MAINTENANCE = "PrepareForMaintenance"
    ERROR_PREPARE_MAINTENANCE = "ErrorInPrepareForMaintenance"
    MAINTENANCE = "Maintenance"
    ERROR_MAINTENANCE = "ErrorInMaintenance"


S = Status
STATUS_EDGES: dict[Status, frozenset[Status]] = {
    S.CREATING: frozenset({S.CONNECTING, S.ERROR, S.REMOVED}),
    S.CONNECTING: frozenset({S.UP, S.DISCONNECTED, S.ALERT, S.ERROR, S.REMOVED}),
    S.UP: frozenset({S.CONNECTING, S.DISCONNECTED, S.ALERT, S.DOWN, S.REMOVED}),
    S.DISCONNECTED: frozenset({S.CONNECTING, S.UP, S.ALERT, S.DOWN, S.REMOVED}),
    S.ALERT: frozenset({S.CONNECTING, S.UP, S.DOWN, S.DISCONNECTED, S.REMOVED}),
    S.DOWN: frozenset({S.CONNECTING, S.UP, S.REMOVED}),
    S.ERROR: frozenset({S.CONNECTING, S.REMOVED}),
    S.REMOVED: frozenset(),
}

R = Resource
RESOURCE_EDGES: dict[Resource, frozenset[Resource]] = {
    R.ENABLED: frozenset({R.DISABLED, R.PREPARE_MAINTENANCE, R.MAINTENANCE}),
    R.DISABLED: frozenset({R.ENABLED, R.PREPARE_MAINTENANCE, R.MAINTENANCE}),
    R.PREPARE_MAINTENANCE: frozenset({R.MAINTENANCE, R.ERROR_PREPARE_MAINTENANCE, R.ENABLED}),
    R.ERROR_PREPARE_MAINTENANCE: frozenset({R.PREPARE_MAINTENANCE, R.ENABLED, R.MAINTENANCE}),
    R.MAINTENANCE: frozenset({R.ENABLED, R.ERROR_MAINTENANCE}),
    R.ERROR_MAINTENANCE: frozenset({R.ENABLED, R.MAINTENANCE}),
}


def check_status(src: str, dst: Status) -> None:
    if src != dst and dst not in STATUS_EDGES.get(Status(src), frozenset()):
        raise IllegalTransition("host status", src, dst)


def check_resource(src: str, dst: Resource) -> None:
    if src != dst and dst not in RESOURCE_EDGES.get(Resource(src), frozenset()):
        raise IllegalTransition("host resource state", src, dst)
