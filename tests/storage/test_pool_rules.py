"""`storage.overprovisioning.factor` per storage pool and
`pool.storage.capacity.disablethreshold` per zone (CloudStack's scopes for them):
the pure rules, the planner's pool view, and through a live server a volume
migration, a resize and a placing createVolume refused with 533 by a pool's or
a zone's value, with nothing changed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import cs
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from cloudplane.store.poolrules import FACTOR, THRESHOLD, PoolRules, rules_from
from cloudplane.supervisors.placement import PlacementRequest, PoolView, Snapshot, plan
from cloudplane.supervisors.placement.snapshot import load_snapshot
from tests.storage.conftest import GiB, custom_offering, deploy, pools_match_volumes, rows
from tests.vms.conftest import Cloud, api_error, unique
from tests.vms.zoo import Zoo

TINY = "0.000001"


def _row(name: str, scope: str, scope_id: int, value: str) -> Any:
    return SimpleNamespace(name=name, scope=scope, scope_id=scope_id, value=value)


def test_each_setting_at_its_scope() -> None:
    rules = rules_from([_row(FACTOR, "global", 0, "3"), _row(FACTOR, "storagepool", 7, "0.5"),
                        _row(THRESHOLD, "zone", 2, "0.5"), _row(THRESHOLD, "cluster", 2, "0.1"),
                        _row(FACTOR, "zone", 2, "9")])  # scopes CloudStack has not for them: ignored
    assert rules.ratio(7, 2) == 0.25 and rules.ratio(8, 2) == 1.5
    assert rules.ratio(7, 1) == pytest.approx(0.5 * 0.85) and rules.ratio(8, 1) == pytest.approx(3 * 0.85)
    assert PoolRules().ratio(1, 1) == pytest.approx(2 * 0.85)  # the settings' defaults


def test_the_planner_keeps_to_each_pools_ratio() -> None:
    z = Zoo()
    z.cluster(1)
    z.cluster(1)
    z.pools = [PoolView(1, "p1", 1, frozenset(), 100 * GiB, 0.1), PoolView(2, "p2", 2, frozenset(), 100 * GiB, 1.7)]
    req = PlacementRequest(zone_id=1, cpu_mhz=1000, mem_bytes=GiB, vm="v1", needs_storage=20 * GiB)
    d = plan(z.snapshot(), req)
    assert {h.cluster_id for h in d.hosts} == {2}  # pool 1 has 10 GiB of room
    z.pools[1] = replace(z.pools[1], ratio=0.15)
    d = plan(z.snapshot(), req)
    assert d.hosts == [] and "has 20.0 GiB left" in d.trace.summary()


async def _snapshot(server: Any, zone_uuid: str) -> Snapshot:
    engine = create_async_engine(server.db_url)
    try:
        async with engine.connect() as conn:
            zone_id = int(rows(server, "SELECT id FROM zone WHERE uuid = ?", zone_uuid)[0][0])
            return await load_snapshot(conn, zone_id)
    finally:
        await engine.dispose()


def _pool_id(server: Any, uuid: str) -> int:
    return int(rows(server, "SELECT id FROM storage_pool WHERE uuid = ?", uuid)[0][0])


@pytest.fixture
def scoped(root: cs.CloudStack) -> Iterator[list[dict[str, str]]]:
    """Scoped values a test sets, put back to the global value afterwards (the zone is shared)."""
    done: list[dict[str, str]] = []
    yield done
    for args in done:
        glob = root.listConfigurations(name=args["name"])["configuration"][0]["value"]
        root.updateConfiguration(**{**args, "value": glob})


@pytest.mark.ray
def test_a_pools_factor_and_a_zones_threshold(live_server: Any, root: cs.CloudStack, cloud: Cloud,
                                              scoped: list[dict[str, str]]) -> None:
    vm = deploy(root, cloud)
    vol = root.createVolume(name=unique("rules"), zoneid=cloud.zone, diskofferingid=custom_offering(root), size=1,
                            virtualmachineid=vm["id"])["volume"]
    root.detachVolume(id=vol["id"])
    here = vol["storageid"]
    there = next(p for p in cloud.pools if p != here)

    # The pool's own factor: no room on `there`, the volume stays where it is.
    scoped.append({"name": FACTOR, "storageid": there})
    root.updateConfiguration(name=FACTOR, value=TINY, storageid=there)
    snap = asyncio.run(_snapshot(live_server, cloud.zone))
    assert snap.pools[_pool_id(live_server, there)].ratio == pytest.approx(float(TINY) * 0.85)
    assert snap.pools[_pool_id(live_server, here)].ratio == pytest.approx(2 * 0.85)
    err = api_error(root.migrateVolume, volumeid=vol["id"], storageid=there)
    assert err["errorcode"] == 533 and "no room" in err["errortext"], err
    assert root.listVolumes(id=vol["id"])["volume"][0]["storageid"] == here
    pools_match_volumes(live_server)
    root.updateConfiguration(name=FACTOR, value="2", storageid=there)
    assert root.migrateVolume(volumeid=vol["id"], storageid=there)["volume"]["storageid"] == there

    # The zone's threshold: no growth, no new placed volume, on any of its pools.
    scoped.append({"name": THRESHOLD, "zoneid": cloud.zone})
    root.updateConfiguration(name=THRESHOLD, value=TINY, zoneid=cloud.zone)
    snap = asyncio.run(_snapshot(live_server, cloud.zone))
    assert all(p.ratio == pytest.approx(2 * float(TINY)) for p in snap.pools.values())
    req = PlacementRequest(zone_id=snap.zone_id, cpu_mhz=100, mem_bytes=GiB, vm="v", needs_storage=GiB)
    d = plan(snap, req)  # the deploy path's planner sees it too
    assert d.hosts == [] and "GiB left" in d.trace.summary()
    err = api_error(root.resizeVolume, id=vol["id"], size=2)
    assert err["errorcode"] == 533, err
    assert root.listVolumes(id=vol["id"])["volume"][0]["size"] == GiB
    live = "SELECT count(*) FROM volume WHERE removed IS NULL"
    before = rows(live_server, live)[0][0]
    err = api_error(root.createVolume, name=unique("rules"), zoneid=cloud.zone, diskofferingid=custom_offering(root),
                    size=1, virtualmachineid=vm["id"])
    assert err["errorcode"] == 533, err
    assert rows(live_server, live)[0][0] == before  # not half-created
    pools_match_volumes(live_server)
    root.updateConfiguration(name=THRESHOLD, value="0.85", zoneid=cloud.zone)
    root.resizeVolume(id=vol["id"], size=2)
    pools_match_volumes(live_server)
