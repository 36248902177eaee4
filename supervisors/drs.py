"""Cluster DRS: which running VMs to live-migrate so that a cluster's load is
spread out (``balanced``) or packed together (``condensed``). Pure: a snapshot
of the cluster and a policy in, an explained plan out; nothing here reads the
store or moves a VM.

Imbalance is CloudStack 4.19's: the coefficient of variation (population
standard deviation divided by the mean) of one metric, the memory (default) or
CPU *allocated* on each host of the cluster. ``drs.imbalance`` is the
tolerance, read as CloudStack reads it:

- balanced acts while imbalance > 1 - drs.imbalance, and a move must lower it;
- condensed acts while imbalance < drs.imbalance, and a move must raise it.

The search is greedy, as CloudStack's: each round scores every (movable VM,
other host that can take it) pair by how much it improves the imbalance, takes
the best one, applies it to the snapshot and goes again, until the cluster is
within the threshold, no move improves it, or ``max_migrations`` moves are
planned. A destination must have room for the VM (used + VM <= total x
overprovisioning factor, CPU and memory both), and a VM moves at most once per
plan, so executing the moves in order never needs a host the plan already
filled. Scoring a move is O(1): the total (hence the mean) never changes, and
the sum of squares changes only on the two hosts involved.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

EPSILON = 1e-9  # an improvement smaller than this is rounding noise, not a reason to move a VM


class Algorithm(StrEnum):
    BALANCED = "balanced"
    CONDENSED = "condensed"


class Metric(StrEnum):
    MEMORY = "memory"
    CPU = "cpu"


@dataclass(frozen=True)
class HostLoad:
    id: str  # the host's uuid
    name: str
    cpu_used: int  # MHz
    cpu_total: int
    mem_used: int  # bytes
    mem_total: int
    accepts: bool = True  # may receive VMs (Up, Enabled, not reserved for HA restarts)

    def used(self, metric: Metric) -> int:
        return self.mem_used if metric is Metric.MEMORY else self.cpu_used


@dataclass(frozen=True)
class VmLoad:
    id: str  # the VM's uuid
    name: str
    host: str  # the uuid of the host it runs on
    cpu: int  # MHz
    mem: int  # bytes
    movable: bool = True  # a Running user VM; system VMs and VMs in transition stay put

    def size(self, metric: Metric) -> int:
        return self.mem if metric is Metric.MEMORY else self.cpu


@dataclass(frozen=True)
class Snapshot:
    hosts: tuple[HostLoad, ...]
    vms: tuple[VmLoad, ...]


@dataclass(frozen=True)
class Policy:
    algorithm: Algorithm = Algorithm.BALANCED
    metric: Metric = Metric.MEMORY
    imbalance: float = 0.4  # drs.imbalance: the tolerance, 0..1
    max_migrations: int = 1
    cpu_factor: float = 1.0  # cpu.overprovisioning.factor
    mem_factor: float = 1.0  # mem.overprovisioning.factor

    @property
    def threshold(self) -> float:
        return 1.0 - self.imbalance if self.algorithm is Algorithm.BALANCED else self.imbalance

    def needs_drs(self, value: float) -> bool:
        if self.algorithm is Algorithm.BALANCED:
            return value > self.threshold
        return value < self.threshold

    def improvement(self, before: float, after: float) -> float:
        return before - after if self.algorithm is Algorithm.BALANCED else after - before


@dataclass(frozen=True)
class Move:
    vm: str
    vm_name: str
    src: str
    dst: str
    before: float  # the cluster's imbalance before this move
    after: float  # and after it

    def describe(self) -> str:
        return f"move {self.vm_name} ({self.vm}) from {self.src} to {self.dst}: imbalance {self.before:.3f} -> {self.after:.3f}"


@dataclass(frozen=True)
class Plan:
    moves: tuple[Move, ...]
    before: float
    after: float
    policy: Policy
    explanation: tuple[str, ...] = field(default=())

    @property
    def threshold(self) -> float:
        return self.policy.threshold

    def explain(self) -> str:
        return "\n".join(self.explanation)


def imbalance(values: Iterable[float]) -> float:
    """Population standard deviation / mean; 0 for an empty or idle cluster."""
    vs = list(values)
    if not vs:
        return 0.0
    return _cv(len(vs), sum(vs), sum(v * v for v in vs))


def _cv(n: int, total: float, squares: float) -> float:
    mean = total / n
    if mean <= 0:
        return 0.0
    return math.sqrt(max(0.0, squares / n - mean * mean)) / mean


def cluster_imbalance(snapshot: Snapshot, metric: Metric) -> float:
    return imbalance(h.used(metric) for h in snapshot.hosts)


def max_migrations(movable_vms: int, iterations: float, cap: int | None = None) -> int:
    """Moves allowed in one round: `drs.iterations` as a fraction of the movable VMs
    (at least one when there is any), capped by `drs.max.migrations`."""
    if movable_vms <= 0 or iterations <= 0:
        return 0
    n = max(1, math.ceil(movable_vms * min(iterations, 1.0) - EPSILON))
    return min(n, cap) if cap is not None and cap >= 0 else n


def _fits(host: HostLoad, vm: VmLoad, policy: Policy) -> bool:
    return (host.cpu_used + vm.cpu <= host.cpu_total * policy.cpu_factor
            and host.mem_used + vm.mem <= host.mem_total * policy.mem_factor)


def _moved(host: HostLoad, vm: VmLoad, sign: int) -> HostLoad:
    return replace(host, cpu_used=host.cpu_used + sign * vm.cpu, mem_used=host.mem_used + sign * vm.mem)


def plan(snapshot: Snapshot, policy: Policy) -> Plan:
    """The ordered moves that bring the cluster towards the policy's target."""
    metric = policy.metric
    hosts = {h.id: h for h in snapshot.hosts}
    n = len(hosts)
    start = cluster_imbalance(snapshot, metric)
    why = [f"{policy.algorithm} on {metric}: imbalance {start:.3f} over {n} host(s), threshold "
           f"{policy.threshold:.3f} (drs.imbalance {policy.imbalance}), at most {policy.max_migrations} migration(s)"]
    if n < 2:
        why.append("nothing to do: fewer than two hosts")
        return Plan((), start, start, policy, tuple(why))
    vms = [v for v in snapshot.vms if v.host in hosts]
    pinned = sum(1 for v in vms if not v.movable)
    if pinned:
        why.append(f"{pinned} VM(s) stay where they are (system VMs or not Running)")
    candidates = sorted((v for v in vms if v.movable), key=lambda v: v.id)
    total = float(sum(h.used(metric) for h in hosts.values()))
    squares = float(sum(h.used(metric) ** 2 for h in hosts.values()))
    current = start
    moves: list[Move] = []
    while True:
        if not policy.needs_drs(current):
            why.append(f"stop: imbalance {current:.3f} is within the threshold {policy.threshold:.3f}")
            break
        if len(moves) >= policy.max_migrations:
            why.append(f"stop: {policy.max_migrations} migration(s) planned, the most allowed in one round")
            break
        best: tuple[float, int, str, str] | None = None
        best_pick: tuple[VmLoad, HostLoad, float] | None = None
        for vm in candidates:
            src = hosts[vm.host]
            a, x = float(src.used(metric)), float(vm.size(metric))
            for dst in hosts.values():
                if dst.id == src.id or not dst.accepts or not _fits(dst, vm, policy):
                    continue
                b = float(dst.used(metric))
                after = _cv(n, total, squares - a * a - b * b + (a - x) ** 2 + (b + x) ** 2)
                gain = policy.improvement(current, after)
                # Best gain first; among equals the cheaper move (less memory to copy), then stable ids.
                key = (-gain, vm.mem, vm.id, dst.id)
                if gain > EPSILON and (best is None or key < best):
                    best, best_pick = key, (vm, dst, after)
        if best_pick is None:
            why.append(f"stop: no move of a VM to a host with room improves the imbalance {current:.3f}")
            break
        vm, dst, _ = best_pick
        src = hosts[vm.host]
        hosts[src.id] = _moved(src, vm, -1)
        hosts[dst.id] = _moved(dst, vm, +1)
        squares = float(sum(h.used(metric) ** 2 for h in hosts.values()))  # exact again: no drift
        after = _cv(n, total, squares)
        move = Move(vm.id, vm.name, src.id, dst.id, current, after)
        moves.append(move)
        why.append(move.describe())
        current = after
        candidates = [v for v in candidates if v.id != vm.id]
    return Plan(tuple(moves), start, current, policy, tuple(why))


def apply(snapshot: Snapshot, moves: Sequence[Move]) -> Snapshot:
    """The snapshot as it would be after `moves` (for checks and tests)."""
    hosts = {h.id: h for h in snapshot.hosts}
    vms = {v.id: v for v in snapshot.vms}
    for m in moves:
        vm = vms[m.vm]
        hosts[vm.host] = _moved(hosts[vm.host], vm, -1)
        hosts[m.dst] = _moved(hosts[m.dst], vm, +1)
        vms[m.vm] = replace(vm, host=m.dst)
    return Snapshot(tuple(hosts.values()), tuple(vms.values()))
