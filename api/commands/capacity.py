"""listCapacity, and the `capacity` lists of listZones/listPods/listClusters
with showcapacities=true: the capacity table summed per zone, pod or cluster.

Totals of memory, CPU and allocated storage are shown overprovisioned (the
factors of the configuration), as CloudStack shows them. What other kinds claim
without touching the capacity table is counted where it lives: storage
allocated to volumes, and public addresses handed out.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.api.commands.base import ROOT, command
from cloudplane.api.commands.infrautil import find
from cloudplane.api.context import Call, ListResult
from cloudplane.api.views.infra import capacity_view
from cloudplane.store.tables.capacity import Capacity, CapacityType
from cloudplane.store.tables.infra import Cluster, Pod, Zone
from cloudplane.store.tables.network import IpAddress, VlanIpRange
from cloudplane.store.tables.storage import Volume

CAP, Z, P, C = Capacity.__table__, Zone.__table__, Pod.__table__, Cluster.__table__  # type: ignore[attr-defined]
VOL, IP, VLAN = Volume.__table__, IpAddress.__table__, VlanIpRange.__table__  # type: ignore[attr-defined]

LEVEL_COLUMN = {"zone": CAP.c.zone_id, "pod": CAP.c.pod_id, "cluster": CAP.c.cluster_id}


async def _factors(call: Call) -> dict[int, float]:
    async def f(name: str) -> float:
        try:
            return float(await call.service.config(name) or 1)
        except ValueError:
            return 1.0

    return {CapacityType.MEMORY: await f("mem.overprovisioning.factor"),
            CapacityType.CPU: await f("cpu.overprovisioning.factor"),
            CapacityType.STORAGE_ALLOCATED: await f("storage.overprovisioning.factor")}


async def _used_overrides(conn: AsyncConnection, rows: list[Any]) -> dict[tuple[str, int, int], int]:
    """Used amounts counted from their source: volumes on pools, handed-out public IPs."""
    out: dict[tuple[str, int, int], int] = {}
    pools = [r.owner_id for r in rows if r.owner_type == "pool" and r.capacity_type == CapacityType.STORAGE_ALLOCATED]
    if pools:
        q = select(VOL.c.pool_id, func.sum(VOL.c.size_bytes)).where(VOL.c.pool_id.in_(pools), VOL.c.removed.is_(None))
        for pool_id, total in (await conn.execute(q.group_by(VOL.c.pool_id))).all():
            out[("pool", pool_id, CapacityType.STORAGE_ALLOCATED)] = int(total or 0)
        for p in pools:
            out.setdefault(("pool", p, CapacityType.STORAGE_ALLOCATED), 0)
    zones = [r.owner_id for r in rows if r.owner_type == "zone" and r.capacity_type == CapacityType.PUBLIC_IP]
    if zones:
        q = (select(IP.c.zone_id, func.count()).select_from(IP.join(VLAN, IP.c.vlan_range_id == VLAN.c.id))
             .where(IP.c.zone_id.in_(zones), IP.c.state != "Free", VLAN.c.for_virtual_network.is_(True))
             .group_by(IP.c.zone_id))
        for zone_id, n in (await conn.execute(q)).all():
            out[("zone", zone_id, CapacityType.PUBLIC_IP)] = int(n)
        for z in zones:
            out.setdefault(("zone", z, CapacityType.PUBLIC_IP), 0)
    return out


async def summarize(call: Call, conn: AsyncConnection, level: str, ids: list[int] | None = None,
                    ctype: int | None = None) -> dict[int, list[dict[str, Any]]]:
    """Capacity per `level` object (zone, pod or cluster id) and type, rendered."""
    col = LEVEL_COLUMN[level]
    q = select(CAP).where(CAP.c.enabled.is_(True), col.is_not(None))
    if ids is not None:
        if not ids:
            return {}
        q = q.where(col.in_(ids))
    if ctype is not None:
        q = q.where(CAP.c.capacity_type == ctype)
    rows = (await conn.execute(q)).all()
    overrides = await _used_overrides(conn, rows)
    factors = await _factors(call)
    sums: dict[tuple[int, int], list[float]] = defaultdict(lambda: [0.0, 0])
    where: dict[int, tuple[int, int | None, int | None]] = {}
    for r in rows:
        key = getattr(r, f"{level}_id")
        acc = sums[(key, r.capacity_type)]
        acc[0] += r.total * factors.get(r.capacity_type, 1.0)
        acc[1] += overrides.get((r.owner_type, r.owner_id, r.capacity_type), r.used)
        where.setdefault(key, (r.zone_id, r.pod_id, r.cluster_id))
    names = await _names(conn, where)
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for (key, t), (total, used) in sorted(sums.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        zone_id, pod_id, cluster_id = where[key]
        out[key].append(capacity_view(
            t, total, int(used), zone=names["zone"].get(zone_id),
            pod=names["pod"].get(pod_id) if level in ("pod", "cluster") else None,
            cluster=names["cluster"].get(cluster_id) if level == "cluster" else None))
    return out


async def _names(conn: AsyncConnection, where: dict[int, tuple[int, int | None, int | None]]
                 ) -> dict[str, dict[int, tuple[str, str]]]:
    ids: dict[str, set[int]] = {"zone": set(), "pod": set(), "cluster": set()}
    for z, p, c in where.values():
        ids["zone"].add(z)
        if p is not None:
            ids["pod"].add(p)
        if c is not None:
            ids["cluster"].add(c)
    out: dict[str, dict[int, tuple[str, str]]] = {}
    for level, table in (("zone", Z), ("pod", P), ("cluster", C)):
        rows = (await conn.execute(select(table.c.id, table.c.uuid, table.c.name).where(
            table.c.id.in_(ids[level])))).all() if ids[level] else []
        out[level] = {r.id: (r.uuid, r.name) for r in rows}
    return out


@command("listCapacity", object_name="capacity", roles=ROOT)
async def list_capacity(call: Call) -> ListResult:
    level, ids = "zone", None
    if call.get("clusterid"):
        level, ids = "cluster", [(await find(call, C, "clusterid")).id]
    elif call.get("podid"):
        level, ids = "pod", [(await find(call, P, "podid")).id]
    elif call.get("zoneid"):
        ids = [(await find(call, Z, "zoneid")).id]
    async with call.service.engine.connect() as conn:
        per = await summarize(call, conn, level, ids, call.get("type"))
    items = [c for key in sorted(per) for c in per[key]]
    if str(call.get("sortby") or "").lower() == "usage":
        items.sort(key=lambda c: float(c["percentused"]), reverse=True)
    total = len(items)
    size, page = call.get("pagesize"), call.get("page")
    if size and size > 0:
        start = ((page or 1) - 1) * size
        items = items[start:start + size]
    return ListResult(items, total)
