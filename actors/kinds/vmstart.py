"""Starting a VM: plan on the zone's snapshot, claim a host, start there.

The planner (supervisors/placement) proposes a few hosts; the VM claims the
first that still has room (vmplace.commit_claim: host state, affinity, CPU,
memory and storage in one transaction) and sends StartCommand. A refused
claim marks the host in the snapshot and the next candidate is tried; a host
that fails to start the VM gets its claim back and is avoided on re-planning.
A VM is only refused (533) by a plan made on a snapshot loaded after its last
refused claim, so a stale cache can delay a VM but never deny it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

from sqlalchemy import Table, bindparam, select

from cloudplane.actors.identity import EntityRef
from cloudplane.actors.kinds.vmbase import VmBase, placement_cache
from cloudplane.actors.kinds.vmdisks import Storage, storage_of
from cloudplane.actors.kinds.vmplace import Groups, account_hosts, affinity_of, claim_for, commit_claim, vm_groups
from cloudplane.actors.kinds.vmstate import VmState
from cloudplane.agentproto import Cmd, Power
from cloudplane.errors import ApiError, Insufficient, ParamError
from cloudplane.store.base import utcnow
from cloudplane.store.tables.compute import ServiceOffering
from cloudplane.store.tables.network import Network, Nic
from cloudplane.supervisors.placement import (
    ALLOCATORS,
    PLANNERS,
    Affinity,
    HostView,
    OfferingView,
    PlacementRequest,
    Snapshot,
    Trace,
    needs_account_counts,
    plan,
    split_tags,
)

log = logging.getLogger(__name__)
T_SO: Table = ServiceOffering.__table__  # type: ignore[attr-defined]
T_NET: Table = Network.__table__  # type: ignore[attr-defined]
T_NIC: Table = Nic.__table__  # type: ignore[attr-defined]
MAX_HOST_ATTEMPTS = 5  # hosts that took the claim but failed to start the VM
MAX_ROUNDS = 20  # plans per start (each after refused claims or a failed start)


class _NotInSnapshot(Exception):
    pass


# Per start: built once (a fresh expression per call costs more Python than running it).
_VM_NETWORKS = select(T_NET.c.uuid).distinct().select_from(T_NIC.join(T_NET, T_NIC.c.network_id == T_NET.c.id)).where(
    T_NIC.c.instance_id == bindparam("b_vm"), T_NIC.c.removed.is_(None))


class VmPlacing(VmBase):
    async def _offering(self, snap: Snapshot) -> OfferingView:
        so = snap.offerings.get(self.row["service_offering_id"])
        if so is not None:
            return so
        async with self.host.engine.connect() as conn:  # newer than the snapshot
            r = (await conn.execute(select(T_SO.c.host_tags, T_SO.c.storage_tags, T_SO.c.deployment_planner).where(
                T_SO.c.id == self.row["service_offering_id"]))).one()
        return OfferingView(split_tags(r.host_tags), split_tags(r.storage_tags), r.deployment_planner or None)

    async def _resolve(self, snap: Snapshot, kind: str, uuid: str | None) -> int | None:
        """An explicit host, cluster or pod of the VM's zone, by uuid."""
        if uuid is None:
            return None
        found = snap.by_uuid.get(uuid)
        if found is None:
            raise _NotInSnapshot(f"Unable to find {kind} {uuid} in the VM's zone "
                                 "(or it is not a routing host of a cluster)")
        return found

    async def _fresh_request(self, snap: Snapshot, **kw: Any) -> tuple[Snapshot, PlacementRequest]:
        """The request; an explicit host, cluster or pod newer than the snapshot means a new look."""
        try:
            return snap, await self._request(snap, **kw)
        except _NotInSnapshot:
            snap = await placement_cache(self.host).get(snap.zone_id, 0.0, newer_than=snap.loaded_at)
            try:
                return snap, await self._request(snap, **kw)
            except _NotInSnapshot as e:
                raise ParamError(str(e)) from None

    async def _request(self, snap: Snapshot, *, host: str | None, cluster: str | None, pod: str | None, ha: bool,
                       planner: str | None, storage: Storage, affinity: Affinity, root_admin: bool,
                       ) -> PlacementRequest:
        so = await self._offering(snap)
        cpu, mem = self.demand
        cluster_id = await self._resolve(snap, "cluster", cluster)
        if storage.cluster_id is not None:
            if cluster_id is not None and cluster_id != storage.cluster_id:
                raise ParamError(f"VM {self.ref.id} has volumes on a pool of another cluster than {cluster}")
            cluster_id = storage.cluster_id
        return PlacementRequest(
            zone_id=self.row["zone_id"], cpu_mhz=cpu, mem_bytes=mem, cpu_cores=int(self.row["cpu_count"]),
            cpu_speed_mhz=int(self.row["cpu_speed_mhz"]), vm=self.ref.id, account_id=self.row["account_id"],
            pod_id=await self._resolve(snap, "pod", pod), cluster_id=cluster_id,
            host_id=await self._resolve(snap, "host", host), host_tags=so.host_tags, storage_tags=so.storage_tags,
            needs_storage=storage.unplaced, hypervisor=self.row.get("hypervisor_type"), ha=ha,
            owner_root_admin=root_admin, planner=planner or so.planner or await self._setting(
                "vm.deployment.planner", PLANNERS, "FirstFitPlanner"),
            algorithm=await self._setting("vm.allocation.algorithm", ALLOCATORS, "random"), affinity=affinity)

    async def _setting(self, name: str, known: Any, default: str) -> str:
        """A placement setting; an unknown value is logged and the default used (a typo in a
        global setting must not stop every deploy)."""
        value = (await self.host.config(name) or default).strip()
        if value not in known:
            log.warning("%s = %r is not one of %s; using %s", name, value, sorted(known), default)
            return default
        return value

    async def _claim(self, snap: Snapshot, h: HostView, groups: Groups, req: PlacementRequest) -> None:
        cpu, mem = self.demand
        changes = {"state": VmState.STARTING, "host_id": h.id, "pod_id": h.pod_id, "updated": utcnow()}
        c = claim_for(snap, h, self.row["id"], self.version, changes, cpu, mem, groups, req.needs_storage,
                      req.storage_tags)
        version, pool = await self.host.writer.submit(lambda conn: commit_claim(conn, c))
        self.row.update(changes)
        self.row["version"] = version
        if placement_cache(self.host).peek(snap.zone_id) is snap:
            snap.adjust(h.id, cpu, mem)
            if pool is not None:
                snap.adjust_pool(pool, req.needs_storage)

    async def _prepare_networks(self, h: HostView, networks: list[str] | None) -> None:
        """Before StartCommand: the VM's networks (`networks`, when a deploy has just given
        it its NICs; else read) are implemented on the chosen host."""
        # -- networking (actors/kinds/network.py `prepare`) ---------------------------------
        # Each network of a user VM is implemented (a VLAN, its virtual router) and the VM's
        # NICs get addresses usable in the host's pod; routers are started by their network.
        if self.row.get("type") != "User":
            return
        if networks is None:
            async with self.host.engine.connect() as conn:
                networks = [r[0] for r in (await conn.execute(_VM_NETWORKS, {"b_vm": self.row["id"]})).all()]
        for n in networks:
            await self.host.call_entity(EntityRef("network", n), "prepare",
                                        {"vm_id": self.row["id"], "pod_id": h.pod_id})

    async def _launch(self, h: HostView, snap: Snapshot, networks: list[str] | None) -> tuple[bool, str]:
        try:
            await self._prepare_networks(h, networks)
        except ApiError as e:
            return False, f"network preparation failed: {e.text}"
        ok, why, _ = await self._agent(h.uuid, snap.clusters[h.cluster_id].uuid, Cmd.START,
                                       {"vm": await self._start_spec()})
        return ok, why

    async def _start(self, host: str | None = None, cluster: str | None = None, pod: str | None = None,
                     ha: bool = False, deploy: bool = False, planner: str | None = None,
                     groups: Groups | None = None, storage: Storage | None = None,
                     root_admin: bool = False, networks: list[str] | None = None) -> dict[str, Any]:
        if self.state == VmState.RUNNING:
            return self._summary()
        if self.state not in (VmState.STOPPED, VmState.ERROR, VmState.STARTING):
            raise ParamError(f"VM {self.ref.id} is {self.state}; it can only be started when Stopped")
        if self.state == VmState.STARTING and self.row.get("host_id") is not None:
            # A start cut off after its claim (a resumed job): learn what became of it before
            # claiming again, or the first claim would be held for ever beside the second.
            await self.settle()
            if self.state == VmState.RUNNING:
                return self._summary()
        cache = placement_cache(self.host)
        zone = self.row["zone_id"]
        max_age = float(await self.host.config("vm.placement.cache.seconds") or 0)
        last_refusal = time.monotonic()  # a refusal needs a snapshot loaded after this
        snap = await cache.get(zone, max_age)
        affinity = Affinity()
        if storage is None or groups is None or groups.ids:  # a fresh deploy without groups knows it all
            async with self.host.engine.connect() as conn:
                storage = storage if storage is not None else await storage_of(conn, self.row["id"])
                groups = groups if groups is not None else await vm_groups(conn, self.row["id"])
                affinity = await affinity_of(conn, self.row["id"], groups) if groups.ids else Affinity()
        assert storage is not None and groups is not None
        snap, req = await self._fresh_request(snap, host=host, cluster=cluster, pod=pod, ha=ha, planner=planner,
                                              storage=storage, affinity=affinity, root_admin=root_admin)
        counts: dict[int, int] = {}
        if needs_account_counts(req.planner, req.algorithm):
            async with self.host.engine.connect() as conn:
                counts = await account_hosts(conn, self.row["account_id"])
        trace, avoid, attempts = Trace(self.ref.id), set[int](), 0
        decision_trace = Trace(self.ref.id)
        for _ in range(MAX_ROUNDS):
            decision = plan(snap, replace(req, avoid=frozenset(avoid)), account_hosts=counts)
            decision_trace = decision.trace
            if not decision.hosts:
                if snap.loaded_at > last_refusal:
                    break  # a fresh look found nothing: refuse
                snap = await cache.get(zone, 0.0, newer_than=last_refusal)
                if groups.ids:
                    async with self.host.engine.connect() as conn:
                        req = replace(req, affinity=await affinity_of(conn, self.row["id"], groups))
                continue
            for h in decision.hosts:
                try:
                    await self._claim(snap, h, groups, req)
                except Insufficient as e:
                    trace.add(f"host {h.name}", f"claim refused ({e.text})")
                    snap.lost.add(h.id)
                    last_refusal = time.monotonic()
                    continue
                attempts += 1
                ok, why = await self._launch(h, snap, networks)
                if ok:
                    await self.save(state=VmState.RUNNING, power_state=Power.ON, power_state_updated=utcnow(),
                                    last_host_id=h.id)
                    return self._summary()
                trace.add(f"host {h.name}", f"start failed ({why})")
                avoid.add(h.id)
                await self._release_to({"host_id": None}, h.id)
                last_refusal = time.monotonic()
                break
            if attempts >= MAX_HOST_ATTEMPTS:
                break
        trace.lines[:0] = decision_trace.lines
        await self.save(state=VmState.ERROR if deploy else VmState.STOPPED, host_id=None)
        log.info("vm %s: no deployment; %s", self.ref.id, trace)
        cpu, mem = self.demand
        raise Insufficient(f"Unable to create a deployment for VM {self.ref.id}: no host could take {cpu} MHz "
                           f"and {mem // 2**20} MiB ({trace.summary()})")
