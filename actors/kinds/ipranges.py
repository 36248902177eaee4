"""Address arithmetic for the physical layer, as pure functions: CIDRs from
gateway and netmask, range overlap, guest VLAN (vnet) ranges, VLAN tags and
primary-storage URLs. No entity kinds live here; the zone, pod, physical
network and storage kinds (and their API commands) share these checks, and
each raises ParamError with CloudStack's wording.
"""

from __future__ import annotations

import hashlib
import ipaddress
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from cloudplane.errors import ParamError

IPv4 = ipaddress.IPv4Address
MIN_VLAN, MAX_VLAN = 0, 4095
UNTAGGED = "untagged"
ALLOCATION_STATES = ("Enabled", "Disabled")


def ip4(text: str | None) -> IPv4 | None:
    """The address, or None if `text` is not a dotted IPv4 address."""
    if not text:
        return None
    try:
        return IPv4(text.strip())
    except ValueError:
        return None


def is_netmask(text: str | None) -> bool:
    a = ip4(text)
    if a is None:
        return False
    bits = int(a)
    inverted = (~bits) & 0xFFFFFFFF
    return (inverted & (inverted + 1)) == 0  # ones then zeros


def cidr_of(gateway: str, netmask: str) -> ipaddress.IPv4Network:
    """The network a gateway and netmask describe (`172.16.15.1` + /24 → `172.16.15.0/24`)."""
    return ipaddress.IPv4Network(f"{gateway}/{netmask}", strict=False)


def in_cidr(addr: str, net: ipaddress.IPv4Network) -> bool:
    a = ip4(addr)
    return a is not None and a in net


def overlaps(a_start: str, a_end: str, b_start: str, b_end: str) -> bool:
    return int(IPv4(a_start)) <= int(IPv4(b_end)) and int(IPv4(b_start)) <= int(IPv4(a_end))


def size(start: str, end: str) -> int:
    return int(IPv4(end)) - int(IPv4(start)) + 1


def addresses(start: str, end: str) -> list[str]:
    lo, hi = int(IPv4(start)), int(IPv4(end))
    return [str(IPv4(n)) for n in range(lo, hi + 1)]


def allocation_state(value: str | None) -> str | None:
    """CloudStack's Grouping.AllocationState, spelled exactly."""
    if value is None or value == "":
        return None
    if value not in ALLOCATION_STATES:
        raise ParamError(f"Unable to resolve Allocation State '{value}' to a supported state")
    return value


# -- pods ---------------------------------------------------------------------------------


def check_pod(gateway: str | None, netmask: str | None, start: str | None, end: str | None
              ) -> ipaddress.IPv4Network:
    """A pod's management subnet and IP range, checked as createPod checks them."""
    if ip4(gateway) is None:
        raise ParamError("The gateway is invalid")
    if not is_netmask(netmask):
        raise ParamError("The netmask is invalid")
    assert gateway is not None and netmask is not None
    net = cidr_of(gateway, netmask)
    if start is not None and start != "":
        if ip4(start) is None:
            raise ParamError("The start address of the IP range is not a valid IP address.")
        if end is not None and end != "" and ip4(end) is None:
            raise ParamError("The end address of the IP range is not a valid IP address.")
        if not in_cidr(start, net):
            raise ParamError("The start address of the IP range is not in the CIDR subnet.")
        if end and not in_cidr(end, net):
            raise ParamError("The end address of the IP range is not in the CIDR subnet.")
        if end and int(IPv4(start)) > int(IPv4(end)):
            raise ParamError("The start IP address must have a lower value than the end IP address.")
    if start and overlaps(start, end or start, gateway, gateway):
        raise ParamError("The gateway shouldn't overlap start/end ip addresses")
    return net


def pod_range_end(net: ipaddress.IPv4Network) -> str:
    """createPod's default end IP: the last usable address of the pod's CIDR."""
    return str(net.broadcast_address - 1) if net.prefixlen < 31 else str(net.broadcast_address)


# -- public and guest ranges ------------------------------------------------------------------


def vlan_uri(vlan: str | None) -> str:
    """`50` → `vlan://50`; empty or `untagged` → `untagged` (CloudStack's Vlan.UNTAGGED)."""
    if vlan is None or vlan == "" or vlan.lower() in (UNTAGGED, "vlan://untagged"):
        return UNTAGGED
    v = vlan[len("vlan://"):] if vlan.lower().startswith("vlan://") else vlan
    try:
        n = int(v)
    except ValueError:
        raise ParamError(f"Invalid vlan id {vlan}") from None
    if not MIN_VLAN <= n <= MAX_VLAN:
        raise ParamError(f"Invalid vlan id {vlan}: must be between {MIN_VLAN} and {MAX_VLAN}")
    return f"vlan://{n}"


