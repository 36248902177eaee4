"""The placement vocabulary: what a VM asks for, what the planner sees of a
zone, and what it answers.

Everything here is a plain value. The views of hosts and clusters are frozen;
the only mutable parts of a `Snapshot` are the capacity figures, which the
shard adjusts after its own claims so that a cached snapshot stays a good
hint between reloads (the claim itself, a conditional UPDATE, decides).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Affinity:
    """What the VM's affinity groups say about hosts: `required` is where the
    group's running members are (host affinity; None = no constraint yet),
    `forbidden` where members of an anti-affinity group run."""

    required: frozenset[int] | None = None
    forbidden: frozenset[int] = frozenset()
    groups: tuple[str, ...] = ()  # group names, for the trace


@dataclass(frozen=True, slots=True)
class PlacementRequest:
    zone_id: int
    cpu_mhz: int  # cores x speed: what the capacity rows count
    mem_bytes: int
    cpu_cores: int = 1
    cpu_speed_mhz: int = 0
    vm: str = ""  # the VM's uuid, for the trace
    account_id: int | None = None
    pod_id: int | None = None
    cluster_id: int | None = None
    host_id: int | None = None
    host_tags: tuple[str, ...] = ()
    storage_tags: tuple[str, ...] = ()
    needs_storage: int = 0  # bytes of volumes still to place on a pool near the host
    hypervisor: str | None = None
    ha: bool = False  # only HA restarts may use hosts tagged with ha.tag
    owner_root_admin: bool = False  # CloudStack lets root admins' VMs into disabled pods and clusters
    avoid: frozenset[int] = frozenset()  # hosts that failed this VM before
    planner: str = "FirstFitPlanner"
    algorithm: str = "random"
    affinity: Affinity = Affinity()


@dataclass(frozen=True, slots=True)
class HostView:
    id: int
    uuid: str
    name: str
    cluster_id: int
    pod_id: int
    status: str
    resource_state: str
    tags: frozenset[str]
    cpus: int
    cpu_speed_mhz: int
    cpu_total: int  # raw MHz, before overprovisioning
    mem_total: int  # raw bytes
    hypervisor: str | None


@dataclass(frozen=True, slots=True)
class ClusterView:
    id: int
    uuid: str
    name: str
    pod_id: int
    enabled: bool
    pod_enabled: bool
    hypervisor: str | None
    cpu_factor: float
    mem_factor: float
    cpu_threshold: float
    mem_threshold: float
    hosts: tuple[HostView, ...]


@dataclass(frozen=True, slots=True)
class PoolView:
    id: int
    uuid: str
    cluster_id: int | None  # None: zone-wide
    tags: frozenset[str]
    total: int  # raw bytes
    # How many times `total` may be allocated: the pool's storage.overprovisioning.factor times its
    # zone's pool.storage.capacity.disablethreshold (store/poolrules.py; here the settings' defaults).
    ratio: float = 2.0 * 0.85

    @property
    def room(self) -> float:
        return self.total * self.ratio


@dataclass(frozen=True, slots=True)
class OfferingView:
    host_tags: tuple[str, ...]
    storage_tags: tuple[str, ...]
    planner: str | None


def split_tags(text: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(t.strip() for t in (text or "").split(",") if t.strip()))


@dataclass
class Snapshot:
    """A zone as the planner sees it, loaded in a handful of queries."""

    zone_id: int
    loaded_at: float
    clusters: dict[int, ClusterView]
    hosts: dict[int, HostView]
    pools: dict[int, PoolView]
    offerings: dict[int, OfferingView]
    ha_tag: str
    cluster_order_by: str  # CPU | RAM: which capacity orders clusters and hosts
    dispersion_weight: float
    # Mutable: used capacity per host ([cpu MHz, memory bytes]) and per cluster, per pool.
    used: dict[int, list[int]] = field(default_factory=dict)
    cluster_used: dict[int, list[int]] = field(default_factory=dict)
    cluster_total: dict[int, tuple[int, int]] = field(default_factory=dict)
    pool_used: dict[int, int] = field(default_factory=dict)
    lost: set[int] = field(default_factory=set)  # hosts that refused a claim since the load
    by_uuid: dict[str, int] = field(default_factory=dict)  # host, cluster and pod uuids -> id
    # Pools by the cluster they serve (None: zone-wide), built on first use: every plan asks
    # for each cluster's pools, and a scan of the zone's pools per cluster grew as clusters².
    _reach: dict[int | None, list[PoolView]] | None = field(default=None, repr=False)

    def adjust(self, host_id: int, cpu: int, mem: int) -> None:
        """Our own claim (+) or release (-) since the load."""
        h = self.hosts.get(host_id)
        if h is None:
            return
        u = self.used.setdefault(host_id, [0, 0])
        u[0] += cpu
        u[1] += mem
        cu = self.cluster_used.setdefault(h.cluster_id, [0, 0])
        cu[0] += cpu
        cu[1] += mem
        if cpu < 0 or mem < 0:
            self.lost.discard(host_id)

    def adjust_pool(self, pool_id: int, size: int) -> None:
        if pool_id in self.pools:
            self.pool_used[pool_id] = self.pool_used.get(pool_id, 0) + size

    def pools_reaching(self, cluster_id: int, tags: tuple[str, ...]) -> list[PoolView]:
        """Pools a host of `cluster_id` reaches that carry `tags`, in no particular order."""
        if self._reach is None:
            reach: dict[int | None, list[PoolView]] = {}
            for p in self.pools.values():
                reach.setdefault(p.cluster_id, []).append(p)
            self._reach = reach
        near = [*self._reach.get(cluster_id, ()), *self._reach.get(None, ())]
        if tags:
            want = set(tags)
            near = [p for p in near if want <= p.tags]
        return near

    def pools_near(self, cluster_id: int, tags: tuple[str, ...]) -> list[PoolView]:
        """Pools a host of `cluster_id` reaches that carry `tags`, least allocated first."""
        return sorted(self.pools_reaching(cluster_id, tags),
                      key=lambda p: (self.pool_used.get(p.id, 0) / max(1.0, p.room), p.id))

    def ratio_of(self, pool_id: int) -> float:
        """A pool's allocation ratio; 0 (nothing fits) for a pool the snapshot does not hold (not Up)."""
        p = self.pools.get(pool_id)
        return p.ratio if p is not None else 0.0


@dataclass
class Trace:
    """Why hosts and clusters were passed over: (subject, reason) in order."""

    vm: str = ""
    lines: list[tuple[str, str]] = field(default_factory=list)

    def add(self, subject: str, reason: str) -> None:
        self.lines.append((subject, reason))

    def summary(self, limit: int = 8) -> str:
        """Reasons grouped, the most frequent first, with a few subjects each."""
        if not self.lines:
            return "no host or cluster was considered"
        groups: dict[str, list[str]] = {}
        for subject, reason in self.lines:
            groups.setdefault(reason, []).append(subject)
        parts = []
        for reason, subjects in sorted(groups.items(), key=lambda kv: -len(kv[1]))[:limit]:
            shown = ", ".join(subjects[:3]) + (f" and {len(subjects) - 3} more" if len(subjects) > 3 else "")
            parts.append(f"{reason}: {shown}")
        if len(groups) > limit:
            parts.append(f"{len(groups) - limit} other reasons")
        return "; ".join(parts)

    def __str__(self) -> str:
        return "; ".join(f"{s}: {r}" for s, r in self.lines)


@dataclass(frozen=True)
class Decision:
    """Hosts to try, best first, and what was passed over on the way."""

    hosts: list[HostView]
    trace: Trace
