"""The pure parts of guest networking, without a server: address pools, the
network state machine, the GC's idle clock, domain ancestry, router ids."""

from __future__ import annotations

import pytest

from cloudplane.actors.kinds.network import NetState, Pool, check, choose, cidr_pool, random_mac
from cloudplane.actors.kinds.router import router_uuid
from cloudplane.api.commands.networks import ancestors
from cloudplane.api.views.networks import vlan_of
from cloudplane.errors import IllegalTransition
from cloudplane.supervisors.networkgc import IdleClock


def test_cidr_pool_skips_network_and_broadcast() -> None:
    p = cidr_pool("10.1.1.0/29", "10.1.1.1")
    assert list(p.addresses()) == [f"10.1.1.{i}" for i in range(1, 7)]
    assert "10.1.1.6" in p and "10.1.1.7" not in p and "not-an-ip" not in p
    assert p.netmask == "255.255.255.248" and p.gateway == "10.1.1.1"


def test_choose_takes_the_first_free_address_across_pools() -> None:
    a = Pool(int.from_bytes(bytes([10, 0, 0, 2])), int.from_bytes(bytes([10, 0, 0, 3])), "10.0.0.1", "255.0.0.0")
    b = Pool(int.from_bytes(bytes([10, 0, 0, 9])), int.from_bytes(bytes([10, 0, 0, 9])), "10.0.0.1", "255.0.0.0", 7)
    assert choose([a, b], set(), {"10.0.0.1"}) == ("10.0.0.2", a)
    assert choose([a, b], {"10.0.0.2", "10.0.0.3"}, set()) == ("10.0.0.9", b)
    assert choose([a, b], {"10.0.0.2", "10.0.0.3", "10.0.0.9"}, set()) is None
    assert choose([cidr_pool("10.1.1.0/30", "10.1.1.1")], set(), {"10.1.1.1"}) == (
        "10.1.1.2", cidr_pool("10.1.1.0/30", "10.1.1.1"))


@pytest.mark.parametrize(("src", "dst", "ok"), [
    ("Allocated", NetState.IMPLEMENTING, True), ("Implementing", NetState.IMPLEMENTED, True),
    ("Implemented", NetState.SHUTDOWN, True), ("Shutdown", NetState.ALLOCATED, True),
    ("Setup", NetState.DESTROY, True), ("Allocated", NetState.IMPLEMENTED, False),
    ("Implemented", NetState.ALLOCATED, False), ("Destroy", NetState.ALLOCATED, False),
])
def test_network_state_machine(src: str, dst: NetState, ok: bool) -> None:
    if ok:
        check(src, dst)
    else:
        with pytest.raises(IllegalTransition):
            check(src, dst)


def test_idle_clock_waits_a_full_period_and_forgets_busy_networks() -> None:
    c = IdleClock()
    assert c.due({"a", "b"}, now=100.0, wait=5.0) == []
    assert c.due({"a", "b"}, now=104.0, wait=5.0) == []
    assert c.due({"a"}, now=105.0, wait=5.0) == ["a"]  # b was busy: forgotten
    assert c.due({"a", "b"}, now=106.0, wait=5.0) == ["a"]  # b starts over
    assert c.due({"a", "b"}, now=111.0, wait=5.0) == ["a", "b"]
    assert c.due(set(), now=112.0, wait=5.0) == [] and c.since == {}


def test_ancestors_and_vlans_and_router_ids() -> None:
    assert ancestors("/") == [] and ancestors("/a/") == ["/"] and ancestors("/a/b/") == ["/", "/a/"]
    assert vlan_of("vlan://105") == "105" and vlan_of(None) is None and vlan_of("untagged") == "untagged"
    assert router_uuid("n1", 0) == router_uuid("n1", 0) != router_uuid("n1", 1) != router_uuid("n2", 1)
    mac = random_mac()
    assert mac.startswith("02:00:") and len(mac) == 17
