"""Security groups on this host: runs `nftrules`' commands through the `nft` CLI
(JSON in on stdin, JSON out), inside `netns` when given.

Each change reads the table, computes the commands and sends them as one nft
transaction, so a NIC's rules are replaced atomically; a lock serialises the
read-modify-write within the agent.
"""

from __future__ import annotations

import asyncio
import json

from cloudplane.hostagent import nftrules
from cloudplane.hostagent.errors import FirewallError
from cloudplane.hostagent.proc import require, run
from cloudplane.hostagent.spec import NicRules


class Firewall:
    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns
        self._lock = asyncio.Lock()

    async def _send(self, commands: list[nftrules.Command]) -> None:
        if not commands:
            return
        payload = json.dumps({"nftables": commands}).encode()
        result = await run([require("nft", "nftables"), "-j", "-f", "-"], stdin=payload, netns=self.netns)
        if not result.ok:
            raise FirewallError(f"nft refused the ruleset: {result.describe()}")

    async def current(self) -> nftrules.Current:
        """The table as it is now (empty if it does not exist)."""
        argv = [require("nft", "nftables"), "-j", "list", "table", nftrules.FAMILY, nftrules.TABLE]
        result = await run(argv, netns=self.netns)
        if not result.ok:
            if result.returncode == 1 and b"Error: No such file or directory" in result.stderr:
                return nftrules.Current()  # the table does not exist (yet)
            raise FirewallError(f"cannot read the firewall: {result.describe()}")
        return nftrules.parse_listing(result.stdout.decode())

    async def apply(self, rules: NicRules) -> None:
        """Install or replace the rules of one VM NIC."""
        async with self._lock:
            current = await self.current()
            await self._send(nftrules.base_commands() + nftrules.nic_commands(rules, current))

    async def remove(self, vm_name: str, device_id: int) -> None:
        async with self._lock:
            current = await self.current()
            await self._send(nftrules.removal_commands(f"{vm_name}-{device_id}", current))

    async def remove_vm(self, vm_name: str) -> None:
        """Remove the chains of every NIC of `vm_name`."""
        async with self._lock:
            current = await self.current()
            commands: list[nftrules.Command] = []
            for key in sorted(nftrules.nic_keys(current, vm_name)):
                commands += nftrules.removal_commands(key, current)
            await self._send(commands)

    async def nic_chains(self) -> set[str]:
        """Names of the per-NIC chains present."""
        return (await self.current()).chains - {nftrules.BASE_CHAIN}

    async def delete_table(self) -> None:
        """Remove everything cloudplane installed (the table)."""
        async with self._lock:
            if (await self.current()).exists:
                await self._send([{"delete": {"table": {"family": nftrules.FAMILY, "name": nftrules.TABLE}}}])
