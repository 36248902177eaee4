"""benchmarks/ha: one host of a 100-host cluster crashes with 50 HA VMs on it;
time from the crash to all 50 Running on other hosts (ping.interval 5 s).

The management side is in this process (a Runtime with real shard actors and
the HA reconciler); hosts are in-process simulated agents in the shards.

Run: ./dev bench ha [--hosts 100] [--vms 50] [--ping-interval 5] [--ping-timeout 2.5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from benchmarks.common import report
from cloudplane.actors.identity import EntityRef
from cloudplane.actors.kinds.host import host_ref
from cloudplane.actors.runtime import init_ray
from cloudplane.store.base import new_uuid
from cloudplane.store.tables.compute import ServiceOffering, VmInstance
from cloudplane.store.tables.config import Configuration
from cloudplane.store.tables.identity import Account
from cloudplane.supervisors.hareconciler import HaReconciler

VM, SO, A, CONF = (t.__table__ for t in (VmInstance, ServiceOffering, Account, Configuration))  # type: ignore[attr-defined]


async def amain(a: argparse.Namespace) -> None:
    from cloudplane.simulator.testbed import testbed

    print(f"cloudplane benchmarks/ha — {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    init_ray()
    db = Path(tempfile.mkdtemp(prefix="cpbench-ha-")) / "ha.db"
    async with testbed(f"sqlite+aiosqlite:///{db}", shards=a.shards) as s:
        await s.set_config(ping_interval=str(a.ping_interval), ping_timeout=str(a.ping_timeout))
        t0 = time.monotonic()
        hosts = await asyncio.gather(*(s.add_host() for _ in range(a.hosts)))
        for h in hosts:
            await s.wait_status(h, "Up", timeout=120)
        t_hosts = time.monotonic() - t0
        async with s.rt.engine.connect() as conn:  # type: ignore[union-attr]
            so = (await conn.execute(select(SO.c.id).limit(1))).scalar()
            acct = (await conn.execute(select(A.c.id, A.c.domain_id).where(A.c.name == "admin"))).one()
        values = {"name": "vm", "type": "User", "zone_id": s.ids["zone"], "account_id": acct.id,
                  "domain_id": acct.domain_id, "service_offering_id": so, "cpu_count": 1, "cpu_speed_mhz": 100,
                  "ram_mb": 128, "hypervisor_type": "Simulator", "ha_enabled": True}
        victim = hosts[0]
        refs = [EntityRef("vm", new_uuid(), s.cluster) for _ in range(a.vms)]
        await asyncio.gather(*(s.rt.run(r, "create", {"values": values, "start": True, "host": victim}, timeout=120)
                               for r in refs))
        ha = HaReconciler(s.rt, interval_s=0.5)
        ha.start()
        crash = time.monotonic()
        await s.rt.run(host_ref(victim, s.cluster), "sim_fault", {"fault": "crash"})
        victim_id = (await s.host(victim)).id
        t_alert = t_down = None
        while True:
            status = (await s.host(victim)).status
            now = time.monotonic() - crash
            if status == "Alert" and t_alert is None:
                t_alert = now
            if status == "Down" and t_down is None:
                t_down = now
                t_alert = t_alert or now
            async with s.rt.engine.connect() as conn:  # type: ignore[union-attr]
                moved = (await conn.execute(select(func.count()).select_from(VM).where(
                    VM.c.uuid.in_([r.id for r in refs]), VM.c.state == "Running",
                    VM.c.host_id != victim_id))).scalar_one()
            if moved == a.vms:
                break
            if now > 120:
                raise TimeoutError(f"only {moved} of {a.vms} VMs restarted after 120 s")
            await asyncio.sleep(0.1)
        t_all = time.monotonic() - crash
        await ha.stop()
        report(f"HA: host with {a.vms} HA VMs crashes in a {a.hosts}-host cluster "
               f"(ping.interval {a.ping_interval} s, ping.timeout {a.ping_timeout})", [
            ("hosts added and Up", f"{t_hosts:.1f} s"),
            ("crash → Alert", f"{t_alert:.1f} s (limit ping.interval × ping.timeout = "
                              f"{a.ping_interval * a.ping_timeout:.1f} s)"),
            ("crash → Down (investigated, fenced)", f"{t_down:.1f} s"),
            ("crash → all VMs Running elsewhere", f"{t_all:.1f} s"),
        ])


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="bench ha")
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--vms", type=int, default=50)
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--ping-interval", type=float, default=5.0)
    ap.add_argument("--ping-timeout", type=float, default=2.5)
    asyncio.run(amain(ap.parse_args(argv)))
    return 0
