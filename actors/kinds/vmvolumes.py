"""A VM's volumes and VM snapshots, through the VM's mailbox: attaching and
detaching data disks, and the operations of a volume while it is attached
(resize, migrate, snapshots; actors/kinds/volumework.py does the work), so
none of them races the VM's own start, stop or migration.

A volume joins the VM's storage: a placed volume must be on a pool the VM can
reach (its cluster's or a zone-wide one); an unplaced one is put next to the
VM's ROOT volume, or, if the VM was never started, placed with it at its
first start (actors/kinds/vmplace.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.actors.entity import operation
from cloudplane.actors.kinds import volumework as vw
from cloudplane.actors.kinds.vmbase import T_HOST, placement_cache
from cloudplane.actors.kinds.vmchange import VmChanges
from cloudplane.actors.kinds.vmdisks import storage_of
from cloudplane.actors.kinds.vmplace import release_pool
from cloudplane.actors.kinds.vmstate import VmState
from cloudplane.errors import ApiError, NotAllowed, ParamError
from cloudplane.store.base import utcnow
from cloudplane.store.tables.storage import VmSnapshot

T_VMSNAP: Table = VmSnapshot.__table__  # type: ignore[attr-defined]
T_VOL = vw.T_VOL
TAKE_VM_SNAPSHOT, REVERT_VM_SNAPSHOT, DELETE_VM_SNAPSHOT = (
    "CreateVMSnapshotCommand", "RevertToVMSnapshotCommand", "DeleteVMSnapshotCommand")
UP_OR_DOWN = (VmState.RUNNING, VmState.STOPPED)


class VmVolumes(VmChanges):
    async def _volume_work(self) -> vw.Work:
        """Where this VM's storage is: its host's cluster while it runs, else its volumes'."""
        rules = await vw.pool_rules(self.host.engine)
        host_id = self.row.get("host_id")
        running = self.state == VmState.RUNNING and host_id is not None
        async with self.host.engine.connect() as conn:
            if running:
                cluster = (await conn.execute(select(T_HOST.c.cluster_id).where(T_HOST.c.id == host_id))).scalar()
            else:
                cluster = (await storage_of(conn, self.row["id"])).cluster_id
        return vw.Work(self.host.engine, rules, self._agent_here if running else None, self.row["id"], cluster)

    def _must_be_up_or_down(self, what: str) -> None:
        if self.state not in UP_OR_DOWN:
            raise ParamError(f"VM {self.ref.id} is {self.state}: a volume can be {what} only while the VM is "
                             "Running or Stopped")

    async def _no_vm_snapshots(self, what: str) -> None:
        async with self.host.engine.connect() as conn:
            n = (await conn.execute(select(T_VMSNAP.c.id).where(
                T_VMSNAP.c.instance_id == self.row["id"], T_VMSNAP.c.removed.is_(None)).limit(1))).first()
        if n is not None:
            raise ParamError(f"Unable to {what}: VM {self.ref.id} has VM snapshots; delete them first")

    # -- attach and detach -----------------------------------------------------------------------
    @operation()
    async def attach_volume(self, volume: str, device_id: int | None = None) -> dict[str, Any]:
        self._must_be_up_or_down("attached")
        w = await self._volume_work()
        vm_id = self.row["id"]
        async with self.host.engine.connect() as conn:
            vol = await vw.load(conn, volume)
            if vol.instance_id == vm_id:
                return {"id": volume}  # a resumed job: done
            mine = (await conn.execute(select(T_VOL.c.device_id, T_VOL.c.volume_type, T_VOL.c.pool_id).where(
                T_VOL.c.instance_id == vm_id, T_VOL.c.removed.is_(None)))).all()
        if vol.instance_id is not None:
            raise ParamError(f"Volume {volume} is already attached to another VM")
        if vol.volume_type != "DATADISK":
            raise ParamError("Please specify a volume with the valid type: DATADISK")
        if vol.state not in (vw.VolState.READY, vw.VolState.ALLOCATED, vw.VolState.UPLOADED):
            raise ParamError(f"Volume {volume} is {vol.state}: only a Ready, Allocated or Uploaded volume can be "
                             "attached")
        if vol.zone_id != self.row["zone_id"]:
            raise ParamError(f"Volume {volume} is in another zone than VM {self.ref.id}")
        if vol.account_id != self.row["account_id"]:
            raise NotAllowed(f"Volume {volume} and VM {self.ref.id} belong to different accounts")
        await self._no_vm_snapshots("attach a volume")
        why = vw.reach_error(vol, w.cluster_id)
        if why:
            raise ParamError(why)
        device = _device(device_id, {r.device_id for r in mine if r.device_id is not None})
        root_pool = next((r.pool_id for r in mine if r.volume_type == "ROOT"), None)
        placed: int | None = None

        async def attach(conn: AsyncConnection) -> None:
            nonlocal placed
            changes: dict[str, Any] = {"instance_id": vm_id, "device_id": device, "attached": utcnow()}
            if vol.pool_id is None and root_pool is not None:
                placed, pod = await vw.place(conn, vol, w, prefer=root_pool)
                changes.update(pool_id=placed, pod_id=pod, state=vw.VolState.READY, path=vol.uuid)
            await vw.write(conn, vol, **changes)

        async with self.host.engine.begin() as conn:
            await attach(conn)
        try:
            await vw.host_step(w, vw.ATTACH_DISK, {"vm": self.instance_name, "volume": vol.uuid, "device": device},
                                f"attach volume {volume} to VM {self.ref.id}")
        except ApiError:
            async with self.host.engine.begin() as conn:  # as it was
                now = await vw.load(conn, volume)
                if placed is not None:
                    await release_pool(conn, placed, int(vol.size_bytes))
                await vw.write(conn, now, instance_id=None, device_id=None, attached=None, pool_id=vol.pool_id,
                               pod_id=vol.pod_id, state=vol.state, path=vol.path)
            raise
        if placed is not None:
            placement_cache(self.host).invalidate(self.row["zone_id"])
        return {"id": volume}

    @operation()
    async def detach_volume(self, volume: str) -> dict[str, Any]:
        async with self.host.engine.connect() as conn:
            vol = await vw.load(conn, volume)
        if vol.instance_id is None:
            return {"id": volume}  # a resumed job: done
        if vol.instance_id != self.row["id"]:
            raise ParamError(f"Volume {volume} is not attached to VM {self.ref.id}")
        if vol.volume_type == "ROOT":
            raise ParamError("Please specify a data volume: a ROOT volume cannot be detached from its VM")
        self._must_be_up_or_down("detached")
        await self._no_vm_snapshots("detach a volume")
        w = await self._volume_work()
        await vw.host_step(w, vw.DETACH_DISK, {"vm": self.instance_name, "volume": vol.uuid},
                            f"detach volume {volume} from VM {self.ref.id}")
        async with self.host.engine.begin() as conn:
            await vw.write(conn, vol, instance_id=None, device_id=None, attached=None)
        return {"id": volume}

    # -- an attached volume's own operations -----------------------------------------------------
    @operation()
    async def resize_volume(self, volume: str, size: int, shrink_ok: bool = False, offering_id: int | None = None,
                            min_iops: int | None = None, max_iops: int | None = None) -> dict[str, Any]:
        self._must_be_up_or_down("resized")
        await self._no_vm_snapshots("resize a volume")
        return await vw.resize(await self._volume_work(), volume, size, shrink_ok, offering_id, min_iops, max_iops)

    @operation()
    async def migrate_volume(self, volume: str, pool: str, live: bool = False) -> dict[str, Any]:
        self._must_be_up_or_down("migrated")
        out = await vw.migrate(await self._volume_work(), volume, pool, live)
        placement_cache(self.host).invalidate(self.row["zone_id"])
        return out

    @operation()
    async def snapshot_volume(self, volume: str, snapshot: str, name: str | None = None,
                              interval: str | None = None, keep: int | None = None) -> dict[str, Any]:
        return await vw.take_snapshot(await self._volume_work(), volume, snapshot, name, interval, keep)

    @operation()
    async def delete_snapshot(self, snapshot: str) -> dict[str, Any]:
        return await vw.delete_snapshot(await self._volume_work(), snapshot)

    @operation(concurrent=True)
    async def extract_volume(self, volume: str, mode: str, url: str) -> dict[str, Any]:
        return await vw.extract(await self._volume_work(), volume, mode, url,
                                await self.host.config("simulator.template.download.seconds"))

    @operation()
    async def revert_snapshot(self, snapshot: str) -> dict[str, Any]:
        return await vw.revert_snapshot(await self._volume_work(), snapshot, self.state != VmState.STOPPED)

    # -- VM snapshots ----------------------------------------------------------------------------
    @operation()
    async def create_vm_snapshot(self, snapshot: str, name: str, display_name: str | None = None,
                                 description: str | None = None, memory: bool = False) -> dict[str, Any]:
        vm_id = self.row["id"]
        async with self.host.engine.connect() as conn:
            if (await conn.execute(select(T_VMSNAP.c.id).where(T_VMSNAP.c.uuid == snapshot))).first() is not None:
                return {"id": snapshot}  # a resumed job: done
            current = (await conn.execute(select(T_VMSNAP.c.id).where(
                T_VMSNAP.c.instance_id == vm_id, T_VMSNAP.c.is_current.is_(True),
                T_VMSNAP.c.removed.is_(None)))).scalar()
        if self.state not in UP_OR_DOWN:
            raise ParamError(f"VM {self.ref.id} is {self.state}: snapshots are taken of a Running or Stopped VM")
        if memory and self.state != VmState.RUNNING:
            raise ParamError("A snapshot with memory (snapshotmemory=true) needs a Running VM")
        ok, why, _ = await self._agent_here(TAKE_VM_SNAPSHOT, {"vm": self.instance_name, "snapshot": snapshot,
                                                               "memory": memory})
        if not ok:
            raise ApiError(f"Failed to take a snapshot of VM {self.ref.id}: {why}", 530)
        values = {"uuid": snapshot, "version": 1, "created": utcnow(), "name": name, "display_name": display_name,
                  "description": description, "instance_id": vm_id, "account_id": self.row["account_id"],
                  "domain_id": self.row["domain_id"], "zone_id": self.row["zone_id"], "parent_id": current,
                  "snapshot_type": "DiskAndMemory" if memory else "Disk", "state": "Ready", "is_current": True}
        async with self.host.engine.begin() as conn:
            await conn.execute(update(T_VMSNAP).where(T_VMSNAP.c.instance_id == vm_id).values(is_current=False))
            await conn.execute(T_VMSNAP.insert().values(**values))
        return {"id": snapshot}

    async def _vm_snapshot(self, snapshot: str) -> Any:
        async with self.host.engine.connect() as conn:
            row = (await conn.execute(select(T_VMSNAP).where(T_VMSNAP.c.uuid == snapshot))).first()
        if row is None or row.instance_id != self.row["id"]:
            raise ParamError(f"Unable to find VM snapshot with id {snapshot}")
        return row

    @operation()
    async def revert_to_vm_snapshot(self, snapshot: str) -> dict[str, Any]:
        """Disk only: the VM must be Stopped and stays so; with memory it ends Running."""
        snap = await self._vm_snapshot(snapshot)
        if snap.removed is not None or snap.state != "Ready":
            raise ParamError(f"VM snapshot {snapshot} is {snap.state}: it cannot be reverted to")
        if snap.snapshot_type == "Disk" and self.state != VmState.STOPPED:
            raise ParamError(f"VM {self.ref.id} is {self.state}: stop it to revert to a disk-only VM snapshot")
        if self.state not in UP_OR_DOWN:
            raise ParamError(f"VM {self.ref.id} is {self.state}: it cannot be reverted now")
        ok, why, _ = await self._agent_here(REVERT_VM_SNAPSHOT, {"vm": self.instance_name, "snapshot": snapshot})
        if not ok:
            raise ApiError(f"Failed to revert VM {self.ref.id} to snapshot {snapshot}: {why}", 530)
        async with self.host.engine.begin() as conn:
            await conn.execute(update(T_VMSNAP).where(T_VMSNAP.c.instance_id == self.row["id"]).values(
                is_current=T_VMSNAP.c.id == snap.id))
        if snap.snapshot_type == "DiskAndMemory" and self.state == VmState.STOPPED:
            return await self._start()
        return self._summary()

    @operation()
    async def delete_vm_snapshot(self, snapshot: str) -> dict[str, Any]:
        snap = await self._vm_snapshot(snapshot)
        if snap.removed is not None:
            return {"success": True}
        ok, why, _ = await self._agent_here(DELETE_VM_SNAPSHOT, {"vm": self.instance_name, "snapshot": snapshot})
        if not ok:
            raise ApiError(f"Failed to delete VM snapshot {snapshot}: {why}", 530)
        async with self.host.engine.begin() as conn:
            # Its children hang from its parent now; if it was current, its parent is.
            await conn.execute(update(T_VMSNAP).where(T_VMSNAP.c.parent_id == snap.id).values(
                parent_id=snap.parent_id))
            if snap.is_current and snap.parent_id is not None:
                await conn.execute(update(T_VMSNAP).where(T_VMSNAP.c.id == snap.parent_id).values(is_current=True))
            await conn.execute(update(T_VMSNAP).where(T_VMSNAP.c.id == snap.id).values(
                state="Expunging", removed=utcnow(), is_current=False, version=T_VMSNAP.c.version + 1))
        return {"success": True}


