"""Where a VM may run: candidate hosts, filtered by policy and ordered by the
allocation algorithm. Capacity is not decided here: the VM claims it with a
conditional UPDATE (store/capacity.py) and moves on to the next candidate if
the claim loses. Every choice leaves a trace for the job's error text.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.store.tables.capacity import Capacity, CapacityType
from cloudplane.store.tables.infra import Cluster, Host, HostTag

H, C, TAG, CAP = Host.__table__, Cluster.__table__, HostTag.__table__, Capacity.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class PlacementRequest:
    zone_id: int
    cpu_mhz: int
    mem_bytes: int
    pod_id: int | None = None
    cluster_id: int | None = None
    host_id: int | None = None
    host_tags: tuple[str, ...] = ()
    ha: bool = False  # only HA restarts may use hosts tagged with ha.tag
    avoid: frozenset[int] = frozenset()
    algorithm: str = "random"
    hypervisor: str | None = None


@dataclass(frozen=True)
class Candidate:
    id: int
    uuid: str
    cluster_id: int | None
    cluster_uuid: str | None
    pod_id: int | None
    cpu_free: float
    mem_free: float
    cpu_ratio: float


@dataclass
class Trace:
    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        self.lines.append(line)

    def __str__(self) -> str:
        return "; ".join(self.lines)


async def candidates(conn: AsyncConnection, req: PlacementRequest, *, ha_tag: str, cpu_factor: float,
                     mem_factor: float, trace: Trace) -> list[Candidate]:
    cpu = CAP.alias("cpu")
    mem = CAP.alias("mem")
    q = (select(H.c.id, H.c.uuid, H.c.cluster_id, H.c.pod_id, C.c.uuid.label("cuuid"),
                cpu.c.total.label("cpu_total"), cpu.c.used.label("cpu_used"),
                mem.c.total.label("mem_total"), mem.c.used.label("mem_used"))
         .select_from(H.outerjoin(C, H.c.cluster_id == C.c.id)
                      .join(cpu, and_(cpu.c.owner_type == "host", cpu.c.owner_id == H.c.id,
                                      cpu.c.capacity_type == int(CapacityType.CPU)))
                      .join(mem, and_(mem.c.owner_type == "host", mem.c.owner_id == H.c.id,
                                      mem.c.capacity_type == int(CapacityType.MEMORY))))
         .where(H.c.zone_id == req.zone_id, H.c.removed.is_(None), H.c.status == "Up",
                H.c.resource_state == "Enabled", H.c.type == "Routing"))
    for col, value in ((H.c.pod_id, req.pod_id), (H.c.cluster_id, req.cluster_id), (H.c.id, req.host_id),
                       (H.c.hypervisor_type, req.hypervisor)):
        if value is not None:
            q = q.where(col == value)
    if req.cluster_id is None:
        q = q.where((C.c.allocation_state == "Enabled") | (C.c.id.is_(None)))
    rows = (await conn.execute(q)).all()
    tags: dict[int, set[str]] = {}
    if rows:
        for t in (await conn.execute(select(TAG.c.host_id, TAG.c.tag).where(
                TAG.c.host_id.in_([r.id for r in rows])))).all():
            tags.setdefault(t.host_id, set()).add(t.tag)
    out: list[Candidate] = []
    for r in rows:
        htags = tags.get(r.id, set())
        if r.id in req.avoid:
            trace.add(f"host {r.uuid}: avoided (failed before)")
            continue
        if ha_tag and ha_tag in htags and not req.ha:
            trace.add(f"host {r.uuid}: reserved for HA (tag {ha_tag})")
            continue
        if req.host_tags and not set(req.host_tags) <= htags:
            trace.add(f"host {r.uuid}: lacks host tags {sorted(set(req.host_tags) - htags)}")
            continue
        cpu_free = r.cpu_total * cpu_factor - r.cpu_used
        mem_free = r.mem_total * mem_factor - r.mem_used
        if cpu_free < req.cpu_mhz or mem_free < req.mem_bytes:
            trace.add(f"host {r.uuid}: full (cpu free {cpu_free:.0f} MHz, memory free {mem_free / 2**20:.0f} MiB)")
            continue
        out.append(Candidate(r.id, r.uuid, r.cluster_id, r.cuuid, r.pod_id, cpu_free, mem_free,
                             r.cpu_used / max(1.0, r.cpu_total * cpu_factor)))
    return order(out, req.algorithm)


def order(hosts: list[Candidate], algorithm: str) -> list[Candidate]:
    if algorithm == "firstfit":
        return sorted(hosts, key=lambda h: h.id)
    if algorithm == "firstfitleastconsumed":
        return sorted(hosts, key=lambda h: (h.cpu_ratio, h.id))
    shuffled = list(hosts)
    random.shuffle(shuffled)
    return shuffled


def summary(trace: Trace, limit: int = 10) -> str:
    lines: list[Any] = trace.lines[:limit]
    more = len(trace.lines) - len(lines)
    return "; ".join(lines) + (f"; and {more} more" if more > 0 else "")
