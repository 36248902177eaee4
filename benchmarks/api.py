"""benchmarks/api: the CloudStack query API over HTTP, as a client sees it.

Starts `cloudplane serve` (its own Ray, a temporary data directory, SQLite) on
127.0.0.1, bootstraps admin keys the way Marvin does, creates accounts, then
runs a load generator in a second process: 64 keep-alive connections replaying
signed requests (signatureVersion=3, so each is verified in full by the
server: HMAC, expiry, role rules, parameters). Three loads:

1. `listCapabilities`: a small signed read;
2. `listAccounts` with 500-row pages (each account with its user);
3. `listUsers` with 500-row pages.

Each prints requests/s, p50/p99 latency, errors and the server process's CPU
seconds (user+system, from /proc/PID/stat) during the run. Everything stays on
loopback and every loop is bounded in time and count.

Run: ./dev bench api [--seconds 10] [--connections 64] [--accounts 520] [--profile out.prof]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx

from benchmarks.common import pct, report

HOST = "127.0.0.1"
MAX_REQUESTS = 2_000_000  # a hard bound on any one run, whatever --seconds says


# ---------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    data_dir: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/client/api"

    def cpu_s(self) -> float:
        """User+system CPU seconds of the server process (not its Ray workers)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(2)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_server(data_dir: Path, extra_env: dict[str, str] | None = None, timeout: float = 120.0) -> Server:
    port = _free_port()
    # RAY_ADDRESS=local: a Ray of its own even when another one on this machine
    # (a test session's) is recorded as the "current cluster" Ray would join.
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0",
           "RAY_ADDRESS": "local", **(extra_env or {})}
    log = (data_dir / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "cloudplane", "serve", "--port", str(port),
                             "--data-dir", str(data_dir)], stdout=log, stderr=subprocess.STDOUT, env=env)
    server = Server(proc, port, data_dir)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {(data_dir / 'server.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"http://{HOST}:{port}/health", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    server.stop()
    raise RuntimeError("server did not become healthy")


def admin_keys(url: str) -> tuple[str, str]:
    with httpx.Client(timeout=60) as c:
        r = c.post(url, data={"command": "login", "username": "admin", "password": "password", "domain": "/",
                              "response": "json"})
        session = r.json()["loginresponse"]["sessionkey"]
        users = c.get(url, params={"command": "listUsers", "username": "admin", "response": "json",
                                   "sessionkey": session}).json()["listusersresponse"]["user"]
        k = c.get(url, params={"command": "registerUserKeys", "id": users[0]["id"], "response": "json",
                               "sessionkey": session}).json()["registeruserkeysresponse"]["userkeys"]
    return k["apikey"], k["secretkey"]


def signed_query(key: str, secret: str, command: str, **params: str) -> str:
    from cloudplane.api.signing import signature

    expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S+0000")
    q = {"command": command, "response": "json", "apiKey": key, "signatureVersion": "3", "expires": expires,
         **params}
    q["signature"] = signature(q, secret)
    return urlencode(q)


async def _create_accounts(url: str, key: str, secret: str, n: int) -> None:
    sem = asyncio.Semaphore(8)

    async def one(client: httpx.AsyncClient, i: int) -> None:
        name = f"bench{i:05d}"
        async with sem:
            r = await client.get(url + "?" + signed_query(
                key, secret, "createAccount", username=name, password="pw-" + name,
                email=f"{name}@example.org", firstname="Bench", lastname=str(i), accounttype="0"))
        if r.status_code != 200 and "already exists" not in r.text:
            raise RuntimeError(f"createAccount {name}: {r.status_code} {r.text[:300]}")

    async with httpx.AsyncClient(timeout=120) as client:
        await asyncio.gather(*(one(client, i) for i in range(n)))


# ---------------------------------------------------------------- the load generator (second process)


@dataclass
class LoadResult:
    requests: int
    errors: int
    wall_s: float
    latencies_ms: list[float]
    bytes_in: int
    statuses: dict[int, int]


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, int]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
            break
    if length:
        await reader.readexactly(length)
    return status, len(head) + length


async def _load(port: int, paths: list[str], connections: int, seconds: float, max_requests: int) -> LoadResult:
    wire = [f"GET {p} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUser-Agent: cloudplane-bench\r\n\r\n".encode()
            for p in paths]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    sent = [0]
    received = [0]
    start = time.perf_counter()
    deadline = start + seconds

    async def worker(offset: int) -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        i = offset
        try:
            while time.perf_counter() < deadline and sent[0] < max_requests:
                sent[0] += 1
                req = wire[i % len(wire)]
                i += connections
                t0 = time.perf_counter()
                writer.write(req)
                status, n = await _read_response(reader)
                latencies.append((time.perf_counter() - t0) * 1000)
                statuses[status] = statuses.get(status, 0) + 1
                received[0] += n
        finally:
            writer.close()

    await asyncio.gather(*(worker(k) for k in range(connections)))
    wall = time.perf_counter() - start
    errors = sum(n for s, n in statuses.items() if s != 200)
    return LoadResult(len(latencies), errors, wall, latencies, received[0], statuses)


def run_load(port: int, paths: list[str], connections: int, seconds: float,
             max_requests: int = MAX_REQUESTS) -> LoadResult:
    """The load generator's entry point, in its own process."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    return asyncio.run(_load(port, paths, connections, seconds, max_requests))


# ---------------------------------------------------------------- the runs


def _machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def measure(pool: concurrent.futures.Executor, server: Server, title: str, paths: list[str], connections: int,
            seconds: float, warmup_s: float = 1.5) -> LoadResult:
    pool.submit(run_load, server.port, paths, connections, warmup_s).result()
    cpu0, (busy0, total0) = server.cpu_s(), _machine_busy()
    res = pool.submit(run_load, server.port, paths, connections, seconds).result()
    cpu = server.cpu_s() - cpu0
    busy1, total1 = _machine_busy()
    machine = (busy1 - busy0) / max(total1 - total0, 1) * 100
    load1 = Path("/proc/loadavg").read_text().split()[0]
    rate = res.requests / res.wall_s
    report(title, [
        ("requests", f"{res.requests:,} in {res.wall_s:.1f} s, {connections} connections"),
        ("throughput", f"{rate:,.0f} req/s ({res.bytes_in / res.wall_s / 2**20:,.1f} MiB/s received)"),
        ("latency", f"p50 {pct(res.latencies_ms, 50):.1f} ms, p99 {pct(res.latencies_ms, 99):.1f} ms, "
                    f"max {max(res.latencies_ms):.1f} ms"),
        ("errors", f"{res.errors} {dict(sorted(res.statuses.items())) if res.errors else ''}".rstrip()),
        ("server CPU", f"{cpu:.1f} s ({cpu / res.wall_s * 100:.0f}% of one core; "
                       f"{cpu / max(res.requests, 1) * 1e6:,.0f} µs per request)"),
        ("machine", f"{os.cpu_count()} CPUs {machine:.0f}% busy (server, load generator, Ray and anything "
                    f"else), load average {load1}"),
    ])
    return res


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="bench api")
    ap.add_argument("--seconds", type=float, default=10.0, help="length of each measured run")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--accounts", type=int, default=520, help="accounts to create (pages hold 500)")
    ap.add_argument("--keep", action="store_true", help="keep the data directory")
    a = ap.parse_args(argv)
    a.seconds = min(a.seconds, 120.0)

    data_dir = Path(tempfile.mkdtemp(prefix="cloudplane-bench-api-"))
    server = start_server(data_dir)
    try:
        key, secret = admin_keys(server.url)
        t0 = time.perf_counter()
        asyncio.run(_create_accounts(server.url, key, secret, a.accounts))
        print(f"created {a.accounts} accounts in {time.perf_counter() - t0:.1f} s", flush=True)
        base = "/client/api?"
        # Distinct signed requests (each its own expires/signature), replayed round-robin.
        small = [base + signed_query(key, secret, "listCapabilities", _=str(i)) for i in range(256)]
        accounts = [base + signed_query(key, secret, "listAccounts", listall="true", pagesize="500", _=str(i))
                    for i in range(16)]
        users = [base + signed_query(key, secret, "listUsers", listall="true", pagesize="500", _=str(i))
                 for i in range(16)]
        ctx = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
            measure(pool, server, "signed listCapabilities (small read)", small, a.connections, a.seconds)
            measure(pool, server, "signed listAccounts, 500-row pages", accounts, a.connections, a.seconds)
            measure(pool, server, "signed listUsers, 500-row pages", users, a.connections, a.seconds)
    finally:
        server.stop()
        if not a.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
