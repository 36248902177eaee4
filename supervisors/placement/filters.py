"""Host and cluster filters: small policies, each answering "why not?".

A filter returns None when the host (or cluster) may take the VM, else the
reason, which goes into the placement trace. Filters express policy only;
the capacity figures they look at come from a snapshot and are a hint: the
VM's claim (a conditional UPDATE in store/capacity.py) is what decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from cloudplane.supervisors.placement.types import ClusterView, HostView, PlacementRequest, Snapshot


@dataclass
class PlanContext:
    req: PlacementRequest
    snap: Snapshot
    account_hosts: dict[int, int] = field(default_factory=dict)  # host id -> this account's VMs there


class HostFilter(Protocol):
    name: str

    def rejects(self, host: HostView, ctx: PlanContext) -> str | None: ...


class ClusterFilter(Protocol):
    name: str

    def rejects(self, cluster: ClusterView, ctx: PlanContext) -> str | None: ...


# -- clusters ------------------------------------------------------------------------------------


class ExplicitScope:
    """A plan pinned to a pod or cluster (deploy with podid/clusterid, volumes on a cluster pool)."""

    name = "scope"

    def rejects(self, cluster: ClusterView, ctx: PlanContext) -> str | None:
        r = ctx.req
        if r.cluster_id is not None and cluster.id != r.cluster_id:
            return "not the requested cluster"
        if r.pod_id is not None and cluster.pod_id != r.pod_id:
            return "not in the requested pod"
        return None


class AllocationEnabled:
    """Disabled pods and clusters take no new VMs, except a root admin's (as CloudStack)."""

    name = "disabled"

    def rejects(self, cluster: ClusterView, ctx: PlanContext) -> str | None:
        if ctx.req.owner_root_admin or ctx.req.cluster_id == cluster.id:
            return None
        if not cluster.pod_enabled:
            return "its pod is disabled"
        if not cluster.enabled:
            return "cluster is disabled"
        return None


class HypervisorMatch:
    name = "hypervisor"

    def rejects(self, cluster: ClusterView, ctx: PlanContext) -> str | None:
        want = ctx.req.hypervisor
        if want and cluster.hypervisor and cluster.hypervisor.lower() != want.lower():
            return f"runs {cluster.hypervisor}, not {want}"
        return None


class DisableThreshold:
    """cluster.{cpu,memory}.allocated.capacity.disablethreshold: a cluster whose
    allocation would pass the threshold with this VM is skipped."""

    name = "threshold"

    def rejects(self, cluster: ClusterView, ctx: PlanContext) -> str | None:
        if ctx.req.host_id is not None:
            return None  # an explicit host is checked by its claim alone
        total = ctx.snap.cluster_total.get(cluster.id)
        if not total:
            return "has no usable host"
        used = ctx.snap.cluster_used.get(cluster.id, [0, 0])
        cpu_cap, mem_cap = total[0] * cluster.cpu_factor, total[1] * cluster.mem_factor
        cpu = (used[0] + ctx.req.cpu_mhz) / cpu_cap if cpu_cap else 2.0
        mem = (used[1] + ctx.req.mem_bytes) / mem_cap if mem_cap else 2.0
        if cpu > cluster.cpu_threshold:
            return f"CPU allocation would reach {cpu:.2f}, past its threshold {cluster.cpu_threshold:g}"
        if mem > cluster.mem_threshold:
            return f"memory allocation would reach {mem:.2f}, past its threshold {cluster.mem_threshold:g}"
        return None


class StorageReachable:
    """Unplaced volumes need a pool near the cluster with the offering's storage tags and room."""

    name = "storage"

    def rejects(self, cluster: ClusterView, ctx: PlanContext) -> str | None:
        need = ctx.req.needs_storage
        if not need:
            return None
        pools = ctx.snap.pools_reaching(cluster.id, ctx.req.storage_tags)
        if not pools:
            tags = f" with storage tags {list(ctx.req.storage_tags)}" if ctx.req.storage_tags else ""
            return f"no primary storage pool{tags}"
        if not any(ctx.snap.pool_used.get(p.id, 0) + need <= p.room for p in pools):
            return f"no primary storage pool has {need / 2**30:.1f} GiB left"
        return None


