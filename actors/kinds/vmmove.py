"""Moving a VM: live migration (to a named host or a planner-chosen one),
live migration with its volumes, and moving a stopped VM's volumes.

The destination's capacity is claimed before anything moves; while the VM is
Migrating, `last_host_id` names the destination, so `settle()` can finish or
undo a move that a dead process cut off. Volumes on a cluster's pool keep a
live migration inside that cluster unless they move too.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.actors.entity import operation
from cloudplane.actors.kinds.vmbase import T_HOST, placement_cache
from cloudplane.actors.kinds.vmdisks import Storage, move_volumes, storage_of, zone_ratios
from cloudplane.actors.kinds.vmplace import Claim, affinity_of, commit_claim, release_host, vm_groups
from cloudplane.actors.kinds.vmstart import VmPlacing
from cloudplane.actors.kinds.vmstate import VmState
from cloudplane.agentproto import Cmd
from cloudplane.errors import Insufficient, ParamError
from cloudplane.store.tables.storage import StoragePool, Volume
from cloudplane.supervisors.placement import HostView, Snapshot, Trace, plan

T_VOL: Table = Volume.__table__  # type: ignore[attr-defined]
T_POOL: Table = StoragePool.__table__  # type: ignore[attr-defined]
UNBOUNDED = 1e12  # a ratio that lets a volume go back where it came from whatever happened meanwhile


class VmMoves(VmPlacing):
    async def _destinations(self, host: str | None, cluster: str | None, avoid: list[int],
                            with_storage: bool) -> tuple[Snapshot, list[HostView], Trace]:
        src = self.row["host_id"]
        cache = placement_cache(self.host)
        snap = await cache.get(self.row["zone_id"], float(await self.host.config("vm.placement.cache.seconds") or 0))
        async with self.host.engine.connect() as conn:
            storage = await storage_of(conn, self.row["id"])
            groups = await vm_groups(conn, self.row["id"])
            aff = await affinity_of(conn, self.row["id"], groups)
        if with_storage:
            storage = Storage(0, None)
        elif host is not None and storage.cluster_id is not None:
            h = snap.hosts.get(snap.by_uuid.get(host, -1))
            if h is not None and h.cluster_id != storage.cluster_id:
                raise ParamError(f"Migrating VM {self.ref.id} to host {host} needs its volumes moved too (they are "
                                 "on a pool of another cluster): use migrateVirtualMachineWithVolume")
        snap, req = await self._fresh_request(snap, host=host, cluster=cluster, pod=None, ha=False, planner=None,
                                              storage=Storage(0, storage.cluster_id), affinity=aff, root_admin=True)
        req = replace(req, avoid=frozenset([src, *avoid]))
        decision = plan(snap, req)
        if not decision.hosts:  # refuse only on a fresh look
            snap = await cache.get(self.row["zone_id"], 0.0, newer_than=snap.loaded_at)
            decision = plan(snap, req)
        return snap, decision.hosts, decision.trace

    async def _claim_destination(self, snap: Snapshot, h: HostView, moves: dict[int, int]) -> None:
        cpu, mem = self.demand
        c = snap.clusters[h.cluster_id]
        changes = {"state": VmState.MIGRATING, "last_host_id": h.id}
        async with self.host.engine.connect() as conn:
            groups = await vm_groups(conn, self.row["id"])
        claim = Claim(self.row["id"], self.version, changes, h, cpu, mem, c.cpu_factor, c.mem_factor, groups)

        # One transaction of its own: a refused volume claim rolls back the host claim too.
        async with self.host.engine.begin() as conn:
            version, _ = await commit_claim(conn, claim)
            if moves:
                await move_volumes(conn, self.row["id"], moves, snap.ratio_of)
        self.row.update(changes)
        self.row["version"] = version
        if placement_cache(self.host).peek(snap.zone_id) is snap:
            snap.adjust(h.id, cpu, mem)

    async def _move(self, src: tuple[str, str | None], dst: HostView, snap: Snapshot) -> tuple[bool, str]:
        """The destination prepares (networks, pools) for the whole VM; the source then moves
        it to the destination's address (a real host's libvirt connects there)."""
        ok, why, _ = await self._agent(dst.uuid, snap.clusters[dst.cluster_id].uuid, Cmd.PREPARE_MIGRATION,
                                       {"vm": await self._start_spec()})
        if not ok:
            return False, why
        async with self.host.engine.connect() as conn:
            ip = (await conn.execute(select(T_HOST.c.private_ip).where(T_HOST.c.id == dst.id))).scalar()
        ok, why, _ = await self._agent(src[0], src[1], Cmd.MIGRATE,
                                       {"vm": self.instance_name, "dest": dst.uuid, "dest_ip": ip})
        return ok, why

    async def _live_migrate(self, host: str | None, cluster: str | None, avoid: list[int],
                            volumes: dict[str, str] | None) -> dict[str, Any]:
        if self.state != VmState.RUNNING or self.row.get("host_id") is None:
            raise ParamError(f"VM {self.ref.id} is {self.state}; only a Running VM can be migrated")
        src_id = self.row["host_id"]
        cpu, mem = self.demand
        snap, hosts, trace = await self._destinations(host, cluster, avoid, with_storage=volumes is not None)
        src = await self._host_uuid(src_id)
        for h in hosts:
            moves = await self._volume_moves(snap, h, volumes) if volumes is not None else {}
            original = await self._pools_of(list(moves)) if moves else {}
            try:
                await self._claim_destination(snap, h, moves)
            except Insufficient as e:
                trace.add(f"host {h.name}", f"claim refused ({e.text})")
                continue
            ok, why = await self._move(src, h, snap)
            if ok:
                await self._release_to({"state": VmState.RUNNING, "host_id": h.id, "pod_id": h.pod_id,
                                        "last_host_id": src_id}, src_id)
                return {**self._summary(), "from": src[0], "to": h.uuid}
            trace.add(f"host {h.name}", f"migration failed ({why})")
            await self._undo_destination(h.id, cpu, mem, original)
        raise Insufficient(f"Unable to migrate VM {self.ref.id}: no host could take it ({trace.summary()})")

    async def _pools_of(self, volume_ids: list[int]) -> dict[int, int]:
        async with self.host.engine.connect() as conn:
            return {r.id: r.pool_id for r in (await conn.execute(select(T_VOL.c.id, T_VOL.c.pool_id).where(
                T_VOL.c.id.in_(volume_ids)))).all()}

    async def _undo_destination(self, dst_id: int, cpu: int, mem: int, original: dict[int, int]) -> None:
        """The move failed: give the destination its capacity back, and the volumes their pools."""
        vm_id = self.row["id"]

        async def work(conn: AsyncConnection) -> None:
            await release_host(conn, dst_id, cpu, mem)
            if original:
                await move_volumes(conn, vm_id, original, lambda _: UNBOUNDED)

        await self._save_with({"state": VmState.RUNNING, "last_host_id": self.row["host_id"]}, work)
        snap = placement_cache(self.host).peek(self.row["zone_id"])
        if snap is not None:
            snap.adjust(dst_id, -cpu, -mem)

    async def _volume_moves(self, snap: Snapshot, dst: HostView, wanted: dict[str, str]) -> dict[int, int]:
        """Volume id -> destination pool id: the ones named, and any other volume whose
        cluster pool the destination cannot reach (to the best pool near it)."""
        async with self.host.engine.connect() as conn:
            vols = (await conn.execute(select(T_VOL.c.id, T_VOL.c.uuid, T_VOL.c.pool_id, T_POOL.c.scope,
                                              T_POOL.c.cluster_id).select_from(
                T_VOL.join(T_POOL, T_VOL.c.pool_id == T_POOL.c.id)).where(
                T_VOL.c.instance_id == self.row["id"], T_VOL.c.removed.is_(None)))).all()
        by_uuid = {p.uuid: p.id for p in snap.pools.values()}
        moves: dict[int, int] = {}
        for v in vols:
            if v.uuid in wanted:
                pool = by_uuid.get(wanted[v.uuid])
                if pool is None:
                    raise ParamError(f"Unable to find an Up storage pool {wanted[v.uuid]} in the VM's zone")
                moves[v.id] = pool
            elif v.scope == "CLUSTER" and v.cluster_id != dst.cluster_id:
                near = snap.pools_near(dst.cluster_id, ())
                if not near:
                    raise Insufficient(f"no storage pool near host {dst.name} for volume {v.uuid}")
                moves[v.id] = near[0].id
        return moves

    # -- operations ------------------------------------------------------------------------------
    @operation()
    async def migrate(self, host: str | None = None, cluster: str | None = None,
                      avoid: list[int] | None = None) -> dict[str, Any]:
        """Live-migrate a Running VM: to `host`, or to a planner-chosen host (in `cluster`)."""
        return await self._live_migrate(host, cluster, avoid or [], None)

    @operation()
    async def migrate_with_volumes(self, host: str | None = None,
                                   volumes: dict[str, str] | None = None) -> dict[str, Any]:
        """Live-migrate with storage motion: volumes named in `volumes` (uuid -> pool uuid)
        move there, and volumes the destination cannot reach move next to it."""
        return await self._live_migrate(host, None, [], volumes or {})

    @operation()
    async def migrate_storage(self, pool: str) -> dict[str, Any]:
        """A Stopped VM's volumes to another pool (migrateVirtualMachine with storageid)."""
        if self.state != VmState.STOPPED:
            raise ParamError(f"VM {self.ref.id} is {self.state}: its storage can only be migrated while it is "
                             "Stopped (use migrateVirtualMachineWithVolume for a Running VM)")
        async with self.host.engine.connect() as conn:
            p = (await conn.execute(select(T_POOL.c.id, T_POOL.c.zone_id, T_POOL.c.status).where(
                T_POOL.c.uuid == pool, T_POOL.c.removed.is_(None)))).first()
            vols = [r[0] for r in (await conn.execute(select(T_VOL.c.id).where(
                T_VOL.c.instance_id == self.row["id"], T_VOL.c.removed.is_(None),
                T_VOL.c.pool_id.is_not(None)))).all()]
        if p is None or p.zone_id != self.row["zone_id"]:
            raise ParamError(f"Unable to find storage pool {pool} in the VM's zone")
        if p.status != "Up":
            raise ParamError(f"Storage pool {pool} is {p.status}")
        ratio = await zone_ratios(self.host.engine, self.row["zone_id"])
        if vols:
            vm_id, moves = self.row["id"], {v: p.id for v in vols}
            await self._transact({}, lambda conn: move_volumes(conn, vm_id, moves, ratio))
        placement_cache(self.host).invalidate(self.row["zone_id"])
        return self._summary()

