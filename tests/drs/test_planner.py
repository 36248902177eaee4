"""The DRS planner, pure: CloudStack's imbalance, balanced and condensed rounds,
capacity never exceeded, the round limit honoured, every step explained."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudplane.supervisors.drs import (
    Algorithm,
    HostLoad,
    Metric,
    Policy,
    Snapshot,
    VmLoad,
    apply,
    cluster_imbalance,
    imbalance,
    max_migrations,
    plan,
)

GiB = 2**30


def cluster(per_host: list[list[int]], mem_gib: int = 8, cpu_mhz: int = 16000,
            accepts: tuple[bool, ...] | None = None) -> Snapshot:
    """Hosts h0, h1, ... each with VMs of the given sizes (GiB of memory, 500 MHz each)."""
    hosts, vms = [], []
    for i, sizes in enumerate(per_host):
        for j, g in enumerate(sizes):
            vms.append(VmLoad(f"vm-{i}-{j}", f"vm{i}{j}", f"h{i}", 500, g * GiB))
        hosts.append(HostLoad(f"h{i}", f"host{i}", 500 * len(sizes), cpu_mhz, sum(sizes) * GiB, mem_gib * GiB,
                              accepts=True if accepts is None else accepts[i]))
    return Snapshot(tuple(hosts), tuple(vms))


def test_imbalance_is_stddev_over_mean() -> None:
    assert imbalance([4, 4, 4]) == 0.0
    assert imbalance([0, 2]) == pytest.approx(1.0)
    assert imbalance([1, 2, 3]) == pytest.approx((2 / 3) ** 0.5 / 2)
    assert imbalance([]) == 0.0 and imbalance([0, 0]) == 0.0


def test_thresholds_read_drs_imbalance_as_cloudstack_does() -> None:
    assert Policy(Algorithm.BALANCED, imbalance=0.4).threshold == pytest.approx(0.6)
    assert Policy(Algorithm.CONDENSED, imbalance=0.4).threshold == pytest.approx(0.4)
    assert Policy(Algorithm.BALANCED, imbalance=0.4).needs_drs(0.7)
    assert not Policy(Algorithm.BALANCED, imbalance=0.4).needs_drs(0.5)
    assert Policy(Algorithm.CONDENSED, imbalance=0.4).needs_drs(0.3)


def test_balanced_brings_an_imbalanced_cluster_below_the_threshold() -> None:
    snap = cluster([[1, 1, 1, 1, 1, 1], [1], []])  # 7 GiB: the best is 3, 2, 2 (imbalance 0.2)
    policy = Policy(Algorithm.BALANCED, Metric.MEMORY, imbalance=0.75, max_migrations=10)
    p = plan(snap, policy)
    assert p.before > policy.threshold
    assert p.after <= policy.threshold
    assert p.moves, p.explain()
    for m in p.moves:
        assert m.after < m.before  # each move lowers the imbalance
        assert m.src == "h0"
    after = apply(snap, p.moves)
    assert cluster_imbalance(after, Metric.MEMORY) == pytest.approx(p.after)
    assert sorted(h.mem_used // GiB for h in after.hosts) == [2, 2, 3]
    assert "within the threshold" in p.explanation[-1]
    assert any("move vm0" in line for line in p.explanation)


def test_a_balanced_cluster_is_left_alone() -> None:
    p = plan(cluster([[1, 1], [1, 1], [2]]), Policy(Algorithm.BALANCED, imbalance=0.9, max_migrations=10))
    assert p.moves == () and p.before == pytest.approx(0.0)


def test_max_migrations_is_respected() -> None:
    snap = cluster([[1] * 6, [], []])
    p = plan(snap, Policy(Algorithm.BALANCED, imbalance=0.9, max_migrations=2))
    assert len(p.moves) == 2
    assert "2 migration(s) planned" in p.explanation[-1]
    assert plan(snap, Policy(Algorithm.BALANCED, imbalance=0.9, max_migrations=0)).moves == ()


def test_max_migrations_from_drs_iterations() -> None:
    assert max_migrations(10, 0.2) == 2
    assert max_migrations(3, 0.2) == 1  # at least one when there is any VM
    assert max_migrations(0, 0.2) == 0
    assert max_migrations(100, 0.5, cap=10) == 10
    assert max_migrations(10, 2.0) == 10


def test_capacity_of_a_destination_is_never_exceeded() -> None:
    # h1 and h2 have room for one 3 GiB VM each (4 GiB hosts, 1 GiB used).
    snap = cluster([[3, 3, 3, 3], [1], [1]], mem_gib=16)
    snap = Snapshot(tuple(h if h.id == "h0" else HostLoad(h.id, h.name, h.cpu_used, h.cpu_total, h.mem_used, 4 * GiB)
                          for h in snap.hosts), snap.vms)
    p = plan(snap, Policy(Algorithm.BALANCED, imbalance=1.0, max_migrations=10))
    assert len(p.moves) == 2 and {m.dst for m in p.moves} == {"h1", "h2"}
    assert "no move" in p.explanation[-1]
    for h in apply(snap, p.moves).hosts:
        assert h.mem_used <= h.mem_total


def test_overprovisioning_lets_more_in() -> None:
    snap = cluster([[3, 3, 3], [4]], mem_gib=6)
    assert plan(snap, Policy(imbalance=1.0, max_migrations=5)).moves == ()  # 4 + 3 > 6
    p = plan(snap, Policy(imbalance=1.0, max_migrations=5, mem_factor=1.5))  # 4 + 3 <= 9
    assert len(p.moves) == 1


def test_pinned_vms_and_closed_hosts_stay_out_of_it() -> None:
    snap = cluster([[1] * 4, [], []], accepts=(True, True, False))
    snap = Snapshot(snap.hosts, tuple(VmLoad(v.id, v.name, v.host, v.cpu, v.mem, movable=v.id != "vm-0-0")
                                      for v in snap.vms))
    p = plan(snap, Policy(imbalance=1.0, max_migrations=10))
    assert p.moves and all(m.dst == "h1" and m.vm != "vm-0-0" for m in p.moves)


def test_condensed_packs_what_balanced_spreads() -> None:
    spread = cluster([[1, 1], [1, 1], [1, 1]], mem_gib=8)
    assert plan(spread, Policy(Algorithm.BALANCED, imbalance=0.4, max_migrations=10)).moves == ()
    p = plan(spread, Policy(Algorithm.CONDENSED, imbalance=0.4, max_migrations=10))
    assert len(p.moves) == 1 and p.after >= 0.4  # one move is enough to leave the tolerance
    p = plan(spread, Policy(Algorithm.CONDENSED, imbalance=0.95, max_migrations=10))
    assert p.moves and p.after > p.before
    for m in p.moves:
        assert m.after > m.before  # each move raises the imbalance
    after = apply(spread, p.moves)
    assert sum(1 for h in after.hosts if h.mem_used == 0) >= 1  # a host emptied
    assert all(h.mem_used <= h.mem_total for h in after.hosts)


def test_cpu_metric() -> None:
    snap = cluster([[1, 1, 1, 1], [1, 1, 1, 1]], mem_gib=8)  # memory even
    hosts = (HostLoad("h0", "host0", 6000, 16000, 4 * GiB, 8 * GiB), snap.hosts[1])
    vms = tuple(VmLoad(v.id, v.name, v.host, 1500 if v.host == "h0" else 500, v.mem) for v in snap.vms)
    snap = Snapshot(hosts, vms)
    assert plan(snap, Policy(metric=Metric.MEMORY, imbalance=0.9, max_migrations=4)).moves == ()
    p = plan(snap, Policy(metric=Metric.CPU, imbalance=0.9, max_migrations=4))
    assert p.moves and p.after < p.before


def test_one_host_or_none() -> None:
    assert plan(cluster([[1, 1]]), Policy(imbalance=1.0, max_migrations=3)).moves == ()
    assert plan(Snapshot((), ()), Policy(imbalance=1.0, max_migrations=3)).moves == ()


@st.composite
def snapshots(draw: st.DrawFn) -> tuple[Snapshot, Policy]:
    n = draw(st.integers(2, 5))
    hosts, vms = [], []
    for i in range(n):
        total = draw(st.integers(2, 16)) * GiB
        sizes = draw(st.lists(st.integers(1, 4), max_size=6))
        kept, used = [], 0
        for s in sizes:
            if used + s * GiB <= total:
                kept.append(s)
                used += s * GiB
        for j, s in enumerate(kept):
            vms.append(VmLoad(f"v{i}-{j}", f"v{i}{j}", f"h{i}", 100 * s, s * GiB, movable=draw(st.booleans()) or True))
        hosts.append(HostLoad(f"h{i}", f"h{i}", 100 * sum(kept), 100000, used, total, accepts=draw(st.booleans())))
    policy = Policy(draw(st.sampled_from(list(Algorithm))), draw(st.sampled_from(list(Metric))),
                    imbalance=draw(st.floats(0.0, 1.0)), max_migrations=draw(st.integers(0, 8)))
    return Snapshot(tuple(hosts), tuple(vms)), policy


@settings(max_examples=300, deadline=None)
@given(snapshots())
def test_every_plan_is_safe(case: tuple[Snapshot, Policy]) -> None:
    snap, policy = case
    p = plan(snap, policy)
    assert len(p.moves) <= policy.max_migrations
    assert len({m.vm for m in p.moves}) == len(p.moves)  # no VM moves twice
    state = snap
    hosts = {h.id: h for h in snap.hosts}
    for m in p.moves:
        assert hosts[m.dst].accepts and m.src != m.dst
        assert policy.improvement(m.before, m.after) > 0
        state = apply(state, [m])
        for h in state.hosts:
            assert h.mem_used <= h.mem_total * policy.mem_factor
            assert h.cpu_used <= h.cpu_total * policy.cpu_factor
    assert cluster_imbalance(state, policy.metric) == pytest.approx(p.after)
    assert p.explanation
