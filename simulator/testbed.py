"""A test bed: a management side (a Runtime with real shards) over a simulated
zone whose zone, pod and cluster rows are inserted directly. For tests and
benchmarks that exercise hosts and VMs without the API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update

from cloudplane.actors.kinds.host import host_ref
from cloudplane.actors.runtime import Runtime
from cloudplane.settings import Settings
from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.engine import make_engine
from cloudplane.store.migrate import upgrade
from cloudplane.store.seed import seed
from cloudplane.store.seed_system import seed_system_offerings
from cloudplane.store.tables.config import Configuration
from cloudplane.store.tables.infra import Cluster, Host, Pod, Zone

Z, P, C, H = (t.__table__ for t in (Zone, Pod, Cluster, Host))  # type: ignore[attr-defined]
CONF = Configuration.__table__  # type: ignore[attr-defined]


@dataclass
class Site:
    rt: Runtime
    zone: str
    pod: str
    cluster: str
    ids: dict[str, int]

    async def set_config(self, **values: str) -> None:
        assert self.rt.engine is not None
        async with self.rt.engine.begin() as conn:
            for name, value in values.items():
                await conn.execute(update(CONF).where(CONF.c.name == name.replace("_", "."),
                                                      CONF.c.scope == "global").values(value=value))
        await self.rt.reset_caches()

    async def add_host(self, url: str = "http://sim/c1/h1") -> str:
        uuid = new_uuid()
        values = {"name": f"SimulatedAgent.{uuid}", "type": "Routing", "zone_id": self.ids["zone"],
                  "pod_id": self.ids["pod"], "cluster_id": self.ids["cluster"], "guid": f"{uuid}-Simulator",
                  "url": url, "hypervisor_type": "Simulator"}
        await self.rt.run(host_ref(uuid, self.cluster), "create", {
            "values": values, "tags": [], "where": {"cluster": self.cluster, "pod": self.pod, "zone": self.zone}})
        return uuid

    async def host(self, uuid: str) -> Any:
        assert self.rt.engine is not None
        async with self.rt.engine.connect() as conn:
            return (await conn.execute(select(H).where(H.c.uuid == uuid))).one()

    async def wait_status(self, uuid: str, status: str, timeout: float = 10.0) -> float:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if (await self.host(uuid)).status == status:
                return time.monotonic() - t0
            await asyncio.sleep(0.05)
        raise AssertionError(f"host {uuid} not {status} after {timeout}s: {(await self.host(uuid)).status}")


@asynccontextmanager
async def testbed(url: str, **settings: Any) -> AsyncIterator[Site]:
    """A seeded database at `url` with one zone, pod and Simulator cluster, and a started Runtime."""
    await upgrade(url)
    engine = make_engine(url)
    await seed(engine, admin_password_hash="x")
    await seed_system_offerings(engine)
    ids: dict[str, int] = {}
    uu = {k: new_uuid() for k in ("zone", "pod", "cluster")}
    async with engine.begin() as conn:
        base = {"version": 1, "created": utcnow()}
        ids["zone"] = (await conn.execute(insert(Z).values(uuid=uu["zone"], name="z1", **base))).inserted_primary_key[0]
        ids["pod"] = (await conn.execute(insert(P).values(uuid=uu["pod"], name="p1", zone_id=ids["zone"],
                                                            **base))).inserted_primary_key[0]
        ids["cluster"] = (await conn.execute(insert(C).values(
            uuid=uu["cluster"], name="c1", zone_id=ids["zone"], pod_id=ids["pod"],
            hypervisor_type="Simulator", **base))).inserted_primary_key[0]
    await engine.dispose()
    rt = Runtime(Settings(db_url=url, **{"shards": 2, "fault_injection": True, **settings}),
                 namespace=f"t-sim-{time.monotonic_ns()}", reconcile_interval_s=1.0)
    await rt.start()
    try:
        yield Site(rt, uu["zone"], uu["pod"], uu["cluster"], ids)
    finally:
        await rt.stop()
