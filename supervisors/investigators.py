"""Investigators and fencers: the pluggable lists HA consults, as CloudStack's.

An investigator looks at a silent host and votes. Each asks a different
witness, as CloudStack's do, so that CloudStack's simulator HA recipe (mocks
failing CheckHealthCommand, PingCommand and CheckVirtualMachineCommand on the
host, PingTestCommand in the pod, CheckOnHostCommand on the neighbours) is
what it takes to confirm a host dead:

- `self`: the suspect itself, over whatever link it still has
  (CheckHealthCommand, then CheckVirtualMachineCommand for one of its VMs);
- `ping`: hosts of its pod ping its address (PingTestCommand);
- `neighbours`: hosts of its cluster check it (CheckOnHostCommand), as KVM's
  investigator does over shared storage heartbeats.

A fencer makes sure the host can no longer run anything (power it off); HA acts
only after a fencer succeeded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from cloudplane.agentproto import Cmd, Power
from cloudplane.errors import ApiError
from cloudplane.supervisors.ha import Evidence, Vote

# Witnesses asked per investigation: enough to tell, and a bounded cost when a storm puts
# hundreds of hosts of a big cluster in Alert at once.
PING_PEERS = 3  # pod hosts asked to ping the suspect
NEIGHBOURS = 5  # cluster hosts asked to check on it


@dataclass(frozen=True)
class Peer:
    uuid: str
    cluster: str | None


@dataclass(frozen=True)
class Suspect:
    """A silent host and the witnesses that may tell whether it is alive."""

    host: Peer
    ip: str | None
    vms: tuple[str, ...]  # instance names the store puts on it
    neighbours: tuple[Peer, ...]  # other Up hosts of its cluster
    pod_peers: tuple[Peer, ...]  # other Up hosts of its pod


# Send an agent command to a host (the suspect included) -> {"ok", "result", "error"}; raises ApiError
# when the host cannot be reached at all.
AskHost = Callable[[Peer, str, dict[str, Any]], Awaitable[dict[str, Any]]]


class Investigator(Protocol):
    name: str

    async def investigate(self, suspect: Suspect, ask: AskHost) -> Evidence: ...


async def _try(ask: AskHost, peer: Peer, name: str, args: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return await ask(peer, name, args)
    except ApiError:
        return None  # that witness cannot tell


class SelfInvestigator:
    """The suspect's own agent may still answer though its pings are lost
    (CloudStack's AgentManager asks it CheckHealthCommand first)."""

    name = "self"

    async def investigate(self, suspect: Suspect, ask: AskHost) -> Evidence:
        ans = await _try(ask, suspect.host, Cmd.CHECK_HEALTH, {})
        if ans is not None and ans.get("ok") and ans.get("result", {}).get("healthy", True):
            return Evidence(self.name, Vote.ALIVE, "it answers CheckHealthCommand")
        if suspect.vms:
            vm = suspect.vms[0]
            ans = await _try(ask, suspect.host, Cmd.CHECK_VM, {"vm": vm})
            if ans is not None and ans.get("ok") and ans.get("result", {}).get("state") == Power.ON:
                return Evidence(self.name, Vote.ALIVE, f"it reports {vm} running")
        return Evidence(self.name, Vote.UNKNOWN, "no answer from its agent")


class PingInvestigator:
    """Hosts of the pod ping the suspect's address (PingTestCommand): a host
    that answers pings is alive, even if the management link is cut."""

    name = "ping"

    async def investigate(self, suspect: Suspect, ask: AskHost) -> Evidence:
        peers = suspect.pod_peers[:PING_PEERS]
        if not peers:
            return Evidence(self.name, Vote.UNKNOWN, "no other Up host in the pod")
        args = {"ip": suspect.ip, "host": suspect.host.uuid}
        answers = await asyncio.gather(*(_try(ask, p, Cmd.PING_TEST, args) for p in peers))
        if any(a and a.get("ok") and a.get("result", {}).get("reachable") for a in answers):
            return Evidence(self.name, Vote.ALIVE, "a pod host can ping it")
        return Evidence(self.name, Vote.UNKNOWN, f"{len(peers)} pod host(s) could not ping it")


class NeighbourInvestigator:
    """Neighbours in the cluster check the suspect (CheckOnHostCommand)."""

    name = "neighbours"

    async def investigate(self, suspect: Suspect, ask: AskHost) -> Evidence:
        if not suspect.neighbours:
            return Evidence(self.name, Vote.UNKNOWN, "no other Up host in the cluster")
        answers = await asyncio.gather(*(_try(ask, n, Cmd.CHECK_ON_HOST, {"host": suspect.host.uuid})
                                         for n in suspect.neighbours[:NEIGHBOURS]))
        dead = alive = 0
        for ans in answers:
            if ans is None:
                continue
            if not ans.get("ok"):
                dead += 1  # the neighbour tried and could not reach the suspect
            elif ans.get("result", {}).get("alive") is True:
                alive += 1
            elif ans.get("result", {}).get("alive") is False:
                dead += 1
        if alive:
            return Evidence(self.name, Vote.ALIVE, f"{alive} neighbour(s) see it alive")
        if dead:
            return Evidence(self.name, Vote.DEAD, f"{dead} neighbour(s) cannot see it")
        return Evidence(self.name, Vote.UNKNOWN, "no neighbour could tell")


class Fencer(Protocol):
    name: str

    async def fence(self, suspect: str, cluster: str | None, hypervisor: str, ask_self: Any) -> bool: ...


class SimulatorFencer:
    """A simulated host is powered off through the simulator (its VMs die with it)."""

    name = "simulator"

    async def fence(self, suspect: str, cluster: str | None, hypervisor: str, ask_self: Any) -> bool:
        if hypervisor != "Simulator":
            return False
        return bool(await ask_self())


DEFAULT_INVESTIGATORS: tuple[Investigator, ...] = (SelfInvestigator(), PingInvestigator(), NeighbourInvestigator())
DEFAULT_FENCERS: tuple[Fencer, ...] = (SimulatorFencer(),)
