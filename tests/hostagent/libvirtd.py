"""Private libvirt daemons for tests, each confined to namespaces the test made.

A `Daemon` runs `libvirtd` inside a network namespace (`ip netns exec`), in its
own mount and UTS namespaces (`unshare`), with private copies of every libvirt
directory bind-mounted over the real ones, so it shares nothing with another
daemon or with the host:

    <root>/etc    -> /etc/libvirt        libvirtd.conf (own host_uuid, optional TCP
                                         listener) and qemu.conf (see below)
    <root>/run    -> /run/libvirt        its socket: <root>/run/libvirt-sock
    <root>/lib    -> /var/lib/libvirt
    <root>/cache  -> /var/cache/libvirt  the QEMU capabilities cache
    <root>/log    -> /var/log/libvirt    libvirtd.log and one log per guest
    a tmpfs      -> /dev                 the host's nodes minus kvm (see below)

/dev/kvm on this machine kind opens but cannot run a guest, and libvirtd then
throws away its capabilities cache and re-probes QEMU on every defineXML
(30-45 s each). Hiding the device makes it settle on TCG once; `namespaces = [ ]`
stops libvirt from building a per-guest /dev of its own.
QEMU runs as root with no security driver, so it can read kernels and write
console logs under pytest's private temporary directories.

libvirtd runs in the foreground as the test's child; `stop()` destroys the
guests it knows, ends libvirtd by its pid and kills any QEMU left behind by the
pids in its private run directory. Nothing is ever looked up by process name.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

MOUNTS = {"etc": "/etc/libvirt", "run": "/run/libvirt", "lib": "/var/lib/libvirt",
          "cache": "/var/cache/libvirt", "log": "/var/log/libvirt"}
START_TIMEOUT_S = 120.0


def skip_reason() -> str | None:
    """Why real libvirt daemons cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "private libvirt daemons need root (mount and network namespaces)"
    for tool, package in (("libvirtd", "libvirt-daemon-system"), ("qemu-system-x86_64", "qemu-system-x86"),
                          ("unshare", "util-linux"), ("ip", "iproute2")):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian package {package})"
    return None


def _libvirtd_conf(host_uuid: str, listen_addr: str | None) -> str:
    lines = [
        f'host_uuid = "{host_uuid}"',
        'unix_sock_rw_perms = "0700"',
        'auth_unix_rw = "none"',
        'auth_unix_ro = "none"',
        'log_outputs = "3:file:/var/log/libvirt/libvirtd.log"',
        "keepalive_interval = 5",
        "listen_tls = 0",
    ]
    if listen_addr is not None:
        lines += ["listen_tcp = 1", 'auth_tcp = "none"', f'listen_addr = "{listen_addr}"']
    return "\n".join(lines) + "\n"


QEMU_CONF = """\
namespaces = [ ]
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
stdio_handler = "file"
migration_address = "0.0.0.0"
"""

# /dev is replaced by a small tmpfs without kvm: libvirt decides whether KVM is
# usable from stat() and access() on /dev/kvm, and as root access() always
# succeeds, so only an absent node keeps it from re-probing.
_SCRIPT = """\
set -e
hostname {hostname}
ip link set lo up
mkdir -p {targets}
{binds}
mount --bind /dev {root}/hostdev
mount -t tmpfs -o mode=0755,nosuid tmpfs /dev
for n in null zero full random urandom tty ptmx; do cp -a {root}/hostdev/$n /dev/; done
mkdir /dev/pts /dev/shm /dev/net
mount --bind {root}/hostdev/pts /dev/pts
mount --bind {root}/hostdev/shm /dev/shm
cp -a {root}/hostdev/net/tun /dev/net/ 2>/dev/null || true
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
umount -l {root}/hostdev
exec libvirtd {listen} -p {root}/libvirtd.pid
"""


