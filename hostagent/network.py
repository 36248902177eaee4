"""Host links for guest networks, over netlink (pyroute2's AsyncIPRoute).

    ensure_bridge(name)                               a plain bridge, up
    ensure_vlan_bridge(physdev, vid) -> bridge        <physdev>.<vid> enslaved to brvlan<vid>
    ensure_vxlan_bridge(vni, underlay, local, peer)   vxlan<vni> enslaved to brvx<vni>
    release_bridge / release_vlan_bridge / release_vxlan_bridge
                                                      remove them once no guest port remains

Every call takes `netns`: the name of a network namespace (under /run/netns) to work
in instead of the agent's own; it is never created implicitly. Calls are idempotent:
ensuring what exists checks it and brings it up, releasing what is gone is a no-op.
Kernel refusals become `NetworkError` with the errno; a kernel without 802.1Q
support (no CONFIG_VLAN_8021Q) makes `ensure_vlan_bridge` raise `Unsupported`.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pyroute2 import AsyncIPRoute
from pyroute2.netlink.exceptions import NetlinkError

from cloudplane.hostagent import namespaces
from cloudplane.hostagent.bridges import vlan_bridge, vlan_device, vxlan_bridge, vxlan_device
from cloudplane.hostagent.errors import NetworkError, NotFound, Unsupported

VXLAN_PORT = 4789  # IANA
NETLINK_ROUTE = 0


@asynccontextmanager
async def iproute(netns: str | None = None) -> AsyncIterator[AsyncIPRoute]:
    """An rtnetlink connection in `netns` (the agent's own namespace when None)."""
    if netns is None:
        async with AsyncIPRoute() as ipr:
            yield ipr
        return
    sock = await namespaces.open_socket(netns, socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_ROUTE)
    # pyroute2 adopts the descriptor (and closes it); it never forks for a namespace this way.
    async with AsyncIPRoute(fileno=sock.detach()) as ipr:
        yield ipr


def _error(err: NetlinkError, what: str) -> NetworkError:
    return NetworkError(f"{what}: {err.args[1] if len(err.args) > 1 else err}", errno=err.code)


async def _index(ipr: AsyncIPRoute, name: str) -> int | None:
    found = await ipr.link_lookup(ifname=name)
    return int(found[0]) if found else None


async def _kind(ipr: AsyncIPRoute, index: int) -> str | None:
    (msg,) = await ipr.link("get", index=index)
    kind = msg.get(("linkinfo", "kind"))
    return str(kind) if kind is not None else None


async def _ports(ipr: AsyncIPRoute, bridge_index: int) -> list[str]:
    return [str(m.get("ifname")) async for m in await ipr.link("dump", master=bridge_index)]


async def _create(ipr: AsyncIPRoute, name: str, kind: str, what: str, **attrs: Any) -> int:
    """Create link `name` of `kind` unless it exists with that kind; return its index."""
    index = await _index(ipr, name)
    if index is None:
        try:
            await ipr.link("add", ifname=name, kind=kind, **attrs)
        except NetlinkError as err:
            if err.code == errno.EOPNOTSUPP:
                raise
            if err.code != errno.EEXIST:
                raise _error(err, what) from err
        index = await _index(ipr, name)
        if index is None:  # created and removed by someone else in between
            raise NetworkError(f"{what}: {name} vanished after creation", retryable=True)
    have = await _kind(ipr, index)
    if have != kind:
        raise NetworkError(f"{what}: {name} exists but is a {have or 'plain'} link, not {kind}")
    return index


async def _up(ipr: AsyncIPRoute, index: int, *, master: int | None = None) -> None:
    if master is not None:
        await ipr.link("set", index=index, master=master)
    await ipr.link("set", index=index, state="up")


async def _bridge(ipr: AsyncIPRoute, name: str) -> int:
    index = await _create(ipr, name, "bridge", f"bridge {name}")
    await _up(ipr, index)
    return index


async def ensure_bridge(name: str, *, netns: str | None = None) -> str:
    async with iproute(netns) as ipr:
        try:
            await _bridge(ipr, name)
        except NetlinkError as err:
            raise _error(err, f"bridge {name}") from err
    return name


async def ensure_vlan_bridge(physdev: str, vid: int, *, netns: str | None = None) -> str:
    """Bridge `brvlan<vid>` with uplink `<physdev>.<vid>` (an 802.1Q sub-interface)."""
    bridge, device = vlan_bridge(vid), vlan_device(physdev, vid)
    what = f"VLAN {vid} on {physdev}"
    async with iproute(netns) as ipr:
        phys = await _index(ipr, physdev)
        if phys is None:
            raise NotFound(f"{what}: no device {physdev}")
        try:
            # The sub-interface first: if the kernel refuses it, nothing is left behind.
            sub = await _create(ipr, device, "vlan", what, link=phys, vlan_id=vid)
            br = await _bridge(ipr, bridge)
            await _up(ipr, sub, master=br)
        except NetlinkError as err:
            if err.code == errno.EOPNOTSUPP:
                raise Unsupported(
                    f"{what}: the kernel refused the 802.1Q sub-interface {device} with EOPNOTSUPP "
                    "(built without CONFIG_VLAN_8021Q)"
                ) from err
            raise _error(err, what) from err
    return bridge


async def ensure_vxlan_bridge(
    vni: int,
    underlay_dev: str,
    local_ip: str,
    group_or_remote: str,
    *,
    netns: str | None = None,
    port: int = VXLAN_PORT,
) -> str:
    """Bridge `brvx<vni>` with uplink `vxlan<vni>` over `underlay_dev`.

    `group_or_remote` is a multicast group (flooding reaches every host that joined
    it) or one unicast peer; the kernel tells them apart by the address.
    """
    bridge, device = vxlan_bridge(vni), vxlan_device(vni)
    what = f"VXLAN {vni} on {underlay_dev}"
    ipaddress.ip_address(local_ip)
    ipaddress.ip_address(group_or_remote)
    async with iproute(netns) as ipr:
        underlay = await _index(ipr, underlay_dev)
        if underlay is None:
            raise NotFound(f"{what}: no device {underlay_dev}")
        try:
            vx = await _create(
                ipr, device, "vxlan", what,
                vxlan_id=vni, vxlan_link=underlay, vxlan_local=local_ip,
                vxlan_group=group_or_remote, vxlan_port=port, vxlan_learning=1,
            )
            (msg,) = await ipr.link("get", index=vx)
            if msg.get(("linkinfo", "data", "vxlan_id")) != vni:
                raise NetworkError(f"{what}: {device} exists with another VNI")
            br = await _bridge(ipr, bridge)
            await _up(ipr, vx, master=br)
        except NetlinkError as err:
            raise _error(err, what) from err
    return bridge


async def bridge_ports(name: str, *, netns: str | None = None) -> list[str]:
    """Names of the links enslaved to bridge `name` (NotFound if it does not exist)."""
    async with iproute(netns) as ipr:
        index = await _index(ipr, name)
        if index is None:
            raise NotFound(f"no bridge {name}")
        return await _ports(ipr, index)


async def link_exists(name: str, *, netns: str | None = None) -> bool:
    async with iproute(netns) as ipr:
        return await _index(ipr, name) is not None


async def _release(bridge: str, uplink: str | None, netns: str | None) -> bool:
    async with iproute(netns) as ipr:
        index = await _index(ipr, bridge)
        if index is None:
            return True
        try:
            if set(await _ports(ipr, index)) - {uplink}:
                return False  # a guest port is still plugged in
            if uplink is not None:
                up = await _index(ipr, uplink)
                if up is not None:
                    await ipr.link("del", index=up)
            await ipr.link("del", index=index)
        except NetlinkError as err:
            if err.code != errno.ENODEV:  # removed concurrently: the goal is reached
                raise _error(err, f"remove {bridge}") from err
    return True


async def release_bridge(name: str, *, netns: str | None = None) -> bool:
    """Delete bridge `name` if no port remains. True when it is gone."""
    return await _release(name, None, netns)


async def release_vlan_bridge(physdev: str, vid: int, *, netns: str | None = None) -> bool:
    return await _release(vlan_bridge(vid), vlan_device(physdev, vid), netns)


async def release_vxlan_bridge(vni: int, *, netns: str | None = None) -> bool:
    return await _release(vxlan_bridge(vni), vxlan_device(vni), netns)


async def set_bridge_netfilter(name: str, enabled: bool = True, *, netns: str | None = None) -> None:
    """Send the bridge's IPv4/IPv6 traffic through the inet netfilter hooks
    (br_netfilter, per bridge), which `firewall.py` relies on for conntrack."""
    value = 1 if enabled else 0
    async with iproute(netns) as ipr:
        index = await _index(ipr, name)
        if index is None:
            raise NotFound(f"no bridge {name}")
        try:
            await ipr.link("set", index=index, kind="bridge",
                           br_nf_call_iptables=value, br_nf_call_ip6tables=value)
        except NetlinkError as err:
            raise _error(err, f"netfilter on {name}") from err
