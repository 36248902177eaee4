"""A detached volume as an entity actor: its birth (createVolume), deletion,
destroy and recovery, and the operations of a volume no VM holds (resize,
migrate, snapshots; the work itself is actors/kinds/volumework.py, shared with
the VM's mailbox, which owns a volume while it is attached).

The VM may attach or detach the volume between two of this entity's
operations, so every operation re-reads the row and refuses (try again) if
the volume is no longer its own.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from sqlalchemy import Table, select

from cloudplane.actors.entity import Entity, operation
from cloudplane.actors.identity import EntityRef
from cloudplane.actors.kinds import volumework as vw
from cloudplane.actors.kinds.templates import DOWNLOAD_SECONDS, SIMULATED_SIZE, Download, plan
from cloudplane.actors.kinds.limits import reservation, volumes_need
from cloudplane.errors import ApiError, ParamError
from cloudplane.store import limits
from cloudplane.store.base import utcnow


class VolumeEntity(Entity):
    kind = "volume"
    table: ClassVar[Table] = vw.T_VOL

    async def _work(self) -> vw.Work:
        return vw.Work(self.host.engine, await vw.pool_rules(self.host.engine))

    async def _mine(self) -> Any:
        """The row as it is now; this entity acts only on a detached volume."""
        async with self.host.engine.connect() as conn:
            vol = await vw.load(conn, self.ref.id)
        if vol.instance_id is not None:
            raise ParamError(f"Volume {self.ref.id} is attached to a VM: detach it first")
        return vol

    @operation(creates=True)
    async def create(self, values: dict[str, Any], vm: list[str | None] | None = None,
                     device_id: int | None = None) -> dict[str, Any]:
        """A DATADISK volume, Allocated (it gets a pool when a VM takes it); with `vm`, attached
        to it (`vm`: its uuid and placement key), or not created at all."""
        if self.unborn:
            now = utcnow()
            upload = {"state": vw.VolState.UPLOAD_OP, "download_state": Download.NOT_DOWNLOADED} \
                if values.get("url") else {}
            await self._born_counted({"version": 1, "created": now, "volume_type": "DATADISK",
                                      "state": vw.VolState.ALLOCATED, "format": "QCOW2", **values, **upload})
        if self.row.get("state") == vw.VolState.UPLOAD_OP:
            await self._drive_upload()
        if vm is not None:
            try:
                await self.host.call_entity(EntityRef("vm", str(vm[0]), vm[1]), "attach_volume", {"volume": self.ref.id, "device_id": device_id})
            except ApiError:
                async with self.host.engine.begin() as conn:  # never half-created
                    await vw.expunge(conn, await vw.load(conn, self.ref.id))
                raise
        return {"id": self.ref.id}

    async def _born_counted(self, values: dict[str, Any]) -> None:
        """Our row, counted against the account's volume and primary storage limits in the
        same transaction (a refusal, 532, inserts nothing)."""
        need = volumes_need(values, [int(values.get("size_bytes") or 0)])
        defaults = await reservation(self.host, values["account_id"], need)
        table, uuid = self.table, self.ref.id

        async def work(conn: Any) -> dict[str, Any]:
            await limits.reserve(conn, values["account_id"], need, defaults)
            await conn.execute(table.insert().values(**values, uuid=uuid))
            return dict((await conn.execute(table.select().where(table.c.uuid == uuid))).mappings().one())

        self.row = await self.host.writer.submit(work)
        self.unborn = False

    @operation()
    async def delete(self) -> dict[str, Any]:
        """deleteVolume: a detached volume goes at once, its pool space given back."""
        async with self.host.engine.connect() as conn:
            vol = await vw.find(conn, self.ref.id)
        if vol is None or vol.removed is not None:
            return {"success": True}
        if vol.instance_id is not None:
            raise ParamError(f"Please specify a volume that is not attached to any VM: volume {self.ref.id} is "
                             "attached; detach it first")
        async with self.host.engine.begin() as conn:
            await vw.expunge(conn, vol)
        return {"success": True}

    @operation()
    async def destroy(self, expunge: bool = False) -> dict[str, Any]:
        """destroyVolume: Destroy (recoverable, its space still held), or gone with `expunge`."""
        vol = await self._mine()
        async with self.host.engine.begin() as conn:
            if expunge:
                await vw.expunge(conn, vol)
            elif vol.state != vw.VolState.DESTROY:
                await vw.write(conn, vol, state=vw.VolState.DESTROY)
                await limits.release(conn, vol.account_id, vw.counted(vol))  # a destroyed volume does not count
        return {"id": self.ref.id}

    @operation()
    async def recover(self) -> dict[str, Any]:
        vol = await self._mine()
        if vol.state != vw.VolState.DESTROY:
            raise ParamError(f"Volume {self.ref.id} is {vol.state}, not Destroy: nothing to recover")
        back = vw.VolState.READY if vol.pool_id is not None else vw.VolState.ALLOCATED
        need = vw.counted(vol)
        defaults = await reservation(self.host, vol.account_id, need)
        async with self.host.engine.begin() as conn:
            await limits.reserve(conn, vol.account_id, need, defaults)
            await vw.write(conn, vol, state=back)
        return {"id": self.ref.id}

    # -- uploadVolume: the simulated transfer (nothing is fetched from the URL) ------------------------
    async def _drive_upload(self) -> None:
        task = self.host.kind_state.setdefault("volume_uploads", {}).get(self.ref.id)
        if task is not None and not task.done():
            return
        try:
            seconds = float(await self.host.config(DOWNLOAD_SECONDS) or 0)
        except ValueError:
            seconds = 2.0
        task = asyncio.create_task(self._upload(int(self.row.get("download_pct") or 0), seconds))
        self.host.kind_state["volume_uploads"][self.ref.id] = task

    async def _upload(self, pct: int, seconds: float) -> None:
        todo, pause = plan(seconds, pct)
        for p in todo:
            await asyncio.sleep(pause)
            if await self.host.run_op(self.ref, "upload_step", {"pct": p}):
                return

    @operation()
    async def upload_step(self, pct: int) -> bool:
        """The transfer reached `pct`; True once it is finished (or the volume is gone)."""
        async with self.host.engine.connect() as conn:
            vol = await vw.find(conn, self.ref.id)
        if vol is None or vol.removed is not None or vol.state != vw.VolState.UPLOAD_OP:
            return True
        pct = min(max(pct, int(vol.download_pct or 0)), 100)
        changes: dict[str, Any] = {"download_pct": pct, "download_state": Download.IN_PROGRESS}
        if pct >= 100:
            # As CloudStack's simulator reports it, unless the disk offering says how big it is.
            changes.update(download_state=Download.DOWNLOADED, state=vw.VolState.UPLOADED,
                           size_bytes=int(vol.size_bytes) or SIMULATED_SIZE)
        async with self.host.engine.begin() as conn:
            await vw.write(conn, vol, **changes)
        return pct >= 100

    @operation()
    async def ensure_upload(self) -> dict[str, Any]:
        async with self.host.engine.connect() as conn:
            vol = await vw.find(conn, self.ref.id)
        if vol is not None and vol.removed is None and vol.state == vw.VolState.UPLOAD_OP:
            self.row = dict(vol._mapping)
            await self._drive_upload()
        return {"id": self.ref.id}

    @classmethod
    async def on_shard_start(cls, core: Any) -> None:
        """Uploads left unfinished by a dead process go on."""
        async with core.engine.connect() as conn:
            uuids = [r[0] for r in (await conn.execute(select(vw.T_VOL.c.uuid).where(
                vw.T_VOL.c.state == vw.VolState.UPLOAD_OP, vw.T_VOL.c.removed.is_(None)))).all()]
        for uuid in uuids:
            ref = EntityRef("volume", uuid)
            if core.owns(ref):
                core.spawn(core.run_op(ref, "ensure_upload", {}))

    @operation(concurrent=True)
    async def extract_volume(self, volume: str, mode: str, url: str) -> dict[str, Any]:
        return await vw.extract(await self._work(), volume, mode, url, await self.host.config(DOWNLOAD_SECONDS))

    # -- the same operations the VM offers for its attached volumes --------------------------------
    @operation()
    async def resize_volume(self, volume: str, size: int, shrink_ok: bool = False, offering_id: int | None = None,
                            min_iops: int | None = None, max_iops: int | None = None) -> dict[str, Any]:
        await self._mine()
        return await vw.resize(await self._work(), volume, size, shrink_ok, offering_id, min_iops, max_iops)

    @operation()
    async def migrate_volume(self, volume: str, pool: str, live: bool = False) -> dict[str, Any]:
        await self._mine()
        return await vw.migrate(await self._work(), volume, pool, live)

    @operation()
    async def snapshot_volume(self, volume: str, snapshot: str, name: str | None = None,
                              interval: str | None = None, keep: int | None = None) -> dict[str, Any]:
        return await vw.take_snapshot(await self._work(), volume, snapshot, name, interval, keep)

    @operation()
    async def delete_snapshot(self, snapshot: str) -> dict[str, Any]:
        return await vw.delete_snapshot(await self._work(), snapshot)

    @operation()
    async def revert_snapshot(self, snapshot: str) -> dict[str, Any]:
        return await vw.revert_snapshot(await self._work(), snapshot, False)

