"""Per-network reference counts: a guest network's bridge exists on this host while
at least one VM uses it.

`acquire(net, vm)` creates the bridge for the first VM and returns its name;
`release(net, vm)` removes it after the last one, and only if no port is left on it
(a tap libvirt has not yet removed keeps it). Both are idempotent per (network, VM),
so after an agent restart the runtime can re-acquire for the VMs libvirt reports as
running and the counts are whole again; the bridges themselves are the durable state.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from cloudplane.hostagent import network
from cloudplane.hostagent.bridges import vlan_bridge, vxlan_bridge


@dataclass(frozen=True, slots=True)
class VlanNetwork:
    physdev: str
    vid: int

    @property
    def bridge(self) -> str:
        return vlan_bridge(self.vid)


@dataclass(frozen=True, slots=True)
class VxlanNetwork:
    vni: int
    underlay_dev: str
    local_ip: str
    group_or_remote: str

    @property
    def bridge(self) -> str:
        return vxlan_bridge(self.vni)


GuestNetwork = VlanNetwork | VxlanNetwork


class NetworkRefs:
    """Which VMs use which guest network on this host (or in `netns`)."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns
        self._users: dict[GuestNetwork, set[str]] = {}
        self._lock = asyncio.Lock()  # create/remove of one bridge must not interleave

    def users(self, net: GuestNetwork) -> frozenset[str]:
        return frozenset(self._users.get(net, ()))

    def networks(self) -> frozenset[GuestNetwork]:
        return frozenset(self._users)

    async def acquire(self, net: GuestNetwork, vm: str) -> str:
        async with self._lock:
            users = self._users.get(net)
            if users is None:
                await self._ensure(net)  # a failure leaves no user behind
                users = self._users[net] = set()
            users.add(vm)
            return net.bridge

    async def release(self, net: GuestNetwork, vm: str) -> bool:
        """Drop `vm`'s use of `net`; True when the network's links are gone."""
        async with self._lock:
            users = self._users.get(net)
            if users is not None:
                users.discard(vm)
                if users:
                    return False
            removed = await self._remove(net)
            if removed:
                self._users.pop(net, None)
            return removed

    async def _ensure(self, net: GuestNetwork) -> None:
        if isinstance(net, VlanNetwork):
            await network.ensure_vlan_bridge(net.physdev, net.vid, netns=self.netns)
        else:
            await network.ensure_vxlan_bridge(
                net.vni, net.underlay_dev, net.local_ip, net.group_or_remote, netns=self.netns
            )

    async def _remove(self, net: GuestNetwork) -> bool:
        if isinstance(net, VlanNetwork):
            return await network.release_vlan_bridge(net.physdev, net.vid, netns=self.netns)
        return await network.release_vxlan_bridge(net.vni, netns=self.netns)
