"""What the management server asks a host for, as frozen, self-validating data.

Nothing here acts: `domxml.py` turns a `VmSpec` into libvirt XML, `driver.py` runs it,
`firewall.py` turns `NicRules` into nftables chains. Spellings of enum values follow
CloudStack where CloudStack has one (volume types `ROOT`/`DATADISK`/`ISO`).
"""

from __future__ import annotations

import ipaddress
import re
import uuid as uuidlib
from dataclasses import dataclass
from enum import StrEnum

# CloudStack puts an ISO in the cdrom with device id 3 (1, 2, 4, ... are data disks).
CDROM_DEVICE_ID = 3

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


class VmPowerState(StrEnum):
    """A domain's power state as the agent reports it in pings.

    CloudStack's `VirtualMachine.PowerState` is coarser:
        Running -> PowerOn, Paused -> PowerOn (a paused guest still holds its resources),
        Stopped -> PowerOff, Unknown -> PowerUnknown;
    a VM the management server expects on this host but absent from the report is
    PowerReportMissing.
    """

    RUNNING = "Running"
    STOPPED = "Stopped"
    PAUSED = "Paused"
    UNKNOWN = "Unknown"

    @property
    def cloudstack(self) -> str:
        return _CLOUDSTACK_POWER[self]


_CLOUDSTACK_POWER = {
    VmPowerState.RUNNING: "PowerOn",
    VmPowerState.PAUSED: "PowerOn",
    VmPowerState.STOPPED: "PowerOff",
    VmPowerState.UNKNOWN: "PowerUnknown",
}


class DiskFormat(StrEnum):
    QCOW2 = "qcow2"
    RAW = "raw"


class DiskType(StrEnum):
    ROOT = "ROOT"
    DATADISK = "DATADISK"
    ISO = "ISO"


class Protocol(StrEnum):
    TCP = "tcp"
    UDP = "udp"
    ICMP = "icmp"
    ALL = "all"


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ValueError(message)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class DiskSpec:
    """One disk or cdrom. `path` is an absolute file or block-device path, or the
    name of a volume inside `pool` (libvirt then resolves it)."""

    path: str
    device_id: int
    type: DiskType = DiskType.ROOT
    format: DiskFormat = DiskFormat.QCOW2
    pool: str | None = None
    backing: str | None = None  # template the qcow2 overlay is based on
    backing_format: DiskFormat = DiskFormat.QCOW2

    def __post_init__(self) -> None:
        _check(bool(self.path), "disk path must not be empty")
        _check(_is_int(self.device_id) and 0 <= self.device_id < 26,
               f"disk {self.path}: device_id must be 0..25, got {self.device_id!r}")
        _check(self.path.startswith("/") or self.pool is not None,
               f"disk {self.path}: a relative path names a volume and needs a pool")
        if self.type is DiskType.ISO:
            _check(self.format is DiskFormat.RAW, f"ISO {self.path} must have format raw")
        if self.backing is not None:
            _check(self.format is DiskFormat.QCOW2 and self.type is not DiskType.ISO,
                   f"disk {self.path}: only a qcow2 disk can have a backing template")
            _check(self.backing.startswith("/"), f"backing {self.backing} must be an absolute path")

    @property
    def is_cdrom(self) -> bool:
        return self.type is DiskType.ISO

    @property
    def is_block(self) -> bool:
        return self.path.startswith("/dev/")


@dataclass(frozen=True, slots=True)
class NicSpec:
    """One guest NIC. `bridge` is the traffic label's bridge (cloudbr0, cloudbr1); when
    `vlan` or `vni` is set the NIC goes on that network's own bridge instead (see
    `bridges.nic_bridge`)."""

    mac: str
    bridge: str
    device_id: int
    ip: str | None = None
    vlan: int | None = None
    vni: int | None = None

    def __post_init__(self) -> None:
        _check(bool(_MAC.match(self.mac)), f"bad MAC {self.mac!r} (want lowercase aa:bb:cc:dd:ee:ff)")
        _check(int(self.mac[:2], 16) & 1 == 0, f"MAC {self.mac} is multicast")
        _check(bool(self.bridge), "nic bridge must not be empty")
        _check(_is_int(self.device_id) and self.device_id >= 0, f"bad nic device_id {self.device_id!r}")
        _check(self.vlan is None or self.vni is None, f"nic {self.mac}: vlan and vni are exclusive")
        if self.vlan is not None:
            _check(_is_int(self.vlan) and 1 <= self.vlan <= 4094, f"vlan must be 1..4094, got {self.vlan!r}")
        if self.vni is not None:
            _check(_is_int(self.vni) and 1 <= self.vni < 2**24, f"vni must be 1..16777215, got {self.vni!r}")
        if self.ip is not None:
            ipaddress.ip_address(self.ip)


@dataclass(frozen=True, slots=True)
class BootSpec:
    """Direct kernel boot, for tiny test guests; normal guests boot from their disks."""

    kernel: str
    initrd: str | None = None
    cmdline: str | None = None


