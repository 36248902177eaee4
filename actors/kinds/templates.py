"""Templates and ISOs (an ISO is a template whose format is ISO) as entity actors.

A template creates its own row, its per-zone `template_zone` rows, details and
launch permissions, and writes them afterwards. (One other writer: an image
store's entity puts the built-in templates' copies in a zone that gets its
first store, and moves copies when a store goes; actors/kinds/storage.py.)

Downloads are simulated: nothing is ever fetched from a template's URL. A
zone's copy goes NOT_DOWNLOADED → DOWNLOAD_IN_PROGRESS (with a growing
`download_pct`) → DOWNLOADED over a configured number of seconds. A driver task
per zone advances it, one `download_step` operation (a versioned write,
through the mailbox) at a time; each step re-reads the row, so a duplicate or
late step does no harm. The rows are the truth: a restarted shard finds the
unfinished copies in the store and drives them on (`on_shard_start`).
"""

from __future__ import annotations

import asyncio
import logging
import math
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import Table, and_, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.actors.entity import Entity, operation
from cloudplane.actors.identity import EntityRef
from cloudplane.actors.kinds.limits import reservation, template_need
from cloudplane.actors.kinds.offerings import write_details
from cloudplane.errors import InternalError, ParamError, StaleVersion
from cloudplane.store import limits
from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.tables.images import ISO_FORMAT, Template, TemplateZone
from cloudplane.store.tables.infra import Zone
from cloudplane.store.tables.storage import ImageStore
from cloudplane.store.tables.tags import ResourceDetail

log = logging.getLogger(__name__)

T_TEMPLATE: Table = Template.__table__  # type: ignore[attr-defined]
T_TZ: Table = TemplateZone.__table__  # type: ignore[attr-defined]
T_ZONE: Table = Zone.__table__  # type: ignore[attr-defined]
T_STORE: Table = ImageStore.__table__  # type: ignore[attr-defined]
T_DETAIL: Table = ResourceDetail.__table__  # type: ignore[attr-defined]

DOWNLOAD_SECONDS = "simulator.template.download.seconds"
SIMULATED_SIZE = 5 * 2**20  # what CloudStack's simulator reports for every download
STEP_S = 0.25  # a download moves at most this often
MAX_SECONDS = 86400.0
LAUNCH = "LaunchPermission"  # resource_detail rows: resource_id = template id, name = account id


class Download(StrEnum):
    """CloudStack's VMTemplateStorageResourceAssoc.Status, as template_zone stores it."""

    NOT_DOWNLOADED = "NOT_DOWNLOADED"
    IN_PROGRESS = "DOWNLOAD_IN_PROGRESS"
    DOWNLOADED = "DOWNLOADED"
    ERROR = "DOWNLOAD_ERROR"
    ABANDONED = "ABANDONED"


UNFINISHED = (Download.NOT_DOWNLOADED, Download.IN_PROGRESS)


def template_ref(uuid: str) -> EntityRef:
    return EntityRef("template", uuid)


def detail_type(fmt: str) -> str:
    return "ISO" if fmt == ISO_FORMAT else "Template"


def clamp_seconds(seconds: float) -> float:
    """A download takes between 0 s and a day (a setting of `inf` must not break the clock)."""
    return min(max(seconds, 0.0), MAX_SECONDS) if seconds == seconds else 0.0


def plan(seconds: float, pct: int) -> tuple[list[int], float]:
    """The percentages still to reach from `pct` over `seconds`, and the pause between steps."""
    seconds = clamp_seconds(seconds)
    steps = max(1, min(40, math.ceil(seconds / STEP_S)))
    todo = [round(100 * i / steps) for i in range(1, steps + 1)]
    return [p for p in todo if p > pct] or [100], seconds / steps


def install_path(template_id: int, account_id: int, fmt: str) -> str:
    return f"template/tmpl/{account_id}/{template_id}/{new_uuid()}.{fmt.lower()}"


async def _zone_row(conn: AsyncConnection, template_id: int, zone_id: int) -> Any:
    return (await conn.execute(select(T_TZ).where(T_TZ.c.template_id == template_id,
                                                  T_TZ.c.zone_id == zone_id))).first()


async def _store_of(conn: AsyncConnection, zone_id: int) -> int | None:
    return (await conn.execute(select(T_STORE.c.id).where(
        T_STORE.c.zone_id == zone_id, T_STORE.c.removed.is_(None), T_STORE.c.role == "Image")
        .order_by(T_STORE.c.id).limit(1))).scalar()


