"""Deployment planners (which cluster first) and host allocators (which host
first inside a cluster), after CloudStack's FirstFitPlanner,
UserDispersingPlanner, UserConcentratedPodPlanner and `vm.allocation.algorithm`.

Each is a small object with `order()`; the registries map CloudStack's names
to them. Orders are computed from the snapshot, never from the store.
"""

from __future__ import annotations

import random
from typing import Protocol

from cloudplane.supervisors.placement.filters import PlanContext
from cloudplane.supervisors.placement.types import ClusterView, HostView


class Planner(Protocol):
    name: str

    def order(self, clusters: list[ClusterView], ctx: PlanContext) -> list[ClusterView]: ...


class Allocator(Protocol):
    name: str

    def order(self, hosts: list[HostView], ctx: PlanContext) -> list[HostView]: ...


def cluster_ratio(c: ClusterView, ctx: PlanContext) -> float:
    """Allocated fraction of the capacity that orders clusters (host.capacityType.to.order.clusters)."""
    total = ctx.snap.cluster_total.get(c.id, (0, 0))
    used = ctx.snap.cluster_used.get(c.id, [0, 0])
    if ctx.snap.cluster_order_by == "RAM":
        return used[1] / (total[1] * c.mem_factor) if total[1] else 1.0
    return used[0] / (total[0] * c.cpu_factor) if total[0] else 1.0


def host_ratio(h: HostView, ctx: PlanContext) -> float:
    c = ctx.snap.clusters[h.cluster_id]
    used = ctx.snap.used.get(h.id, (0, 0))
    if ctx.snap.cluster_order_by == "RAM":
        return used[1] / (h.mem_total * c.mem_factor) if h.mem_total else 1.0
    return used[0] / (h.cpu_total * c.cpu_factor) if h.cpu_total else 1.0


def _account_counts(ctx: PlanContext, level: str) -> dict[int, int]:
    """The account's VMs per cluster or pod, from its VMs per host."""
    out: dict[int, int] = {}
    for host_id, n in ctx.account_hosts.items():
        h = ctx.snap.hosts.get(host_id)
        if h is not None:
            key = h.cluster_id if level == "cluster" else h.pod_id
            out[key] = out.get(key, 0) + n
    return out


# -- planners: cluster order -----------------------------------------------------------------


class FirstFitPlanner:
    """Least allocated cluster first (CloudStack orders by aggregate capacity)."""

    name = "FirstFitPlanner"

    def order(self, clusters: list[ClusterView], ctx: PlanContext) -> list[ClusterView]:
        return sorted(clusters, key=lambda c: (cluster_ratio(c, ctx), c.id))


class UserDispersingPlanner:
    """Clusters where the account has the fewest VMs first; `vm.user.dispersion.weight`
    below 1 blends that with the capacity order."""

    name = "UserDispersingPlanner"

    def order(self, clusters: list[ClusterView], ctx: PlanContext) -> list[ClusterView]:
        counts = _account_counts(ctx, "cluster")
        w = ctx.snap.dispersion_weight
        if w >= 1.0:
            return sorted(clusters, key=lambda c: (counts.get(c.id, 0), cluster_ratio(c, ctx), c.id))
        top = max([counts.get(c.id, 0) for c in clusters] + [1])
        return sorted(clusters, key=lambda c: (
            cluster_ratio(c, ctx) * (1 - w) + counts.get(c.id, 0) / top * w, c.id))


class UserConcentratedPodPlanner:
    """Pods where the account already has VMs first (most first), the others after,
    each by capacity."""

    name = "UserConcentratedPodPlanner"

    def order(self, clusters: list[ClusterView], ctx: PlanContext) -> list[ClusterView]:
        pods = _account_counts(ctx, "pod")
        return sorted(clusters, key=lambda c: (-pods.get(c.pod_id, 0), cluster_ratio(c, ctx), c.id))


# -- allocators: host order inside a cluster ----------------------------------------------------


class RandomAllocator:
    name = "random"

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng or random.Random()

    def order(self, hosts: list[HostView], ctx: PlanContext) -> list[HostView]:
        out = list(hosts)
        self.rng.shuffle(out)
        return out


class FirstFitAllocator:
    name = "firstfit"

    def order(self, hosts: list[HostView], ctx: PlanContext) -> list[HostView]:
        return sorted(hosts, key=lambda h: h.id)


class LeastConsumedAllocator:
    name = "firstfitleastconsumed"

    def order(self, hosts: list[HostView], ctx: PlanContext) -> list[HostView]:
        return sorted(hosts, key=lambda h: (host_ratio(h, ctx), h.id))


class UserDispersingAllocator:
    """Hosts with the fewest of the account's VMs first."""

    name = "userdispersing"

    def order(self, hosts: list[HostView], ctx: PlanContext) -> list[HostView]:
        return sorted(hosts, key=lambda h: (ctx.account_hosts.get(h.id, 0), h.id))


PLANNERS: dict[str, Planner] = {p.name: p for p in (FirstFitPlanner(), UserDispersingPlanner(),
                                                      UserConcentratedPodPlanner())}
ALLOCATORS: dict[str, Allocator] = {a.name: a for a in (RandomAllocator(), FirstFitAllocator(),
                                                         LeastConsumedAllocator(), UserDispersingAllocator())}
# CloudStack's pod-concentrating allocators order hosts as their base does; pods are the planner's job.
ALLOCATORS["userconcentratedpod_random"] = ALLOCATORS["random"]
ALLOCATORS["userconcentratedpod_firstfit"] = ALLOCATORS["firstfit"]


def needs_account_counts(req_planner: str, algorithm: str) -> bool:
    return req_planner in ("UserDispersingPlanner", "UserConcentratedPodPlanner") or algorithm == "userdispersing"
