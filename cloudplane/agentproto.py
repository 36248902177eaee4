"""The agent protocol: what a host (real agent or simulator) and the
management server say to each other. JSON objects, one per WebSocket message.

    agent → server   {"t": "hello", "host": uuid, "token": str, "agent": "kvm"|"sim", "version": 1}
    server → agent   {"t": "welcome", "ping_interval": s, "servers": [url, ...]} | {"t": "reject", "reason": str}
    agent → server   {"t": "startup", "capacity": {...}, "vms": {name: power state}}
    agent → server   {"t": "ping", "vms": {name: power state}}
    server → agent   {"t": "cmd", "id": n, "name": "StartCommand", "args": {...}}
    agent → server   {"t": "ans", "id": n, "ok": bool, "result": {...} | None, "error": str | None}

The VM commands' arguments, as both the simulator and the real agent read them:

    StartCommand                {"vm": {...}}   the whole VM (actors/kinds/vmspec.py documents it)
    PrepareForMigrationCommand  {"vm": {...}}   the same object, sent to the destination
    MigrateCommand              {"vm": name, "dest": host uuid, "dest_ip": the destination's address}
    StopCommand                 {"vm": name, "forced": bool}   forced: power off at once
    RebootCommand, CheckVirtualMachineCommand  {"vm": name}

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


DEFAULT_TIMEOUT_S = 30.0
# A real host defines the domain and starts QEMU (seconds; more under TCG emulation on a
# busy host), shuts a guest down gracefully before powering it off, and copies a guest's
# memory over the network: those commands get longer than the default.
TIMEOUTS_S: dict[str, float] = {Cmd.START: 180.0, Cmd.STOP: 120.0, Cmd.REBOOT: 120.0,
                                Cmd.PREPARE_MIGRATION: 60.0, Cmd.MIGRATE: 900.0}


def command_timeout(name: str) -> float:
    """Seconds the management server waits for the answer to command `name`."""
    return TIMEOUTS_S.get(name, DEFAULT_TIMEOUT_S)


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
