"""What a StartCommand (or PrepareForMigrationCommand) asks for, read from its
JSON arguments into frozen data. Pure: nothing here touches libvirt or the host.

The management server sends the whole VM (actors/kinds/vmspec.py): the compute shape

    {"name": "i-2-10-VM", "uuid": ..., "cpus": 1, "mhz": 1000, "ram_mb": 512,
     "type": "User", "ha": false, "user_data": <base64 or text> | null}

and these fields, each optional:

    "os_type":      guest OS name (kept in the domain's metadata)
    "vnc_password": up to 8 characters
    "boot":         {"kernel": path, "initrd": path, "cmdline": str}, direct kernel
                    boot; the same three keys are also read from "details"
    "template":     {"name": volume in the pool, "path": image file to copy into
                    the pool first, "pool": POOL}, the ROOT disk is then a qcow2
                    overlay on it in the same pool, named "root_volume" (default
                    <name>-ROOT), of "root_size" bytes (default: the template's virtual size)
    "disks":        [{"volume"|"path", "pool": POOL, "device_id", "type": ROOT|DATADISK|ISO,
                      "format": qcow2|raw, "size": bytes (create the volume when missing)}]
    "nics":         [{"mac", "device_id", "ip", "traffic": Guest|Public|Management|Storage,
                      "broadcast_uri": "vlan://100" | "vxlan://5001" | "vlan://untagged",
                      "bridge": explicit host bridge (the network's traffic label),
                      "netmask", "gateway", "isdefault", "mtu": carried, not used by the host}]
    "ssh_keys":     [public key lines], put on the config drive with the user data
    "hostname":     the guest's host name on the config drive (default: the instance name)

POOL is a libvirt pool's name, or the management server's primary storage pool
{"uuid", "type": NetworkFilesystem|Filesystem|SharedMountPoint, "host", "path"}: the
agent then defines that pool (named by its uuid) before using it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cloudplane.hostagent.bridges import TrafficLabels, TrafficType
from cloudplane.hostagent.netrefs import GuestNetwork, VlanNetwork, VxlanNetwork
from cloudplane.hostagent.spec import BootSpec, DiskFormat, DiskSpec, DiskType, NicSpec, VmSpec

ROOT_DEVICE_ID = 0


@dataclass(frozen=True, slots=True)
class PoolRef:
    """A pool the start needs; `type` None: one the host already has (the local pool)."""

    name: str
    type: str | None = None
    host: str | None = None
    path: str | None = None


@dataclass(frozen=True, slots=True)
class NewVolume:
    """A volume to create in `pool` if it is not there yet (a fresh ROOT or data disk)."""

    pool: str
    name: str
    size: int
    format: DiskFormat


@dataclass(frozen=True, slots=True)
class TemplateRef:
    name: str  # the template's volume in `pool`
    pool: str | None = None  # None: the agent's local pool
    path: str | None = None  # copy this image into the pool first when the volume is missing


@dataclass(frozen=True, slots=True)
class StartRequest:
    """One VM as the management server describes it; `spec()` makes the VmSpec once
    the agent has the ROOT disk built from `template` (if any)."""

    name: str
    uuid: str
    vcpus: int
    cpu_mhz: int
    memory_mib: int
    os_type: str
    disks: tuple[DiskSpec, ...]
    nics: tuple[NicSpec, ...]
    boot: BootSpec | None
    template: TemplateRef | None
    root_volume: str
    root_size: int | None
    user_data: bytes | None
    vnc_password: str | None
    pools: tuple[PoolRef, ...] = ()  # primary storage pools to define here first
    volumes: tuple[NewVolume, ...] = ()
    public_keys: tuple[str, ...] = ()
    hostname: str | None = None

    def spec(self, root: DiskSpec | None = None, console_log: str | None = None) -> VmSpec:
        disks = self.disks if root is None else (root, *self.disks)
        return VmSpec(name=self.name, uuid=self.uuid, vcpus=self.vcpus, cpu_mhz=self.cpu_mhz,
                      memory_mib=self.memory_mib, disks=disks, nics=self.nics, os_type=self.os_type,
                      boot=self.boot, vnc_password=self.vnc_password, user_data=self.user_data,
                      public_keys=self.public_keys, hostname=self.hostname, console_log=console_log)


def _need(vm: Mapping[str, Any], key: str) -> Any:
    if vm.get(key) in (None, ""):
        raise ValueError(f"StartCommand vm.{key} is missing")
    return vm[key]


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"{what} must be an integer, got {value!r}")
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{what} must be an integer, got {value!r}") from None


def user_data(value: Any) -> bytes | None:
    """CloudStack carries user data base64-encoded; anything that is not valid
    base64 is taken as the text itself."""
    if value in (None, ""):
        return None
    if isinstance(value, bytes):
        return value
    text = str(value)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text.encode()


def _boot(vm: Mapping[str, Any]) -> BootSpec | None:
    boot = vm.get("boot") or {}
    details = vm.get("details") or {}
    kernel = boot.get("kernel") or details.get("kernel")
    if not kernel:
        return None
    if not str(kernel).startswith("/"):
        raise ValueError(f"boot kernel must be an absolute path on the host, got {kernel!r}")
    initrd = boot.get("initrd") or details.get("initrd")
    cmdline = boot.get("cmdline") or details.get("cmdline")
    return BootSpec(str(kernel), str(initrd) if initrd else None, str(cmdline) if cmdline else None)


def pool_ref(value: Any, default_pool: str) -> PoolRef:
    """A pool named (str), described by the management server (dict), or the default."""
    if not value:
        return PoolRef(default_pool)
    if isinstance(value, str):
        return PoolRef(value)
    if not isinstance(value, Mapping) or not value.get("uuid"):
        raise ValueError(f"pool {value!r} needs a uuid")
    path = value.get("path")
    if not path or not str(path).startswith("/"):
        raise ValueError(f"pool {value['uuid']} needs an absolute path, got {path!r}")
    return PoolRef(str(value["uuid"]), str(value.get("type") or "Filesystem"), value.get("host") or None, str(path))


def _disk(d: Mapping[str, Any], default_pool: str) -> tuple[DiskSpec, PoolRef | None, NewVolume | None]:
    kind = DiskType(str(d.get("type", "DATADISK")).upper())
    fmt = DiskFormat(str(d.get("format", "raw" if kind is DiskType.ISO else "qcow2")).lower())
    ref, new = None, None
    if d.get("path"):
        path, pool = str(d["path"]), d.get("pool") if isinstance(d.get("pool"), str) else None
    elif d.get("volume"):
        ref = pool_ref(d.get("pool"), default_pool)
        path, pool = str(d["volume"]), ref.name
        if d.get("size") not in (None, "") and kind is not DiskType.ISO:
            new = NewVolume(pool, path, _int(d["size"], "disk size"), fmt)
    else:
        raise ValueError(f"disk {dict(d)} needs a path or a volume")
    disk = DiskSpec(path=path, device_id=_int(d.get("device_id", 1), "disk device_id"), type=kind, format=fmt,
                    pool=pool if not path.startswith("/") else None)
    return disk, ref, new


def isolation(broadcast_uri: str | None) -> tuple[int | None, int | None]:
    """(vlan, vni) from CloudStack's broadcast URI; untagged or absent is (None, None)."""
    if not broadcast_uri:
        return None, None
    scheme, sep, rest = str(broadcast_uri).partition("://")
    if not sep or rest.lower() in ("untagged", ""):
        return None, None
    if scheme.lower() == "vlan":
        return _int(rest, "VLAN id"), None
    if scheme.lower() == "vxlan":
        return None, _int(rest, "VXLAN VNI")
    raise ValueError(f"unsupported broadcast URI {broadcast_uri!r} (vlan:// or vxlan://)")


