"""What the management server sends (actors/kinds/vmspec.py) is what the real agent
reads (hostagent/vmargs.py), and the simulator answers the same commands."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from cloudplane.actors.kinds.vmspec import start_spec
from cloudplane.agentproto import Cmd, command_timeout
from cloudplane.hostagent.bridges import TrafficLabels
from cloudplane.hostagent.spec import DiskFormat, DiskType
from cloudplane.hostagent.vmargs import NewVolume, PoolRef, start_request
from cloudplane.simulator.agent import SimAgent, Where

UUID = "6f1c9a7e-2b1d-4c1e-9d55-0b8f2a1c3d4e"
POOL = {"pool_uuid": "a1b2c3d4-0000-4000-8000-000000000001", "pool_type": "SharedMountPoint",
        "pool_host": "localhost", "pool_path": "/srv/primary"}
VM = {"id": 10, "name": "web-1", "cpu_count": 2, "cpu_speed_mhz": 1500, "ram_mb": 512, "type": "User",
      "ha_enabled": True, "user_data": base64.b64encode(b"#cloud-config\n").decode()}
TEMPLATE = {"uuid": "7e57a7e0-0000-4000-8000-000000000002", "format": "QCOW2", "url": "http://images.example.org/t.qcow2"}


def volume(kind: str, device: int, size: int, **extra: Any) -> dict[str, Any]:
    return {"uuid": f"vol-{device}", "path": None, "volume_type": kind, "device_id": device, "size_bytes": size,
            "format": "QCOW2", **POOL, **extra}


def nic(device: int, **extra: Any) -> dict[str, Any]:
    return {"mac_address": f"02:00:0a:00:00:0{device}", "device_id": device, "ip4_address": f"10.1.1.{10 + device}",
            "netmask": "255.255.255.0", "gateway": "10.1.1.1", "is_default": device == 0, "traffic_type": "Guest",
            "broadcast_uri": None, "mtu": None, "net_traffic": "Guest", "net_broadcast_uri": "vlan://untagged",
            "label": None, **extra}


def spec(**kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"uuid": UUID, "name": "i-2-10-VM", "template": TEMPLATE, "details": {"kernel": "/k"},
                            "os_type": "Debian GNU/Linux 12 (64-bit)", "ssh_keys": ["ssh-ed25519 AAAA k@x"],
                            "volumes": [volume("DATADISK", 1, 2**30), volume("ROOT", 0, 2**31, path="root-file")],
                            "nics": [nic(1, label="cloudbr7", broadcast_uri="vxlan://5001"), nic(0)]}
    args.update(kw)
    return start_spec(VM, **args)


def test_the_agent_reads_the_whole_vm() -> None:
    vm = spec()
    req = start_request(vm, TrafficLabels(), "cloudplane-local")
    assert (req.name, req.uuid, req.vcpus, req.cpu_mhz, req.memory_mib) == ("i-2-10-VM", UUID, 2, 1500, 512)
    assert req.os_type == "Debian GNU/Linux 12 (64-bit)" and req.boot is not None and req.boot.kernel == "/k"
    pool = PoolRef(POOL["pool_uuid"], "SharedMountPoint", "localhost", "/srv/primary")
    # ROOT: an overlay on the template, in the ROOT volume's pool, named by its file.
    assert req.template is not None and req.template.name == TEMPLATE["uuid"] and req.template.pool == pool.name
    assert (req.root_volume, req.root_size) == ("root-file", 2**31)
    assert req.pools == (pool,)  # once, though the template and the data disk both name it
    (data,) = req.disks
    assert (data.path, data.pool, data.device_id, data.type, data.format) == (
        "vol-1", pool.name, 1, DiskType.DATADISK, DiskFormat.QCOW2)
    assert req.volumes == (NewVolume(pool.name, "vol-1", 2**30, DiskFormat.QCOW2),)
    # NICs in device order; the physical network's label names the bridge, else the host's label does.
    first, second = req.nics
    assert (first.mac, first.bridge, first.ip, first.vlan, first.vni) == ("02:00:0a:00:00:00", "cloudbr1",
                                                                          "10.1.1.10", None, None)
    assert (second.bridge, second.vni) == ("cloudbr7", 5001)
    assert req.user_data == b"#cloud-config\n" and req.public_keys == ("ssh-ed25519 AAAA k@x",)
    assert req.spec().hostname == "web-1"
    assert vm["nics"][0]["isdefault"] and vm["nics"][0]["gateway"] == "10.1.1.1"
    assert req.spec().needs_config_drive


def test_without_a_template_the_root_volume_is_a_disk_to_create() -> None:
    req = start_request(spec(template=None), TrafficLabels(), "local")
    assert req.template is None
    root = next(d for d in req.disks if d.device_id == 0)
    assert root.type is DiskType.ROOT and root.path == "root-file"
    assert NewVolume(POOL["pool_uuid"], "root-file", 2**31, DiskFormat.QCOW2) in req.volumes


def test_an_unplaced_volume_goes_to_the_hosts_default_pool() -> None:
    unplaced = volume("DATADISK", 1, 2**30, pool_uuid=None)
    req = start_request(spec(volumes=[unplaced]), TrafficLabels(), "local")
    assert req.disks[0].pool == "local" and req.pools == ()


@pytest.mark.parametrize("bad, message", [
    ({"ssh_keys": "ssh-rsa AAAA"}, "ssh_keys"),
    ({"disks": [{"volume": "v", "pool": {"uuid": "p", "path": "relative"}}]}, "absolute path"),
    ({"disks": [{"volume": "v", "pool": {"path": "/x"}}]}, "needs a uuid"),
])
def test_bad_pools_and_keys(bad: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        start_request({**spec(), **bad}, TrafficLabels(), "local")


async def test_the_simulator_answers_the_same_commands() -> None:
    a, b = SimAgent(Where("sim-a")), SimAgent(Where("sim-b"))
    try:
        vm = spec()
        assert (await a.handle(Cmd.START, {"vm": vm})).result == {"vm": "i-2-10-VM", "state": "PowerOn"}
        assert (await b.handle(Cmd.PREPARE_MIGRATION, {"vm": vm})).ok
        ans = await a.handle(Cmd.MIGRATE, {"vm": "i-2-10-VM", "dest": "sim-b", "dest_ip": "10.0.0.2"})
        assert ans.ok and b.vms == {"i-2-10-VM": "PowerOn"} and a.vms == {}
        ans = await b.handle(Cmd.STOP, {"vm": "i-2-10-VM", "forced": True})
        assert ans.result == {"vm": "i-2-10-VM", "state": "PowerOff", "existed": True}
    finally:
        a.forget()
        b.forget()


def test_timeouts_leave_room_for_a_real_host() -> None:
    assert command_timeout(Cmd.START) >= 120 and command_timeout(Cmd.MIGRATE) >= 600
    assert command_timeout(Cmd.CHECK_VM) == 30.0
