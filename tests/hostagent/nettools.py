"""Test topology inside network namespaces the tests create: veth pairs, addresses,
ping, and a tiny TCP listener/connector run with `ip netns exec`.

Only 10.x addresses, only inside `cptest-*` namespaces; nothing touches the root
namespace.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import sys

from cloudplane.hostagent import namespaces
from cloudplane.hostagent.network import iproute

PREFIX = "cptest-"


def root_skip_reason() -> str | None:
    """Why namespace tests cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "creating network namespaces needs root (CAP_SYS_ADMIN/CAP_NET_ADMIN)"
    for tool, package in (("ip", "iproute2"), ("ping", "iputils-ping")):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian package {package})"
    return None


class Namespaces:
    """Creates `cptest-<random>-<role>` namespaces and removes them all in `close()`."""

    def __init__(self) -> None:
        self.run_id = secrets.token_hex(3)
        self.created: list[str] = []
        self.processes: list[asyncio.subprocess.Process] = []

    def make(self, role: str) -> str:
        name = f"{PREFIX}{self.run_id}-{role}"
        subprocess.run(["ip", "netns", "add", name], check=True)
        self.created.append(name)
        return name

    async def close(self) -> None:
        for proc in self.processes:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        for name in reversed(self.created):
            if namespaces.exists(name):
                subprocess.run(["ip", "netns", "delete", name], check=True)


async def veth(ns_a: str, name_a: str, ns_b: str, name_b: str) -> None:
    """A veth pair with one end in each namespace, both up."""
    async with iproute(ns_a) as ipr:
        await ipr.link("add", ifname=name_a, kind="veth", peer={"ifname": name_b, "net_ns_fd": ns_b})
        await ipr.link("set", index=(await ipr.link_lookup(ifname=name_a))[0], state="up")
    async with iproute(ns_b) as ipr:
        await ipr.link("set", index=(await ipr.link_lookup(ifname=name_b))[0], state="up")


async def address(ns: str, ifname: str, cidr: str) -> None:
    addr, prefix = cidr.split("/")
    async with iproute(ns) as ipr:
        index = (await ipr.link_lookup(ifname=ifname))[0]
        await ipr.addr("add", index=index, address=addr, prefixlen=int(prefix))
        await ipr.link("set", index=index, state="up")


async def enslave(ns: str, ifname: str, bridge: str) -> None:
    async with iproute(ns) as ipr:
        (index,) = await ipr.link_lookup(ifname=ifname)
        (master,) = await ipr.link_lookup(ifname=bridge)
        await ipr.link("set", index=index, master=master)


async def delete_link(ns: str, ifname: str) -> None:
    async with iproute(ns) as ipr:
        await ipr.link("del", index=(await ipr.link_lookup(ifname=ifname))[0])


async def links(ns: str) -> set[str]:
    async with iproute(ns) as ipr:
        return {str(m.get("ifname")) async for m in await ipr.link("dump")}


async def _exec(ns: str, *argv: str, timeout_s: float = 10.0) -> int:
    proc = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", ns, *argv,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        return await asyncio.wait_for(proc.wait(), timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise


async def ping(ns: str, target: str, attempts: int = 1) -> bool:
    """`ping -c1 -W1` from `ns`; extra attempts absorb a first packet lost to ARP."""
    for _ in range(attempts):
        if await _exec(ns, "ping", "-c1", "-W1", target) == 0:
            return True
    return False


_LISTENER = """
import socket, sys, threading
socks = []
for port in map(int, sys.argv[1:]):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(16); socks.append(s)
def serve(s):
    while True:
        conn, _ = s.accept(); conn.sendall(b"hi"); conn.close()
for s in socks:
    threading.Thread(target=serve, args=(s,), daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
"""

_CONNECT = """
import socket, sys
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])) as s:
        sys.exit(0 if s.recv(2) == b"hi" else 2)
except OSError:
    sys.exit(1)
"""


async def listen(spaces: Namespaces, ns: str, *ports: int) -> None:
    """Start a TCP listener on `ports` inside `ns`; it lives until the namespaces close."""
    proc = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", ns, sys.executable, "-c", _LISTENER, *map(str, ports),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )
    spaces.processes.append(proc)
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 15)
    assert line.strip() == b"ready", line


async def connects(ns: str, host: str, port: int, timeout_s: float = 1.0) -> bool:
    """True when a TCP connection from `ns` to host:port completes and gets the greeting."""
    return await _exec(ns, sys.executable, "-c", _CONNECT, host, str(port), str(timeout_s)) == 0
