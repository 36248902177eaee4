"""benchmarks/deploy: deploying VMs through the API into a simulated zone.

1. `cloudplane serve` (its own Ray; SQLite in a temporary directory, or with
   `--db mariadb` a new database on the local MariaDB) on 127.0.0.1; a zone
   with H simulated hosts (default 1,000) in clusters of 20, one primary pool
   per cluster, an image store (the built-in template).
2. C accounts (default 64), each with its own signed client in a second
   process; each client deploys with up to W deploys in flight and polls
   each job (queryAsyncJobResult) until its VM is Running. N VMs in all
   (default 10,000). The clients speak HTTP/1.1 through benchmarks/wire.py
   (keep-alive, one connection per deploy in flight): the load generator
   shares the two cores with the server, and httpx cost ~1.5 ms of CPU per
   request.
   Printed: VMs/s to Running (N over the time from the first job accepted to
   the last completed, from the job rows), deploy latency p50/p99 (job
   accepted → Running, from the job rows), and CPU-seconds per VM of the
   management side (server process + shards; Ray's own daemons not counted)
   and of the client process.
3. listVirtualMachines as the admin (listall, 500-row pages, random pages):
   p50/p95 with N VMs, then with --list-total VMs (default 100,000): the
   extra VMs are inserted in bulk into the store (Stopped, each with a NIC),
   not deployed.

Run: ./dev bench deploy [--hosts 1000] [--vms 10000] [--clients 64] [--window 2] [--db sqlite|mariadb]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import multiprocessing
import os
import random
import shutil
import sqlite3
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pymysql

from benchmarks import server as srv
from benchmarks import wire
from benchmarks.common import pct, report
from cloudplane.api.signing import signature
from cloudplane.apiclient import ApiClient

GiB = 2**30


async def build_zone(api: ApiClient, hosts: int, per_cluster: int) -> dict[str, str]:
    """A zone like cloudplane's demo one, with `hosts` hosts (added 64 at a time)."""
    from cloudplane.datacenter import Deployer

    clusters = max(1, (hosts + per_cluster - 1) // per_cluster)
    cfg = {"zones": [{
        "name": "bench", "networktype": "Advanced", "dns1": "192.0.2.53", "internaldns1": "192.0.2.53",
        "guestcidraddress": "10.1.0.0/16",
        "physical_networks": [{"name": "pnet", "vlan": "100-3999", "broadcastdomainrange": "Zone",
                               "isolationmethods": ["VLAN"],
                               "traffictypes": [{"typ": "Guest"}, {"typ": "Management"}, {"typ": "Public"}],
                               "providers": [{"name": "VirtualRouter"}]}],
        "ipranges": [{"startip": "198.51.100.10", "endip": "198.51.100.250", "netmask": "255.255.255.0",
                      "gateway": "198.51.100.1", "vlan": "untagged"}],
        "pods": [{"name": "pod", "startip": "172.16.0.10", "endip": "172.16.250.250", "netmask": "255.255.0.0",
                  "gateway": "172.16.0.1",
                  "clusters": [{"clustername": f"c{i}", "hypervisor": "Simulator", "clustertype": "CloudManaged",
                                "hosts": [], "primaryStorages": [{"name": f"ps{i}",
                                                                  "url": f"nfs://192.0.2.10/export/ps{i}"}]}
                               for i in range(clusters)]}],
        "secondaryStorages": [{"url": "nfs://192.0.2.10/export/secondary", "provider": "NFS"}]}]}
    await Deployer(api, say=lambda _: None).deploy(cfg)
    zone = (await api.call("listZones", name="bench"))["zone"][0]["id"]
    cl = sorted((await api.call("listClusters", zoneid=zone))["cluster"], key=lambda c: c["name"])
    pod = cl[0]["podid"]
    sem = asyncio.Semaphore(64)

    async def add(i: int) -> None:
        async with sem:
            c = cl[i % len(cl)]
            await api.call("addHost", zoneid=zone, podid=pod, clusterid=c["id"], hypervisor="Simulator",
                           url=f"http://sim/{c['name']}/h{i}", username="root", password="x")

    await asyncio.gather(*(add(i) for i in range(hosts)))
    deadline = time.monotonic() + 600
    while int((await api.call("listHosts", zoneid=zone, state="Up", pagesize=1)).get("count", 0)) < hosts:
        if time.monotonic() > deadline:
            raise TimeoutError("hosts did not come Up")
        await asyncio.sleep(0.5)
    await asyncio.sleep(3)  # capacity rows follow the hosts' first reports
    tpl = None
    while tpl is None:
        ts = (await api.call("listTemplates", templatefilter="featured", zoneid=zone)).get("template", [])
        tpl = next((t["id"] for t in ts if t.get("isready") and t.get("hypervisor") == "Simulator"), None)
        await asyncio.sleep(0.2)
    so = next(o["id"] for o in (await api.call("listServiceOfferings"))["serviceoffering"]
              if o["name"] == "Small Instance")
    return {"zone": zone, "template": tpl, "offering": so}


UNLIMITED = ("user.vms", "cpus", "memory", "volumes", "primary.storage", "networks", "public.ips")


async def make_accounts(api: ApiClient, n: int) -> list[tuple[str, str]]:
    # The benchmark measures deploys, not quotas: its accounts get no resource limits.
    for what in UNLIMITED:
        await api.call("updateConfiguration", name=f"max.account.{what}", value="-1")
    sem = asyncio.Semaphore(16)

    async def one(i: int) -> tuple[str, str]:
        async with sem:
            name = f"bench{i}-{uuid.uuid4().hex[:6]}"
            acct = (await api.call("createAccount", username=name, password="pw-" + name, accounttype=0,
                                   email=f"{name}@example.org", firstname="B", lastname=name))["account"]
            keys = (await api.call("registerUserKeys", id=acct["user"][0]["id"]))["userkeys"]
            return keys["apikey"], keys["secretkey"]

    return list(await asyncio.gather(*(one(i) for i in range(n))))


# ---------------------------------------------------------------- the load generator (its own process)


def _query(key: str, secret: str, command: str, **params: str) -> str:
    p = {"command": command, "response": "json", "apiKey": key, **params}
    p["signature"] = signature(p, secret)
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in p.items())


