"""Bridges, VXLAN and VLAN networks inside namespaces created by the test.

Topology of the two-host tests (all addresses 10.x, all inside cptest-* namespaces):

    va:eth0 10.98.5.1 --tap-a-- [ha: brvx5001 + vxlan5001] --ul-a 10.97.0.1
                                                                  ||  (veth underlay)
    vb:eth0 10.98.5.2 --tap-b-- [hb: brvx5001 + vxlan5001] --ul-b 10.97.0.2
"""

from __future__ import annotations

import pytest

from cloudplane.hostagent import network
from cloudplane.hostagent.errors import NetworkError, NotFound, Unsupported
from cloudplane.hostagent.netrefs import NetworkRefs, VlanNetwork, VxlanNetwork
from tests.hostagent import nettools
from tests.hostagent.nettools import Namespaces

VNI = 5001


async def _two_hosts(spaces: Namespaces) -> tuple[str, str]:
    ha, hb = spaces.make("ha"), spaces.make("hb")
    await nettools.veth(ha, "ul-a", hb, "ul-b")
    await nettools.address(ha, "ul-a", "10.97.0.1/24")
    await nettools.address(hb, "ul-b", "10.97.0.2/24")
    return ha, hb


async def _vm(spaces: Namespaces, host_ns: str, tap: str, role: str, cidr: str) -> str:
    """A namespace standing in for a guest: its eth0 is the peer of `tap` in the host."""
    vm = spaces.make(role)
    await nettools.veth(host_ns, tap, vm, "eth0")
    await nettools.address(vm, "eth0", cidr)
    return vm


async def test_bridge_is_idempotent_and_released_when_empty(namespaces: Namespaces) -> None:
    ns = namespaces.make("br")
    assert await network.ensure_bridge("cloudbr1", netns=ns) == "cloudbr1"
    assert await network.ensure_bridge("cloudbr1", netns=ns) == "cloudbr1"
    assert await network.bridge_ports("cloudbr1", netns=ns) == []
    await nettools.veth(ns, "tap0", ns, "tap0p")
    await nettools.enslave(ns, "tap0", "cloudbr1")
    assert await network.bridge_ports("cloudbr1", netns=ns) == ["tap0"]
    assert await network.release_bridge("cloudbr1", netns=ns) is False  # a port remains
    await nettools.delete_link(ns, "tap0")
    assert await network.release_bridge("cloudbr1", netns=ns) is True
    assert await network.release_bridge("cloudbr1", netns=ns) is True  # already gone
    assert await nettools.links(ns) == {"lo"}


async def test_existing_link_of_another_kind_is_refused(namespaces: Namespaces) -> None:
    ns = namespaces.make("kind")
    await nettools.veth(ns, "cloudbr0", ns, "peer0")
    with pytest.raises(NetworkError, match="cloudbr0 exists but is a veth link"):
        await network.ensure_bridge("cloudbr0", netns=ns)


async def test_missing_namespace_and_device_are_not_found(namespaces: Namespaces) -> None:
    with pytest.raises(NotFound, match="no network namespace"):
        await network.ensure_bridge("br0", netns=f"{nettools.PREFIX}{namespaces.run_id}-absent")
    ns = namespaces.make("nodev")
    with pytest.raises(NotFound, match="no device eth9"):
        await network.ensure_vxlan_bridge(VNI, "eth9", "10.97.0.1", "10.97.0.2", netns=ns)
    with pytest.raises(NotFound):
        await network.bridge_ports("brvx1", netns=ns)
    assert await nettools.links(ns) == {"lo"}


