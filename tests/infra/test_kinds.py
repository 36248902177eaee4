"""The infrastructure entity kinds through the runtime, on SQLite and MariaDB:
a zone builds its tree, a resumed create does nothing twice, and a refused
operation leaves no row behind."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from cloudplane.actors.identity import EntityRef
from cloudplane.actors.kinds.infra import cluster_ref, pod_ref, zone_ref
from cloudplane.actors.kinds.vlan import PUBLIC, RangeSpec
from cloudplane.actors.runtime import Runtime
from cloudplane.errors import ApiError
from cloudplane.settings import Settings
from cloudplane.store.base import new_uuid
from cloudplane.store.engine import make_engine
from cloudplane.store.migrate import upgrade
from cloudplane.store.seed import seed
from cloudplane.store.tables.capacity import Capacity
from cloudplane.store.tables.images import TemplateZone
from cloudplane.store.tables.infra import Pod, Zone
from cloudplane.store.tables.network import IpAddress, NetworkServiceProvider, PhysicalNetwork, VlanIpRange
from cloudplane.store.tables.storage import StoragePool
from tests.dbs import fresh_database

pytestmark = pytest.mark.ray
Z, P, SP, CAP = Zone.__table__, Pod.__table__, StoragePool.__table__, Capacity.__table__  # type: ignore[attr-defined]
PN, NSP = PhysicalNetwork.__table__, NetworkServiceProvider.__table__  # type: ignore[attr-defined]
V, IP = VlanIpRange.__table__, IpAddress.__table__  # type: ignore[attr-defined]
TZ = TemplateZone.__table__  # type: ignore[attr-defined]


@asynccontextmanager
async def runtime(backend: str, tmp: Path) -> AsyncIterator[Runtime]:
    async with fresh_database(backend, tmp) as url:
        await upgrade(url)
        engine = make_engine(url)
        await seed(engine, admin_password_hash="x")
        await engine.dispose()
        rt = Runtime(Settings(db_url=url, shards=2), namespace=f"t-infra-{time.monotonic_ns()}")
        await rt.start()
        try:
            yield rt
        finally:
            await rt.stop()


async def count(rt: Runtime, table: Any, *where: Any) -> int:
    assert rt.engine is not None
    async with rt.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one())


ZONE = {"name": "z1", "network_type": "Advanced", "dns1": "10.147.28.6", "internal_dns1": "10.147.28.6",
        "guest_cidr": "10.1.1.0/24", "allocation_state": "Disabled", "zone_token": "t"}
POD = {"name": "p1", "gateway": "172.16.15.1", "netmask": "255.255.255.0", "start_ip": "172.16.15.2",
       "end_ip": "172.16.15.200", "allocation_state": "Enabled"}


async def test_a_zone_builds_and_tears_down_its_tree(ray_cluster: Any, tmp_path: Path, backend: str) -> None:
    async with runtime(backend, tmp_path) as rt:
        z, p, c, pn, pool, store = (new_uuid() for _ in range(6))
        await rt.run(zone_ref(z), "create", {"values": ZONE})
        await rt.run(zone_ref(z), "create_physical_network", {"uuid": pn, "values": {
            "name": "pn", "vlan": "100-200", "isolation_methods": "VLAN", "state": "Disabled"}})
        for t in ("Guest", "Management", "Public"):
            await rt.run(EntityRef("physical_network", pn), "add_traffic_type", {"uuid": new_uuid(), "traffic_type": t})
        assert await count(rt, NSP, NSP.c.state == "Disabled") == 4  # ConfigDrive starts Enabled
        await rt.run(zone_ref(z), "create_pod", {"uuid": p, "values": dict(POD)})
        await rt.run(pod_ref(p), "add_cluster", {"uuid": c, "values": {"name": "c1", "hypervisor_type": "Simulator"}})
        await rt.run(cluster_ref(c), "create_pool", {"uuid": pool, "tags": ["ssd"], "values": {
            "name": "ps", "pool_type": "NetworkFilesystem", "host_address": "10.147.28.6", "path": "/p"}})
        spec = RangeSpec(uuid=new_uuid(), range_type=PUBLIC, gateway="192.168.2.1", netmask="255.255.255.0",
                         start_ip="192.168.2.2", end_ip="192.168.2.200", vlan_tag="vlan://50")
        await rt.run(zone_ref(z), "create_vlan_range", {"spec": spec.__dict__})
        await rt.run(zone_ref(z), "add_image_store", {"uuid": store, "values": {
            "name": "s", "url": "nfs://10.147.28.6/s", "provider": "NFS", "protocol": "nfs"}})
        assert await count(rt, IP, IP.c.state == "Free") == 199
        assert await count(rt, TZ, TZ.c.download_state == "DOWNLOADED") == 2
        assert await count(rt, CAP) == 5  # pool storage + allocated, public IPs, pod IPs, secondary storage
        await rt.run(zone_ref(z), "update", {"changes": {"allocation_state": "Enabled"}})

        with pytest.raises(ApiError, match="there are pods in this zone"):
            await rt.run(zone_ref(z), "delete", {})
        with pytest.raises(ApiError, match="Cluster still has storage pools"):
            await rt.run(cluster_ref(c), "delete", {})
        await rt.run(EntityRef("storage_pool", pool, c), "delete", {})
        await rt.run(cluster_ref(c), "delete", {})
        await rt.run(pod_ref(p), "delete", {})
        await rt.run(EntityRef("vlan_ip_range", spec.uuid), "delete", {})
        await rt.run(EntityRef("image_store", store), "delete", {})
        await rt.run(EntityRef("physical_network", pn), "delete", {})
        await rt.run(zone_ref(z), "delete", {})
        assert await count(rt, Z, Z.c.removed.is_(None)) == 0
        assert await count(rt, IP) == 0 and await count(rt, TZ) == 0
        assert await count(rt, CAP) == 0


async def test_resumed_creates_do_nothing_twice(ray_cluster: Any, tmp_path: Path, backend: str) -> None:
    async with runtime(backend, tmp_path) as rt:
        z, p = new_uuid(), new_uuid()
        for _ in range(2):  # a job run again after a shard restart
            assert await rt.run(zone_ref(z), "create", {"values": ZONE}) == {"id": z}
            assert await rt.run(zone_ref(z), "create_pod", {"uuid": p, "values": dict(POD)}) == {"id": p}
        assert await count(rt, Z) == 1 and await count(rt, P) == 1
        assert await count(rt, V, V.c.range_type == "pod") == 1


async def test_refusals_leave_nothing_behind(ray_cluster: Any, tmp_path: Path, backend: str) -> None:
    async with runtime(backend, tmp_path) as rt:
        z = new_uuid()
        await rt.run(zone_ref(z), "create", {"values": ZONE})
        with pytest.raises(ApiError, match="A zone with that name already exists"):
            await rt.run(zone_ref(new_uuid()), "create", {"values": ZONE})
        await rt.run(zone_ref(z), "create_pod", {"uuid": new_uuid(), "values": dict(POD)})
        overlapping = {**POD, "name": "p2", "gateway": "172.16.15.129", "netmask": "255.255.255.128",
                       "start_ip": "172.16.15.130", "end_ip": "172.16.15.140"}
        with pytest.raises(ApiError) as e:
            await rt.run(zone_ref(z), "create_pod", {"uuid": new_uuid(), "values": overlapping})
        assert e.value.code == 431 and "conflicts with the subnet of pod p1" in e.value.text
        assert await count(rt, Z) == 1 and await count(rt, P) == 1
        assert await count(rt, V) == 1 and await count(rt, CAP) == 1
        with pytest.raises(ApiError, match="Unable to find the default physical network|overlap"):
            spec = RangeSpec(uuid=new_uuid(), range_type=PUBLIC, gateway="172.16.15.1", netmask="255.255.255.0",
                             start_ip="172.16.15.100", end_ip="172.16.15.120", vlan_tag="untagged")
            await rt.run(zone_ref(z), "create_vlan_range", {"spec": spec.__dict__})
        assert await count(rt, V) == 1 and await count(rt, IP) == 0
