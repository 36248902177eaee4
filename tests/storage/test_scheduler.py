"""Snapshot policies on schedule: the slot arithmetic in each policy's time
zone (pure), and the scheduler with an injected clock over a real runtime:
one snapshot per slot, a missed stretch made up once, `maxsnaps` kept."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from cloudplane.actors.identity import EntityRef
from cloudplane.actors.kinds.storage import insert_image_store, insert_pool
from cloudplane.store.base import new_uuid
from cloudplane.store.tables.identity import Account
from cloudplane.store.tables.storage import Snapshot, Volume
from cloudplane.supervisors.snapshots import Schedule, SnapshotScheduler
from tests.simulator.fixtures import Site, site

UTC = timezone.utc
VOL, SNAP, A = Volume.__table__, Snapshot.__table__, Account.__table__  # type: ignore[attr-defined]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(("interval", "schedule", "tz", "now", "slot"), [
    ("HOURLY", "15", "UTC", "2026-03-10 10:20", "2026-03-10 10:15"),
    ("HOURLY", "15", "UTC", "2026-03-10 10:10", "2026-03-10 09:15"),
    ("HOURLY", "30", "Asia/Kolkata", "2026-03-10 10:20", "2026-03-10 10:00"),  # +05:30
    ("DAILY", "30:02", "Europe/Paris", "2026-03-10 00:00", "2026-03-09 01:30"),  # 02:30 CET
    ("DAILY", "30:02", "Europe/Paris", "2026-07-10 01:00", "2026-07-10 00:30"),  # 02:30 CEST
    ("WEEKLY", "00:08:1", "UTC", "2026-03-10 12:00", "2026-03-08 08:00"),  # 1 = Sunday; the 10th is a Tuesday
    ("WEEKLY", "00:08:4", "UTC", "2026-03-11 07:00", "2026-03-04 08:00"),  # 4 = Wednesday, the 11th before 08:00
    ("WEEKLY", "00:08:3", "UTC", "2026-03-11 07:00", "2026-03-10 08:00"),  # 3 = Tuesday
    ("MONTHLY", "00:00:31", "UTC", "2026-03-10 00:00", "2026-02-28 00:00"),  # past the month's end: its last day
    ("MONTHLY", "45:23:05", "America/New_York", "2026-01-06 05:00", "2026-01-06 04:45"),  # Jan 5 23:45 EST
    ("MONTHLY", "45:23:05", "America/New_York", "2026-01-06 04:00", "2025-12-06 04:45"),
])
def test_last_slot(interval: str, schedule: str, tz: str, now: str, slot: str) -> None:
    assert Schedule.parse(interval, schedule).last_slot(at(now), tz) == at(slot)


@pytest.mark.parametrize(("interval", "schedule"), [
    ("HOURLY", "60"), ("HOURLY", "10:02"), ("DAILY", "10"), ("DAILY", "10:24"), ("WEEKLY", "0:0:8"),
    ("MONTHLY", "0:0:0"), ("YEARLY", "0"), ("DAILY", "a:b"),
])
def test_bad_schedules_are_refused(interval: str, schedule: str) -> None:
    with pytest.raises(ValueError):
        Schedule.parse(interval, schedule)


async def _ready_volume(s: Site) -> str:
    """A detached volume on a pool (set up directly: the scheduler only needs it Ready)."""
    assert s.rt.engine is not None
    async with s.rt.engine.begin() as conn:
        pool = await insert_pool(conn, {"name": "p1", "zone_id": s.ids["zone"], "pod_id": s.ids["pod"],
                                        "cluster_id": s.ids["cluster"], "pool_type": "NetworkFilesystem"}, [])
        await insert_image_store(conn, {"name": "sec", "zone_id": s.ids["zone"], "url": "nfs://192.0.2.1/sec"})
        acct = (await conn.execute(select(A.c.id, A.c.domain_id).where(A.c.name == "admin"))).one()
    uuid = new_uuid()
    await s.rt.run(EntityRef("volume", uuid), "create", {"values": {
        "name": "data", "account_id": acct.id, "domain_id": acct.domain_id, "zone_id": s.ids["zone"],
        "size_bytes": 2**30}})
    async with s.rt.engine.begin() as conn:
        await conn.execute(update(VOL).where(VOL.c.uuid == uuid).values(pool_id=pool, state="Ready"))
    return uuid


async def _snapshots(s: Site, vol: str) -> tuple[list[Any], list[Any]]:
    """(kept, pruned) snapshots of the volume, oldest first."""
    assert s.rt.engine is not None
    async with s.rt.engine.connect() as conn:
        rows = (await conn.execute(select(SNAP).join(VOL, SNAP.c.volume_id == VOL.c.id).where(
            VOL.c.uuid == vol).order_by(SNAP.c.id))).all()
    return [r for r in rows if r.removed is None], [r for r in rows if r.removed is not None]


@pytest.mark.ray
async def test_policy_fires_on_schedule_and_keeps_maxsnaps(ray_cluster: Any, backend: str, tmp_path: Path) -> None:
    async with site(backend, tmp_path) as s:
        vol = await _ready_volume(s)
        pol = new_uuid()
        async with s.rt.engine.connect() as conn:  # type: ignore[union-attr]
            vol_id = (await conn.execute(select(VOL.c.id).where(VOL.c.uuid == vol))).scalar_one()
        await s.rt.run(EntityRef("snapshot_policy", pol), "create", {"values": {
            "volume_id": vol_id, "interval_type": "HOURLY", "schedule": "30", "timezone": "Asia/Kolkata",
            "max_snaps": 2}})
        # Kolkata's minute 30 is UTC's minute 0: slots on every UTC hour.
        hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        clock = [hour + timedelta(minutes=59)]
        sched = SnapshotScheduler(s.rt, clock=lambda: clock[0])

        async def round_() -> int:
            jobs = await sched.reconcile()
            for j in jobs:
                assert (await s.rt.wait(j, 60)).ok
            return len(jobs)

        assert await round_() == 0  # the current slot is older than the policy
        for step in (timedelta(hours=1), timedelta(minutes=10), timedelta(minutes=50), timedelta(hours=5)):
            clock[0] += step
            await round_()
        kept, pruned = await _snapshots(s, vol)
        # slots at +1h, +2h and +7h (the five missed hours made up once): three taken, the newest two kept
        assert len(kept) + len(pruned) == 3 and len(kept) == 2
        assert all(r.interval_type == "HOURLY" and r.snapshot_type == "HOURLY" for r in kept)
        assert await round_() == 0  # nothing due twice
