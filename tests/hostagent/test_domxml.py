from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from cloudplane.hostagent.domxml import METADATA_NS, cdrom_xml, disk_target, disk_xml, domain_xml, nic_xml
from cloudplane.hostagent.spec import BootSpec, DiskFormat, DiskSpec, DiskType, NicSpec, VmSpec

UUID = "6f1c9a7e-2b1d-4c1e-9d55-0b8f2a1c3d4e"


def spec(**kwargs: object) -> VmSpec:
    base: dict[str, object] = dict(
        name="i-2-10-VM", uuid=UUID, vcpus=2, cpu_mhz=1500, memory_mib=512,
        disks=(
            DiskSpec("/pool/root.qcow2", 0, backing="/pool/tmpl-201.qcow2"),
            DiskSpec("data-7", 1, DiskType.DATADISK, pool="primary1"),
            DiskSpec("/dev/vg0/data-8", 2, DiskType.DATADISK, DiskFormat.RAW),
        ),
        nics=(
            NicSpec("02:00:0a:00:00:02", "cloudbr1", 1, ip="10.1.1.11", vni=5000),
            NicSpec("02:00:0a:00:00:01", "cloudbr0", 0, ip="192.0.2.10"),
        ),
    )
    base.update(kwargs)
    return VmSpec(**base)  # type: ignore[arg-type]


def parse(xml: str) -> ET.Element:
    return ET.fromstring(xml)


def at(element: ET.Element, path: str) -> ET.Element:
    found = element.find(path)
    assert found is not None, f"no {path} in {element.tag}"
    return found


def test_domain_basics() -> None:
    root = parse(domain_xml(spec()))
    assert root.tag == "domain" and root.get("type") == "kvm"
    assert (root.findtext("name"), root.findtext("uuid")) == ("i-2-10-VM", UUID)
    assert root.findtext("vcpu") == "2"
    memory = root.find("memory")
    assert memory is not None and (memory.text, memory.get("unit")) == ("512", "MiB")
    assert root.findtext("cputune/shares") == "3000"
    assert root.find("features/acpi") is not None  # ACPI shutdown needs it
    os_type = root.find("os/type")
    assert os_type is not None and (os_type.text, os_type.get("arch")) == ("hvm", "x86_64")
    assert [b.get("dev") for b in root.findall("os/boot")] == ["hd", "cdrom"]
    assert root.findtext(f"metadata/{{{METADATA_NS}}}instance/{{{METADATA_NS}}}os-type") == "Other (64-bit)"
    assert parse(domain_xml(spec(), domain_type="qemu")).get("type") == "qemu"


def test_disks() -> None:
    disks = parse(domain_xml(spec())).findall("devices/disk")
    root_disk, volume, block, cdrom = disks
    assert (root_disk.get("type"), root_disk.get("device")) == ("file", "disk")
    driver = root_disk.find("driver")
    assert driver is not None and (driver.get("name"), driver.get("type")) == ("qemu", "qcow2")
    source = root_disk.find("source")
    assert source is not None and source.get("file") == "/pool/root.qcow2"
    backing = root_disk.find("backingStore")
    assert backing is not None and backing.get("type") == "file"
    assert at(backing, "format").get("type") == "qcow2"
    assert at(backing, "source").get("file") == "/pool/tmpl-201.qcow2"
    target = root_disk.find("target")
    assert target is not None and (target.get("dev"), target.get("bus")) == ("vda", "virtio")

    assert volume.get("type") == "volume"
    vsource = volume.find("source")
    assert vsource is not None and (vsource.get("pool"), vsource.get("volume")) == ("primary1", "data-7")
    assert volume.find("backingStore") is None

    assert block.get("type") == "block"
    bsource = block.find("source")
    assert bsource is not None and bsource.get("dev") == "/dev/vg0/data-8"
    assert at(block, "target").get("dev") == "vdc"

    # No ISO in the spec: an empty cdrom is still there for a later insert.
    assert (cdrom.get("device"), cdrom.find("source")) == ("cdrom", None)
    assert at(cdrom, "target").get("dev") == "sdd" and cdrom.find("readonly") is not None


