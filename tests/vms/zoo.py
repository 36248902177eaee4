"""Hand-built zone snapshots for the placement engine's unit tests."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from cloudplane.supervisors.placement import ClusterView, HostView, PoolView, Snapshot

GiB = 2**30


@dataclass
class Zoo:
    """Clusters of hosts (4 cores x 2000 MHz, 8 GiB each unless told), built step by step."""

    clusters: list[ClusterView] = field(default_factory=list)
    used: dict[int, list[int]] = field(default_factory=dict)
    pools: list[PoolView] = field(default_factory=list)
    ha_tag: str = ""
    next_host: int = 1

    def cluster(self, hosts: int, *, pod: int = 1, tags: dict[int, set[str]] | None = None, enabled: bool = True,
                cpu_factor: float = 1.0, mem_factor: float = 1.0, threshold: float = 1.0, mem_gib: int = 8,
                states: dict[int, tuple[str, str]] | None = None) -> list[int]:
        cid = len(self.clusters) + 1
        views = []
        for i in range(hosts):
            hid = self.next_host
            self.next_host += 1
            status, rstate = (states or {}).get(i, ("Up", "Enabled"))
            views.append(HostView(hid, f"h-{hid}", f"h{hid}", cid, pod, status, rstate,
                                  frozenset((tags or {}).get(i, set())), 4, 2000, 8000, mem_gib * GiB, "Simulator"))
        self.clusters.append(ClusterView(cid, f"c-{cid}", f"c{cid}", pod, enabled, True, "Simulator", cpu_factor,
                                         mem_factor, threshold, threshold, tuple(views)))
        return [h.id for h in views]

    def snapshot(self) -> Snapshot:
        hosts = {h.id: h for c in self.clusters for h in c.hosts}
        used = {h: list(self.used.get(h, [0, 0])) for h in hosts}
        live = {c.id: [h for h in c.hosts if h.status == "Up" and h.resource_state == "Enabled"]
                for c in self.clusters}
        return Snapshot(
            zone_id=1, loaded_at=time.monotonic(), clusters={c.id: c for c in self.clusters}, hosts=hosts,
            pools={p.id: p for p in self.pools}, offerings={}, ha_tag=self.ha_tag,
            cluster_order_by="CPU", dispersion_weight=1.0, used=used,
            cluster_used={c: [sum(used[h.id][0] for h in hs), sum(used[h.id][1] for h in hs)] for c, hs in live.items()},
            cluster_total={c: (sum(h.cpu_total for h in hs), sum(h.mem_total for h in hs)) for c, hs in live.items()},
            pool_used={p.id: 0 for p in self.pools},
            by_uuid={**{h.uuid: h.id for h in hosts.values()}, **{c.uuid: c.id for c in self.clusters}})
