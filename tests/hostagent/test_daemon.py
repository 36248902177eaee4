"""`cloudplane agent`: the command line, the daemon's run loop, libvirt reconnects."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

libvirt = pytest.importorskip("libvirt", reason="libvirt-python is not installed (the project's `agent` extra)")

from cloudplane.agentproto import Cmd  # noqa: E402
from cloudplane.hostagent import daemon  # noqa: E402
from cloudplane.hostagent.commands import HostCommands  # noqa: E402
from cloudplane.hostagent.config import load  # noqa: E402
from cloudplane.hostagent.driver import LibvirtDriver  # noqa: E402
from tests.hostagent.realhost import wait_for  # noqa: E402
from tests.hostagent.test_connection import FakeManagement, management  # noqa: E402

HOST = "5c8e6a43-1f4b-4f57-9a53-2d1b1c0f8a11"
NODE_XML = "<node><cpu><mhz>2000</mhz><active>2</active><nodes>1</nodes><sockets>1</sockets>" \
           "<cores>2</cores><threads>1</threads></cpu><memory>4194304</memory></node>"


def write_config(tmp: Path, server: str = "ws://127.0.0.1:1/agent", **extra: str) -> Path:
    node = tmp / "node.xml"
    node.write_text(NODE_XML)
    lines = {"servers": server, "host.id": HOST, "host.token": "s3cret", "libvirt.uri": f"test://{node}",
             "config.drive.dir": str(tmp / "cd"), "backoff.base": "0.05", "backoff.cap": "0.2",
             "local.storage.path": str(tmp / "pool"), "console.log.dir": str(tmp / "console"), **extra}
    path = tmp / "agent.properties"
    path.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
    return path


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cloudplane", "agent", *args], capture_output=True, text=True,
                          timeout=120)


def test_check_prints_what_the_host_would_report(tmp_path: Path) -> None:
    done = cli("--check", "--config", str(write_config(tmp_path)))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["host"] == HOST and report["servers"] == ["ws://127.0.0.1:1/agent"]
    assert report["capacity"]["hypervisor"] == "KVM" and report["capacity"]["cpus"] == 2
    assert report["vms"] == {}


def test_a_bad_configuration_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "agent.properties"
    bad.write_text("servers=ws://127.0.0.1:1/agent\nhost.id=nope\n")
    done = cli("--config", str(bad))
    assert done.returncode == 2 and "host.id must be" in done.stderr
    assert cli("--config", str(tmp_path / "missing.properties")).returncode == 2


async def test_run_serves_commands_until_stopped(tmp_path: Path) -> None:
    fake = FakeManagement(ping_interval=0.1)
    async with management(fake) as url:
        cfg = load(write_config(tmp_path, url))
        stopping = asyncio.Event()
        task = asyncio.create_task(daemon.run(cfg, stopping))
        await wait_for(lambda: fake.startups, 20, "the agent's startup")
        assert fake.hellos[0]["host"] == HOST and fake.startups[0]["capacity"]["cpus"] == 2
        assert (tmp_path / "pool").is_dir() and (tmp_path / "console").is_dir()  # prepared before commands
        vm = {"name": "i-2-7-VM", "uuid": "0b5b0a46-8a52-4f3c-bb33-7c7ec7e0c6b1", "cpus": 1, "mhz": 500,
              "ram_mb": 64}
        await fake.command(1, Cmd.START, {"vm": vm})
        await wait_for(lambda: 1 in fake.answers, 20, "the StartCommand answer")
        assert fake.answers[1]["result"] == {"vm": "i-2-7-VM", "state": "PowerOn"}
        await wait_for(lambda: any(p["vms"] == {"i-2-7-VM": "PowerOn"} for p in fake.pings), 20, "a ping with it")
        stopping.set()
        await asyncio.wait_for(task, 20)


async def test_power_states_reopen_a_broken_libvirt_connection(tmp_path: Path) -> None:
    cfg = load(write_config(tmp_path))
    driver = await LibvirtDriver.open(cfg.libvirt_uri, config_drive_dir=tmp_path / "cd")
    host = daemon.LibvirtHost(HostCommands(driver, cfg))
    assert await host.power_states() == {}
    await driver.close()  # as if libvirtd had restarted under the agent
    assert await host.power_states() == {}
    assert host.commands.driver is not driver
    await host.commands.driver.close()
