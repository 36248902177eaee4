"""The agent command set over libvirt's test driver (no daemon): answer shapes
(the simulator's), idempotency, error mapping, per-VM networks."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

libvirt = pytest.importorskip("libvirt", reason="libvirt-python is not installed (the project's `agent` extra)")

from cloudplane.agentproto import Cmd  # noqa: E402
from cloudplane.hostagent.commands import HostCommands, report_capacity  # noqa: E402
from cloudplane.hostagent.config import AgentConfig  # noqa: E402
from cloudplane.hostagent.driver import LibvirtDriver  # noqa: E402
from cloudplane.hostagent.netrefs import GuestNetwork, NetworkRefs, VlanNetwork  # noqa: E402
from cloudplane.hostagent.spec import HostCapacity  # noqa: E402

NODE_XML = """<node>
  <cpu><mhz>2400</mhz><model>x86_64</model><active>4</active>
       <nodes>1</nodes><sockets>1</sockets><cores>4</cores><threads>1</threads></cpu>
  <memory>8388608</memory>
</node>
"""
PEER = str(uuid.uuid4())


class RecordingRefs(NetworkRefs):
    """NetworkRefs whose links are a list: what would be created and removed."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[str, GuestNetwork]] = []

    async def _ensure(self, net: GuestNetwork) -> None:
        self.log.append(("up", net))

    async def _remove(self, net: GuestNetwork) -> bool:
        self.log.append(("down", net))
        return True


def config(tmp: Path, **extra: Any) -> AgentConfig:
    values: dict[str, Any] = {"servers": ("ws://127.0.0.1:1/agent",), "host_id": str(uuid.uuid4()),
                              "token": "t", "libvirt_uri": "test", "config_drive_dir": str(tmp / "cd"),
                              "stop_timeout_s": 5.0, "peers": {PEER: "10.0.0.7"}, **extra}
    return AgentConfig(**values)


@pytest.fixture
async def host(tmp_path: Path) -> AsyncIterator[HostCommands]:
    node = tmp_path / "node.xml"
    node.write_text(NODE_XML)
    async with await LibvirtDriver.open(f"test://{node}", config_drive_dir=tmp_path / "cd") as drv:
        yield HostCommands(drv, config(tmp_path), RecordingRefs())


def vm(name: str = "i-2-10-VM", **extra: Any) -> dict[str, Any]:
    return {"name": name, "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, name)), "cpus": 1, "mhz": 1000,
            "ram_mb": 256, "type": "User", "ha": False, "user_data": None, **extra}


async def test_capacity_report(host: HostCommands) -> None:
    cap = await host.capacity()
    assert (cap.cpus, cap.cpu_speed_mhz, cap.hypervisor) == (4, 2400, "KVM")
    assert cap.memory_bytes == 8 * 2**30 - 1024 * 2**20  # minus host.reserved.mem.mb
    small = HostCapacity(1, 1, 1, 1000, 1024 * 2**20, "7.2.0", 0, "x86_64")
    assert report_capacity(small, host.cfg).memory_bytes == 512 * 2**20  # never more than half reserved
    manual = config(Path("/tmp"), cpu_mhz=3000, reserved_mem_mb=0)
    assert report_capacity(small, manual).cpu_speed_mhz == 3000


async def test_start_stop_check_reboot(host: HostCommands) -> None:
    name = "i-2-10-VM"
    ans = await host.handle(Cmd.START, {"vm": vm(user_data="I2Nsb3VkLWNvbmZpZwo=")})
    assert ans.ok and ans.result == {"vm": name, "state": "PowerOn"}
    assert (await host.handle(Cmd.START, {"vm": vm(user_data="I2Nsb3VkLWNvbmZpZwo=")})).ok  # idempotent
    assert await host.power_states() == {name: "PowerOn"}
    assert (Path(host.cfg.config_drive_dir)).iterdir()  # user data went onto a config drive
    assert (await host.handle(Cmd.CHECK_VM, {"vm": name})).result == {"vm": name, "state": "PowerOn"}
    assert (await host.handle(Cmd.REBOOT, {"vm": name})).result == {"vm": name, "state": "PowerOn"}

    ans = await host.handle(Cmd.STOP, {"vm": name})
    assert ans.ok and ans.result == {"vm": name, "state": "PowerOff", "existed": True}
    assert await host.power_states() == {}  # powered off and undefined
    ans = await host.handle(Cmd.STOP, {"vm": name})
    assert ans.ok and ans.result["existed"] is False
    assert (await host.handle(Cmd.CHECK_VM, {"vm": name})).result["state"] == "PowerOff"
    reboot = await host.handle(Cmd.REBOOT, {"vm": name})
    assert not reboot.ok and "is not running" in (reboot.error or "")


