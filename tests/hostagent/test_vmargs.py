"""StartCommand arguments -> StartRequest -> VmSpec (pure)."""

from __future__ import annotations

import base64

import pytest

from cloudplane.hostagent.bridges import TrafficLabels
from cloudplane.hostagent.netrefs import VlanNetwork, VxlanNetwork
from cloudplane.hostagent.spec import DiskFormat, DiskSpec, DiskType
from cloudplane.hostagent.vmargs import guest_networks, isolation, start_request, user_data

LABELS = TrafficLabels()
UUID = "6f1c9a7e-2b1d-4c1e-9d55-0b8f2a1c3d4e"


def vm(**extra: object) -> dict[str, object]:
    """What the management side sends today (actors/kinds: `_vm_spec`), plus `extra`."""
    return {"name": "i-2-10-VM", "uuid": UUID, "cpus": 2, "mhz": 1500, "ram_mb": 512, "type": "User",
            "ha": False, "user_data": None, **extra}


def test_todays_start_command() -> None:
    req = start_request(vm(), LABELS, "local")
    spec = req.spec()
    assert (spec.name, spec.uuid, spec.vcpus, spec.cpu_mhz, spec.memory_mib) == ("i-2-10-VM", UUID, 2, 1500, 512)
    assert spec.disks == () and spec.nics == () and spec.boot is None and spec.user_data is None
    assert req.template is None and req.root_volume == "i-2-10-VM-ROOT"


def test_boot_from_details_or_boot() -> None:
    a = start_request(vm(details={"kernel": "/k", "initrd": "/i", "cmdline": "console=ttyS0"}), LABELS, "local")
    b = start_request(vm(boot={"kernel": "/k", "initrd": "/i", "cmdline": "console=ttyS0"}), LABELS, "local")
    assert a.boot == b.boot and a.boot is not None and a.boot.cmdline == "console=ttyS0"
    with pytest.raises(ValueError, match="absolute"):
        start_request(vm(details={"kernel": "vmlinuz"}), LABELS, "local")


def test_disks_nics_template() -> None:
    req = start_request(vm(
        template={"path": "/srv/templates/t1.qcow2"}, root_size=2**31,
        disks=[{"volume": "data-1", "device_id": 1}, {"path": "/isos/x.iso", "type": "ISO", "device_id": 3}],
        nics=[{"mac": "02:00:0A:00:00:01", "ip": "10.1.1.10", "traffic": "guest", "broadcast_uri": "vlan://100"},
              {"mac": "02:00:0a:00:00:02", "traffic": "Public", "broadcast_uri": "vlan://untagged"},
              {"mac": "02:00:0a:00:00:03", "broadcast_uri": "vxlan://5001"}]), LABELS, "local")
    assert req.template is not None and req.template.name == "t1.qcow2" and req.root_size == 2**31
    data, iso = req.disks
    assert data == DiskSpec("data-1", 1, DiskType.DATADISK, DiskFormat.QCOW2, pool="local")
    assert iso.is_cdrom and iso.format is DiskFormat.RAW
    guest, public, vx = req.nics
    assert (guest.mac, guest.bridge, guest.vlan, guest.device_id) == ("02:00:0a:00:00:01", "cloudbr1", 100, 0)
    assert (public.bridge, public.vlan, public.vni) == ("cloudbr0", None, None)
    assert vx.vni == 5001
    root = DiskSpec("/pool/i-2-10-VM-ROOT", 0, DiskType.ROOT, backing="/pool/t1.qcow2")
    assert req.spec(root, "/var/log/c.log").disks[0] == root
    nets = guest_networks(req.nics, ("eth1", "10.0.1.5", "239.1.1.1"))
    assert nets == [VlanNetwork("cloudbr1", 100), VxlanNetwork(5001, "eth1", "10.0.1.5", "239.1.1.1")]
    with pytest.raises(ValueError, match="vxlan.device"):
        guest_networks(req.nics, None)


def test_template_and_root_disk_conflict() -> None:
    with pytest.raises(ValueError, match="both claim the ROOT disk"):
        start_request(vm(template="t1", disks=[{"volume": "r", "device_id": 0, "type": "ROOT"}]), LABELS, "p")


@pytest.mark.parametrize("bad, message", [
    ({"name": None}, "vm.name is missing"),
    ({"cpus": "two"}, "cpus must be an integer"),
    ({"ram_mb": None}, "ram_mb"),
    ({"nics": [{"ip": "10.0.0.1"}]}, "mac is missing"),
    ({"nics": [{"mac": "02:00:0a:00:00:01", "broadcast_uri": "pvlan://1"}]}, "unsupported broadcast URI"),
    ({"disks": [{"device_id": 1}]}, "needs a path or a volume"),
])
def test_bad_arguments(bad: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        start_request(vm(**bad), LABELS, "local").spec()


def test_user_data_and_isolation() -> None:
    assert user_data(base64.b64encode(b"#cloud-config\n").decode()) == b"#cloud-config\n"
    assert user_data("#!/bin/sh\necho hi") == b"#!/bin/sh\necho hi"
    assert user_data(None) is None and user_data("") is None
    assert isolation("vlan://42") == (42, None) and isolation("vxlan://7") == (None, 7)
    assert isolation(None) == (None, None) and isolation("vlan://untagged") == (None, None)
    with pytest.raises(ValueError):
        start_request("i-2-10-VM", LABELS, "local")  # type: ignore[arg-type]
