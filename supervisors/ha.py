"""HA: what happens to a host that stopped answering, and to its VMs.

Decide in pure functions, act through jobs:

1. `verdict(votes)`: investigators (pluggable, as CloudStack's) each say
   whether the silent host is alive, dead or unknown. Dead only when at least
   one investigator could tell and none saw it alive; otherwise the host stays
   in Alert and nothing is restarted (a partition must never double-run a VM).
2. A dead host is fenced (pluggable fencers). Only a fenced host goes Down.
3. `decide(vms)`: for a Down host, HA-enabled VMs (system VMs first) are
   restarted elsewhere, the others are marked Stopped. The VM entities carry
   it out; failed restarts are retried with back-off up to `max.retries`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Vote(StrEnum):
    ALIVE = "alive"
    DEAD = "dead"
    UNKNOWN = "unknown"


class Verdict(StrEnum):
    DOWN = "Down"  # confirmed dead: fence, then HA
    ALERT = "Alert"  # unsure: wait, restart nothing


@dataclass(frozen=True)
class Evidence:
    investigator: str
    vote: Vote
    detail: str = ""


def verdict(evidence: list[Evidence]) -> Verdict:
    votes = {e.vote for e in evidence}
    if Vote.ALIVE in votes or Vote.DEAD not in votes:
        return Verdict.ALERT
    return Verdict.DOWN


def explain(evidence: list[Evidence]) -> str:
    return "; ".join(f"{e.investigator}: {e.vote}" + (f" ({e.detail})" if e.detail else "") for e in evidence)


class Action(StrEnum):
    RESTART = "restart"
    STOP = "stop"


@dataclass(frozen=True)
class VmOnHost:
    uuid: str
    placement_key: str | None
    ha: bool
    system: bool


def decide(vms: list[VmOnHost]) -> list[tuple[VmOnHost, Action]]:
    """System VMs first (routers, SSVM, console proxy), then user VMs."""
    ordered = sorted(vms, key=lambda v: (not v.system, v.uuid))
    return [(v, Action.RESTART if (v.ha or v.system) else Action.STOP) for v in ordered]


def backoff(attempt: int, base_s: float) -> float:
    """Seconds before retry `attempt` (1-based): base, 2×base, 4×base, capped at 8×base."""
    return base_s * min(8, 2 ** max(0, attempt - 1))


def summarize(decisions: list[tuple[VmOnHost, Action]]) -> dict[str, Any]:
    return {"restart": [v.uuid for v, a in decisions if a is Action.RESTART],
            "stop": [v.uuid for v, a in decisions if a is Action.STOP]}
