"""Investigators and fencers: the pluggable lists HA consults, as CloudStack's.

An investigator looks at a silent host from elsewhere and votes. A fencer makes
sure the host can no longer run anything (power it off); HA acts only after a
fencer succeeded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from cloudplane.agentproto import Cmd
from cloudplane.errors import ApiError
from cloudplane.supervisors.ha import Evidence, Vote

# Ask another host: (host uuid, cluster uuid, command, args) -> answer dict
AskHost = Callable[[str, str | None, str, dict[str, Any]], Awaitable[dict[str, Any]]]


class Investigator(Protocol):
    name: str

    async def investigate(self, suspect: str, neighbours: list[str], cluster: str | None,
                          ask: AskHost) -> Evidence: ...


class NeighbourInvestigator:
    """Neighbours in the cluster check the suspect (CheckOnHostCommand), as KVM's
    investigator does over shared storage heartbeats."""

    name = "neighbours"

    async def investigate(self, suspect: str, neighbours: list[str], cluster: str | None,
                          ask: AskHost) -> Evidence:
        if not neighbours:
            return Evidence(self.name, Vote.UNKNOWN, "no other Up host in the cluster")
        dead = alive = 0
        for n in neighbours:
            try:
                ans = await ask(n, cluster, Cmd.CHECK_ON_HOST, {"host": suspect})
            except ApiError:
                continue  # that neighbour cannot tell
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


DEFAULT_INVESTIGATORS: tuple[Investigator, ...] = (NeighbourInvestigator(),)
DEFAULT_FENCERS: tuple[Fencer, ...] = (SimulatorFencer(),)
