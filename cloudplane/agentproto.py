"""The agent protocol: what a host (real agent or simulator) and the
management server say to each other. JSON objects, one per WebSocket message.

    agent → server   {"t": "hello", "host": uuid, "token": str, "agent": "kvm"|"sim", "version": 1}
    server → agent   {"t": "welcome", "ping_interval": s, "servers": [url, ...]} | {"t": "reject", "reason": str}
    agent → server   {"t": "startup", "capacity": {...}, "vms": {name: power state}}
    agent → server   {"t": "ping", "vms": {name: power state}}
    server → agent   {"t": "cmd", "id": n, "name": "StartCommand", "args": {...}}
    agent → server   {"t": "ans", "id": n, "ok": bool, "result": {...} | None, "error": str | None}

Command names are CloudStack's agent command names (StartCommand, StopCommand,
MigrateCommand, CheckVirtualMachineCommand, ...), so the simulator's
`configureSimulator` mocks match them as CloudStack's simulator does. Power
states are PowerOn / PowerOff / PowerUnknown, as CloudStack's agents report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

PROTOCOL_VERSION = 1


class Power(StrEnum):
    ON = "PowerOn"
    OFF = "PowerOff"
    UNKNOWN = "PowerUnknown"


class Cmd(StrEnum):
    """The agent command set (CloudStack's names)."""

    START = "StartCommand"
    STOP = "StopCommand"
    REBOOT = "RebootCommand"
    PREPARE_MIGRATION = "PrepareForMigrationCommand"
    MIGRATE = "MigrateCommand"
    CHECK_VM = "CheckVirtualMachineCommand"
    CHECK_HEALTH = "CheckHealthCommand"
    CHECK_ON_HOST = "CheckOnHostCommand"
    PING_TEST = "PingTestCommand"
    READY = "ReadyCommand"
    MAINTAIN = "MaintainCommand"
    CREATE_VOLUME = "CreateCommand"
    DESTROY_VOLUME = "DestroyCommand"
    COPY = "CopyCommand"
    ATTACH = "AttachCommand"
    DETACH = "DettachCommand"
    SETUP_NETWORK = "SetupGuestNetworkCommand"
    MODIFY_STORAGE_POOL = "ModifyStoragePoolCommand"


@dataclass(frozen=True)
class Capacity:
    cpus: int
    cpu_speed_mhz: int
    memory_bytes: int
    local_storage_bytes: int = 0
    cpu_sockets: int = 1
    hypervisor: str = "Simulator"
    hypervisor_version: str = "4.18.0.0"
    agent_version: str = "cloudplane-1"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Capacity:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass
class Answer:
    ok: bool
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    retryable: bool = False


def hello(host: str, token: str, agent: str) -> dict[str, Any]:
    return {"t": "hello", "host": host, "token": token, "agent": agent, "version": PROTOCOL_VERSION}


def welcome(ping_interval: float, servers: list[str]) -> dict[str, Any]:
    return {"t": "welcome", "ping_interval": ping_interval, "servers": servers}


def startup(capacity: Capacity, vms: dict[str, str]) -> dict[str, Any]:
    return {"t": "startup", "capacity": capacity.to_dict(), "vms": vms}


def ping(vms: dict[str, str]) -> dict[str, Any]:
    return {"t": "ping", "vms": vms}


def command(cid: int, name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"t": "cmd", "id": cid, "name": name, "args": args}


def answer(cid: int, ans: Answer) -> dict[str, Any]:
    return {"t": "ans", "id": cid, "ok": ans.ok, "result": ans.result, "error": ans.error,
            "retryable": ans.retryable}


def parse_answer(msg: dict[str, Any]) -> Answer:
    return Answer(bool(msg.get("ok")), msg.get("result") or {}, msg.get("error"), bool(msg.get("retryable")))
