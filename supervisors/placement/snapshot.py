"""Loading what the planner sees of a zone, and keeping it briefly.

A snapshot is a handful of queries (clusters, hosts with their capacity rows,
host tags, pools, offerings, the settings that shape placement, cluster-scoped
values overriding global ones). A shard keeps one per zone for
`vm.placement.cache.seconds` and adjusts it after its own claims, so a burst
of deploys does not re-read a thousand hosts per VM. Staleness is safe: a
claim is a conditional UPDATE that re-checks capacity and host state, a lost
claim marks the host in the snapshot, and a VM is refused only by a plan
made on a snapshot loaded after its last failed attempt.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cloudplane.store import prepared
from cloudplane.store.configdefs import BY_NAME
from cloudplane.store.poolrules import PoolRules, load_rules
from cloudplane.store.tables.capacity import Capacity, CapacityType
from cloudplane.store.tables.compute import ServiceOffering
from cloudplane.store.tables.config import Configuration
from cloudplane.store.tables.infra import Cluster, Host, HostTag, Pod
from cloudplane.store.tables.storage import StoragePool, StoragePoolTag
from cloudplane.supervisors.placement.types import (
    ClusterView,
    HostView,
    OfferingView,
    PoolView,
    Snapshot,
    split_tags,
)

H, C, P, TAG, CAP = (t.__table__ for t in (Host, Cluster, Pod, HostTag, Capacity))  # type: ignore[attr-defined]
SP, SPT, SO, CONF = (t.__table__ for t in (StoragePool, StoragePoolTag, ServiceOffering, Configuration))  # type: ignore[attr-defined]

SETTINGS = ("cpu.overprovisioning.factor", "mem.overprovisioning.factor",
            "cluster.cpu.allocated.capacity.disablethreshold", "cluster.memory.allocated.capacity.disablethreshold",
            "ha.tag", "host.capacityType.to.order.clusters",
            "vm.user.dispersion.weight")


def _float(v: Any, default: float) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return default


class _Settings:
    """Global values with cluster-scoped overrides."""

    def __init__(self, rows: list[Any]) -> None:
        self.glob: dict[str, str] = {}
        self.cluster: dict[tuple[str, int], str] = {}
        for r in rows:
            if r.value is None:
                continue
            if r.scope == "global":
                self.glob[r.name] = r.value
            elif r.scope == "cluster":
                self.cluster[(r.name, r.scope_id)] = r.value

    def get(self, name: str, cluster_id: int | None = None) -> str:
        if cluster_id is not None and (name, cluster_id) in self.cluster:
            return self.cluster[(name, cluster_id)]
        if name in self.glob:
            return self.glob[name]
        d = BY_NAME.get(name)
        return d.default if d else ""

    def num(self, name: str, cluster_id: int | None = None, default: float = 1.0) -> float:
        return _float(self.get(name, cluster_id), default)


# The zone's hosts with their CPU and memory rows: a thousand rows per load, built once.
_CPU, _MEM = CAP.alias("cpu"), CAP.alias("mem")
_HOSTS = select(
    H.c.id, H.c.uuid, H.c.name, H.c.cluster_id, H.c.pod_id, H.c.status, H.c.resource_state, H.c.cpus,
    H.c.cpu_speed_mhz, H.c.hypervisor_type, _CPU.c.total.label("cpu_total"), _CPU.c.used.label("cpu_used"),
    _CPU.c.enabled.label("cpu_on"), _MEM.c.total.label("mem_total"), _MEM.c.used.label("mem_used")).select_from(
    H.outerjoin(_CPU, and_(_CPU.c.owner_type == "host", _CPU.c.owner_id == H.c.id,
                           _CPU.c.capacity_type == int(CapacityType.CPU)))
    .outerjoin(_MEM, and_(_MEM.c.owner_type == "host", _MEM.c.owner_id == H.c.id,
                          _MEM.c.capacity_type == int(CapacityType.MEMORY)))).where(
    H.c.zone_id == bindparam("b_zone"), H.c.removed.is_(None), H.c.type == "Routing", H.c.cluster_id.is_not(None))


async def load_snapshot(conn: AsyncConnection, zone_id: int) -> Snapshot:
    st = _Settings(list((await conn.execute(select(CONF.c.name, CONF.c.scope, CONF.c.scope_id, CONF.c.value).where(
        CONF.c.name.in_(SETTINGS)))).all()))
    cl_rows = (await conn.execute(
        select(C.c.id, C.c.uuid, C.c.name, C.c.pod_id, C.c.allocation_state, C.c.hypervisor_type,
               P.c.uuid.label("pod_uuid"), P.c.allocation_state.label("pod_state"))
        .select_from(C.join(P, C.c.pod_id == P.c.id))
        .where(C.c.zone_id == zone_id, C.c.removed.is_(None)))).all()
    host_rows = (await prepared.execute(conn, _HOSTS, {"b_zone": zone_id})).all()
    tags: dict[int, set[str]] = {}
    for t in (await conn.execute(select(TAG.c.host_id, TAG.c.tag).select_from(TAG.join(H, TAG.c.host_id == H.c.id))
                                 .where(H.c.zone_id == zone_id, H.c.removed.is_(None)))).all():
        tags.setdefault(t.host_id, set()).add(t.tag)
    pool_rows = (await conn.execute(
        select(SP.c.id, SP.c.uuid, SP.c.scope, SP.c.cluster_id, SP.c.capacity_bytes, CAP.c.total, CAP.c.used)
        .select_from(SP.outerjoin(CAP, and_(CAP.c.owner_type == "pool", CAP.c.owner_id == SP.c.id,
                                            CAP.c.capacity_type == int(CapacityType.STORAGE_ALLOCATED))))
        .where(SP.c.zone_id == zone_id, SP.c.removed.is_(None), SP.c.status == "Up"))).all()
    pool_tags: dict[int, set[str]] = {}
    if pool_rows:
        for t in (await conn.execute(select(SPT.c.pool_id, SPT.c.tag).where(
                SPT.c.pool_id.in_([p.id for p in pool_rows])))).all():
            pool_tags.setdefault(t.pool_id, set()).add(t.tag)
    offerings = {r.id: OfferingView(split_tags(r.host_tags), split_tags(r.storage_tags), r.deployment_planner or None)
                 for r in (await conn.execute(select(SO.c.id, SO.c.host_tags, SO.c.storage_tags,
                                                     SO.c.deployment_planner))).all()}
    return build(zone_id, st, cl_rows, host_rows, tags, pool_rows, pool_tags, offerings, await load_rules(conn))


def build(zone_id: int, st: _Settings, cl_rows: list[Any], host_rows: list[Any], tags: dict[int, set[str]],
          pool_rows: list[Any], pool_tags: dict[int, set[str]], offerings: dict[int, OfferingView],
          rules: PoolRules = PoolRules()) -> Snapshot:
    by_cluster: dict[int, list[HostView]] = {}
    used: dict[int, list[int]] = {}
    by_uuid: dict[str, int] = {}
    for r in host_rows:
        # A host whose capacity rows are missing or disabled (maintenance) offers nothing.
        usable_cap = r.cpu_total is not None and r.mem_total is not None and r.cpu_on is not False
        h = HostView(r.id, r.uuid, r.name, r.cluster_id, r.pod_id, r.status,
                     r.resource_state if usable_cap or r.resource_state != "Enabled" else "CapacityDisabled",
                     frozenset(tags.get(r.id, ())), int(r.cpus or 0), int(r.cpu_speed_mhz or 0),
                     int(r.cpu_total or 0), int(r.mem_total or 0), r.hypervisor_type)
        by_cluster.setdefault(r.cluster_id, []).append(h)
        used[r.id] = [int(r.cpu_used or 0), int(r.mem_used or 0)]
        by_uuid[r.uuid] = r.id
    clusters: dict[int, ClusterView] = {}
    cl_used: dict[int, list[int]] = {}
    cl_total: dict[int, tuple[int, int]] = {}
    for c in cl_rows:
        hosts = tuple(sorted(by_cluster.get(c.id, ()), key=lambda h: h.id))
        clusters[c.id] = ClusterView(
            c.id, c.uuid, c.name, c.pod_id, c.allocation_state == "Enabled", c.pod_state == "Enabled",
            c.hypervisor_type, st.num("cpu.overprovisioning.factor", c.id), st.num("mem.overprovisioning.factor", c.id),
            st.num("cluster.cpu.allocated.capacity.disablethreshold", c.id, 0.85),
            st.num("cluster.memory.allocated.capacity.disablethreshold", c.id, 0.85), hosts)
        live = [h for h in hosts if h.status == "Up" and h.resource_state == "Enabled"]
        cl_total[c.id] = (sum(h.cpu_total for h in live), sum(h.mem_total for h in live))
        cl_used[c.id] = [sum(used[h.id][0] for h in live), sum(used[h.id][1] for h in live)]
        by_uuid[c.uuid] = c.id
        by_uuid[c.pod_uuid] = c.pod_id
    pools = {p.id: PoolView(p.id, p.uuid, p.cluster_id if p.scope == "CLUSTER" else None,
                            frozenset(pool_tags.get(p.id, ())), int(p.total if p.total is not None else p.capacity_bytes),
                            rules.ratio(p.id, zone_id))
             for p in pool_rows if p.scope in ("CLUSTER", "ZONE")}
    order_by = st.get("host.capacityType.to.order.clusters").upper()
    return Snapshot(
        zone_id=zone_id, loaded_at=time.monotonic(), clusters=clusters,
        hosts={h.id: h for hs in by_cluster.values() for h in hs if h.cluster_id in clusters},
        pools=pools, offerings=offerings, ha_tag=st.get("ha.tag").strip(),
        cluster_order_by="RAM" if order_by in ("RAM", "MEMORY") else "CPU",
        dispersion_weight=st.num("vm.user.dispersion.weight", None, 1.0),
        used=used, cluster_used=cl_used, cluster_total=cl_total,
        pool_used={p.id: int(p.used or 0) for p in pool_rows}, by_uuid=by_uuid)


class SnapshotCache:
    """One snapshot per zone per shard, reloaded when older than `max_age`
    (one load at a time; callers arriving meanwhile share it)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._snaps: dict[int, Snapshot] = {}
        self._loading: dict[int, asyncio.Task[Snapshot]] = {}
        self._started: dict[int, float] = {}  # when the running load of a zone began
        self.loads = 0

    async def get(self, zone_id: int, max_age: float, *, newer_than: float | None = None) -> Snapshot:
        """A snapshot of the zone no older than `max_age` seconds, and (if given)
        loaded after the monotonic time `newer_than`."""
        s = self._snaps.get(zone_id)
        now = time.monotonic()
        if s is not None and now - s.loaded_at <= max_age and (newer_than is None or s.loaded_at > newer_than):
            return s
        task = self._loading.get(zone_id)
        if task is not None and (newer_than is None or self._started.get(zone_id, 0.0) > newer_than):
            return await asyncio.shield(task)
        task = asyncio.create_task(self._load(zone_id))
        self._loading[zone_id] = task
        self._started[zone_id] = time.monotonic()
        return await asyncio.shield(task)

    async def _load(self, zone_id: int) -> Snapshot:
        try:
            async with self.engine.connect() as conn:
                snap = await load_snapshot(conn, zone_id)
            self.loads += 1
            held = self._snaps.get(zone_id)
            if held is None or held.loaded_at < snap.loaded_at:
                self._snaps[zone_id] = snap
            return snap
        finally:
            if self._loading.get(zone_id) is asyncio.current_task():
                del self._loading[zone_id]

    def peek(self, zone_id: int) -> Snapshot | None:
        return self._snaps.get(zone_id)

    def invalidate(self, zone_id: int | None = None) -> None:
        if zone_id is None:
            self._snaps.clear()
        else:
            self._snaps.pop(zone_id, None)