async def _read(conn: wire.Connection, query: str, tries: int = 3) -> Any:
    """A read (idempotent): retried when a kept-alive connection was closed under it."""
    for attempt in range(tries):
        try:
            return await conn.get(query)
        except wire.Closed:
            if attempt == tries - 1:
                raise
    return None


async def _client(url: str, key: str, secret: str, deploy: dict[str, str], todo: list[int], window: int,
                  out: dict[str, Any]) -> None:
    async def one() -> None:
        conn = wire.Connection(url)  # one kept-alive connection per deploy in flight
        try:
            while todo:
                todo.pop()
                try:
                    r = await conn.post(_query(key, secret, "deployVirtualMachine", **deploy))
                except wire.Closed as e:  # not retried: it may have been accepted
                    out["errors"].append(f"deploy request: {e!r}")
                    continue
                body = next(iter(r.values()))
                if "jobid" not in body:
                    out["errors"].append(str(body.get("errortext"))[:200])
                    continue
                wait = 0.1
                while True:
                    await asyncio.sleep(wait)
                    wait = min(wait * 1.5, 1.0)
                    q = (await _read(conn, _query(key, secret, "queryAsyncJobResult", jobid=body["jobid"]))
                         )["queryasyncjobresultresponse"]
                    out["polls"] += 1
                    if q["jobstatus"] == 1:
                        out["ok"] += 1
                        break
                    if q["jobstatus"] == 2:
                        out["errors"].append(str(q["jobresult"].get("errortext"))[:200])
                        break
        finally:
            conn.close()

    await asyncio.gather(*(one() for _ in range(window)))