def _nic(n: Mapping[str, Any], index: int, labels: TrafficLabels) -> NicSpec:
    vlan, vni = isolation(n.get("broadcast_uri"))
    bridge = n.get("bridge") or labels.bridge_for(TrafficType(str(n.get("traffic", "Guest")).capitalize()))
    return NicSpec(mac=str(_need(n, "mac")).lower(), bridge=str(bridge),
                   device_id=_int(n.get("device_id", index), "nic device_id"),
                   ip=n.get("ip") or None, vlan=vlan, vni=vni)


def _template(vm: Mapping[str, Any], default_pool: str) -> tuple[TemplateRef | None, PoolRef | None]:
    t = vm.get("template")
    if not t:
        return None, None
    if isinstance(t, str):
        return TemplateRef(name=t), None
    name = t.get("name") or (str(t["path"]).rsplit("/", 1)[-1] if t.get("path") else None)
    if not name:
        raise ValueError("template needs a name or a path")
    ref = pool_ref(t.get("pool"), default_pool) if t.get("pool") else None
    return TemplateRef(name=str(name), pool=ref.name if ref else None, path=t.get("path") or None), ref


def start_request(vm: Mapping[str, Any], labels: TrafficLabels, default_pool: str) -> StartRequest:
    """Read the `vm` argument of a StartCommand; ValueError names what is wrong."""
    if not isinstance(vm, Mapping):
        raise ValueError("StartCommand needs a vm object")
    name = str(_need(vm, "name"))
    parsed = [_disk(d, default_pool) for d in vm.get("disks") or ()]
    disks = tuple(d for d, _, _ in parsed)
    template, template_pool = _template(vm, default_pool)
    pools = [p for _, p, _ in parsed if p is not None and p.type is not None]
    if template_pool is not None and template_pool.type is not None:
        pools.insert(0, template_pool)
    keys = vm.get("ssh_keys") or ()
    if isinstance(keys, str) or not all(isinstance(k, str) for k in keys):
        raise ValueError("ssh_keys must be a list of public key lines")
    if template is not None and any(d.device_id == ROOT_DEVICE_ID and not d.is_cdrom for d in disks):
        raise ValueError(f"{name}: a template and a disk at device id {ROOT_DEVICE_ID} both claim the ROOT disk")
    root_size = vm.get("root_size")
    return StartRequest(
        name=name,
        uuid=str(_need(vm, "uuid")),
        vcpus=_int(_need(vm, "cpus"), "cpus"),
        cpu_mhz=_int(vm.get("mhz") or 1000, "mhz"),
        memory_mib=_int(_need(vm, "ram_mb"), "ram_mb"),
        os_type=str(vm.get("os_type") or "Other (64-bit)"),
        disks=disks,
        nics=tuple(_nic(n, i, labels) for i, n in enumerate(vm.get("nics") or ())),
        boot=_boot(vm),
        template=template,
        root_volume=str(vm.get("root_volume") or f"{name}-ROOT"),
        root_size=_int(root_size, "root_size") if root_size not in (None, "") else None,
        user_data=user_data(vm.get("user_data")),
        vnc_password=vm.get("vnc_password") or None,
        pools=tuple(dict.fromkeys(pools)),
        volumes=tuple(v for _, _, v in parsed if v is not None),
        public_keys=tuple(k.strip() for k in keys if k.strip()),
        hostname=str(vm["hostname"]) if vm.get("hostname") else None,
    )


def guest_networks(nics: tuple[NicSpec, ...], vxlan: tuple[str, str, str] | None) -> list[GuestNetwork]:
    """The isolated networks (their bridges and uplinks) these NICs need on this host.
    `vxlan` is (underlay device, local ip, group) from the agent's configuration."""
    nets: list[GuestNetwork] = []
    for nic in nics:
        if nic.vlan is not None:
            # The tagged sub-interface sits on the traffic label's bridge.
            nets.append(VlanNetwork(physdev=nic.bridge, vid=nic.vlan))
        elif nic.vni is not None:
            if vxlan is None:
                raise ValueError(f"NIC {nic.mac} is on VXLAN {nic.vni} but vxlan.device is not configured")
            nets.append(VxlanNetwork(nic.vni, *vxlan))
    return list(dict.fromkeys(nets))