@dataclass(frozen=True, slots=True)
class VmSpec:
    name: str  # CloudStack instance name, e.g. i-2-10-VM
    uuid: str
    vcpus: int
    cpu_mhz: int  # per vCPU; becomes the CPU weight (shares = vcpus * mhz) like CloudStack
    memory_mib: int
    disks: tuple[DiskSpec, ...] = ()
    nics: tuple[NicSpec, ...] = ()
    os_type: str = "Other (64-bit)"
    boot: BootSpec | None = None
    vnc_password: str | None = None
    user_data: bytes | None = None  # delivered on a config drive
    public_keys: tuple[str, ...] = ()  # SSH keys, on the config drive too
    hostname: str | None = None  # the guest's host name (the VM's name); the instance name when None
    console_log: str | None = None  # serial console to this file; a pty when None

    def __post_init__(self) -> None:
        # Accept lists from callers; store tuples so the spec stays hashable and frozen.
        object.__setattr__(self, "disks", tuple(self.disks))
        object.__setattr__(self, "nics", tuple(self.nics))
        object.__setattr__(self, "public_keys", tuple(self.public_keys))
        _check(bool(_NAME.match(self.name)), f"bad instance name {self.name!r}")
        uuidlib.UUID(self.uuid)
        for attr in ("vcpus", "cpu_mhz", "memory_mib"):
            value = getattr(self, attr)
            _check(_is_int(value) and value > 0, f"{self.name}: {attr} must be a positive int, got {value!r}")
        disk_ids = [(d.is_cdrom, d.device_id) for d in self.disks]
        _check(len(set(disk_ids)) == len(disk_ids), f"{self.name}: duplicate disk device ids")
        nic_ids = [n.device_id for n in self.nics]
        _check(len(set(nic_ids)) == len(nic_ids), f"{self.name}: duplicate nic device ids")
        macs = [n.mac for n in self.nics]
        _check(len(set(macs)) == len(macs), f"{self.name}: duplicate MACs")
        if self.vnc_password is not None:
            # QEMU's VNC auth uses only the first 8 characters.
            _check(0 < len(self.vnc_password) <= 8, f"{self.name}: VNC password must be 1..8 characters")

    @property
    def needs_config_drive(self) -> bool:
        return self.user_data is not None or bool(self.public_keys)


@dataclass(frozen=True, slots=True)
class HostCapacity:
    """What a host offers, for CloudStack's StartupRoutingCommand."""

    cpu_sockets: int
    cpu_cores: int  # physical cores on all sockets
    cpus: int  # logical CPUs (cores x threads)
    cpu_mhz: int
    memory_bytes: int
    hypervisor_version: str
    local_storage_bytes: int
    arch: str


@dataclass(frozen=True, slots=True)
class SecurityRule:
    """One allow rule of a security group. `cidr` is the peer: the source for
    ingress, the destination for egress. ICMP type/code -1 means any."""

    protocol: Protocol
    cidr: str = "0.0.0.0/0"
    port_start: int | None = None
    port_end: int | None = None
    icmp_type: int = -1
    icmp_code: int = -1

    def __post_init__(self) -> None:
        ipaddress.ip_network(self.cidr, strict=False)
        if self.protocol in (Protocol.TCP, Protocol.UDP):
            start = self.port_start
            end = start if self.port_end is None else self.port_end
            _check(start is not None and end is not None and _is_int(start) and _is_int(end)
                   and 1 <= start <= end <= 65535,
                   f"{self.protocol} rule needs a port range within 1..65535, got {start}-{end}")
            object.__setattr__(self, "port_end", end)
        else:
            _check(self.port_start is None and self.port_end is None, f"{self.protocol} rule takes no ports")
        if self.protocol is Protocol.ICMP:
            _check(-1 <= self.icmp_type <= 255 and -1 <= self.icmp_code <= 255, "bad ICMP type/code")
            _check(self.icmp_type != -1 or self.icmp_code == -1, "an ICMP code needs a type")

    @property
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(self.cidr, strict=False)


@dataclass(frozen=True, slots=True)
class NicRules:
    """Security-group rules for one VM NIC. Ingress is default-deny; egress is
    allow-all when `egress` is None, default-deny with these allows otherwise."""

    vm_name: str
    device_id: int
    mac: str
    ip: str
    ingress: tuple[SecurityRule, ...] = ()
    egress: tuple[SecurityRule, ...] | None = None
    extra_ips: tuple[str, ...] = ()  # secondary IPs the NIC may use

    def __post_init__(self) -> None:
        object.__setattr__(self, "ingress", tuple(self.ingress))
        if self.egress is not None:
            object.__setattr__(self, "egress", tuple(self.egress))
        object.__setattr__(self, "extra_ips", tuple(self.extra_ips))
        _check(bool(_NAME.match(self.vm_name)), f"bad instance name {self.vm_name!r}")
        _check(bool(_MAC.match(self.mac)), f"bad MAC {self.mac!r}")
        for address in (self.ip, *self.extra_ips):
            ipaddress.ip_address(address)

    @property
    def key(self) -> str:
        """Stable identifier of this NIC for chain and set names."""
        return f"{self.vm_name}-{self.device_id}"