def run_clients(url: str, accounts: list[tuple[str, str]], deploy: dict[str, str], vms: int,
                window: int) -> dict[str, Any]:
    """In a process of its own: every account deploys from one shared budget of `vms`."""
    async def main() -> dict[str, Any]:
        todo = list(range(vms))
        out: dict[str, Any] = {"ok": 0, "errors": [], "polls": 0}
        t0 = time.monotonic()
        await asyncio.gather(*(_client(url, k, s, deploy, todo, window, out) for k, s in accounts))
        out["wall_s"] = time.monotonic() - t0
        return out

    c0 = time.process_time()
    result = asyncio.run(main())
    result["cpu_s"] = time.process_time() - c0
    return result


# ---------------------------------------------------------------- measurements


class Store:
    """The server's database, read and written directly by the benchmark (not through
    the API): SQLite in the server's data directory, or a MariaDB database."""

    def __init__(self, sqlite_path: Path | None = None, mysql_db: str | None = None) -> None:
        self.sqlite_path, self.mysql_db = sqlite_path, mysql_db

    @classmethod
    def mysql(cls) -> Store:
        """A database of its own on the local MariaDB, for one run."""
        name = f"cpbench_{uuid.uuid4().hex[:8]}"
        conn = pymysql.connect(host="127.0.0.1", user="root")
        conn.cursor().execute(f"CREATE DATABASE {name}")
        conn.close()
        return cls(mysql_db=name)

    @property
    def url(self) -> str | None:
        return f"mysql+aiomysql://root@127.0.0.1:3306/{self.mysql_db}" if self.mysql_db else None

    def connect(self) -> Any:
        if self.mysql_db:
            return pymysql.connect(host="127.0.0.1", user="root", database=self.mysql_db, autocommit=False)
        return sqlite3.connect(self.sqlite_path, timeout=120)  # type: ignore[arg-type]

    @property
    def mark(self) -> str:
        return "%s" if self.mysql_db else "?"

    def columns(self, conn: Any, table: str) -> list[str]:
        if self.mysql_db:
            cur = conn.cursor()
            cur.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() "
                        "AND table_name = %s ORDER BY ordinal_position", (table,))
            return [r[0] for r in cur.fetchall()]
        return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]

    def drop(self) -> None:
        if self.mysql_db:
            conn = pymysql.connect(host="127.0.0.1", user="root")
            conn.cursor().execute(f"DROP DATABASE IF EXISTS {self.mysql_db}")
            conn.close()


def _rows(conn: Any, sql: str, args: Any = ()) -> list[Any]:
    cur = conn.cursor()
    cur.execute(sql, args)
    return list(cur.fetchall())


def _ts(value: str | datetime) -> float:
    dt = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()


def job_figures(store: Store) -> tuple[float, list[float]]:
    """(seconds from the first deploy job accepted to the last completed, latencies) of
    the succeeded deploy jobs, from the store."""
    conn = store.connect()
    try:
        rows = _rows(conn, "SELECT created, completed FROM async_job WHERE cmd = 'deployVirtualMachine' "
                           "AND status = 1")
    finally:
        conn.close()
    created = [_ts(c) for c, _ in rows]
    done = [_ts(d) for _, d in rows]
    return max(done) - min(created), [d - c for c, d in zip(created, done)]


