"""The fresh-install catalogue on both stores: CloudStack's offerings, network
offerings with their services, OS catalogue and simulator templates, added
once however often the seed runs."""

from __future__ import annotations

from sqlalchemy import func, select

from cloudplane.store.engine import make_engine
from cloudplane.store.migrate import upgrade
from cloudplane.store.seed import seed
from cloudplane.store.tables.compute import DiskOffering, ServiceOffering
from cloudplane.store.tables.images import OsCategory, OsType, Template
from cloudplane.store.tables.network import NetworkOffering, NetworkOfferingService

SO, DO, NO = ServiceOffering.__table__, DiskOffering.__table__, NetworkOffering.__table__  # type: ignore[attr-defined]
NOS, OSC = NetworkOfferingService.__table__, OsCategory.__table__  # type: ignore[attr-defined]
OST, T = OsType.__table__, Template.__table__  # type: ignore[attr-defined]
GB = 2**30


async def test_fresh_install_catalogue(db_url: str) -> None:
    await upgrade(db_url)
    engine = make_engine(db_url)
    try:
        assert await seed(engine, admin_password_hash="x") is True
        assert await seed(engine, admin_password_hash="x") is False  # idempotent: nothing added twice
        async with engine.connect() as conn:
            so = {r.name: r for r in (await conn.execute(select(SO).where(SO.c.is_system.is_(False)))).all()}
            assert (so["Small Instance"].cpu_count, so["Small Instance"].cpu_speed_mhz, so["Small Instance"].ram_mb) \
                == (1, 500, 512)
            assert (so["Medium Instance"].cpu_speed_mhz, so["Medium Instance"].ram_mb) == (1000, 1024)
            do = {r.name: r for r in (await conn.execute(select(DO))).all()}
            assert {n: do[n].disk_size_bytes for n in ("Small", "Medium", "Large")} == {
                "Small": 5 * GB, "Medium": 20 * GB, "Large": 100 * GB}
            assert do["Custom"].customized is True and do["Custom"].disk_size_bytes == 0
            offerings = {r.name: r for r in (await conn.execute(select(NO))).all()}
            services = {}
            for r in (await conn.execute(select(NO.c.name, NOS.c.service, NOS.c.provider).select_from(
                    NOS.join(NO, NOS.c.network_offering_id == NO.c.id)))).all():
                services.setdefault(r.name, {})[r.service] = r.provider
            iso = offerings["DefaultIsolatedNetworkOfferingWithSourceNatService"]
            assert (iso.guest_ip_type, iso.availability, iso.state, iso.is_default) == (
                "Isolated", "Required", "Enabled", True)
            assert services[iso.name]["SourceNat"] == "VirtualRouter" and len(services[iso.name]) == 10
            assert services["DefaultSharedNetworkOfferingWithSGService"]["SecurityGroup"] == "SecurityGroupProvider"
            assert set(services["DefaultSharedNetworkOffering"]) == {"Dhcp", "Dns", "UserData"}
            assert offerings["DefaultIsolatedNetworkOfferingForVpcNetworks"].for_vpc is True
            assert services["DefaultIsolatedNetworkOfferingForVpcNetworks"]["NetworkACL"] == "VpcVirtualRouter"
            assert offerings["DefaultL2NetworkOffering"].guest_ip_type == "L2" and "DefaultL2NetworkOffering" \
                not in services
            assert offerings["System-Public-Network"].is_system is True
            cats = dict((await conn.execute(select(OSC.c.id, OSC.c.name))).all())
            assert cats[1] == "CentOS" and cats[10] == "Ubuntu" and cats[6] == "Windows"
            os142 = (await conn.execute(select(OST).where(OST.c.id == 142))).one()
            assert (os142.display_name, os142.category_id) == ("CentOS 5.6 (64-bit)", 1)
            tpl = {r.name: r for r in (await conn.execute(select(T))).all()}
            builtin = tpl["CentOS 5.6 (64-bit) no GUI (Simulator)"]
            assert (builtin.id, builtin.template_type, builtin.is_public, builtin.is_featured, builtin.os_type_id,
                    builtin.hypervisor_type, builtin.format, builtin.cross_zones) == (
                111, "BUILTIN", True, True, 142, "Simulator", "VHD", True)
            system = tpl["SystemVM Template (simulator)"]
            assert (system.id, system.template_type, system.is_public, system.os_type_id) == (100, "SYSTEM", False, 15)
            counts = [(await conn.execute(select(func.count()).select_from(t))).scalar_one() for t in (SO, DO, T)]
            assert counts == [2, 4, 2]
    finally:
        await engine.dispose()
