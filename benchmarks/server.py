"""Start a management server for a benchmark: a `cloudplane serve` subprocess
with its own Ray instance on 127.0.0.1, and read its processes' figures."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick


def proc_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    data_dir: Path

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/client/api"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/agent"

    def metrics(self) -> dict[str, float]:
        """Sums of the shard gauges plus the server process itself."""
        text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=30).text
        out = {"shard_rss_mib": 0.0, "shard_cpu_s": 0.0}
        for line in text.splitlines():
            m = re.match(r"cloudplane_shard_(rss_bytes|cpu_seconds_total)\{.*\} ([0-9.e+]+)", line)
            if m:
                if m.group(1) == "rss_bytes":
                    out["shard_rss_mib"] += float(m.group(2)) / 2**20
                else:
                    out["shard_cpu_s"] += float(m.group(2))
        out["server_rss_mib"] = proc_rss_mib(self.proc.pid)
        out["server_cpu_s"] = proc_cpu_s(self.proc.pid)
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(2)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def start(*, shards: int = 2, db: str | None = None, extra: list[str] | None = None,
          port: int | None = None, data_dir: Path | None = None) -> Server:
    d = data_dir or Path(tempfile.mkdtemp(prefix="cpbench-srv-"))
    port = port or free_port()
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
    cmd = [sys.executable, "-m", "cloudplane", "serve", "--port", str(port), "--data-dir", str(d),
           "--shards", str(shards), *(["--db", db] if db else []), *(extra or [])]
    proc = subprocess.Popen(cmd, stdout=(d / "server.log").open("wb"), stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((d / "server.log").read_text()[-2000:])
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return Server(proc, port, d)
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("server did not start")