async def list_latencies(api: ApiClient, total: int, n: int) -> list[float]:
    pages = max(1, (total + 499) // 500)
    out = []
    for _ in range(n):
        t = time.perf_counter()
        got = await api.call("listVirtualMachines", listall=True, pagesize=500, page=random.randint(1, pages))
        out.append(time.perf_counter() - t)
        assert len(got.get("virtualmachine", [])) > 0
    return out


def bulk_vms(store: Store, want_total: int) -> int:
    """Copy deployed VMs (and their NICs) until the store holds `want_total` user VMs."""
    conn = store.connect()
    m = store.mark
    try:
        have = _rows(conn, "SELECT count(*) FROM vm_instance WHERE type = 'User' AND removed IS NULL")[0][0]
        if have >= want_total:
            return 0
        cols = [c for c in store.columns(conn, "vm_instance") if c != "id"]
        ncols = [c for c in store.columns(conn, "nic") if c != "id"]
        src = _rows(conn, f"SELECT id, {', '.join(cols)} FROM vm_instance WHERE type = 'User' "
                          "AND removed IS NULL ORDER BY id")
        nics = {r[0]: r[1:] for r in _rows(conn, f"SELECT instance_id, {', '.join(ncols)} FROM nic "
                                                  "WHERE removed IS NULL")}
        next_id = _rows(conn, "SELECT max(id) FROM vm_instance")[0][0] + 1
        ui, ini, si, hi, st = (cols.index(c) for c in ("uuid", "instance_name", "state", "host_id", "name"))
        nui, nii, nip = (ncols.index(c) for c in ("uuid", "instance_id", "ip4_address"))
        added = 0
        cur = conn.cursor()
        if store.sqlite_path:
            cur.execute("BEGIN")
        while have + added < want_total:
            base = src[added % len(src)]
            row = list(base[1:])
            vm_id = next_id + added
            row[ui], row[ini], row[si], row[hi] = str(uuid.uuid4()), f"i-bulk-{vm_id}-VM", "Stopped", None
            row[st] = f"bulk-{vm_id}"
            cur.execute(f"INSERT INTO vm_instance (id, {', '.join(cols)}) VALUES ({', '.join([m] * (len(cols) + 1))})",
                        [vm_id, *row])
            nic = nics.get(base[0])
            if nic is not None:
                n = list(nic)
                n[nui], n[nii], n[nip] = str(uuid.uuid4()), vm_id, f"10.{200 + vm_id // 65536 % 50}." \
                                                                  f"{vm_id // 256 % 256}.{vm_id % 256}"
                cur.execute(f"INSERT INTO nic ({', '.join(ncols)}) VALUES ({', '.join([m] * len(ncols))})", n)
            added += 1
        conn.commit()
        return added
    finally:
        conn.close()


def _profilers(s: srv.Server, out: str) -> list[Any]:
    """py-spy on the server and its shard actors (raw folded stacks in `out`)."""
    import subprocess

    Path(out).mkdir(parents=True, exist_ok=True)
    pids = {"server": s.proc.pid}
    for line in subprocess.run(["ps", "-eo", "pid,ppid,args"], capture_output=True, text=True).stdout.splitlines():
        if "ray::ShardActor" in line:
            pid = int(line.split()[0])
            if _descends(pid, s.proc.pid):
                pids[f"shard-{pid}"] = pid
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))  # the venv's, off PATH
    return [subprocess.Popen([spy, "record", "-p", str(pid), "-o", f"{out}/{name}.txt", "-f", "raw", "-r", "50",
                              "--nonblocking", "--gil"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for name, pid in pids.items()]


def _descends(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        with open(f"/proc/{pid}/stat") as f:
            pid = int(f.read().rsplit(")", 1)[1].split()[1])
    return False


async def amain(a: argparse.Namespace) -> None:
    print(f"cloudplane benchmarks/deploy — {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    # The server starts a Ray instance of its own, even when another one runs on this machine.
    os.environ.setdefault("RAY_ADDRESS", "local")
    store = Store.mysql() if a.db == "mariadb" else None
    s = srv.start(shards=a.shards, db=store.url if store else None)
    store = store or Store(sqlite_path=s.data_dir / "cloudplane.db")
    try:
        api = await ApiClient.bootstrap(s.api)
        t0 = time.monotonic()
        ids = await build_zone(api, a.hosts, a.per_cluster)
        accounts = await make_accounts(api, a.clients)
        t_setup = time.monotonic() - t0
        deploy = {"zoneid": ids["zone"], "templateid": ids["template"], "serviceofferingid": ids["offering"]}
        # Each account's first deploy creates its network and virtual router: those come first,
        # one account at a time, outside the measurement.
        for acct in accounts:
            warm = await asyncio.get_running_loop().run_in_executor(None, run_clients, s.api, [acct], deploy, 1, 1)
            if warm["ok"] != 1:
                raise RuntimeError(f"warm-up deploy failed: {warm['errors'][:3]}")
        conn = store.connect()
        conn.cursor().execute("DELETE FROM async_job WHERE cmd = 'deployVirtualMachine'")
        conn.commit()
        conn.close()
        m0 = s.metrics()
        spies = _profilers(s, a.profile) if a.profile else []
        ctx = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
            fut = pool.submit(run_clients, s.api, accounts, deploy, a.vms, a.window)
            res = await asyncio.wrap_future(fut)
        m1 = s.metrics()
        for p in spies:
            p.send_signal(2)
            p.wait()
        span, lat = job_figures(store)
        mgmt_cpu = (m1["server_cpu_s"] - m0["server_cpu_s"]) + (m1["shard_cpu_s"] - m0["shard_cpu_s"])
        n = res["ok"]
        report(f"{n:,} VMs deployed by {a.clients} signed clients ({a.window} in flight each) into "
               f"{a.hosts:,} simulated hosts ({a.shards} shards, {'MariaDB' if store.mysql_db else 'SQLite'})", [
            ("setup (zone, hosts Up, accounts)", f"{t_setup:.1f} s"),
            ("VMs/s to Running", f"{n / span:,.0f} (jobs: first accepted → last Running in {span:.1f} s; "
                                 f"client wall {res['wall_s']:.1f} s)"),
            ("deploy latency p50 / p99", f"{pct(lat, 50) * 1000:,.0f} ms / {pct(lat, 99) * 1000:,.0f} ms "
                                         "(accepted → Running)"),
            ("failed deploys", f"{len(res['errors'])}" + (f" e.g. {res['errors'][0]}" if res["errors"] else "")),
            ("management CPU per VM", f"{mgmt_cpu / max(1, n) * 1000:.2f} ms (server "
                                      f"{m1['server_cpu_s'] - m0['server_cpu_s']:.1f} s + shards "
                                      f"{m1['shard_cpu_s'] - m0['shard_cpu_s']:.1f} s)"),
            ("client CPU per VM", f"{res['cpu_s'] / max(1, n) * 1000:.2f} ms ({res['polls'] / max(1, n):.1f} polls "
                                  "per VM)"),
            ("management RSS", f"server {m1['server_rss_mib']:,.0f} MiB + shards {m1['shard_rss_mib']:,.0f} MiB"),
        ])
        rows = []
        total = n + len(accounts)
        lat10 = await list_latencies(api, total, a.list_requests)
        rows.append((f"{total:,} VMs (deployed)", f"p50 {pct(lat10, 50) * 1000:.0f} ms, "
                                                   f"p95 {pct(lat10, 95) * 1000:.0f} ms"))
        if a.list_total > total:
            t = time.monotonic()
            added = bulk_vms(store, a.list_total)
            rows.append(("bulk insert", f"{added:,} VMs with their NICs in {time.monotonic() - t:.0f} s"))
            lat100 = await list_latencies(api, a.list_total, a.list_requests)
            rows.append((f"{a.list_total:,} VMs ({added:,} bulk-inserted)",
                         f"p50 {pct(lat100, 50) * 1000:.0f} ms, p95 {pct(lat100, 95) * 1000:.0f} ms"))
        report(f"listVirtualMachines, admin, listall, 500-row pages (random pages, {a.list_requests} requests "
               "one at a time)", rows)
        await api.close()
    finally:
        s.stop()
        store.drop()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="bench deploy")
    ap.add_argument("--hosts", type=int, default=1_000)
    ap.add_argument("--per-cluster", type=int, default=20)
    ap.add_argument("--vms", type=int, default=10_000)
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--window", type=int, default=2, help="deploys in flight per client")
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--db", choices=("sqlite", "mariadb"), default="sqlite",
                    help="the server's store: SQLite in its data directory, or a new database on the "
                         "local MariaDB (127.0.0.1:3306, root), dropped afterwards")
    ap.add_argument("--list-total", type=int, default=100_000)
    ap.add_argument("--list-requests", type=int, default=100)
    ap.add_argument("--profile", help="record py-spy profiles of the server and shards into this directory")
    asyncio.run(amain(ap.parse_args(argv)))
    return 0


if __name__ == "__main__":  # for the process pool's spawn
    raise SystemExit(main(__import__("sys").argv[1:]))

