from __future__ import annotations

import asyncio

import pytest

from cloudplane.supervisors import (
    Action, ChildSpec, LevelPolicy, Strategy, SupFlags, Supervisor, SupervisorTree,
)

from .fakes import FakeChild, FakeClock, Journal, starts, stops

HOST = ("root", "zone:1", "cluster:2", "host:3")
POLICY = LevelPolicy(
    {"root": SupFlags(intensity=10), "zone": SupFlags(Strategy.ONE_FOR_ALL, 2, 60.0),
     "host": SupFlags(intensity=0)},
    default=SupFlags(Strategy.REST_FOR_ONE, 1, 30.0),
)


async def test_levels_are_created_on_demand_with_per_level_flags() -> None:
    tree = SupervisorTree(POLICY, clock=FakeClock())
    host = await tree.supervisor_for(HOST)
    assert tree.nodes() == (("root",), HOST[:2], HOST[:3], HOST)
    assert host.name == "root/zone:1/cluster:2/host:3"
    assert await tree.supervisor_for(HOST) is host
    zone, cluster = tree.get(HOST[:2]), tree.get(HOST[:3])
    assert zone is not None and cluster is not None
    assert host.parent is cluster and cluster.parent is zone and zone.parent is tree.root
    assert tree.root.children() == ("root/zone:1",)
    assert cluster.children() == (host.name,)
    assert tree.root.flags == SupFlags(intensity=10)
    assert zone.flags == SupFlags(Strategy.ONE_FOR_ALL, 2, 60.0)
    assert cluster.flags == SupFlags(Strategy.REST_FOR_ONE, 1, 30.0)  # the default
    assert host.flags == SupFlags(intensity=0)


async def test_concurrent_requests_create_a_level_once() -> None:
    tree = SupervisorTree(POLICY)
    sups = await asyncio.gather(*(tree.supervisor_for(HOST) for _ in range(5)))
    assert all(s is sups[0] for s in sups)
    assert len(tree.nodes()) == 4


@pytest.mark.parametrize("node", [(), ("zone:1",), ("root", ""), ("root", "zone/1")])
async def test_bad_paths_are_rejected(node: tuple[str, ...]) -> None:
    with pytest.raises(ValueError):
        await SupervisorTree().supervisor_for(node)


async def test_empty_levels_are_pruned_up_to_the_root() -> None:
    journal: Journal = []
    tree = SupervisorTree(POLICY)
    await tree.add_child(HOST + ("vm:9",), ChildSpec("vm:9"), FakeChild("vm:9", journal))
    await tree.add_child(HOST[:2] + ("cluster:5",), ChildSpec("x"), FakeChild("x", journal))
    assert len(tree.nodes()) == 6
    decision = await tree.remove_child(HOST + ("vm:9",), "vm:9", "expunged")
    assert decision.action is Action.REMOVED
    assert journal == starts("vm:9", "x") + stops("vm:9")
    # vm:9 and host:3 and cluster:2 went; zone:1 still holds cluster:5.
    assert tree.nodes() == (("root",), HOST[:2], HOST[:2] + ("cluster:5",))
    zone = tree.get(HOST[:2])
    assert zone is not None and zone.children() == ("root/zone:1/cluster:5",)
    await tree.remove_child(HOST[:2] + ("cluster:5",), "x")
    assert tree.nodes() == (("root",),) and tree.root.children() == ()
    assert tree.root.history[-1].reason == "pruned: no children left"


async def test_prune_can_be_disabled() -> None:
    tree = SupervisorTree(POLICY, prune=False)
    await tree.add_child(HOST, ChildSpec("vm:1"), FakeChild("vm:1", []))
    await tree.remove_child(HOST, "vm:1")
    assert tree.nodes() == (("root",), HOST[:2], HOST[:3], HOST)


async def test_failed_add_prunes_the_levels_it_created() -> None:
    tree = SupervisorTree(POLICY)
    with pytest.raises(RuntimeError):
        await tree.add_child(HOST, ChildSpec("vm:1"), FakeChild("vm:1", [], fail_starts=1))
    assert tree.nodes() == (("root",),)


async def test_removing_a_level_by_hand_forgets_its_subtree() -> None:
    tree = SupervisorTree(POLICY)
    await tree.add_child(HOST, ChildSpec("vm:1"), FakeChild("vm:1", []))
    await tree.remove_child(HOST[:2], "root/zone:1/cluster:2")
    assert tree.nodes() == (("root",),)


async def test_host_escalation_restarts_the_zone_subtree() -> None:
    journal: Journal = []
    tree = SupervisorTree(POLICY, clock=FakeClock())
    await tree.add_child(HOST, ChildSpec("vm:1"), FakeChild("vm:1", journal))
    await tree.add_child(("root", "zone:1", "cluster:7"), ChildSpec("vm:2"), FakeChild("vm:2", journal))
    host = await tree.supervisor_for(HOST)
    journal.clear()
    # host has intensity 0 → escalates to cluster:2 (default rest_for_one, intensity 1): restarted there.
    assert (await host.child_exited("vm:1", "boom")).action is Action.ESCALATED
    assert journal == stops("vm:1") + starts("vm:1")
    cluster = tree.get(HOST[:3])
    assert cluster is not None and cluster.history[-1].restarted == (host.name,)
    journal.clear()
    # Again: cluster exceeds intensity 1 → zone (one_for_all) restarts both clusters.
    await host.child_exited("vm:1", "boom")
    assert journal == stops("vm:1") + stops("vm:2") + starts("vm:1", "vm:2")
    zone = tree.get(HOST[:2])
    assert zone is not None
    assert zone.history[-1].restarted == ("root/zone:1/cluster:2", "root/zone:1/cluster:7")


async def test_root_escalation_goes_to_the_tree_owner() -> None:
    seen: list[str] = []

    async def restart_shard(sup: Supervisor, reason: str) -> None:
        seen.append(sup.name)

    tree = SupervisorTree(LevelPolicy(default=SupFlags(intensity=0)), on_escalate=restart_shard)
    await tree.add_child(("root", "zone:1"), ChildSpec("vm:1"), FakeChild("vm:1", []))
    zone = tree.get(("root", "zone:1"))
    assert zone is not None
    await zone.child_exited("vm:1", "boom")
    assert seen == ["root"]
    assert not tree.root.running


def test_level_policy_is_a_frozen_copy() -> None:
    flags = {"zone": SupFlags(intensity=1)}
    policy = LevelPolicy(flags)
    flags["zone"] = SupFlags(intensity=9)
    assert policy.flags_for(("root", "zone:1")).intensity == 1
    assert policy.flags_for(("root", "pod:1")) == SupFlags()
    with pytest.raises(ValueError):
        LevelPolicy({"zone": SupFlags(intensity=-1)})
