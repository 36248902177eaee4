"""A simulated host: the agent side of the protocol, with no hypervisor.

It keeps its VMs' power states, answers the agent command set after a
configurable latency, obeys `configureSimulator` mocks, and can be told to
misbehave (crash, lose its management link, lose a VM). The same object runs
inside a shard (in-process mode) or behind a WebSocket client (fleet mode).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cloudplane.agentproto import Answer, Capacity, Cmd, Power
from cloudplane.simulator.mocks import MockBook

log = logging.getLogger(__name__)

GiB = 2**30
# CloudStack's simulator host: 4 cores of 8000 MHz... we follow the issue's
# stated default: 4 cores, 8 GiB memory, 1 TiB local storage.
DEFAULT_CAPACITY = Capacity(cpus=4, cpu_speed_mhz=8000, memory_bytes=8 * GiB, local_storage_bytes=1024 * GiB)

# Seconds an agent command takes when no mock says otherwise (tests set these to 0).
DEFAULT_LATENCY: dict[str, float] = {Cmd.START: 0.0, Cmd.STOP: 0.0, Cmd.MIGRATE: 0.0}


@dataclass
class Faults:
    crashed: bool = False  # no pings, no answers: the host is dead
    partitioned: bool = False  # alive (VMs run) but the management link is cut
    silent_pings: bool = False  # configureSimulator PingCommand result:fail


@dataclass
class Where:
    host: str
    cluster: str | None = None
    pod: str | None = None
    zone: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"host": self.host, "cluster": self.cluster, "pod": self.pod, "zone": self.zone}


# In-process neighbours: CheckOnHostCommand asks whether another host is alive.
REGISTRY: dict[str, SimAgent] = {}


@dataclass
class SimAgent:
    where: Where
    capacity: Capacity = DEFAULT_CAPACITY
    mocks: MockBook | None = None
    latency: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_LATENCY))
    vms: dict[str, str] = field(default_factory=dict)  # name -> Power
    faults: Faults = field(default_factory=Faults)
    commands_seen: int = 0

    def __post_init__(self) -> None:
        REGISTRY[self.where.host] = self

    def power_states(self) -> dict[str, str]:
        return dict(self.vms)

    def forget(self) -> None:
        if REGISTRY.get(self.where.host) is self:
            del REGISTRY[self.where.host]

    # -- fault injection ---------------------------------------------------------
    def crash(self) -> None:
        """The host dies: its VMs die with it."""
        self.faults.crashed = True
        self.vms.clear()

    def partition(self, on: bool = True) -> None:
        self.faults.partitioned = on

    def recover(self) -> None:
        self.faults = Faults()

    def kill_vm(self, name: str) -> bool:
        """A VM dies out of band (the hypervisor lost it)."""
        return self.vms.pop(name, None) is not None

    @property
    def reachable(self) -> bool:
        return not (self.faults.crashed or self.faults.partitioned)

    # -- commands -------------------------------------------------------------------
    async def handle(self, name: str, args: dict[str, Any]) -> Answer:
        """Execute one agent command as a real host would, mocks first."""
        self.commands_seen += 1
        if self.faults.crashed:
            # A dead host never answers; the caller's timeout decides.
            await asyncio.Event().wait()
        if self.mocks is not None:
            mock = await self.mocks.take(name, self.where.as_dict())
            if mock is not None:
                if mock.options.wait_ms:
                    await asyncio.sleep(mock.options.wait_ms / 1000)
                if mock.options.result == "fail":
                    return Answer(False, error=f"{name} failed (simulator mock {mock.id})")
                if mock.options.result == "fault":
                    raise RuntimeError(f"{name} threw (simulator mock {mock.id})")
        delay = self.latency.get(name, 0.0)
        if delay:
            await asyncio.sleep(delay)
        handler = _HANDLERS.get(name)
        if handler is None:
            return Answer(True, {"details": f"{name} accepted by simulator"})
        return handler(self, args)

    async def ping_ok(self) -> bool:
        """Whether a ping from this host reaches the management server."""
        if not self.reachable:
            return False
        if self.mocks is not None:
            mock = await self.mocks.take("PingCommand", self.where.as_dict())
            if mock is not None and mock.options.result in ("fail", "fault"):
                return False
        return True


def _start(a: SimAgent, args: dict[str, Any]) -> Answer:
    vm = args["vm"]["name"]
    a.vms[vm] = Power.ON
    return Answer(True, {"vm": vm, "state": Power.ON})


def _stop(a: SimAgent, args: dict[str, Any]) -> Answer:
    vm = args["vm"]
    existed = a.vms.pop(vm, None)
    return Answer(True, {"vm": vm, "state": Power.OFF, "existed": existed is not None})


def _reboot(a: SimAgent, args: dict[str, Any]) -> Answer:
    vm = args["vm"]
    if vm not in a.vms:
        return Answer(False, error=f"VM {vm} is not running on {a.where.host}")
    return Answer(True, {"vm": vm, "state": Power.ON})


def _prepare_migration(a: SimAgent, args: dict[str, Any]) -> Answer:
    return Answer(True, {"vm": args["vm"]["name"]})


def _migrate(a: SimAgent, args: dict[str, Any]) -> Answer:
    vm, dest = args["vm"], args["dest"]
    if vm not in a.vms:
        return Answer(False, error=f"VM {vm} is not running on {a.where.host}")
    target = REGISTRY.get(dest)
    if target is not None and target.faults.crashed:
        return Answer(False, error=f"destination {dest} is unreachable", retryable=True)
    del a.vms[vm]
    if target is not None:
        target.vms[vm] = Power.ON
    return Answer(True, {"vm": vm, "dest": dest})


def _check_vm(a: SimAgent, args: dict[str, Any]) -> Answer:
    return Answer(True, {"vm": args["vm"], "state": a.vms.get(args["vm"], Power.OFF)})


def _check_on_host(a: SimAgent, args: dict[str, Any]) -> Answer:
    """Is the other host alive? Only an in-process neighbour can tell."""
    other = REGISTRY.get(args["host"])
    if other is None:
        return Answer(True, {"alive": None})
    return Answer(True, {"alive": not other.faults.crashed})


def _check_health(a: SimAgent, args: dict[str, Any]) -> Answer:
    return Answer(True, {"healthy": True})


def _ping_test(a: SimAgent, args: dict[str, Any]) -> Answer:
    """Ping another host's address: a crashed host does not answer, a partitioned one
    (only its management link cut) does. Only an in-process neighbour can tell."""
    other = REGISTRY.get(str(args.get("host")))
    if other is None:
        return Answer(False, error=f"cannot ping {args.get('ip') or args.get('host')}")
    return Answer(True, {"reachable": not other.faults.crashed})


_HANDLERS: dict[str, Callable[[SimAgent, dict[str, Any]], Answer]] = {
    Cmd.START: _start, Cmd.STOP: _stop, Cmd.REBOOT: _reboot, Cmd.PREPARE_MIGRATION: _prepare_migration,
    Cmd.MIGRATE: _migrate, Cmd.CHECK_VM: _check_vm, Cmd.CHECK_ON_HOST: _check_on_host,
    Cmd.CHECK_HEALTH: _check_health, Cmd.PING_TEST: _ping_test,
}
