"""`cloudplane agent`: the host agent daemon.

    config (config.py) -> libvirt (driver.py, reopened when libvirtd restarts)
    -> local storage pool -> HostCommands (commands.py) -> Connection (connection.py)

It runs in the foreground (systemd's Type=simple) and logs to stderr (the
journal). SIGTERM or SIGINT stops it; running guests are left alone, since the
agent only manages them and the next agent to connect reports them again.
`--check` reads the configuration, opens libvirt and prints what the host
would report, then exits: the first thing to try on a new host.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import logging
import signal
from pathlib import Path
from typing import Any

from cloudplane.agentproto import Answer, Capacity
from cloudplane.hostagent.commands import HostCommands
from cloudplane.hostagent.config import AgentConfig, ConfigError, load
from cloudplane.hostagent.connection import Connection
from cloudplane.hostagent.driver import LibvirtDriver
from cloudplane.hostagent.errors import AgentError, HypervisorError

log = logging.getLogger("cloudplane.hostagent")

DEFAULT_CONFIG = Path("/etc/cloudplane/agent.properties")
LIBVIRT_RETRY_CAP_S = 30.0


async def open_driver(cfg: AgentConfig, stopping: asyncio.Event | None = None) -> LibvirtDriver | None:
    """Open libvirt, retrying while libvirtd is not up yet; None if stopped meanwhile."""
    delay = 0.5
    while True:
        try:
            return await LibvirtDriver.open(cfg.libvirt_uri, domain_type=cfg.domain_type,
                                            config_drive_dir=Path(cfg.config_drive_dir))
        except AgentError as err:
            log.warning("libvirt %s not available (%s); retrying in %.0fs", cfg.libvirt_uri, err.message, delay)
        if stopping is None:
            await asyncio.sleep(delay)
        else:
            try:
                await asyncio.wait_for(stopping.wait(), delay)
                return None
            except TimeoutError:
                pass
        delay = min(delay * 2, LIBVIRT_RETRY_CAP_S)


class LibvirtHost:
    """The `AgentCore` the connection talks to: HostCommands, plus a fresh libvirt
    connection when the old one broke (libvirtd restarted under us)."""

    def __init__(self, commands: HostCommands) -> None:
        self.commands = commands
        self._reopening = asyncio.Lock()

    async def _reopen(self, broken: LibvirtDriver) -> None:
        async with self._reopening:
            if self.commands.driver is not broken:
                return  # someone else reopened it meanwhile
            fresh = await LibvirtDriver.open(self.commands.cfg.libvirt_uri, domain_type=broken.domain_type,
                                             config_drive_dir=broken.config_drive_dir)
            self.commands.driver = fresh
            log.info("reconnected to libvirt %s", self.commands.cfg.libvirt_uri)
            try:
                await broken.close()
            except Exception:  # the old connection is dead anyway
                pass

    async def capacity(self) -> Capacity:
        return await self.commands.capacity()

    async def power_states(self) -> dict[str, str]:
        driver = self.commands.driver
        try:
            return await self.commands.power_states()
        except HypervisorError:
            await self._reopen(driver)
            return await self.commands.power_states()

    async def handle(self, name: str, args: dict[str, Any]) -> Answer:
        return await self.commands.handle(name, args)


async def prepare_host(driver: LibvirtDriver, cfg: AgentConfig) -> None:
    """What must exist before the first command: the local pool, the log directories."""
    if cfg.pool_path is not None:
        Path(cfg.pool_path).mkdir(parents=True, exist_ok=True)
        await driver.create_pool_dir(cfg.pool, cfg.pool_path)
    if cfg.console_log_dir is not None:
        Path(cfg.console_log_dir).mkdir(parents=True, exist_ok=True)
    Path(cfg.config_drive_dir).mkdir(parents=True, exist_ok=True)


async def run(cfg: AgentConfig, stopping: asyncio.Event | None = None) -> None:
    """Serve until `stopping` is set (or SIGTERM/SIGINT when run by `main`)."""
    stopping = stopping or asyncio.Event()
    driver = await open_driver(cfg, stopping)
    if driver is None:
        return
    commands = HostCommands(driver, cfg)
    try:
        await prepare_host(driver, cfg)
        link = Connection(LibvirtHost(commands), cfg.host_id, cfg.token, list(cfg.servers), tls=cfg.tls,
                          backoff_base_s=cfg.backoff_base_s, backoff_cap_s=cfg.backoff_cap_s)
        runner = asyncio.create_task(link.run())
        waiter = asyncio.create_task(stopping.wait())
        await asyncio.wait({runner, waiter}, return_when=asyncio.FIRST_COMPLETED)
        link.stop()
        waiter.cancel()
        await runner
    finally:
        await commands.driver.close()
    log.info("agent stopped")


async def check(cfg: AgentConfig) -> dict[str, Any]:
    """What this host would report, without connecting to a management server."""
    driver = await LibvirtDriver.open(cfg.libvirt_uri, domain_type=cfg.domain_type,
                                      config_drive_dir=Path(cfg.config_drive_dir))
    async with driver:
        commands = HostCommands(driver, cfg)
        return {"host": cfg.host_id, "servers": list(cfg.servers), "libvirt": cfg.libvirt_uri,
                "capacity": (await commands.capacity()).to_dict(), "vms": await commands.power_states()}


def _serve(cfg: AgentConfig) -> None:
    async def main() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        # Every libvirt call holds a thread (a migration, for its whole length).
        loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(cfg.workers, thread_name_prefix="libvirt"))
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        await run(cfg, stopping)

    asyncio.run(main())


def main(args: argparse.Namespace) -> int:
    """Entry point of `cloudplane agent` (see cloudplane/cli.py for the options)."""
    logging.getLogger().setLevel(getattr(logging, str(args.log_level).upper(), logging.INFO))
    try:
        cfg = load(Path(args.config))
    except ConfigError as err:
        log.error("%s: %s", args.config, err)
        return 2
    if args.check:
        try:
            print(json.dumps(asyncio.run(check(cfg)), indent=2))
        except AgentError as err:
            log.error("%s", err.message)
            return 1
        return 0
    log.info("cloudplane agent for host %s: libvirt %s (%s), servers %s", cfg.host_id, cfg.libvirt_uri,
             cfg.domain_type, ", ".join(cfg.servers))
    _serve(cfg)
    return 0
