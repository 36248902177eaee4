"""Issue 6's race through the API: 500 concurrent createVolume calls of one account
against its volume limit of 300: exactly 300 volumes, 200 jobs failed with 532,
and the account's count equal to its volume rows."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import cs
import pytest

from tests.vms.conftest import Cloud, Tenant, unique

pytestmark = pytest.mark.ray
CALLS, LIMIT = 500, 300
VOLUME, PRIMARY = 2, 10  # CloudStack's resource type numbers


def _one(row: Any) -> Any:
    return row[0] if row else None


def test_five_hundred_volume_creates_against_a_limit_of_three_hundred(
        live_server: Any, root: cs.CloudStack, cloud: Cloud, tenant: Callable[[], Tenant]) -> None:
    t = tenant()
    acct = t.account
    root.updateResourceLimit(account=acct["name"], domainid=acct["domainid"], resourcetype=VOLUME, max=LIMIT)
    # Volumes also count as primary storage (200 GiB by default): only the volume limit is raced.
    root.updateResourceLimit(account=acct["name"], domainid=acct["domainid"], resourcetype=PRIMARY, max=-1)
    offering = next(o["id"] for o in root.listDiskOfferings()["diskoffering"] if not o.get("iscustomized"))

    def create(i: int) -> str:
        r = t.api.createVolume(fetch_result=False, name=unique(f"race{i}"), zoneid=cloud.zone,
                               diskofferingid=offering)
        return str(r["jobid"])

    with ThreadPoolExecutor(10) as pool:  # (the client keeps 10 connections) accepted at once, the jobs race
        jobs = list(pool.map(create, range(CALLS)))
    results: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 300
    while len(results) < CALLS and time.monotonic() < deadline:
        for j in [j for j in jobs if j not in results]:
            q = t.api.queryAsyncJobResult(jobid=j, fetch_result=False)
            if int(q["jobstatus"]) != 0:
                results[j] = q
        time.sleep(0.2)
    assert len(results) == CALLS, f"{CALLS - len(results)} jobs still pending"

    ok = [q for q in results.values() if int(q["jobstatus"]) == 1]
    failed = [q for q in results.values() if int(q["jobstatus"]) == 2]
    assert len(ok) == LIMIT, (len(ok), [q["jobresult"] for q in failed][:2])
    assert {int(q["jobresult"]["errorcode"]) for q in failed} == {532}

    listed = t.api.listVolumes(type="DATADISK", pagesize=CALLS)
    assert int(listed.get("count", 0)) == LIMIT
    db = sqlite3.connect(live_server.db_url.split("///", 1)[1], timeout=30)
    try:
        acct_id = _one(db.execute("SELECT id FROM account WHERE uuid = ?", (acct["id"],)).fetchone())
        rows = _one(db.execute("SELECT COUNT(*) FROM volume WHERE account_id = ? AND removed IS NULL",
                               (acct_id,)).fetchone())
        counted = _one(db.execute("SELECT used FROM resource_count WHERE owner_type = 'account' AND owner_id = ? "
                                  "AND resource_type = 'volume'", (acct_id,)).fetchone())
    finally:
        db.close()
    assert rows == LIMIT and counted == LIMIT, (rows, counted)
    assert int(root.listResourceLimits(account=acct["name"], domainid=acct["domainid"],
                                       resourcetype=VOLUME)["resourcelimit"][0]["max"]) == LIMIT
