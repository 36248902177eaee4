"""libvirt domain and device XML from a `VmSpec`. Pure: no libvirt, no I/O.

Layout decisions, in one place:
- disks are virtio (`vda`, `vdb`, ... from the device id), cdroms are SATA (`sda`, ...),
  which works on both the i440fx and q35 machine types;
- every domain has a cdrom at device id 3 (empty unless the spec has an ISO there), so an
  ISO can be inserted later without hot-plugging a controller;
- the config drive is a second cdrom at device id 4;
- NICs are `<interface type='bridge'>` with the MAC fixed and no `<target dev>`: libvirt
  names the taps;
- `<features><acpi/>` is always present: without it a guest's ACPI shutdown only halts
  it and the domain stays running.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Literal

from cloudplane.hostagent.bridges import nic_bridge
from cloudplane.hostagent.spec import CDROM_DEVICE_ID, DiskSpec, DiskType, NicSpec, VmSpec

DomainType = Literal["kvm", "qemu"]

CONFIG_DRIVE_DEVICE_ID = 4
METADATA_NS = "urn:cloudplane:instance:1"
_MAX_SHARES = 262144  # cgroup v1 cpu.shares ceiling


def _letters(index: int) -> str:
    return "abcdefghijklmnopqrstuvwxyz"[index]


def disk_target(disk: DiskSpec) -> str:
    """The guest device name: `vd<x>` for disks, `sd<x>` for cdroms."""
    return ("sd" if disk.is_cdrom else "vd") + _letters(disk.device_id)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def _disk_element(disk: DiskSpec) -> ET.Element:
    device = "cdrom" if disk.is_cdrom else "disk"
    if disk.is_block:
        kind, source = "block", {"dev": disk.path}
    elif disk.path.startswith("/"):
        kind, source = "file", {"file": disk.path}
    else:
        kind, source = "volume", {"pool": disk.pool or "", "volume": disk.path}
    element = ET.Element("disk", {"type": kind, "device": device})
    _sub(element, "driver", name="qemu", type=disk.format.value)
    _sub(element, "source", **source)
    if disk.backing is not None:
        store = _sub(element, "backingStore", type="file")
        _sub(store, "format", type=disk.backing_format.value)
        _sub(store, "source", file=disk.backing)
        _sub(store, "backingStore")  # the template itself has no backing file
    _sub(element, "target", dev=disk_target(disk), bus="sata" if disk.is_cdrom else "virtio")
    if disk.is_cdrom:
        _sub(element, "readonly")
    return element


def _cdrom_element(device_id: int, iso_path: str | None) -> ET.Element:
    element = ET.Element("disk", {"type": "file", "device": "cdrom"})
    _sub(element, "driver", name="qemu", type="raw")
    if iso_path is not None:
        _sub(element, "source", file=iso_path)
    _sub(element, "target", dev="sd" + _letters(device_id), bus="sata")
    _sub(element, "readonly")
    return element


def _nic_element(nic: NicSpec) -> ET.Element:
    element = ET.Element("interface", {"type": "bridge"})
    _sub(element, "mac", address=nic.mac)
    _sub(element, "source", bridge=nic_bridge(nic))
    _sub(element, "model", type="virtio")
    return element


def _to_string(element: ET.Element) -> str:
    ET.indent(element)
    return ET.tostring(element, encoding="unicode")


def disk_xml(disk: DiskSpec) -> str:
    """Device XML for attaching or detaching one disk or ISO."""
    return _to_string(_disk_element(disk))


def cdrom_xml(iso_path: str | None, device_id: int = CDROM_DEVICE_ID) -> str:
    """Device XML for changing a cdrom's media; `None` ejects it."""
    return _to_string(_cdrom_element(device_id, iso_path))


def nic_xml(nic: NicSpec) -> str:
    return _to_string(_nic_element(nic))