@dataclass
class Daemon:
    root: Path
    netns: str
    hostname: str
    listen_addr: str | None = None
    host_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    proc: asyncio.subprocess.Process | None = None

    @property
    def socket(self) -> Path:
        return self.root / "run" / "libvirt-sock"

    @property
    def uri(self) -> str:
        return f"qemu+unix:///system?socket={self.socket}"

    @property
    def tcp_uri(self) -> str:
        assert self.listen_addr is not None
        return f"qemu+tcp://{self.listen_addr}/system"

    def _prepare(self, seed_cache: Path | None) -> Path:
        for sub in MOUNTS:
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "etc" / "libvirtd.conf").write_text(_libvirtd_conf(self.host_uuid, self.listen_addr))
        (self.root / "etc" / "qemu.conf").write_text(QEMU_CONF)
        (self.root / "hostdev").mkdir(exist_ok=True)
        if seed_cache is not None and seed_cache.is_dir():
            shutil.copytree(seed_cache, self.root / "cache" / "qemu" / "capabilities", dirs_exist_ok=True)
        binds = "\n".join(f"mount --bind {self.root / sub} {target}" for sub, target in MOUNTS.items())
        script = self.root / "start.sh"
        script.write_text(_SCRIPT.format(hostname=self.hostname, targets=" ".join(MOUNTS.values()),
                                         binds=binds, root=self.root,
                                         listen="--listen" if self.listen_addr else ""))
        return script

    async def start(self, seed_cache: Path | None = None) -> None:
        """Start libvirtd and wait until it answers on its socket."""
        script = self._prepare(seed_cache)
        log = (self.root / "stdout.log").open("wb")
        self.proc = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", self.netns, "unshare", "--mount", "--uts", "--propagation", "private",
            "sh", str(script), stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.returncode is not None:
                raise RuntimeError(f"libvirtd in {self.netns} exited with {self.proc.returncode}: {self.logs()}")
            if self.socket.exists() and await asyncio.to_thread(self._answers):
                return
            await asyncio.sleep(0.2)
        raise RuntimeError(f"libvirtd in {self.netns} did not answer within {START_TIMEOUT_S}s: {self.logs()}")

    def _answers(self) -> bool:
        import libvirt

        try:
            conn = libvirt.open(self.uri)
        except libvirt.libvirtError:
            return False
        try:
            return bool(conn.getCapabilities())
        finally:
            conn.close()

    def logs(self, tail: int = 3000) -> str:
        out = []
        for path in (self.root / "stdout.log", self.root / "log" / "libvirtd.log"):
            if path.exists():
                out.append(f"--- {path.name}\n{path.read_text(errors='replace')[-tail:]}")
        return "\n".join(out)

    def guest_log(self, name: str) -> str:
        path = self.root / "log" / "qemu" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def capabilities_cache(self) -> Path:
        return self.root / "cache" / "qemu" / "capabilities"

    def _destroy_all(self) -> None:
        import libvirt

        try:
            conn = libvirt.open(self.uri)
        except libvirt.libvirtError:
            return
        try:
            for dom in conn.listAllDomains(0):
                with contextlib.suppress(libvirt.libvirtError):
                    if dom.isActive():
                        dom.destroy()
                with contextlib.suppress(libvirt.libvirtError):
                    dom.undefine()
        finally:
            conn.close()

    def _qemu_pids(self) -> list[int]:
        """QEMU processes this daemon started (by the pid files in its private run
        directory, and only while that pid is still a QEMU)."""
        pids = []
        for pidfile in (self.root / "run" / "qemu").glob("*.pid"):
            with contextlib.suppress(ValueError, OSError):
                pid = int(pidfile.read_text().strip())
                if b"qemu" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    pids.append(pid)
        return pids

    async def stop(self) -> None:
        """Stop libvirtd and every guest it started; safe to call twice."""
        if self.proc is None:
            return
        if self.proc.returncode is None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.to_thread(self._destroy_all), 30)
        leftovers = self._qemu_pids()
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc = None
