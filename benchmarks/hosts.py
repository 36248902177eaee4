"""benchmarks/hosts: add many simulated hosts through the API and measure.

1. N in-process simulated hosts (default 10,000) in C clusters (default 500)
   of one zone, added with addHost at 64 concurrent calls: time until all Up,
   management-side RSS (server + shards).
2. Steady-state CPU of the ping traffic at ping.interval 60 s and 10 s.
3. Fleet mode: F WebSocket agents (default 2,000) in a second process
   (`cloudplane simulate`): time until all Up.

Run: ./dev bench hosts [--hosts 10000] [--clusters 500] [--fleet 2000] [--window 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import server as srv
from benchmarks.common import report
from cloudplane.apiclient import ApiClient


async def _up_count(api: ApiClient, **filters: str) -> int:
    return int((await api.call("listHosts", state="Up", pagesize=1, **filters)).get("count", 0))


async def _wait_up(api: ApiClient, n: int, timeout: float, **filters: str) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if await _up_count(api, **filters) >= n:
            return time.monotonic() - t0
        await asyncio.sleep(0.5)
    raise TimeoutError(f"only {await _up_count(api, **filters)} of {n} hosts Up after {timeout}s")


async def _cpu_window(s: srv.Server, seconds: float) -> tuple[float, float]:
    m0 = s.metrics()
    await asyncio.sleep(seconds)
    m1 = s.metrics()
    cpu = (m1["server_cpu_s"] - m0["server_cpu_s"]) + (m1["shard_cpu_s"] - m0["shard_cpu_s"])
    return cpu, 100.0 * cpu / seconds


async def amain(a: argparse.Namespace) -> None:
    print(f"cloudplane benchmarks/hosts — {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    s = srv.start(shards=a.shards, db=a.db)
    try:
        api = await ApiClient.bootstrap(s.api)
        zone = (await api.call("createZone", name="bench", networktype="Advanced", dns1="192.0.2.1",
                               internaldns1="192.0.2.1"))["zone"]["id"]
        pod = (await api.call("createPod", name="p", zoneid=zone, gateway="203.0.113.1", netmask="255.255.0.0",
                              startip="203.0.113.10", endip="203.0.200.200"))["pod"]["id"]
        sem = asyncio.Semaphore(64)

        async def cluster(i: int) -> str:
            async with sem:
                return str((await api.call("addCluster", clustername=f"c{i}", zoneid=zone, podid=pod,
                                           hypervisor="Simulator", clustertype="CloudManaged"))["cluster"][0]["id"])

        clusters = await asyncio.gather(*(cluster(i) for i in range(a.clusters)))

        async def host(i: int) -> None:
            async with sem:
                await api.call("addHost", zoneid=zone, podid=pod, clusterid=clusters[i % len(clusters)],
                               hypervisor="Simulator", url=f"http://sim/c{i % len(clusters)}/h{i}",
                               username="root", password="x")

        m0, load0 = s.metrics(), os.getloadavg()[0]
        t0 = time.monotonic()
        await asyncio.gather(*(host(i) for i in range(a.hosts)))
        t_added = time.monotonic() - t0
        await _wait_up(api, a.hosts, 600)
        t_up = time.monotonic() - t0
        m = s.metrics()
        # CPU-seconds say more than seconds on a shared box: load inflates wall time far more.
        cpu_srv, cpu_sh = m["server_cpu_s"] - m0["server_cpu_s"], m["shard_cpu_s"] - m0["shard_cpu_s"]
        report(f"{a.hosts:,} simulated hosts in {a.clusters} clusters ({a.shards} shards, "
               f"{'MariaDB' if a.db else 'SQLite'})", [
            ("addHost calls done", f"{t_added:.1f} s ({a.hosts / t_added:,.0f} hosts/s at 64 concurrent calls)"),
            ("all Up after", f"{t_up:.1f} s (load average {load0:.1f} → {os.getloadavg()[0]:.1f})"),
            ("CPU until all Up", f"server {cpu_srv:.1f} + shards {cpu_sh:.1f} CPU-s "
                                 f"({1000 * (cpu_srv + cpu_sh) / a.hosts:.1f} ms per host)"),
            ("management RSS", f"server {m['server_rss_mib']:,.0f} MiB + shards {m['shard_rss_mib']:,.0f} MiB"),
        ])
        rows = []
        for interval in (60, 10):
            await api.call("updateConfiguration", name="ping.interval", value=str(interval))
            await asyncio.sleep(min(interval, 15) + 3)  # pings settle on the new interval
            cpu, pct = await _cpu_window(s, a.window)
            rows.append((f"ping.interval {interval} s", f"{pct:.1f} % of one core ({cpu:.1f} CPU-s in {a.window:.0f} s, "
                                                        f"load average {os.getloadavg()[0]:.1f})"))
        await api.call("updateConfiguration", name="ping.interval", value="60")
        report("steady-state CPU of the management side (server + shards)", rows)

        if a.fleet:
            from cloudplane.simulator import fleet

            fc = (await api.call("addCluster", clustername="fleet", zoneid=zone, podid=pod, hypervisor="Simulator",
                                 clustertype="CloudManaged"))["cluster"][0]["id"]
            t0 = time.monotonic()
            hosts = await fleet.register_hosts(api, fc, a.fleet, zone=zone, pod=pod)
            t_reg = time.monotonic() - t0
            tokens = Path(tempfile.mkdtemp()) / "tokens.json"
            fleet.save_tokens(tokens, hosts)
            env = {**os.environ}
            t1 = time.monotonic()
            proc = subprocess.Popen([sys.executable, "-m", "cloudplane", "simulate", "--hosts", str(a.fleet),
                                     "--connect", s.ws, "--tokens", str(tokens), "--duration", "600"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env=env)
            try:
                t_up = await _wait_up(api, a.fleet, 300, clusterid=fc)
                fleet_rss = srv.proc_rss_mib(proc.pid)
            finally:
                proc.terminate()
                proc.wait(30)
            report(f"fleet mode: {a.fleet:,} WebSocket agents in a second process", [
                ("registration (addHost)", f"{t_reg:.1f} s"),
                ("all Up after start", f"{time.monotonic() - t1 - 0:.1f} s total, {t_up:.1f} s to Up"),
                ("fleet process RSS", f"{fleet_rss:,.0f} MiB"),
            ])
        await api.close()
    finally:
        s.stop()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="bench hosts")
    ap.add_argument("--hosts", type=int, default=10_000)
    ap.add_argument("--clusters", type=int, default=500)
    ap.add_argument("--fleet", type=int, default=2_000)
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--window", type=float, default=30.0)
    ap.add_argument("--db", help="database URL (default: SQLite in a temp dir)")
    asyncio.run(amain(ap.parse_args(argv)))
    return 0
