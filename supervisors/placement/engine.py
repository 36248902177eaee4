"""The placement engine: filters, then the planner's cluster order, then the
allocator's host order, up to a few candidates. Pure: a snapshot and a
request in, a Decision (candidates and a trace) out."""

from __future__ import annotations

from collections.abc import Sequence

from cloudplane.errors import ParamError
from cloudplane.supervisors.placement.filters import (
    CLUSTER_FILTERS,
    HOST_FILTERS,
    ClusterFilter,
    HostFilter,
    PlanContext,
)
from cloudplane.supervisors.placement.planners import ALLOCATORS, PLANNERS
from cloudplane.supervisors.placement.types import Decision, HostView, PlacementRequest, Snapshot, Trace

DEFAULT_LIMIT = 4


def plan(snap: Snapshot, req: PlacementRequest, *, account_hosts: dict[int, int] | None = None,
         limit: int = DEFAULT_LIMIT, cluster_filters: Sequence[ClusterFilter] = CLUSTER_FILTERS,
         host_filters: Sequence[HostFilter] = HOST_FILTERS) -> Decision:
    planner = PLANNERS.get(req.planner)
    if planner is None:
        raise ParamError(f"Unknown deployment planner {req.planner}; use one of {sorted(PLANNERS)}")
    allocator = ALLOCATORS.get(req.algorithm)
    if allocator is None:
        raise ParamError(f"Unknown vm.allocation.algorithm {req.algorithm}; use one of {sorted(ALLOCATORS)}")
    ctx = PlanContext(req, snap, account_hosts or {})
    trace = Trace(req.vm)
    clusters = []
    for c in snap.clusters.values():
        if req.host_id is not None and req.host_id not in {h.id for h in c.hosts}:
            continue  # an explicit host: only its cluster matters, and nothing to explain
        for f in cluster_filters:
            why = f.rejects(c, ctx)
            if why is not None:
                if f.name != "scope":
                    trace.add(f"cluster {c.name}", why)
                break
        else:
            clusters.append(c)
    chosen = []
    for c in planner.order(clusters, ctx):
        for h in _ha_first(allocator.order(list(c.hosts), ctx), ctx):
            for hf in host_filters:
                why = hf.rejects(h, ctx)
                if why is not None:
                    if hf.name != "host":
                        trace.add(f"host {h.name}", why)
                    break
            else:
                chosen.append(h)
                if len(chosen) >= limit:
                    return Decision(chosen, trace)
    return Decision(chosen, trace)


def _ha_first(hosts: list[HostView], ctx: PlanContext) -> list[HostView]:
    """HA restarts try the ha.tag hosts first (CloudStack sends them only there);
    the others stay behind as a fallback, so a full HA host does not strand a VM."""
    tag = ctx.snap.ha_tag
    if not (ctx.req.ha and tag):
        return hosts
    return sorted(hosts, key=lambda h: tag not in h.tags)
