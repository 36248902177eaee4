from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from cloudplane.hostagent.spec import (
    DiskFormat,
    DiskSpec,
    DiskType,
    NicRules,
    NicSpec,
    Protocol,
    SecurityRule,
    VmPowerState,
    VmSpec,
)

UUID = "6f1c9a7e-2b1d-4c1e-9d55-0b8f2a1c3d4e"


def test_power_state_cloudstack_mapping() -> None:
    assert VmPowerState.RUNNING.cloudstack == "PowerOn"
    assert VmPowerState.PAUSED.cloudstack == "PowerOn"
    assert VmPowerState.STOPPED.cloudstack == "PowerOff"
    assert VmPowerState.UNKNOWN.cloudstack == "PowerUnknown"
    assert VmPowerState("Running") is VmPowerState.RUNNING


def test_vm_spec_accepts_lists_and_is_frozen() -> None:
    spec = VmSpec("i-2-10-VM", UUID, 1, 1000, 256, disks=[DiskSpec("/p/r.qcow2", 0)],  # type: ignore[arg-type]
                  nics=[NicSpec("02:00:00:00:00:01", "cloudbr0", 0)])  # type: ignore[arg-type]
    assert isinstance(spec.disks, tuple) and isinstance(spec.nics, tuple)
    hash(spec)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.vcpus = 2  # type: ignore[misc]


@pytest.mark.parametrize("kwargs", [
    {"name": "bad name"}, {"name": ""}, {"uuid": "nope"}, {"vcpus": 0}, {"memory_mib": -1}, {"cpu_mhz": True},
    {"disks": (DiskSpec("/a", 0), DiskSpec("/b", 0))},
    {"nics": (NicSpec("02:00:00:00:00:01", "b", 0), NicSpec("02:00:00:00:00:02", "b", 0))},
    {"nics": (NicSpec("02:00:00:00:00:01", "b", 0), NicSpec("02:00:00:00:00:01", "b", 1))},
    {"vnc_password": "123456789"},
])
def test_bad_vm_specs(kwargs: dict[str, object]) -> None:
    base: dict[str, object] = dict(name="i-2-10-VM", uuid=UUID, vcpus=1, cpu_mhz=1000, memory_mib=256)
    base.update(kwargs)
    with pytest.raises(ValueError):
        VmSpec(**base)  # type: ignore[arg-type]


def test_disk_spec_rules() -> None:
    assert DiskSpec("/dev/sdb", 1, DiskType.DATADISK, DiskFormat.RAW).is_block
    assert DiskSpec("vol", 1, pool="p").pool == "p"
    with pytest.raises(ValueError, match="needs a pool"):
        DiskSpec("vol", 1)
    with pytest.raises(ValueError, match="format raw"):
        DiskSpec("/iso/a.iso", 3, DiskType.ISO)
    with pytest.raises(ValueError, match="backing"):
        DiskSpec("/a.raw", 0, format=DiskFormat.RAW, backing="/t.qcow2")
    with pytest.raises(ValueError, match="absolute"):
        DiskSpec("/a.qcow2", 0, backing="t.qcow2")
    with pytest.raises(ValueError):
        DiskSpec("/a.qcow2", 26)


@pytest.mark.parametrize("kwargs", [
    {"mac": "02:00:00:00:00"}, {"mac": "02-00-00-00-00-01"}, {"mac": "01:00:00:00:00:01"},
    {"vlan": 0}, {"vlan": 4095}, {"vni": 0}, {"vni": 2**24}, {"vlan": 5, "vni": 5}, {"ip": "10.0.0.300"},
])
def test_bad_nic_specs(kwargs: dict[str, object]) -> None:
    base: dict[str, object] = dict(mac="02:00:00:00:00:01", bridge="cloudbr1", device_id=0)
    base.update(kwargs)
    with pytest.raises(ValueError):
        NicSpec(**base)  # type: ignore[arg-type]


def test_security_rules() -> None:
    assert SecurityRule(Protocol.TCP, port_start=22).port_end == 22
    assert SecurityRule(Protocol.UDP, "10.0.0.0/8", 1000, 2000).network.prefixlen == 8
    assert SecurityRule(Protocol.ICMP, icmp_type=8, icmp_code=0).icmp_code == 0
    bad_rules: list[Callable[[], object]] = [
        lambda: SecurityRule(Protocol.TCP),
        lambda: SecurityRule(Protocol.TCP, port_start=100, port_end=99),
        lambda: SecurityRule(Protocol.TCP, port_start=0),
        lambda: SecurityRule(Protocol.ICMP, port_start=1),
        lambda: SecurityRule(Protocol.ICMP, icmp_code=3),
        lambda: SecurityRule(Protocol.ALL, "not-a-cidr"),
    ]
    for bad in bad_rules:
        with pytest.raises(ValueError):
            bad()
    rules = NicRules("i-2-10-VM", 0, "02:00:00:00:00:01", "10.1.1.10", ingress=[SecurityRule(Protocol.ALL)])  # type: ignore[arg-type]
    assert rules.key == "i-2-10-VM-0" and isinstance(rules.ingress, tuple) and rules.egress is None
    with pytest.raises(ValueError):
        NicRules("i-2-10-VM", 0, "02:00:00:00:00:01", "nope")
