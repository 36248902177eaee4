"""The lab shared by the real-QEMU tests: namespaces, daemons, agent helpers."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

from cloudplane.hostagent.config import AgentConfig
from tests.hostagent import nettools
from tests.hostagent.guest import TinyGuest
from tests.hostagent.libvirtd import Daemon

ADDR_A, ADDR_B = "10.98.0.1", "10.98.0.2"
BOOT_TIMEOUT_S = 240.0  # TCG boot: ~6 s on a calm machine, 20-45 s or more under load


class Lab:
    def __init__(self, root: Path, guest: TinyGuest) -> None:
        self.root = root
        self.guest = guest
        self.spaces = nettools.Namespaces()
        self.a: Daemon | None = None
        self.b: Daemon | None = None
        self.consoles = root / "console"
        self.consoles.mkdir()

    async def start(self) -> None:
        ns_a, ns_b = self.spaces.make("a"), self.spaces.make("b")
        await nettools.veth(ns_a, "mig0", ns_b, "mig0")
        await nettools.address(ns_a, "mig0", f"{ADDR_A}/24")
        await nettools.address(ns_b, "mig0", f"{ADDR_B}/24")
        self.a = Daemon(self.root / "libvirt-a", ns_a, "cp-host-a", listen_addr=ADDR_A)
        await self.a.start()

    async def daemon_b(self) -> Daemon:
        if self.b is None:
            assert self.a is not None
            self.b = Daemon(self.root / "libvirt-b", self.spaces.created[1], "cp-host-b", listen_addr=ADDR_B)
            await self.b.start(seed_cache=self.a.capabilities_cache())
        return self.b

    async def close(self) -> None:
        for daemon in (self.b, self.a):
            if daemon is not None:
                await daemon.stop()
        await self.spaces.close()

    def vm_args(self, name: str, **extra: Any) -> dict[str, Any]:
        """A StartCommand `vm` object for the tiny guest, kernel and initrd in `details`."""
        return {"name": name, "uuid": str(uuid.uuid4()), "cpus": 1, "mhz": 1000, "ram_mb": 128, "type": "User",
                "ha": False, "user_data": None,
                "details": {"kernel": str(self.guest.kernel), "initrd": str(self.guest.initrd),
                            "cmdline": self.guest.cmdline}, **extra}

    def agent_config(self, uri: str, tmp: Path, **extra: Any) -> AgentConfig:
        """An agent configuration for `uri` (no management server is involved)."""
        values: dict[str, Any] = {
            "servers": ("ws://127.0.0.1:1/agent",), "host_id": str(uuid.uuid4()), "token": "unused",
            "libvirt_uri": uri, "domain_type": "qemu", "console_log_dir": str(self.consoles),
            "config_drive_dir": str(tmp / "configdrive"), "stop_timeout_s": 90.0, **extra}
        return AgentConfig(**values)

    def console(self, name: str) -> str:
        path = self.consoles / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


async def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.25) -> Any:
    """Poll `predicate` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(interval)