async def test_vxlan_network_between_two_hosts(namespaces: Namespaces) -> None:
    ha, hb = await _two_hosts(namespaces)
    va = await _vm(namespaces, ha, "tap-a", "va", "10.98.5.1/24")
    vb = await _vm(namespaces, hb, "tap-b", "vb", "10.98.5.2/24")
    refs_a, refs_b = NetworkRefs(netns=ha), NetworkRefs(netns=hb)
    net_a = VxlanNetwork(VNI, "ul-a", "10.97.0.1", "10.97.0.2")
    net_b = VxlanNetwork(VNI, "ul-b", "10.97.0.2", "10.97.0.1")

    assert not await nettools.ping(va, "10.98.5.2")  # no network yet
    bridge_a = await refs_a.acquire(net_a, "i-2-1-VM")
    bridge_b = await refs_b.acquire(net_b, "i-2-2-VM")
    assert bridge_a == bridge_b == f"brvx{VNI}"
    await nettools.enslave(ha, "tap-a", bridge_a)
    await nettools.enslave(hb, "tap-b", bridge_b)
    assert sorted(await network.bridge_ports(bridge_a, netns=ha)) == ["tap-a", f"vxlan{VNI}"]

    assert await nettools.ping(va, "10.98.5.2", attempts=3)
    assert await nettools.ping(vb, "10.98.5.1", attempts=3)

    # Another VNI is another segment: a guest there cannot reach this one.
    other = VxlanNetwork(VNI + 1, "ul-b", "10.97.0.2", "10.97.0.1")
    vc = await _vm(namespaces, hb, "tap-c", "vc", "10.98.5.3/24")
    await nettools.enslave(hb, "tap-c", await refs_b.acquire(other, "i-2-3-VM"))
    assert not await nettools.ping(vc, "10.98.5.1")


async def test_refcount_creates_for_first_and_removes_after_last(namespaces: Namespaces) -> None:
    ha, _hb = await _two_hosts(namespaces)
    refs = NetworkRefs(netns=ha)
    net = VxlanNetwork(VNI, "ul-a", "10.97.0.1", "10.97.0.2")
    before = await nettools.links(ha)

    assert await refs.acquire(net, "i-2-1-VM") == f"brvx{VNI}"
    await nettools.veth(ha, "tap1", ha, "tap1p")
    await nettools.enslave(ha, "tap1", f"brvx{VNI}")
    assert await refs.acquire(net, "i-2-2-VM") == f"brvx{VNI}"
    assert await refs.acquire(net, "i-2-2-VM") == f"brvx{VNI}"  # idempotent per VM
    assert refs.users(net) == {"i-2-1-VM", "i-2-2-VM"}

    assert await refs.release(net, "i-2-1-VM") is False  # i-2-2-VM still uses it
    assert await network.link_exists(f"brvx{VNI}", netns=ha)
    assert await refs.release(net, "i-2-2-VM") is False  # tap1 is still plugged in
    assert await network.link_exists(f"brvx{VNI}", netns=ha)
    await nettools.delete_link(ha, "tap1")
    assert await refs.release(net, "i-2-2-VM") is True
    assert refs.networks() == frozenset()
    assert await nettools.links(ha) == before  # nothing left behind


async def test_failed_acquire_records_no_user(namespaces: Namespaces) -> None:
    ns = namespaces.make("fail")
    refs = NetworkRefs(netns=ns)
    net = VxlanNetwork(VNI, "nodev0", "10.97.0.1", "10.97.0.2")
    with pytest.raises(NotFound):
        await refs.acquire(net, "i-2-1-VM")
    assert refs.users(net) == frozenset()
    assert await nettools.links(ns) == {"lo"}


async def test_vlan_network(namespaces: Namespaces) -> None:
    ha, _hb = await _two_hosts(namespaces)
    refs = NetworkRefs(netns=ha)
    net = VlanNetwork("ul-a", 100)
    before = await nettools.links(ha)
    try:
        bridge = await refs.acquire(net, "i-2-1-VM")
    except Unsupported as err:
        assert "EOPNOTSUPP" in err.message
        assert await nettools.links(ha) == before  # the refusal left nothing behind
        assert refs.users(net) == frozenset()
        pytest.skip(f"802.1Q is not available on this kernel: {err.message}")
    assert bridge == "brvlan100"
    assert await network.bridge_ports(bridge, netns=ha) == ["ul-a.100"]
    assert await refs.release(net, "i-2-1-VM") is True
    assert await nettools.links(ha) == before


async def test_netfilter_toggle(namespaces: Namespaces) -> None:
    ns = namespaces.make("nf")
    await network.ensure_bridge("cloudbr1", netns=ns)
    await network.set_bridge_netfilter("cloudbr1", True, netns=ns)
    await network.set_bridge_netfilter("cloudbr1", False, netns=ns)
    with pytest.raises(NotFound):
        await network.set_bridge_netfilter("nobr", netns=ns)
