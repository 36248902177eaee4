"""Where a VM may run, Nova-style: small pluggable filters (filters.py), the
deployment planners and host allocators (planners.py), and one pure engine
(engine.py) over a snapshot of the zone (snapshot.py). Every decision leaves
a trace; capacity is claimed by the VM afterwards, by conditional UPDATE."""

from cloudplane.supervisors.placement.engine import plan
from cloudplane.supervisors.placement.filters import CLUSTER_FILTERS, HOST_FILTERS, PlanContext
from cloudplane.supervisors.placement.planners import ALLOCATORS, PLANNERS, needs_account_counts
from cloudplane.supervisors.placement.snapshot import SnapshotCache, load_snapshot
from cloudplane.supervisors.placement.types import (
    Affinity,
    ClusterView,
    Decision,
    HostView,
    OfferingView,
    PlacementRequest,
    PoolView,
    Snapshot,
    Trace,
    split_tags,
)

__all__ = [
    "ALLOCATORS", "CLUSTER_FILTERS", "HOST_FILTERS", "PLANNERS", "Affinity", "ClusterView", "Decision", "HostView",
    "OfferingView", "PlacementRequest", "PlanContext", "PoolView", "Snapshot", "SnapshotCache", "Trace",
    "load_snapshot", "needs_account_counts", "plan", "split_tags",
]
