"""Live migration driven by MigrateCommand between two libvirt daemons on one
machine: each in its own network, mount and UTS namespaces with its own
host_uuid, qemu+tcp over a veth pair between the namespaces."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from cloudplane.agentproto import Cmd
from cloudplane.hostagent.commands import HostCommands
from cloudplane.hostagent.driver import LibvirtDriver
from tests.hostagent.realhost import ADDR_A, BOOT_TIMEOUT_S, Lab, wait_for

pytestmark = pytest.mark.slow
MIGRATION_TIMEOUT_S = 180.0


def alive(console: str) -> int:
    counts = re.findall(r"alive (\d+)", console)
    return int(counts[-1]) if counts else 0


async def test_live_migration_by_migrate_command(lab: Lab, tmp_path: Path) -> None:
    assert lab.a is not None
    b = await lab.daemon_b()
    src_id, dst_id = str(uuid.uuid4()), str(uuid.uuid4())
    # A MigrateCommand without an address: the source finds it in migration.peers. The
    # way back carries dest_ip, as the management server sends it.
    src_cfg = lab.agent_config(lab.a.uri, tmp_path, host_id=src_id, peers={dst_id: b.listen_addr or ""})
    dst_cfg = lab.agent_config(b.uri, tmp_path, host_id=dst_id)
    name = "i-2-202-VM"
    async with await LibvirtDriver.open(src_cfg.libvirt_uri, domain_type="qemu") as d_src, \
            await LibvirtDriver.open(dst_cfg.libvirt_uri, domain_type="qemu") as d_dst:
        src, dst = HostCommands(d_src, src_cfg), HostCommands(d_dst, dst_cfg)
        vm = lab.vm_args(name)
        try:
            assert (await src.handle(Cmd.START, {"vm": vm})).ok
            await wait_for(lambda: alive(lab.console(name)) >= 2, BOOT_TIMEOUT_S, f"{name} to boot")

            assert (await dst.handle(Cmd.PREPARE_MIGRATION, {"vm": vm})).ok
            ans = await wait_for_answer(src.handle(Cmd.MIGRATE, {"vm": name, "dest": dst_id}))
            assert ans.ok, ans.error
            assert ans.result == {"vm": name, "dest": dst_id}
            assert name not in await src.power_states()  # the definition moved too
            assert (await dst.power_states()).get(name) == "PowerOn"
            assert (await src.handle(Cmd.CHECK_VM, {"vm": name})).result["state"] == "PowerOff"
            assert (await dst.handle(Cmd.CHECK_VM, {"vm": name})).result["state"] == "PowerOn"
            # The same guest carries on over there: its console counter keeps counting.
            seen = alive(lab.console(name))
            await wait_for(lambda: alive(lab.console(name)) >= seen + 2, 120, f"{name} to run on the destination")

            # And back, with the address in the command.
            ans = await wait_for_answer(dst.handle(Cmd.MIGRATE, {"vm": name, "dest": src_id, "dest_ip": ADDR_A}))
            assert ans.ok, ans.error
            assert name not in await dst.power_states()
            assert (await src.power_states()).get(name) == "PowerOn"

            # Migrating a VM that is not here fails cleanly.
            ans = await dst.handle(Cmd.MIGRATE, {"vm": name, "dest": src_id, "dest_ip": ADDR_A})
            assert not ans.ok and "not running" in (ans.error or "")
        finally:
            await d_src.destroy(name)
            await d_dst.destroy(name)


async def wait_for_answer(coro):  # noqa: ANN001, ANN201
    import asyncio

    return await asyncio.wait_for(coro, MIGRATION_TIMEOUT_S)