async def forget_vm_snapshots(conn: AsyncConnection, vm_id: int) -> None:
    """An expunged VM's VM snapshots go with it (CloudStack deletes them all on expunge).
    They live inside its volumes' files, which go too, so no host step is needed; and
    they hold no count (CloudStack checks no resource limit for a VM snapshot, only
    `vmsnapshot.max` per VM) and no pool space of their own."""
    await conn.execute(update(T_VMSNAP).where(T_VMSNAP.c.instance_id == vm_id, T_VMSNAP.c.removed.is_(None)).values(
        state="Expunging", removed=utcnow(), is_current=False, version=T_VMSNAP.c.version + 1))


def _device(asked: int | None, used: set[int]) -> int:
    """CloudStack's device ids: 0 is the ROOT disk, 3 the CD-ROM; data disks take the rest."""
    if asked is not None:
        if asked <= 0 or asked == vw.RESERVED_DEVICE or asked > vw.MAX_DEVICE:
            raise ParamError(f"deviceId {asked} is not allowed: use 1-{vw.MAX_DEVICE} except "
                             f"{vw.RESERVED_DEVICE} (0 is the ROOT disk, 3 the CD-ROM)")
        if asked in used:
            raise ParamError(f"deviceId {asked} is used by another volume of the VM")
        return asked
    for d in range(1, vw.MAX_DEVICE + 1):
        if d != vw.RESERVED_DEVICE and d not in used:
            return d
    raise ParamError(f"The VM has the maximum number of data volumes ({vw.MAX_DEVICE - 1}) attached")