def check_range(gateway: str | None, netmask: str | None, start: str | None, end: str | None
                ) -> tuple[ipaddress.IPv4Network, str]:
    """An IPv4 range of a VLAN: the gateway, start and end must lie in one subnet.
    Returns the subnet and the end address (the start when none is given)."""
    if ip4(gateway) is None:
        raise ParamError("Please specify a valid gateway")
    if not is_netmask(netmask):
        raise ParamError("Please specify a valid netmask")
    if ip4(start) is None:
        raise ParamError("Please specify a valid start IP")
    end = end or start
    if ip4(end) is None:
        raise ParamError("Please specify a valid end IP")
    assert gateway is not None and netmask is not None and start is not None
    net = cidr_of(gateway, netmask)
    if not (in_cidr(start, net) and in_cidr(end, net)):
        raise ParamError("Please specify a valid IP range or valid netmask or valid gateway")
    if int(IPv4(start)) > int(IPv4(end)):
        raise ParamError("Please specify a valid IP range: the start IP must not be greater than the end IP")
    if overlaps(start, end, gateway, gateway):
        raise ParamError("The gateway ip should not be the part of the ip range being added.")
    return net, end


# -- guest VLAN ranges of a physical network ----------------------------------------------------


def parse_vnets(text: str) -> list[tuple[int, int]]:
    """`100-200,300-400` (`;` accepted too) → [(100, 200), (300, 400)], checked as CloudStack does."""
    between = f" between {MIN_VLAN} and {MAX_VLAN}"
    out: list[tuple[int, int]] = []
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        bits = part.split("-")
        if len(bits) == 1:
            bits = [bits[0], bits[0]]
        if len(bits) != 2:
            raise ParamError("Please provide valid vnet range. vnet range should be a comma separated list of vlan "
                             f"ranges. example 500-500,600-601{between}")
        try:
            lo, hi = int(bits[0]), int(bits[1])
        except ValueError:
            raise ParamError("Please provide valid vnet range. The vnet range should be a comma separated list "
                             f"example 2001-2012,3000-3005.{between}") from None
        if lo < MIN_VLAN or hi > MAX_VLAN:
            raise ParamError(f"Vnet range has to be{between}")
        if lo > hi:
            raise ParamError(f"Vnet range has to be{between} and start range should be lesser than or equal to "
                             "stop range")
        out.append((lo, hi))
    return out


def vnet_string(vnets: set[int]) -> str | None:
    """Consecutive VLAN ids folded into CloudStack's `a-b,c-d` text."""
    if not vnets:
        return None
    ordered = sorted(vnets)
    parts: list[str] = []
    lo = prev = ordered[0]
    for n in ordered[1:]:
        if n != prev + 1:
            parts.append(f"{lo}-{prev}")
            lo = n
        prev = n
    parts.append(f"{lo}-{prev}")
    return ",".join(parts)


def vnet_set(text: str | None) -> set[int]:
    return {n for lo, hi in parse_vnets(text or "") for n in range(lo, hi + 1)}


# -- primary storage URLs -----------------------------------------------------------------------

# URL scheme → CloudStack's StoragePoolType.
POOL_TYPES = {
    "nfs": "NetworkFilesystem", "file": "Filesystem", "sharedmountpoint": "SharedMountPoint",
    "rbd": "RBD", "iscsi": "IscsiLUN", "clvm": "CLVM", "gluster": "Gluster", "presetup": "PreSetup",
    "vmfs": "VMFS", "cifs": "SMB", "smb": "SMB",
}
DEFAULT_PORTS = {"nfs": 2049, "iscsi": 3260, "rbd": 6789, "gluster": 24007}


@dataclass(frozen=True)
class PoolUrl:
    scheme: str
    pool_type: str
    host: str
    path: str
    port: int | None


def parse_pool_url(url: str) -> PoolUrl:
    """`nfs://10.147.28.6:/export/home/sandbox/primary0` → host, path, type. Only parsed:
    the address is data, nothing ever connects to it."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        raise ParamError(f"{url} is not a valid uri") from None
    scheme = parts.scheme.lower()
    if scheme not in POOL_TYPES:
        raise ParamError(f"Invalid storage pool url {url}: scheme {parts.scheme or '(none)'} is not supported")
    netloc = parts.netloc
    host, _, port_text = netloc.partition(":")
    if scheme not in ("file", "sharedmountpoint", "clvm", "presetup") and not host:
        raise ParamError(f"Invalid storage pool url {url}: it has no host")
    path = parts.path or "/"
    if scheme in ("nfs", "gluster") and not path.startswith("/"):
        raise ParamError(f"Invalid storage pool url {url}: the path must be absolute")
    port: int | None
    try:
        port = int(port_text) if port_text else DEFAULT_PORTS.get(scheme)
    except ValueError:
        raise ParamError(f"Invalid storage pool url {url}: bad port {port_text}") from None
    return PoolUrl(scheme, POOL_TYPES[scheme], host or "localhost", path, port)


def name_uuid(text: str) -> str:
    """Java's UUID.nameUUIDFromBytes: an MD5, version-3 UUID of the bytes. CloudStack names
    a network-filesystem pool this way after its host and path."""
    digest = bytearray(hashlib.md5(text.encode(), usedforsecurity=False).digest())
    digest[6] = (digest[6] & 0x0F) | 0x30
    digest[8] = (digest[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(digest)))


def image_store_protocol(url: str | None, provider: str) -> str | None:
    if not url:
        return None
    scheme = urlsplit(url).scheme.lower()
    return scheme or provider.lower()