# -- hosts ---------------------------------------------------------------------------------------


class Usable:
    name = "state"

    def rejects(self, host: HostView, ctx: PlanContext) -> str | None:
        if host.status != "Up":
            return f"status {host.status}"
        if host.resource_state != "Enabled":
            return f"resource state {host.resource_state}"
        return None


class Avoided:
    name = "avoid"

    def rejects(self, host: HostView, ctx: PlanContext) -> str | None:
        return "failed this VM before" if host.id in ctx.req.avoid else None


class ExplicitHost:
    name = "host"

    def rejects(self, host: HostView, ctx: PlanContext) -> str | None:
        want = ctx.req.host_id
        return "not the requested host" if want is not None and host.id != want else None


class HaTag:
    """Hosts tagged with ha.tag are kept for HA restarts."""

    name = "ha.tag"

    def rejects(self, host: HostView, ctx: PlanContext) -> str | None:
        tag = ctx.snap.ha_tag
        if tag and tag in host.tags and not ctx.req.ha:
            return f"reserved for HA restarts (tag {tag})"
        return None


class HostTags:
    name = "host tags"

    def rejects(self, host: HostView, ctx: PlanContext) -> str | None:
        missing = [t for t in ctx.req.host_tags if t not in host.tags]
        return f"lacks host tags {missing}" if missing else None


class CpuCapability:
    """A VM cannot have more cores, or faster ones, than its host."""

    name = "cpu capability"

    def rejects(self, host: HostView, ctx: PlanContext) -> str | None:
        r = ctx.req
        if host.cpus and r.cpu_cores > host.cpus:
            return f"has {host.cpus} cores, the VM wants {r.cpu_cores}"
        if host.cpu_speed_mhz and r.cpu_speed_mhz > host.cpu_speed_mhz:
            return f"cores run at {host.cpu_speed_mhz} MHz, the VM wants {r.cpu_speed_mhz}"
        return None


class HostAffinity:
    name = "host affinity"

    def rejects(self, host: HostView, ctx: PlanContext) -> str | None:
        need = ctx.req.affinity.required
        if need is not None and host.id not in need:
            return f"not where its host-affinity group runs ({', '.join(ctx.req.affinity.groups)})"
        return None


class HostAntiAffinity:
    name = "host anti-affinity"

    def rejects(self, host: HostView, ctx: PlanContext) -> str | None:
        if host.id in ctx.req.affinity.forbidden:
            return f"runs a member of its anti-affinity group ({', '.join(ctx.req.affinity.groups)})"
        return None


class CapacityHint:
    """Free capacity as the snapshot last saw it (overprovisioned per cluster).
    A hint to skip hopeless claims; never the decision."""

    name = "capacity"

    def rejects(self, host: HostView, ctx: PlanContext) -> str | None:
        snap = ctx.snap
        if host.id in snap.lost:
            return "lost a capacity race since the last look"
        c = snap.clusters[host.cluster_id]
        used = snap.used.get(host.id, (0, 0))
        cpu_free = host.cpu_total * c.cpu_factor - used[0]
        mem_free = host.mem_total * c.mem_factor - used[1]
        if cpu_free < ctx.req.cpu_mhz or mem_free < ctx.req.mem_bytes:
            return "not enough free capacity"
        return None


CLUSTER_FILTERS: tuple[ClusterFilter, ...] = (
    ExplicitScope(), AllocationEnabled(), HypervisorMatch(), DisableThreshold(), StorageReachable())
HOST_FILTERS: tuple[HostFilter, ...] = (
    ExplicitHost(), Usable(), Avoided(), HaTag(), HostTags(), CpuCapability(), HostAffinity(), HostAntiAffinity(),
    CapacityHint())
