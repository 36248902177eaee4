"""Supervision policy as data: flags for a supervisor, specs for its children.

These are read by the one engine in `supervisor.py`; nothing here acts.
Semantics follow Erlang/OTP's supervisor (strategy, intensity/period, restart types).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Strategy(StrEnum):
    ONE_FOR_ONE = "one_for_one"  # restart only the failed child
    ONE_FOR_ALL = "one_for_all"  # restart every child
    REST_FOR_ONE = "rest_for_one"  # restart the failed child and those added after it


class Restart(StrEnum):
    PERMANENT = "permanent"  # always restarted
    TRANSIENT = "transient"  # restarted only after an abnormal exit
    TEMPORARY = "temporary"  # never restarted; dropped once it exits


@dataclass(frozen=True, slots=True)
class SupFlags:
    """More than `intensity` restarts within `period_s` seconds make the supervisor give up.

    Nested supervisors multiply: a leaf may be restarted up to the product of the
    intensities above it before the root escalates, so keep lower levels small.
    """

    strategy: Strategy = Strategy.ONE_FOR_ONE
    intensity: int = 3
    period_s: float = 5.0

    def validate(self) -> SupFlags:
        if not isinstance(self.strategy, Strategy):
            raise ValueError(f"unknown strategy {self.strategy!r}")
        if isinstance(self.intensity, bool) or not isinstance(self.intensity, int):
            raise ValueError(f"intensity must be an int, got {self.intensity!r}")
        if self.intensity < 0:
            raise ValueError(f"intensity must be >= 0, got {self.intensity}")
        if not (self.period_s > 0 and math.isfinite(self.period_s)):
            raise ValueError(f"period_s must be a positive finite number, got {self.period_s}")
        return self


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """How a supervisor treats one child.

    `shutdown_s` bounds how long a worker's stop() may take before it is abandoned
    (math.inf waits forever). A supervisor child is always given as long as its
    subtree needs (OTP's `infinity` default), since each of its own children is
    already bounded by its own shutdown_s.
    """

    id: str
    restart: Restart = Restart.PERMANENT
    shutdown_s: float = 5.0
    is_supervisor: bool = False

    def validate(self) -> ChildSpec:
        if not isinstance(self.id, str) or not self.id.strip():
            raise ValueError(f"child id must be a non-empty string, got {self.id!r}")
        if not isinstance(self.restart, Restart):
            raise ValueError(f"child {self.id}: unknown restart type {self.restart!r}")
        if math.isnan(self.shutdown_s) or self.shutdown_s < 0:
            raise ValueError(f"child {self.id}: shutdown_s must be >= 0, got {self.shutdown_s}")
        return self


def check_specs(specs: Iterable[ChildSpec]) -> tuple[ChildSpec, ...]:
    """Validate every spec and reject duplicate ids, before anything starts."""
    checked = tuple(spec.validate() for spec in specs)
    seen: set[str] = set()
    for spec in checked:
        if spec.id in seen:
            raise ValueError(f"duplicate child id {spec.id!r}")
        seen.add(spec.id)
    return checked
