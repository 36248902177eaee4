"""Helpers for runtime-level VM tests: more pods and clusters in the test
bed's zone, hosts with tags, VM values, and the capacity and VM rows read
back for checking."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from cloudplane.actors.identity import EntityRef
from cloudplane.actors.kinds.host import host_ref
from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.tables.capacity import Capacity
from cloudplane.store.tables.compute import AffinityGroup, ServiceOffering, VmInstance
from cloudplane.store.tables.config import Configuration
from cloudplane.store.tables.identity import Account
from cloudplane.store.tables.infra import Cluster, Host, Pod
from tests.simulator.fixtures import Site

VM, CAP, SO, A, C, P, H, AG, CONF = (t.__table__ for t in (  # type: ignore[attr-defined]
    VmInstance, Capacity, ServiceOffering, Account, Cluster, Pod, Host, AffinityGroup, Configuration))
GiB = 2**30


@dataclass
class Place:
    cluster: str
    cluster_id: int
    pod: str
    pod_id: int


def home(s: Site) -> Place:
    return Place(s.cluster, s.ids["cluster"], s.pod, s.ids["pod"])


async def add_cluster(s: Site, *, new_pod: bool = False, pod: Place | None = None) -> Place:
    assert s.rt.engine is not None
    base = {"version": 1, "created": utcnow()}
    async with s.rt.engine.begin() as conn:
        if new_pod:
            pu = new_uuid()
            pid = (await conn.execute(insert(P).values(uuid=pu, name=f"p-{pu[:6]}", zone_id=s.ids["zone"],
                                                       **base))).inserted_primary_key[0]
        else:
            pu, pid = (pod.pod, pod.pod_id) if pod else (s.pod, s.ids["pod"])
        cu = new_uuid()
        cid = (await conn.execute(insert(C).values(uuid=cu, name=f"c-{cu[:6]}", zone_id=s.ids["zone"], pod_id=pid,
                                                   hypervisor_type="Simulator", **base))).inserted_primary_key[0]
    return Place(cu, cid, pu, pid)


async def add_host(s: Site, where: Place | None = None, tags: list[str] | None = None) -> str:
    w = where or home(s)
    uuid = new_uuid()
    values = {"name": f"SimulatedAgent.{uuid}", "type": "Routing", "zone_id": s.ids["zone"], "pod_id": w.pod_id,
              "cluster_id": w.cluster_id, "guid": f"{uuid}-Simulator", "url": "http://sim/c/h",
              "hypervisor_type": "Simulator"}
    await s.rt.run(host_ref(uuid, w.cluster), "create", {
        "values": values, "tags": tags or [], "where": {"cluster": w.cluster, "pod": w.pod, "zone": s.zone}})
    return uuid


async def hosts_up(s: Site, uuids: list[str], timeout: float = 30.0) -> None:
    await asyncio.gather(*(s.wait_status(u, "Up", timeout) for u in uuids))


async def values(s: Site, *, ram_mb: int = 1024, mhz: int = 100, account: str = "admin",
                 offering: int | None = None) -> dict[str, Any]:
    assert s.rt.engine is not None
    async with s.rt.engine.connect() as conn:
        so = offering or (await conn.execute(select(SO.c.id).where(SO.c.is_system.is_(False)).limit(1))).scalar()
        acct = (await conn.execute(select(A.c.id, A.c.domain_id).where(A.c.name == account))).one()
    return {"name": "vm", "type": "User", "zone_id": s.ids["zone"], "account_id": acct.id,
            "domain_id": acct.domain_id, "service_offering_id": so, "cpu_count": 1, "cpu_speed_mhz": mhz,
            "ram_mb": ram_mb, "hypervisor_type": "Simulator"}


def vm_ref(s: Site) -> EntityRef:
    return EntityRef("vm", new_uuid(), s.cluster)


async def deploy(s: Site, vals: dict[str, Any], **args: Any) -> EntityRef:
    ref = vm_ref(s)
    await s.rt.run(ref, "create", {"values": vals, "start": True, **args})
    return ref


async def vm_row(s: Site, uuid: str) -> Any:
    assert s.rt.engine is not None
    async with s.rt.engine.connect() as conn:
        return (await conn.execute(select(VM).where(VM.c.uuid == uuid))).one()


async def host_ids(s: Site, uuids: list[str]) -> dict[str, int]:
    assert s.rt.engine is not None
    async with s.rt.engine.connect() as conn:
        return dict((await conn.execute(select(H.c.uuid, H.c.id).where(H.c.uuid.in_(uuids)))).all())


async def capacity_matches_vms(s: Site, factors: dict[int, float] | None = None) -> dict[int, int]:
    """Assert that every host's used CPU and memory equal the sum of the VMs holding it and
    stay within its total (times its overprovisioning factor); return memory used per host."""
    assert s.rt.engine is not None
    async with s.rt.engine.connect() as conn:
        cap = {(r.owner_id, r.capacity_type): r for r in (await conn.execute(
            select(CAP).where(CAP.c.owner_type == "host"))).all()}
        held = {r.host_id: (int(r.cpu), int(r.mem)) for r in (await conn.execute(
            select(VM.c.host_id, func.sum(VM.c.cpu_count * VM.c.cpu_speed_mhz).label("cpu"),
                   func.sum(VM.c.ram_mb).label("mem")).where(VM.c.host_id.is_not(None), VM.c.removed.is_(None))
            .group_by(VM.c.host_id))).all()}
    mem_used: dict[int, int] = {}
    for (host, ctype), row in cap.items():
        cpu, mem = held.get(host, (0, 0))
        want = mem * 2**20 if ctype == 0 else cpu
        assert row.used == want, f"host {host} type {ctype}: capacity row says {row.used}, its VMs hold {want}"
        limit = row.total * (factors or {}).get(host, 1.0)
        assert row.used <= limit, f"host {host} type {ctype} is over capacity: {row.used} > {limit}"
        if ctype == 0:
            mem_used[host] = row.used
    return mem_used


async def states(s: Site) -> dict[str, int]:
    assert s.rt.engine is not None
    async with s.rt.engine.connect() as conn:
        return dict((await conn.execute(select(VM.c.state, func.count()).where(
            VM.c.type == "User", VM.c.removed.is_(None)).group_by(VM.c.state))).all())


async def set_cluster_config(s: Site, cluster_id: int, **settings: str) -> None:
    assert s.rt.engine is not None
    async with s.rt.engine.begin() as conn:
        for name, value in settings.items():
            key = {"name": name.replace("_", "."), "scope": "cluster", "scope_id": cluster_id}
            await conn.execute(delete(CONF).where(*(CONF.c[k] == v for k, v in key.items())))
            await conn.execute(insert(CONF).values(uuid=new_uuid(), version=1, created=utcnow(), value=value, **key))
    await s.rt.reset_caches()


async def set_offering(s: Site, **changes: Any) -> int:
    """A new user offering (a copy of the first) with `changes`; returns its id."""
    assert s.rt.engine is not None
    async with s.rt.engine.begin() as conn:
        base = (await conn.execute(select(SO).where(SO.c.is_system.is_(False)).limit(1))).mappings().one()
        row = {k: v for k, v in base.items() if k != "id"}
        row.update(uuid=new_uuid(), name=f"so-{new_uuid()[:6]}", **changes)
        return int((await conn.execute(insert(SO).values(**row))).inserted_primary_key[0])


async def group(s: Site, kind: str, name: str = "g") -> dict[str, list[Any]]:
    """An affinity group of admin's; the `groups` argument of a deploy."""
    ref = EntityRef("affinity_group", new_uuid(), "admin")
    assert s.rt.engine is not None
    async with s.rt.engine.connect() as conn:
        acct = (await conn.execute(select(A.c.id, A.c.domain_id).where(A.c.name == "admin"))).one()
    await s.rt.run(ref, "create", {"values": {"name": name, "type": kind, "account_id": acct.id,
                                              "domain_id": acct.domain_id}})
    async with s.rt.engine.connect() as conn:
        gid = (await conn.execute(select(AG.c.id).where(AG.c.uuid == ref.id))).scalar_one()
    return {"anti": [gid] if kind == "host anti-affinity" else [], "affinity": [gid] if kind == "host affinity" else [],
            "names": [name]}


async def disable_host_capacity(s: Site, host_id: int) -> None:
    assert s.rt.engine is not None
    async with s.rt.engine.begin() as conn:
        await conn.execute(update(CAP).where(CAP.c.owner_type == "host", CAP.c.owner_id == host_id).values(
            enabled=False))
