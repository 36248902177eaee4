"""The placement engine alone: planners, allocators and filters over
hand-built snapshots (no database, no Ray)."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace

import pytest

from cloudplane.errors import ParamError
from cloudplane.supervisors.placement import (
    ALLOCATORS,
    Affinity,
    PlacementRequest,
    PlanContext,
    PoolView,
    Snapshot,
    plan,
)
from cloudplane.supervisors.placement.planners import RandomAllocator
from tests.vms.zoo import GiB, Zoo

REQ = PlacementRequest(zone_id=1, cpu_mhz=1000, mem_bytes=1 * GiB, vm="v1", account_id=7)


def test_first_fit_planner_prefers_the_least_allocated_cluster() -> None:
    z = Zoo()
    a = z.cluster(2)
    b = z.cluster(2)
    z.used[a[0]] = [6000, 6 * GiB]  # cluster 1 is 37 % allocated, cluster 2 empty
    d = plan(z.snapshot(), replace(REQ, algorithm="firstfit"))
    assert [h.id for h in d.hosts] == [b[0], b[1], a[0], a[1]]


def test_allocators_order_hosts_inside_a_cluster() -> None:
    z = Zoo()
    hosts = z.cluster(4)
    z.used[hosts[0]] = [4000, 4 * GiB]
    z.used[hosts[2]] = [2000, 2 * GiB]
    snap = z.snapshot()
    assert [h.id for h in plan(snap, replace(REQ, algorithm="firstfit")).hosts] == hosts
    least = plan(snap, replace(REQ, algorithm="firstfitleastconsumed")).hosts
    assert [h.id for h in least] == [hosts[1], hosts[3], hosts[2], hosts[0]]
    # userdispersing: the account's VM count per host, fewest first.
    counts = {hosts[0]: 0, hosts[1]: 3, hosts[2]: 1, hosts[3]: 2}
    disp = plan(snap, replace(REQ, algorithm="userdispersing"), account_hosts=counts).hosts
    assert [h.id for h in disp] == [hosts[0], hosts[2], hosts[3], hosts[1]]
    # random: every host comes first sometimes.
    rnd = RandomAllocator(random.Random(1))
    ctx = PlanContext(REQ, snap)
    firsts = Counter(rnd.order(list(snap.clusters[1].hosts), ctx)[0].id for _ in range(200))
    assert set(firsts) == set(hosts) and "random" in ALLOCATORS


def test_user_dispersing_planner_spreads_an_account_over_clusters() -> None:
    z = Zoo()
    a, b, c = z.cluster(2), z.cluster(2), z.cluster(2)
    counts = {a[0]: 2, b[1]: 1}  # the account has 2 VMs in cluster 1, 1 in cluster 2, none in 3
    d = plan(z.snapshot(), replace(REQ, planner="UserDispersingPlanner", algorithm="firstfit"), account_hosts=counts)
    assert [h.cluster_id for h in d.hosts] == [3, 3, 2, 2]
    # A weight below 1 blends in capacity: a full-ish empty-of-account cluster can lose.
    z2 = Zoo()
    x, y = z2.cluster(1), z2.cluster(1)
    z2.used[y[0]] = [7000, 7 * GiB]
    snap = z2.snapshot()
    snap.dispersion_weight = 0.1
    d2 = plan(snap, replace(REQ, planner="UserDispersingPlanner"), account_hosts={x[0]: 1})
    assert d2.hosts[0].id == x[0]


def test_user_concentrated_pod_planner_keeps_an_account_in_its_pods() -> None:
    z = Zoo()
    z.cluster(2, pod=1)
    b = z.cluster(2, pod=2)
    z.cluster(2, pod=3)
    d = plan(z.snapshot(), replace(REQ, planner="UserConcentratedPodPlanner", algorithm="firstfit"),
             account_hosts={b[0]: 1})
    assert {h.pod_id for h in d.hosts[:2]} == {2}
    with pytest.raises(ParamError):
        plan(z.snapshot(), replace(REQ, planner="NoSuchPlanner"))


def test_host_tags_ha_tag_and_state_filters() -> None:
    z = Zoo(ha_tag="ha")
    hosts = z.cluster(5, tags={0: {"gpu"}, 1: {"gpu", "ha"}, 2: {"gpu"}},
                      states={2: ("Up", "Maintenance"), 3: ("Alert", "Enabled")})
    snap = z.snapshot()
    d = plan(snap, replace(REQ, host_tags=("gpu",), algorithm="firstfit"))
    assert [h.id for h in d.hosts] == [hosts[0]]
    reasons = dict(d.trace.lines)
    assert "reserved for HA" in reasons[f"host h{hosts[1]}"]
    assert "Maintenance" in reasons[f"host h{hosts[2]}"] and "Alert" in reasons[f"host h{hosts[3]}"]
    assert "lacks host tags ['gpu']" in reasons[f"host h{hosts[4]}"]
    # An HA restart may use the HA host, and tries it first.
    ha = plan(snap, replace(REQ, host_tags=("gpu",), ha=True, algorithm="firstfit"))
    assert [h.id for h in ha.hosts] == [hosts[1], hosts[0]]


def test_overprovisioning_and_the_cluster_threshold() -> None:
    z = Zoo()
    plain = z.cluster(1, threshold=0.85)
    over = z.cluster(1, cpu_factor=2.0, mem_factor=2.0, threshold=0.85)
    z.used[plain[0]] = [6000, 6 * GiB]  # 75 %: one more GiB would be 87.5 % > 85 %
    z.used[over[0]] = [6000, 6 * GiB]  # 37.5 % of the overprovisioned capacity
    d = plan(z.snapshot(), REQ)
    assert [h.id for h in d.hosts] == [over[0]]
    assert "past its threshold 0.85" in d.trace.summary()
    # A full host (raw) still takes VMs within its overprovisioned capacity.
    z2 = Zoo()
    h = z2.cluster(1, mem_factor=2.0)
    z2.used[h[0]] = [0, 8 * GiB]
    assert plan(z2.snapshot(), REQ).hosts[0].id == h[0]
    assert plan(_without_overprovisioning(z2), REQ).hosts == []


def _without_overprovisioning(z: Zoo) -> Snapshot:
    snap = z.snapshot()
    snap.clusters[1] = replace(snap.clusters[1], mem_factor=1.0)
    return snap


def test_disabled_clusters_only_for_root_admins() -> None:
    z = Zoo()
    z.cluster(1, enabled=False)
    snap = z.snapshot()
    assert plan(snap, REQ).hosts == []
    assert "cluster is disabled" in plan(snap, REQ).trace.summary()
    assert len(plan(snap, replace(REQ, owner_root_admin=True)).hosts) == 1


def test_affinity_and_anti_affinity() -> None:
    z = Zoo()
    hosts = z.cluster(4)
    snap = z.snapshot()
    anti = plan(snap, replace(REQ, algorithm="firstfit", affinity=Affinity(None, frozenset(hosts[:2]), ("web",))))
    assert [h.id for h in anti.hosts] == hosts[2:]
    assert "anti-affinity group (web)" in anti.trace.summary()
    together = plan(snap, replace(REQ, affinity=Affinity(frozenset([hosts[3]]), frozenset(), ("db",))))
    assert [h.id for h in together.hosts] == [hosts[3]]


def test_explicit_host_and_cpu_capability() -> None:
    z = Zoo()
    hosts = z.cluster(3)
    snap = z.snapshot()
    assert [h.id for h in plan(snap, replace(REQ, host_id=hosts[1])).hosts] == [hosts[1]]
    big = plan(snap, replace(REQ, cpu_cores=8, cpu_mhz=8000))
    assert big.hosts == [] and "has 4 cores, the VM wants 8" in big.trace.summary()


def test_storage_needs_a_reachable_pool_with_room_and_tags() -> None:
    z = Zoo()
    z.cluster(1)
    z.cluster(1)
    z.pools = [PoolView(1, "p1", 1, frozenset(), 100 * GiB), PoolView(2, "p2", 2, frozenset({"ssd"}), 100 * GiB)]
    snap = z.snapshot()
    d = plan(snap, replace(REQ, needs_storage=50 * GiB, storage_tags=("ssd",)))
    assert [h.cluster_id for h in d.hosts] == [2]
    snap.pool_used[2] = 180 * GiB  # 200 GiB with the factor 2: 20 left
    d = plan(snap, replace(REQ, needs_storage=50 * GiB, storage_tags=("ssd",)))
    assert d.hosts == [] and "has 50.0 GiB left" in d.trace.summary()


def test_the_trace_explains_a_refusal() -> None:
    z = Zoo()
    hosts = z.cluster(30, mem_gib=2)
    for h in hosts:
        z.used[h] = [0, 3 * GiB // 2]  # the cluster has room in sum, no host has 1 GiB
    d = plan(z.snapshot(), REQ)
    assert d.hosts == []
    s = d.trace.summary()
    assert s.startswith("not enough free capacity: h") and "and 27 more" in s


def test_local_adjustments_and_lost_claims() -> None:
    z = Zoo()
    hosts = z.cluster(2, mem_gib=2)
    snap = z.snapshot()
    snap.adjust(hosts[0], 1000, 2 * GiB)
    assert [h.id for h in plan(snap, REQ).hosts] == [hosts[1]]
    snap.adjust(hosts[1], 1000, 1 * GiB)
    snap.lost.add(hosts[1])  # its claim was refused: skipped until a release or a reload
    assert plan(snap, REQ).hosts == []
    snap.adjust(hosts[1], -1000, -1 * GiB)
    assert [h.id for h in plan(snap, REQ).hosts] == [hosts[1]]
    assert snap.cluster_used[1] == [1000, 2 * GiB]
