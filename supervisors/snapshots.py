"""Recurring snapshots: the management server runs snapshot policies,
level-triggered. Every `snapshot.poll.interval` seconds the scheduler works
out, for each active policy, the latest moment its schedule named (in the
policy's time zone) and, if the volume has no snapshot of that interval since
then, submits one (an ordinary job through the volume's owning mailbox, which
takes it once per slot and keeps the newest `maxsnaps`). A missed slot (the
server was down) is made up once, not once per missed slot; several
management nodes may run this at once. The clock is injectable for tests.

Schedules are CloudStack's: HOURLY "MM", DAILY "MM:HH", WEEKLY "MM:HH:D"
(1 = Sunday … 7 = Saturday), MONTHLY "MM:HH:DD" (a day past the month's end
means its last day).
"""

from __future__ import annotations

import calendar
import logging
import uuid as _uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from cloudplane.actors.identity import EntityRef
from cloudplane.actors.runtime import Runtime
from cloudplane.store.base import utcnow
from cloudplane.supervisors.reconciler import Reconciler
from cloudplane.store.tables.compute import VmInstance
from cloudplane.store.tables.storage import Snapshot, SnapshotPolicy, Volume

log = logging.getLogger(__name__)
POL, VOL, SNAP = SnapshotPolicy.__table__, Volume.__table__, Snapshot.__table__  # type: ignore[attr-defined]
VM = VmInstance.__table__  # type: ignore[attr-defined]
INTERVALS = ("HOURLY", "DAILY", "WEEKLY", "MONTHLY")
NS = _uuid.UUID("5e1f0a2c-7d43-4b8e-a1c6-3f9d2e8b7a10")  # a scheduled snapshot's id: policy and slot


@dataclass(frozen=True)
class Schedule:
    interval: str
    minute: int
    hour: int = 0
    day: int = 1

    @classmethod
    def parse(cls, interval: str, text: str) -> Schedule:
        """CloudStack's forms, checked; ValueError says what is wrong."""
        interval = interval.upper()
        if interval not in INTERVALS:
            raise ValueError(f"intervaltype must be one of {list(INTERVALS)}")
        parts = text.split(":")
        want = {"HOURLY": 1, "DAILY": 2, "WEEKLY": 3, "MONTHLY": 3}[interval]
        if len(parts) != want or not all(p.strip().isdigit() for p in parts):
            form = {"HOURLY": "MM", "DAILY": "MM:HH", "WEEKLY": "MM:HH:DD", "MONTHLY": "MM:HH:DD"}[interval]
            raise ValueError(f"schedule of a {interval} policy must be {form}, not {text!r}")
        nums = [int(p) for p in parts] + [0, 1][len(parts) - 1:]
        s = cls(interval, nums[0], nums[1] if len(nums) > 1 else 0, nums[2] if len(nums) > 2 else 1)
        top_day = 7 if interval == "WEEKLY" else 31
        if not (0 <= s.minute < 60 and 0 <= s.hour < 24 and 1 <= s.day <= top_day):
            raise ValueError(f"schedule {text!r} is out of range (minute 0-59, hour 0-23, day 1-{top_day})")
        return s

    def last_slot(self, now: datetime, tz: str) -> datetime:
        """The latest scheduled moment at or before `now` (aware), in UTC."""
        zone = zone_of(tz)
        local = now.astimezone(zone)
        at = local.replace(minute=self.minute, second=0, microsecond=0)
        if self.interval == "HOURLY":
            if at > local:
                at -= timedelta(hours=1)
        elif self.interval == "DAILY":
            at = at.replace(hour=self.hour)
            if at > local:
                at -= timedelta(days=1)
        elif self.interval == "WEEKLY":
            weekday = (self.day + 5) % 7  # CloudStack's 1 = Sunday; Python's 0 = Monday
            at = at.replace(hour=self.hour) - timedelta(days=(local.weekday() - weekday) % 7)
            if at > local:
                at -= timedelta(days=7)
        else:
            at = self._in_month(local.year, local.month, zone)
            if at > local:
                y, m = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
                at = self._in_month(y, m, zone)
        return at.astimezone(timezone.utc)

    def _in_month(self, year: int, month: int, zone: ZoneInfo) -> datetime:
        day = min(self.day, calendar.monthrange(year, month)[1])
        return datetime(year, month, day, self.hour, self.minute, tzinfo=zone)


def zone_of(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"Unknown time zone {tz!r}") from None


def snapshot_id(policy_uuid: str, slot: datetime) -> str:
    return str(_uuid.uuid5(NS, f"{policy_uuid}:{slot.isoformat()}"))


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)


class SnapshotScheduler(Reconciler):
    what = "snapshot scheduling round"

    def __init__(self, runtime: Runtime, *, clock: Callable[[], datetime] = utcnow,
                 max_sleep_s: float = 30.0) -> None:
        super().__init__(runtime, max_sleep_s)  # the interval is re-read at least this often
        self.clock = clock
        self.submitted = 0

    async def round(self) -> None:
        await self.reconcile()

    async def pause(self) -> float:
        return max(0.5, min(await self.setting("snapshot.poll.interval", 300.0), self.interval_s))

    async def reconcile(self) -> list[str]:
        """One round: a snapshot job for each policy whose last slot has no snapshot yet (a
        scheduled snapshot's id is its policy's and slot's, so "taken" is a lookup). The jobs' ids."""
        engine = self.runtime.engine
        assert engine is not None
        now = self.clock()
        async with engine.connect() as conn:
            rows = (await conn.execute(
                select(POL.c.uuid, POL.c.interval_type, POL.c.schedule, POL.c.timezone, POL.c.max_snaps,
                       POL.c.created, VOL.c.uuid.label("vol_uuid"), VM.c.uuid.label("vm_uuid"), VM.c.placement_key)
                .select_from(POL.join(VOL, POL.c.volume_id == VOL.c.id).outerjoin(VM, VOL.c.instance_id == VM.c.id))
                .where(POL.c.removed.is_(None), POL.c.active.is_(True), VOL.c.removed.is_(None),
                       VOL.c.state == "Ready"))).all()
            due: list[tuple[Any, datetime, str]] = []
            for r in rows:
                try:
                    slot = Schedule.parse(r.interval_type, r.schedule).last_slot(now, r.timezone)
                except ValueError as e:
                    log.warning("snapshot policy %s: %s", r.uuid, e)
                    continue
                if slot >= _aware(r.created):
                    due.append((r, slot, snapshot_id(r.uuid, slot)))
            taken = {u for (u,) in (await conn.execute(select(SNAP.c.uuid).where(
                SNAP.c.uuid.in_([d[2] for d in due])))).all()} if due else set()
        jobs: list[str] = []
        for r, slot, sid in due:
            if sid in taken:
                continue
            ref = EntityRef("vm", r.vm_uuid, r.placement_key) if r.vm_uuid else EntityRef("volume", r.vol_uuid)
            jobs.append(await self.runtime.submit(ref, "snapshot_volume", {
                "volume": r.vol_uuid, "snapshot": sid, "interval": r.interval_type,
                "keep": r.max_snaps}, cmd="createSnapshot", instance_type="Snapshot"))
            log.info("snapshot policy %s: %s snapshot of volume %s due at %s", r.uuid, r.interval_type, r.vol_uuid,
                     slot.isoformat())
        self.submitted += len(jobs)
        return jobs
