"""A real guest under QEMU (TCG) through the agent's command handlers.

libvirtd runs in namespaces the test made (tests/hostagent/libvirtd.py); the
guest is Debian's kernel with a busybox initramfs that prints BOOT-OK and powers
off on the ACPI power button (tests/hostagent/guest.py).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cloudplane.agentproto import Cmd
from cloudplane.hostagent.driver import LibvirtDriver
from tests.hostagent.guest import BOOT_MARK, POWER_MARK
from tests.hostagent.realhost import BOOT_TIMEOUT_S, Lab, wait_for

pytestmark = pytest.mark.slow


async def test_boot_stop_and_destroy_a_tiny_guest(lab: Lab, tmp_path: Path) -> None:
    from cloudplane.hostagent.commands import HostCommands

    assert lab.a is not None
    pool = tmp_path / "pool"
    cfg = lab.agent_config(lab.a.uri, tmp_path, pool="cp-test-pool", pool_path=str(pool))
    template = tmp_path / "tiny-template.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(template), "16M"], check=True)
    async with await LibvirtDriver.open(cfg.libvirt_uri, domain_type="qemu",
                                        config_drive_dir=Path(cfg.config_drive_dir)) as driver:
        await driver.create_pool_dir(cfg.pool, str(pool))
        host = HostCommands(driver, cfg)
        cap = await host.capacity()
        assert cap.hypervisor == "KVM" and cap.cpus >= 1 and cap.memory_bytes > 0
        name = "i-2-101-VM"
        vm = lab.vm_args(name, template={"path": str(template)}, root_size=32 * 2**20)
        try:
            ans = await host.handle(Cmd.START, {"vm": vm})
            assert ans.ok, ans.error
            assert ans.result == {"vm": name, "state": "PowerOn"}
            assert (await host.power_states())[name] == "PowerOn"
            assert (await host.handle(Cmd.CHECK_VM, {"vm": name})).result["state"] == "PowerOn"
            # The ROOT disk is a qcow2 overlay on the template, copied into the pool.
            xml = await driver.xml(name)
            assert str(pool / f"{name}-ROOT") in xml and str(pool / template.name) in xml
            await wait_for(lambda: "alive 3" in lab.console(name), BOOT_TIMEOUT_S, f"{name} to boot")
            assert BOOT_MARK in lab.console(name)

            # A graceful stop: the guest sees the ACPI power button and powers itself off.
            ans = await host.handle(Cmd.STOP, {"vm": name})
            assert ans.ok and ans.result == {"vm": name, "state": "PowerOff", "existed": True}
            assert POWER_MARK in lab.console(name)
            assert name not in await host.power_states()  # stopped and undefined
            assert (pool / f"{name}-ROOT").exists()  # the disk outlives the stop

            # Started again on the same disk, then destroyed (a forced stop: no shutdown).
            assert (await host.handle(Cmd.START, {"vm": vm})).ok
            assert (await host.power_states())[name] == "PowerOn"
            ans = await host.handle(Cmd.STOP, {"vm": name, "forced": True})
            assert ans.ok and ans.result["existed"] is True
            assert name not in await host.power_states()
            assert (await host.handle(Cmd.CHECK_VM, {"vm": name})).result["state"] == "PowerOff"
            again = await host.handle(Cmd.STOP, {"vm": name})
            assert again.ok and again.result["existed"] is False
            reboot = await host.handle(Cmd.REBOOT, {"vm": name})
            assert not reboot.ok and "not running" in (reboot.error or "")
        finally:
            await driver.destroy(name)
            await driver.delete_pool(cfg.pool)