def _os_element(root: ET.Element, spec: VmSpec, arch: str) -> None:
    os_el = _sub(root, "os")
    _sub(os_el, "type", "hvm", arch=arch)
    if spec.boot is not None:
        _sub(os_el, "kernel", spec.boot.kernel)
        if spec.boot.initrd is not None:
            _sub(os_el, "initrd", spec.boot.initrd)
        if spec.boot.cmdline is not None:
            _sub(os_el, "cmdline", spec.boot.cmdline)
        return
    has_root = any(d.type is DiskType.ROOT for d in spec.disks)
    has_iso = any(d.is_cdrom for d in spec.disks)
    order = ["cdrom", "hd"] if has_iso and not has_root else ["hd", "cdrom"]
    for dev in order:
        _sub(os_el, "boot", dev=dev)


def _devices_element(root: ET.Element, spec: VmSpec, config_drive: str | None) -> None:
    devices = _sub(root, "devices")
    for disk in sorted(spec.disks, key=lambda d: (d.is_cdrom, d.device_id)):
        devices.append(_disk_element(disk))
    cdrom_ids = {d.device_id for d in spec.disks if d.is_cdrom}
    if CDROM_DEVICE_ID not in cdrom_ids:
        devices.append(_cdrom_element(CDROM_DEVICE_ID, None))
    if config_drive is not None:
        if CONFIG_DRIVE_DEVICE_ID in cdrom_ids:
            raise ValueError(f"{spec.name}: cdrom device id {CONFIG_DRIVE_DEVICE_ID} is reserved for the config drive")
        devices.append(_cdrom_element(CONFIG_DRIVE_DEVICE_ID, config_drive))
    for nic in sorted(spec.nics, key=lambda n: n.device_id):
        devices.append(_nic_element(nic))
    if spec.console_log is not None:
        serial = _sub(devices, "serial", type="file")
        _sub(serial, "source", path=spec.console_log, append="on")
    else:
        serial = _sub(devices, "serial", type="pty")
    _sub(serial, "target", port="0")
    graphics_attrs = {"type": "vnc", "autoport": "yes", "listen": "127.0.0.1"}
    if spec.vnc_password is not None:
        graphics_attrs["passwd"] = spec.vnc_password
    graphics = _sub(devices, "graphics", **graphics_attrs)
    _sub(graphics, "listen", type="address", address="127.0.0.1")
    _sub(devices, "memballoon", model="virtio")


def domain_xml(
    spec: VmSpec,
    *,
    domain_type: DomainType = "kvm",
    config_drive: str | None = None,
    arch: str = "x86_64",
) -> str:
    """The persistent definition of `spec`'s domain.

    `config_drive` is the path of the image built from `spec.user_data` and
    `spec.public_keys` (`configdrive.build`); it is required exactly when the spec has either.
    """
    if domain_type not in ("kvm", "qemu"):
        raise ValueError(f"domain_type must be 'kvm' or 'qemu', got {domain_type!r}")
    if spec.needs_config_drive != (config_drive is not None):
        raise ValueError(f"{spec.name}: a config drive image is needed exactly when the spec has user_data "
                         "or public_keys")
    root = ET.Element("domain", {"type": domain_type})
    _sub(root, "name", spec.name)
    _sub(root, "uuid", spec.uuid)
    metadata = _sub(root, "metadata")
    # Spelled with a literal prefix rather than ET.register_namespace, which is process-global.
    instance = _sub(metadata, "cloudplane:instance", **{"xmlns:cloudplane": METADATA_NS})
    _sub(instance, "cloudplane:os-type", spec.os_type)
    _sub(root, "memory", str(spec.memory_mib), unit="MiB")
    _sub(root, "currentMemory", str(spec.memory_mib), unit="MiB")
    _sub(root, "vcpu", str(spec.vcpus), placement="static")
    cputune = _sub(root, "cputune")
    _sub(cputune, "shares", str(min(spec.vcpus * spec.cpu_mhz, _MAX_SHARES)))
    _os_element(root, spec, arch)
    features = _sub(root, "features")
    _sub(features, "acpi")
    _sub(features, "apic")
    _sub(root, "clock", offset="utc")
    _sub(root, "on_poweroff", "destroy")
    _sub(root, "on_reboot", "restart")
    _sub(root, "on_crash", "destroy")
    _devices_element(root, spec, config_drive)
    return _to_string(root)
