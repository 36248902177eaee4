"""actors/kinds/network.py without a server, on each backend: the prebuilt statements of
a VM deploy (`allocate_nic`, then `prepare`) give NICs the first free address of the
CIDR, refuse a taken one and a VM of another account, place a basic zone's NICs in
their pod's range, and the offering's services are read once per entity."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

import cloudplane.store.tables  # noqa: F401
from cloudplane.actors.identity import EntityRef
from cloudplane.actors.kinds.network import NetworkEntity, Pool, cidr_pool
from cloudplane.errors import NotAllowed, ParamError
from cloudplane.store.engine import make_engine
from cloudplane.store.tables.compute import ServiceOffering, VmInstance
from cloudplane.store.tables.identity import Account, Domain
from cloudplane.store.tables.infra import Pod, Zone
from cloudplane.store.writer import GroupWriter
from cloudplane.store.tables.network import GuestIp, Network, NetworkOffering, NetworkOfferingService, Nic, VlanIpRange

D, A, ZONE, POD, SO, VM, NO, NOS, NET, NIC, GIP, RANGE = (t.__table__ for t in (  # type: ignore[attr-defined]
    Domain, Account, Zone, Pod, ServiceOffering, VmInstance, NetworkOffering, NetworkOfferingService, Network, Nic,
    GuestIp, VlanIpRange))
MINE, OTHER = 10, 11
ISOLATED, BASIC = 1, 2


class Host:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine, self.writer, self.kind_state = engine, GroupWriter(engine), {}


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(db_url)
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)
        await conn.execute(insert(D).values(id=1, name="ROOT", path="/"))
        await conn.execute(insert(A), [{"id": MINE, "name": "mine", "domain_id": 1, "account_type": 0},
                                       {"id": OTHER, "name": "other", "domain_id": 1, "account_type": 0}])
        await conn.execute(insert(ZONE).values(id=1, name="z"))
        await conn.execute(insert(POD), [{"id": 1, "name": "p1", "zone_id": 1}, {"id": 2, "name": "p2", "zone_id": 1}])
        await conn.execute(insert(SO).values(id=1, name="small"))
        await conn.execute(insert(VM), [{"id": i, "uuid": f"vm-{i}", "name": f"vm{i}", "zone_id": 1, "domain_id": 1,
                                         "account_id": MINE if i < 5 else OTHER, "service_offering_id": 1}
                                        for i in range(1, 6)])
        await conn.execute(insert(NO).values(id=1, name="off", guest_ip_type="Isolated"))
        await conn.execute(insert(NOS), [{"network_offering_id": 1, "service": "Dhcp", "provider": "Other"},
                                         {"network_offering_id": 1, "service": "Dns", "provider": "Other"}])
        common = {"traffic_type": "Guest", "zone_id": 1, "network_offering_id": 1, "account_id": MINE,
                  "domain_id": 1, "acl_type": "Account", "version": 1}
        await conn.execute(insert(NET), [
            {**common, "id": ISOLATED, "uuid": "iso", "name": "iso", "guest_type": "Isolated", "state": "Implemented",
             "cidr": "10.1.1.0/29", "gateway": "10.1.1.1", "broadcast_uri": "vlan://100"},
            {**common, "id": BASIC, "uuid": "basic", "name": "basic", "guest_type": "Shared", "state": "Setup",
             "acl_type": "Domain", "cidr": None, "gateway": None, "broadcast_uri": None}])
        await conn.execute(insert(RANGE), [
            {"id": 1, "uuid": "r1", "zone_id": 1, "network_id": BASIC, "pod_id": 1, "range_type": "guest",
             "start_ip": "192.0.2.10", "end_ip": "192.0.2.19", "gateway": "192.0.2.1", "netmask": "255.255.255.0"},
            {"id": 2, "uuid": "r2", "zone_id": 1, "network_id": BASIC, "pod_id": 2, "range_type": "guest",
             "start_ip": "198.51.100.10", "end_ip": "198.51.100.19", "gateway": "198.51.100.1",
             "netmask": "255.255.255.0"}])
    yield engine
    await engine.dispose()


async def entity(engine: AsyncEngine, net_id: int) -> NetworkEntity:
    async with engine.connect() as conn:
        row = dict((await conn.execute(select(NET).where(NET.c.id == net_id))).mappings().one())
    return NetworkEntity(EntityRef("network", row["uuid"]), row, Host(engine))  # type: ignore[arg-type]


async def nics(engine: AsyncEngine, net_id: int) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        return [tuple(r) for r in (await conn.execute(
            select(NIC.c.instance_id, NIC.c.ip4_address, NIC.c.netmask, NIC.c.gateway, NIC.c.state, NIC.c.version,
                   GIP.c.ip_address).select_from(NIC.outerjoin(GIP, GIP.c.nic_id == NIC.c.id))
            .where(NIC.c.network_id == net_id).order_by(NIC.c.id))).all()]


async def test_isolated_deploys_take_the_first_free_addresses(engine: AsyncEngine) -> None:
    net = await entity(engine, ISOLATED)
    got = [await net.allocate_nic(vm_id=i) for i in (1, 2)]
    assert [g["ip"] for g in got] == ["10.1.1.2", "10.1.1.3"]
    assert (await net.allocate_nic(vm_id=3, ip="10.1.1.6"))["ip"] == "10.1.1.6"
    with pytest.raises(ParamError, match="10.1.1.6 is already in use"):
        await net.allocate_nic(vm_id=4, ip="10.1.1.6")
    with pytest.raises(NotAllowed, match="may not use network iso"):
        await net.allocate_nic(vm_id=5)
    for i in (1, 2, 3):
        assert await net.prepare(vm_id=i) == {"state": "Implemented", "broadcast_uri": "vlan://100"}
    assert await nics(engine, ISOLATED) == [
        (1, "10.1.1.2", "255.255.255.248", "10.1.1.1", "Reserved", 1, "10.1.1.2"),
        (2, "10.1.1.3", "255.255.255.248", "10.1.1.1", "Reserved", 1, "10.1.1.3"),
        (3, "10.1.1.6", "255.255.255.248", "10.1.1.1", "Reserved", 1, "10.1.1.6")]


async def test_a_second_activation_loses_the_race_and_looks_again(engine: AsyncEngine) -> None:
    """Each activation keeps the addresses it read; the unique key decides between two
    (a split brain), and the loser reads them again instead of failing the deploy."""
    first, second = await entity(engine, ISOLATED), await entity(engine, ISOLATED)
    assert (await second.allocate_nic(vm_id=2))["ip"] == "10.1.1.2"  # second has read {}: it keeps {.2}
    assert (await first.allocate_nic(vm_id=1))["ip"] == "10.1.1.3"
    assert (await second.allocate_nic(vm_id=3))["ip"] == "10.1.1.4"  # tried .3, lost, read again
    with pytest.raises(ParamError, match="10.1.1.4 is already in use"):
        await first.allocate_nic(vm_id=4, ip="10.1.1.4")  # its view says free; the store says not
    await first.release_nics(vm_id=1)
    assert (await second.allocate_nic(vm_id=4))["ip"] == "10.1.1.5"  # its view predates the release
    assert (await first.allocate_nic(vm_id=1))["ip"] == "10.1.1.3"  # its own release: read again
    assert sorted(r[-1] for r in await nics(engine, ISOLATED) if r[-1]) == [
        "10.1.1.2", "10.1.1.3", "10.1.1.4", "10.1.1.5"]


async def test_basic_zone_nics_get_an_address_of_their_pod(engine: AsyncEngine) -> None:
    net = await entity(engine, BASIC)
    assert (await net.allocate_nic(vm_id=1))["ip"] is None
    assert (await net.allocate_nic(vm_id=2))["ip"] is None
    await net.prepare(vm_id=1, pod_id=2)
    await net.prepare(vm_id=2, pod_id=1)
    await net.prepare(vm_id=2, pod_id=1)  # already placed: unchanged
    with pytest.raises(ParamError, match="belongs to another pod"):
        await net.prepare(vm_id=2, pod_id=2)
    assert await nics(engine, BASIC) == [
        (1, "198.51.100.10", "255.255.255.0", "198.51.100.1", "Allocated", 2, "198.51.100.10"),
        (2, "192.0.2.10", "255.255.255.0", "192.0.2.1", "Allocated", 2, "192.0.2.10")]


async def test_services_are_read_once(engine: AsyncEngine) -> None:
    net = await entity(engine, ISOLATED)
    first = await net.services()
    assert first == {"Dhcp": "Other", "Dns": "Other"}
    first["Dhcp"] = "changed by a caller"
    async with engine.begin() as conn:
        await conn.execute(insert(NOS).values(network_offering_id=1, service="Firewall", provider="Other"))
    assert await net.services() == {"Dhcp": "Other", "Dns": "Other"}
    assert await (await entity(engine, ISOLATED)).services() == {"Dhcp": "Other", "Dns": "Other", "Firewall": "Other"}


def test_pool_addresses_are_dotted_quads() -> None:
    assert list(Pool(0, 1, None, None).addresses()) == ["0.0.0.0", "0.0.0.1"]
    assert list(Pool(2**32 - 2, 2**32 - 1, None, None).addresses()) == ["255.255.255.254", "255.255.255.255"]
    assert list(cidr_pool("10.0.255.252/30", None).addresses()) == ["10.0.255.253", "10.0.255.254"]