async def place(conn: AsyncConnection, row: dict[str, Any], zone_id: int, ready: bool, size: int | None) -> bool:
    """Put the template in a zone: a new template_zone row, or a removed one revived.
    Returns False when a live copy is there already."""
    found = await _zone_row(conn, row["id"], zone_id)
    if found is not None and found.removed is None:
        return False
    state = {"download_state": Download.DOWNLOADED if ready else Download.NOT_DOWNLOADED,
             "download_pct": 100 if ready else 0, "error_text": None, "size_bytes": size if ready else None,
             "physical_size_bytes": size if ready else None, "image_store_id": await _store_of(conn, zone_id),
             "install_path": install_path(row["id"], row["account_id"], row["format"]) if ready else None}
    if found is None:
        await conn.execute(insert(T_TZ).values(uuid=new_uuid(), version=1, created=utcnow(), template_id=row["id"],
                                               zone_id=zone_id, **state))
    else:
        await conn.execute(update(T_TZ).where(T_TZ.c.id == found.id, T_TZ.c.version == found.version).values(
            **state, removed=None, created=utcnow(), version=found.version + 1))
    return True


class TemplateEntity(Entity):
    kind = "template"
    table: ClassVar[Table] = T_TEMPLATE

    __slots__ = ("drivers",)
    drivers: dict[int, asyncio.Task[None]]  # zone id -> the task advancing that zone's copy

    def on_activate(self) -> None:
        self._drivers()  # running drivers survive a reload from the store

    def on_passivate(self) -> None:
        for task in self._drivers().values():
            task.cancel()
        self.drivers = {}

    def _drivers(self) -> dict[int, asyncio.Task[None]]:
        try:
            return self.drivers
        except AttributeError:
            self.drivers = {}
            return self.drivers

    def _summary(self) -> dict[str, Any]:
        return {"id": self.ref.id}

    def _require_live(self) -> None:
        if self.row.get("removed") is not None:
            raise ParamError(f"Unable to find template with id {self.ref.id}: it has been removed")

    # -- creation ----------------------------------------------------------------------------
    @operation(creates=True)
    async def create(self, values: dict[str, Any], zones: list[int], details: dict[str, str],
                     seconds: float = 2.0, ready: bool = False, size: int | None = None) -> dict[str, Any]:
        """The template with its zone copies and details, in one transaction. `ready`: the copies
        exist already (a template made from a volume or snapshot), else they download."""
        if self.unborn:
            table, uuid, kind = self.table, self.ref.id, detail_type(values["format"])
            need = template_need(values)
            defaults = await reservation(self.host, values["account_id"], need)

            async def work(conn: AsyncConnection) -> dict[str, Any]:
                await limits.reserve(conn, values["account_id"], need, defaults)  # 532 before any write
                key = (await conn.execute(insert(table).values(**values, uuid=uuid, version=1,
                                                               created=utcnow()))).inserted_primary_key
                assert key is not None
                row_id = int(key[0])
                row = dict((await conn.execute(select(table).where(table.c.id == row_id))).mappings().one())
                for z in zones:
                    await place(conn, row, z, ready, size)
                await write_details(conn, kind, row_id, dict(details))
                return row

            self.row = await self.host.writer.submit(work)
            self.unborn = False
        await self._drive_unfinished(seconds)  # also what a resumed job needs
        return self._summary()

    # -- the simulated download -------------------------------------------------------------------
    async def _unfinished(self) -> list[tuple[int, int]]:
        async with self.host.engine.connect() as conn:
            return [(r.zone_id, r.download_pct) for r in (await conn.execute(
                select(T_TZ.c.zone_id, T_TZ.c.download_pct).where(
                    T_TZ.c.template_id == self.row["id"], T_TZ.c.removed.is_(None),
                    T_TZ.c.download_state.in_(UNFINISHED)))).all()]

    async def _drive_unfinished(self, seconds: float | None = None) -> list[int]:
        if self.row.get("removed") is not None:
            return []
        if seconds is None:
            try:
                seconds = float(await self.host.config(DOWNLOAD_SECONDS) or 0)
            except ValueError:  # updateConfiguration checks it; a hand-edited row falls back to the default
                seconds = 2.0
        todo = await self._unfinished()
        drivers = self._drivers()
        for zone_id, pct in todo:
            if zone_id not in drivers or drivers[zone_id].done():
                task = asyncio.create_task(self._drive(zone_id, pct, clamp_seconds(seconds)))
                task.add_done_callback(self._driver_done)
                drivers[zone_id] = task
        return [z for z, _ in todo]

    def _driver_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            # The row stays unfinished; the next ensure_download (or shard start) drives it again.
            log.warning("template %s: a download driver stopped: %r", self.ref.id, task.exception())

    async def _drive(self, zone_id: int, pct: int, seconds: float) -> None:
        todo, pause = plan(seconds, pct)
        for p in todo:
            await asyncio.sleep(pause)
            if await self.host.run_op(self.ref, "download_step", {"zone_id": zone_id, "pct": p}):
                return

    @operation()
    async def download_step(self, zone_id: int, pct: int) -> bool:
        """Advance one zone's copy to at least `pct`; True once it is finished (or gone)."""
        async with self.host.engine.connect() as conn:
            tz = await _zone_row(conn, self.row["id"], zone_id)
        if tz is None or tz.removed is not None or tz.download_state not in UNFINISHED \
                or self.row.get("removed") is not None:
            return True
        pct = max(pct, tz.download_pct)
        done = pct >= 100
        changes: dict[str, Any] = {"download_state": Download.DOWNLOADED if done else Download.IN_PROGRESS,
                                   "download_pct": min(pct, 100)}
        if done:
            changes.update(size_bytes=SIMULATED_SIZE, physical_size_bytes=SIMULATED_SIZE,
                           install_path=install_path(self.row["id"], self.row["account_id"], self.row["format"]))
        template_changes = {"size_bytes": SIMULATED_SIZE} if done and not self.row.get("size_bytes") else {}
        await self._commit(template_changes, tz_updates=[(tz.id, tz.version, changes)])
        return done

    @operation()
    async def ensure_download(self, seconds: float | None = None) -> dict[str, Any]:
        """Drive every unfinished copy (after a restart, or for a resumed copy job)."""
        return {"zones": await self._drive_unfinished(seconds)}

    @classmethod
    async def on_shard_start(cls, core: Any) -> None:
        """Copies left unfinished by a dead process: their templates drive them on."""
        async with core.engine.connect() as conn:
            uuids = [r[0] for r in (await conn.execute(
                select(T_TEMPLATE.c.uuid).distinct().join(T_TZ, T_TZ.c.template_id == T_TEMPLATE.c.id).where(
                    T_TEMPLATE.c.removed.is_(None), T_TZ.c.removed.is_(None),
                    T_TZ.c.download_state.in_(UNFINISHED)))).all()]
        for uuid in uuids:
            ref = template_ref(uuid)
            if core.owns(ref):
                core.spawn(core.run_op(ref, "ensure_download", {}))

    # -- zones --------------------------------------------------------------------------------------
    @operation()
    async def add_zones(self, zones: list[int], seconds: float = 2.0) -> dict[str, Any]:
        """Copy the template to more zones (copyTemplate): a zone that has it already is skipped."""
        self._require_live()
        row = self.row

        async def work(conn: AsyncConnection) -> list[int]:
            return [z for z in zones if await place(conn, row, z, False, None)]

        added = await self.host.writer.submit(work)
        await self._drive_unfinished(seconds)
        return {"added": added}

    @operation(concurrent=True)
    async def copy(self, zones: list[int], seconds: float = 2.0) -> dict[str, Any]:
        """add_zones, then wait (beside the mailbox, which the download steps need) until the
        copies are finished. A resumed job finds the rows there and only waits."""
        await self.host.run_op(self.ref, "add_zones", {"zones": zones, "seconds": seconds})
        drivers = self._drivers()
        waiting = [drivers[z] for z in zones if z in drivers]
        await asyncio.gather(*waiting, return_exceptions=True)
        async with self.host.engine.connect() as conn:
            states = {r.zone_id: r.download_state for r in (await conn.execute(
                select(T_TZ.c.zone_id, T_TZ.c.download_state).where(
                    T_TZ.c.template_id == self.row["id"], T_TZ.c.zone_id.in_(zones),
                    T_TZ.c.removed.is_(None)))).all()}
        failed = [z for z in zones if states.get(z) != Download.DOWNLOADED]
        if failed:
            raise InternalError(f"Failed to copy template {self.ref.id} to zone(s) {failed}: the copy did not "
                                "finish (the template was deleted or the copy was interrupted)")
        return {"id": self.ref.id, "zones": zones}

    @operation(concurrent=True)
    async def extract(self, id: str, zone_id: int, url: str, mode: str) -> dict[str, Any]:  # noqa: A002
        """A simulated extract: the URL the API chose, once the copy in the zone is there."""
        self._require_live()
        async with self.host.engine.connect() as conn:
            tz = await _zone_row(conn, self.row["id"], zone_id)
        if tz is None or tz.removed is not None or tz.download_state != Download.DOWNLOADED:
            raise ParamError(f"The template {self.ref.id} has not been downloaded in zone {zone_id}")
        return {"id": self.ref.id, "zone_id": zone_id, "url": url, "mode": mode}

    # -- changes ---------------------------------------------------------------------------------------
    async def _commit(self, changes: dict[str, Any], *,
                      tz_updates: list[tuple[int, int, dict[str, Any]]] | None = None, extra: Any = None) -> None:
        """Our row (versioned), template_zone rows (versioned) and `extra` writes in one transaction;
        every version is checked before anything is written."""
        table, row_id, expected = self.table, self.row["id"], self.version

        async def work(conn: AsyncConnection) -> int:
            version = expected
            if changes or not tz_updates:
                res = await conn.execute(update(table).where(table.c.id == row_id, table.c.version == expected)
                                         .values(**changes, version=expected + 1))
                if res.rowcount != 1:
                    raise StaleVersion(table.name, row_id, expected)
                version = expected + 1
            for tz_id, tz_version, tz_changes in tz_updates or []:
                res = await conn.execute(update(T_TZ).where(T_TZ.c.id == tz_id, T_TZ.c.version == tz_version)
                                         .values(**tz_changes, version=tz_version + 1))
                if res.rowcount != 1:
                    raise StaleVersion(T_TZ.name, tz_id, tz_version)
            if extra is not None:
                await extra(conn)
            return version

        version = await self.host.writer.submit(work)
        self.row.update(changes)
        self.row["version"] = version

    @operation()
    async def update(self, changes: dict[str, Any], details: dict[str, str] | None = None,
                     cleanup_details: bool = False) -> dict[str, Any]:
        self._require_live()
        row_id, kind = self.row["id"], detail_type(changes.get("format", self.row["format"]))

        async def extra(conn: AsyncConnection) -> None:
            if cleanup_details:
                await conn.execute(delete(T_DETAIL).where(T_DETAIL.c.resource_type == kind,
                                                          T_DETAIL.c.resource_id == row_id))
            elif details:
                await write_details(conn, kind, row_id, dict(details))

        await self._commit(changes, extra=extra)
        return self._summary()

    @operation()
    async def permissions(self, changes: dict[str, Any], add: list[int] | None = None,
                          remove: list[int] | None = None, reset: bool = False) -> dict[str, Any]:
        """updateTemplatePermissions: flags, and launch permissions per account."""
        self._require_live()
        row_id = self.row["id"]
        if reset:
            changes = {**changes, "is_public": False, "is_featured": False}

        async def extra(conn: AsyncConnection) -> None:
            mine = and_(T_DETAIL.c.resource_type == LAUNCH, T_DETAIL.c.resource_id == row_id)
            if reset:
                await conn.execute(delete(T_DETAIL).where(mine))
            if remove:
                await conn.execute(delete(T_DETAIL).where(mine, T_DETAIL.c.name.in_([str(a) for a in remove])))
            if add:
                have = set((await conn.execute(select(T_DETAIL.c.name).where(mine))).scalars())
                for a in dict.fromkeys(add):
                    if str(a) not in have:
                        await conn.execute(insert(T_DETAIL).values(resource_type=LAUNCH, resource_id=row_id,
                                                                   name=str(a), value=None, display=False))

        await self._commit(changes, extra=extra)
        return self._summary()

    @operation()
    async def delete(self, zone_id: int | None = None) -> dict[str, Any]:
        """Remove the template from one zone, or from all; without a zone left it is removed."""
        if self.row.get("removed") is not None:
            return {"success": True}
        row_id, now = self.row["id"], utcnow()
        async with self.host.engine.connect() as conn:
            live = [r.zone_id for r in (await conn.execute(select(T_TZ.c.zone_id).where(
                T_TZ.c.template_id == row_id, T_TZ.c.removed.is_(None)))).all()]
        gone = [zone_id] if zone_id is not None else live
        last = not (set(live) - set(gone))

        async def extra(conn: AsyncConnection) -> None:
            await conn.execute(update(T_TZ).where(T_TZ.c.template_id == row_id, T_TZ.c.zone_id.in_(gone),
                                                  T_TZ.c.removed.is_(None))
                               .values(removed=now, download_state=Download.ABANDONED, version=T_TZ.c.version + 1))
            if last:
                await limits.release(conn, self.row["account_id"], template_need(self.row))

        await self._commit({"state": "Inactive", "removed": now} if last else {}, extra=extra)
        drivers = self._drivers()
        for z in gone:
            task = drivers.pop(z, None)
            if task is not None:
                task.cancel()
        return {"success": True}