async def test_forced_stop_and_concurrent_commands(host: HostCommands) -> None:
    names = [f"i-2-{i}-VM" for i in range(20, 25)]
    answers = await asyncio.gather(*(host.handle(Cmd.START, {"vm": vm(n)}) for n in names))
    assert all(a.ok for a in answers)
    assert set(await host.power_states()) == set(names)
    answers = await asyncio.gather(*(host.handle(Cmd.STOP, {"vm": n, "forced": True}) for n in names))
    assert all(a.ok and a.result["existed"] for a in answers)
    assert await host.power_states() == {}


async def test_networks_follow_their_vms(host: HostCommands) -> None:
    refs = host.refs
    assert isinstance(refs, RecordingRefs)
    nic = {"mac": "02:00:0a:00:00:01", "broadcast_uri": "vlan://100"}
    net = VlanNetwork("cloudbr1", 100)
    assert (await host.handle(Cmd.START, {"vm": vm("i-2-1-VM", nics=[nic])})).ok
    assert (await host.handle(Cmd.START, {"vm": vm("i-2-2-VM", nics=[{**nic, "mac": "02:00:0a:00:00:02"}])})).ok
    assert refs.log == [("up", net)] and refs.users(net) == {"i-2-1-VM", "i-2-2-VM"}
    assert (await host.handle(Cmd.STOP, {"vm": "i-2-1-VM"})).ok
    assert refs.log == [("up", net)]
    assert (await host.handle(Cmd.STOP, {"vm": "i-2-2-VM"})).ok
    assert refs.log == [("up", net), ("down", net)]
    # The destination of a migration plugs the networks in before the guest arrives.
    assert (await host.handle(Cmd.PREPARE_MIGRATION, {"vm": vm("i-2-3-VM", nics=[nic])})).result == {
        "vm": "i-2-3-VM"}
    assert refs.users(net) == {"i-2-3-VM"}


async def test_migrate_arguments_and_errors(host: HostCommands) -> None:
    name = "i-2-10-VM"
    ans = await host.handle(Cmd.MIGRATE, {"vm": name, "dest": str(uuid.uuid4())})
    assert not ans.ok and "no address for destination host" in (ans.error or "")
    ans = await host.handle(Cmd.MIGRATE, {"vm": name, "dest": PEER})
    assert not ans.ok and "is not running" in (ans.error or "")
    assert (await host.handle(Cmd.START, {"vm": vm()})).ok
    # The test driver cannot migrate: the libvirt error comes back as a terminal failure.
    ans = await host.handle(Cmd.MIGRATE, {"vm": name, "dest": PEER})
    assert not ans.ok and "qemu+tcp://10.0.0.7/system" in (ans.error or "") and not ans.retryable
    assert host._destination({"dest": "x", "dest_ip": "10.0.0.9"}) == ("qemu+tcp://10.0.0.9/system",
                                                                      "tcp://10.0.0.9")
    assert host._destination({"dest_uri": "qemu+ssh://h/system"}) == ("qemu+ssh://h/system", None)


async def test_other_commands(host: HostCommands) -> None:
    assert (await host.handle(Cmd.CHECK_HEALTH, {})).result == {"healthy": True}
    assert (await host.handle(Cmd.CHECK_ON_HOST, {"host": PEER})).result == {"alive": None}
    assert (await host.handle(Cmd.READY, {})).ok and (await host.handle(Cmd.MAINTAIN, {})).ok
    unknown = await host.handle("ScaleVmCommand", {"vm": vm()})
    assert not unknown.ok and "not supported" in (unknown.error or "")
    bad = await host.handle(Cmd.START, {"vm": {"name": "i-2-1-VM"}})
    assert not bad.ok and "bad StartCommand arguments" in (bad.error or "") and not bad.retryable
    bad = await host.handle(Cmd.ATTACH, {"vm": "i-2-1-VM", "iso": "3f1d9a4e"})
    assert not bad.ok and "absolute path" in (bad.error or "")
    assert (await host.handle(Cmd.MODIFY_STORAGE_POOL, {"pool": "p1", "path": "/var/lib/p1"})).ok
    ans = await host.handle(Cmd.CREATE_VOLUME, {"pool": "p1", "volume": "v1", "size": 2**20})
    assert ans.ok and ans.result["path"] == "/var/lib/p1/v1"
    assert (await host.handle(Cmd.DESTROY_VOLUME, {"pool": "p1", "volume": "v1"})).ok
    assert (await host.handle(Cmd.MODIFY_STORAGE_POOL, {"pool": "p1", "delete": True})).ok
    missing = await host.handle(Cmd.DESTROY_VOLUME, {"pool": "p1", "volume": "v1"})
    assert not missing.ok and not missing.retryable