def test_iso_only_vm_boots_from_cdrom() -> None:
    root = parse(domain_xml(spec(disks=(DiskSpec("/iso/debian.iso", 3, DiskType.ISO, DiskFormat.RAW),))))
    assert [b.get("dev") for b in root.findall("os/boot")] == ["cdrom", "hd"]
    cdroms = [d for d in root.findall("devices/disk") if d.get("device") == "cdrom"]
    assert len(cdroms) == 1  # the ISO takes the cdrom slot; no extra empty one
    assert at(cdroms[0], "source").get("file") == "/iso/debian.iso"


def test_nics() -> None:
    nics = parse(domain_xml(spec())).findall("devices/interface")
    assert [at(n, "mac").get("address") for n in nics] == ["02:00:0a:00:00:01", "02:00:0a:00:00:02"]
    assert [at(n, "source").get("bridge") for n in nics] == ["cloudbr0", "brvx5000"]
    for nic in nics:
        assert nic.get("type") == "bridge"
        assert nic.find("target") is None  # libvirt names the taps
        assert at(nic, "model").get("type") == "virtio"
    vlan = parse(nic_xml(NicSpec("02:00:00:00:00:09", "cloudbr1", 0, vlan=42)))
    assert at(vlan, "source").get("bridge") == "brvlan42"


def test_console_and_vnc() -> None:
    root = parse(domain_xml(spec()))
    serial = root.find("devices/serial")
    assert serial is not None and serial.get("type") == "pty"
    graphics = root.find("devices/graphics")
    assert graphics is not None
    assert (graphics.get("type"), graphics.get("listen"), graphics.get("autoport")) == ("vnc", "127.0.0.1", "yes")
    assert graphics.get("passwd") is None
    listen = graphics.find("listen")
    assert listen is not None and listen.get("address") == "127.0.0.1"

    root = parse(domain_xml(spec(console_log="/var/log/cp/i-2-10-VM.log", vnc_password="s3cret")))
    serial = root.find("devices/serial")
    assert serial is not None and serial.get("type") == "file"
    assert at(serial, "source").get("path") == "/var/log/cp/i-2-10-VM.log"
    assert at(root, "devices/graphics").get("passwd") == "s3cret"


def test_direct_kernel_boot() -> None:
    boot = BootSpec("/boot/vmlinuz", "/boot/initrd.gz", "console=ttyS0 quiet")
    root = parse(domain_xml(spec(boot=boot), domain_type="qemu"))
    assert (root.findtext("os/kernel"), root.findtext("os/initrd"), root.findtext("os/cmdline")) == (
        "/boot/vmlinuz", "/boot/initrd.gz", "console=ttyS0 quiet")
    assert root.findall("os/boot") == []
    bare = parse(domain_xml(spec(boot=BootSpec("/boot/vmlinuz"))))
    assert bare.find("os/initrd") is None and bare.find("os/cmdline") is None


def test_config_drive() -> None:
    root = parse(domain_xml(spec(user_data=b"#cloud-config\n"), config_drive="/var/lib/cp/cd/i-2-10-VM.iso"))
    cdroms = [d for d in root.findall("devices/disk") if d.get("device") == "cdrom"]
    assert [at(c, "target").get("dev") for c in cdroms] == ["sdd", "sde"]
    assert at(cdroms[1], "source").get("file") == "/var/lib/cp/cd/i-2-10-VM.iso"
    with pytest.raises(ValueError, match="config drive"):
        domain_xml(spec(user_data=b"x"))
    with pytest.raises(ValueError, match="config drive"):
        domain_xml(spec(), config_drive="/x.iso")
    with pytest.raises(ValueError, match="reserved for the config drive"):
        domain_xml(spec(user_data=b"x", disks=(DiskSpec("/iso/a.iso", 4, DiskType.ISO, DiskFormat.RAW),)),
                   config_drive="/x.iso")


def test_bad_domain_type() -> None:
    with pytest.raises(ValueError):
        domain_xml(spec(), domain_type="xen")  # type: ignore[arg-type]


def test_device_xml() -> None:
    disk = parse(disk_xml(DiskSpec("/pool/data.qcow2", 5, DiskType.DATADISK)))
    assert at(disk, "target").get("dev") == "vdf"
    insert = parse(cdrom_xml("/iso/tools.iso"))
    assert at(insert, "source").get("file") == "/iso/tools.iso"
    assert at(insert, "target").get("dev") == "sdd"
    assert parse(cdrom_xml(None)).find("source") is None
    assert disk_target(DiskSpec("/iso/a.iso", 3, DiskType.ISO, DiskFormat.RAW)) == "sdd"
