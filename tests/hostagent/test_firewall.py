"""Security groups enforced by nftables on a bridge, inside namespaces the test creates.

    vm1:eth0 10.99.7.1 --tap1-- [host: cloudbr1, br_netfilter on, table inet cloudplane] --tap2-- vm2:eth0 10.99.7.2

vm2 carries the rules; vm1 is an unfiltered peer.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from cloudplane.hostagent import network
from cloudplane.hostagent.errors import FirewallError
from cloudplane.hostagent.firewall import Firewall
from cloudplane.hostagent.spec import NicRules, Protocol, SecurityRule
from tests.hostagent import nettools
from tests.hostagent.nettools import Namespaces

VM1, VM2 = "10.99.7.1", "10.99.7.2"


@dataclass
class Lan:
    host: str
    vm1: str
    vm2: str
    fw: Firewall


@pytest.fixture
async def lan(namespaces: Namespaces) -> AsyncIterator[Lan]:
    if shutil.which("nft") is None:
        pytest.skip("nft is not installed (Debian package nftables)")
    host, vm1, vm2 = namespaces.make("host"), namespaces.make("vm1"), namespaces.make("vm2")
    await network.ensure_bridge("cloudbr1", netns=host)
    await network.set_bridge_netfilter("cloudbr1", netns=host)
    for tap, vm, ip in (("tap1", vm1, VM1), ("tap2", vm2, VM2)):
        await nettools.veth(host, tap, vm, "eth0")
        await nettools.address(vm, "eth0", f"{ip}/24")
        await nettools.enslave(host, tap, "cloudbr1")
    await nettools.listen(namespaces, vm1, 9090, 9091)
    await nettools.listen(namespaces, vm2, 8080, 8081)
    yield Lan(host, vm1, vm2, Firewall(netns=host))


def _rules(**kwargs: object) -> NicRules:
    return NicRules(vm_name="i-2-2-VM", device_id=0, mac="02:00:00:00:00:02", ip=VM2, **kwargs)  # type: ignore[arg-type]


async def test_unfiltered_bridge_passes_everything(lan: Lan) -> None:
    assert await nettools.ping(lan.vm1, VM2, attempts=3)
    assert await nettools.connects(lan.vm1, VM2, 8080)
    assert await nettools.connects(lan.vm1, VM2, 8081)


async def test_ingress_is_default_deny_with_allowed_port(lan: Lan) -> None:
    assert await nettools.ping(lan.vm1, VM2, attempts=3)  # ARP and neighbours settled
    await lan.fw.apply(_rules(ingress=[SecurityRule(Protocol.TCP, "10.99.7.0/24", 8080)]))
    assert await lan.fw.nic_chains() == {"in-i-2-2-VM-0", "out-i-2-2-VM-0"}

    assert await nettools.connects(lan.vm1, VM2, 8080)  # allowed
    assert not await nettools.connects(lan.vm1, VM2, 8081)  # default deny
    assert not await nettools.ping(lan.vm1, VM2)  # ICMP not allowed either
    # Egress is allow-all, and the replies come back through conntrack.
    assert await nettools.connects(lan.vm2, VM1, 9090)
    assert await nettools.ping(lan.vm2, VM1)


async def test_rules_are_replaced_atomically(lan: Lan) -> None:
    await lan.fw.apply(_rules(ingress=[SecurityRule(Protocol.TCP, "10.99.7.0/24", 8080)]))
    assert not await nettools.ping(lan.vm1, VM2)
    await lan.fw.apply(_rules(ingress=[
        SecurityRule(Protocol.ICMP, "10.99.7.1/32", icmp_type=8),
        SecurityRule(Protocol.TCP, "10.99.7.0/24", 8081, 8081),
    ]))
    assert await nettools.ping(lan.vm1, VM2, attempts=3)
    assert await nettools.connects(lan.vm1, VM2, 8081)
    assert not await nettools.connects(lan.vm1, VM2, 8080)  # the old rule is gone


async def test_cidr_outside_the_rule_is_blocked(lan: Lan) -> None:
    await lan.fw.apply(_rules(ingress=[SecurityRule(Protocol.TCP, "10.99.8.0/24", 8080, 8081)]))
    assert not await nettools.connects(lan.vm1, VM2, 8080)


async def test_egress_rules_restrict_outbound(lan: Lan) -> None:
    await lan.fw.apply(_rules(egress=[SecurityRule(Protocol.TCP, f"{VM1}/32", 9090)]))
    assert await nettools.connects(lan.vm2, VM1, 9090)
    assert not await nettools.connects(lan.vm2, VM1, 9091)


async def test_removal_deletes_the_chains_and_opens_the_port(lan: Lan) -> None:
    await lan.fw.apply(_rules(ingress=[SecurityRule(Protocol.TCP, "0.0.0.0/0", 8080)]))
    assert not await nettools.connects(lan.vm1, VM2, 8081)
    await lan.fw.remove_vm("i-2-2-VM")
    assert await lan.fw.nic_chains() == set()
    assert (await lan.fw.current()).elements == {"vm_in": {}, "vm_in6": {}, "vm_out": {}, "vm_out6": {}}
    assert await nettools.connects(lan.vm1, VM2, 8081)
    await lan.fw.remove("i-2-2-VM", 0)  # already gone: no-op
    await lan.fw.delete_table()
    assert not (await lan.fw.current()).exists
    await lan.fw.delete_table()


async def test_nft_failures_are_reported(namespaces: Namespaces) -> None:
    if shutil.which("nft") is None:
        pytest.skip("nft is not installed (Debian package nftables)")
    fw = Firewall(netns=f"{nettools.PREFIX}{namespaces.run_id}-absent")
    with pytest.raises(FirewallError, match="cannot read the firewall"):
        await fw.apply(_rules())
