"""benchmarks/storm: N fleet agents (WebSocket clients in a second process) are
connected; the management server restarts. Time until all hosts are Up again,
and how many hosts went to Alert on the way (CloudStack users report Alert
storms above 50 hosts).

Run: ./dev bench storm [--agents 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import server as srv
from benchmarks.common import report
from cloudplane.apiclient import ApiClient


async def _up(api: ApiClient, cluster: str) -> int:
    return int((await api.call("listHosts", clusterid=cluster, state="Up", pagesize=1)).get("count", 0))


async def _wait_up(api: ApiClient, cluster: str, n: int, timeout: float) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            if await _up(api, cluster) >= n:
                return time.monotonic() - t0
        except Exception:  # the server may still be starting
            pass
        await asyncio.sleep(0.5)
    raise TimeoutError(f"only {await _up(api, cluster)} of {n} hosts Up after {timeout:.0f}s")


def _ping_alerts(db: Path) -> int:
    """Hosts put in Alert for missing pings, so far (the host entity records each as an alert)."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT subject FROM alert WHERE name = 'ALERT.HOST'").fetchall()
    finally:
        con.close()
    return sum(1 for (subject,) in rows if "not pinged" in (subject or ""))


async def amain(a: argparse.Namespace) -> None:
    from cloudplane.simulator import fleet

    print(f"cloudplane benchmarks/storm — {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    s = srv.start(shards=a.shards)
    port, data_dir = s.port, s.data_dir
    fleet_proc = None
    try:
        api = await ApiClient.bootstrap(s.api)
        zone = (await api.call("createZone", name="storm", networktype="Advanced", dns1="192.0.2.1",
                               internaldns1="192.0.2.1"))["zone"]["id"]
        pod = (await api.call("createPod", name="p", zoneid=zone, gateway="203.0.113.1", netmask="255.255.255.0",
                              startip="203.0.113.10", endip="203.0.113.200"))["pod"]["id"]
        cluster = (await api.call("addCluster", clustername="fleet", zoneid=zone, podid=pod, hypervisor="Simulator",
                                  clustertype="CloudManaged"))["cluster"][0]["id"]
        t0 = time.monotonic()
        hosts = await fleet.register_hosts(api, cluster, a.agents, zone=zone, pod=pod, concurrency=64)
        t_reg = time.monotonic() - t0
        tokens = Path(tempfile.mkdtemp()) / "tokens.json"
        fleet.save_tokens(tokens, hosts)
        fleet_proc = subprocess.Popen([sys.executable, "-m", "cloudplane", "simulate", "--hosts", str(a.agents),
                                       "--connect", s.ws, "--tokens", str(tokens), "--duration", "3600"],
                                      stdout=(data_dir / "fleet.log").open("wb"), stderr=subprocess.STDOUT)
        t_first = await _wait_up(api, cluster, a.agents, 600)
        await api.close()
        alerts_before = _ping_alerts(data_dir / "cloudplane.db")

        # The management node restarts (same address, same database); the agents reconnect.
        t_restart = time.monotonic()
        s.stop()
        t_stop = time.monotonic() - t_restart
        s = srv.start(shards=a.shards, port=port, data_dir=data_dir)
        t_server = time.monotonic() - t_restart
        api = ApiClient(s.api, api.key, api.secret)
        await _wait_up(api, cluster, a.agents, 600)
        t_total = time.monotonic() - t_restart
        alerts = _ping_alerts(data_dir / "cloudplane.db") - alerts_before
        await api.close()
        report(f"reconnect storm: {a.agents:,} fleet agents, management server restarted", [
            ("hosts registered (addHost)", f"{t_reg:.1f} s"),
            ("first connect: all Up", f"{t_first:.1f} s after the fleet started"),
            ("after restart: all Up", f"{t_total:.1f} s after the restart began (server start included)"),
            ("  of which server stop and start", f"{t_server:.1f} s (stop {t_stop:.1f} s; start until /health)"),
            ("hosts that went to Alert", f"{alerts}"),
            ("fleet process RSS", f"{srv.proc_rss_mib(fleet_proc.pid):,.0f} MiB"),
        ])
    finally:
        if fleet_proc is not None:
            fleet_proc.terminate()
            fleet_proc.wait(30)
        s.stop()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="bench storm")
    ap.add_argument("--agents", type=int, default=5_000)
    ap.add_argument("--shards", type=int, default=2)
    asyncio.run(amain(ap.parse_args(argv)))
    return 0
