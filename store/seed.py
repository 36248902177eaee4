"""A fresh install's rows, as a new CloudStack has them: domain ROOT, the four
default roles, the system and admin accounts, user `admin` (password
`password` unless one is given), every setting of the catalogue, and the
catalogue of a new cloud: compute and disk offerings, the default network
offerings with their services, OS categories and types (CloudStack's ids and
names) and the simulator's built-in templates (their per-zone readiness comes
when a zone gets an image store).

Idempotent: run at every start; it adds only what is missing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.configdefs import CATALOGUE
from cloudplane.store.tables.compute import DiskOffering, ServiceOffering
from cloudplane.store.tables.config import Configuration
from cloudplane.store.tables.identity import Account, Domain, Role, RolePermission, User
from cloudplane.store.tables.images import OsCategory, OsType, Template
from cloudplane.store.tables.network import NetworkOffering, NetworkOfferingService

DEFAULT_ADMIN_PASSWORD = "password"

# (name, role_type, account type that uses it)
DEFAULT_ROLES = (
    ("Root Admin", "Admin"),
    ("Resource Admin", "ResourceAdmin"),
    ("Domain Admin", "DomainAdmin"),
    ("User", "User"),
)

T_DOMAIN, T_ROLE, T_PERM = Domain.__table__, Role.__table__, RolePermission.__table__  # type: ignore[attr-defined]
T_ACCOUNT, T_USER, T_CONF = Account.__table__, User.__table__, Configuration.__table__  # type: ignore[attr-defined]
T_SO, T_DO = ServiceOffering.__table__, DiskOffering.__table__  # type: ignore[attr-defined]
T_NO, T_NOS = NetworkOffering.__table__, NetworkOfferingService.__table__  # type: ignore[attr-defined]
T_OSC, T_OST, T_TPL = OsCategory.__table__, OsType.__table__, Template.__table__  # type: ignore[attr-defined]

GB = 2**30

# name, CPUs, MHz, MiB (CloudStack's two compute offerings of a fresh install)
SERVICE_OFFERINGS = (("Small Instance", 1, 500, 512), ("Medium Instance", 1, 1000, 1024))
# name, display text, GB (0: the size is chosen per volume)
DISK_OFFERINGS = (("Small", "Small Disk, 5 GB", 5), ("Medium", "Medium Disk, 20 GB", 20),
                  ("Large", "Large Disk, 100 GB", 100), ("Custom", "Custom Disk", 0))

_VR = "VirtualRouter"
_ISOLATED_SERVICES = ("Dhcp", "Dns", "Firewall", "Gateway", "Lb", "PortForwarding", "SourceNat", "StaticNat",
                      "UserData", "Vpn")
_VPC_SERVICES = ("Dhcp", "Dns", "Gateway", "Lb", "NetworkACL", "PortForwarding", "SourceNat", "StaticNat",
                 "UserData", "Vpn")
# name, display text, guest type, traffic, availability, specify vlan, specify ranges, for VPC,
# system, services as (service, provider)
NETWORK_OFFERINGS: tuple[tuple[Any, ...], ...] = (
    ("DefaultSharedNetworkOfferingWithSGService", "Offering for Shared Security group enabled networks", "Shared",
     "Guest", "Optional", True, True, False, False,
     (("Dhcp", _VR), ("Dns", _VR), ("UserData", _VR), ("SecurityGroup", "SecurityGroupProvider"))),
    ("DefaultSharedNetworkOffering", "Offering for Shared networks", "Shared", "Guest", "Optional", True, True,
     False, False, (("Dhcp", _VR), ("Dns", _VR), ("UserData", _VR))),
    ("DefaultIsolatedNetworkOfferingWithSourceNatService",
     "Offering for Isolated networks with Source Nat service enabled", "Isolated", "Guest", "Required", False,
     False, False, False, tuple((s, _VR) for s in _ISOLATED_SERVICES)),
    ("DefaultIsolatedNetworkOffering", "Offering for Isolated networks with no Source Nat service", "Isolated",
     "Guest", "Optional", False, True, False, False, (("Dhcp", _VR), ("Dns", _VR), ("UserData", _VR))),
    ("DefaultIsolatedNetworkOfferingForVpcNetworks", "Offering for Isolated VPC networks with Source Nat service "
     "enabled", "Isolated", "Guest", "Optional", False, False, True, False,
     tuple((s, "VpcVirtualRouter") for s in _VPC_SERVICES)),
    ("DefaultL2NetworkOffering", "Offering for L2 networks", "L2", "Guest", "Optional", False, False, False, False,
     ()),
    # The offerings of the system networks each zone gets (not listed to users).
    ("System-Public-Network", "System Offering for System-Public-Network", "", "Public", "Optional", True, True,
     False, True, ()),
    ("System-Management-Network", "System Offering for System-Management-Network", "", "Management", "Optional",
     False, False, False, True, ()),
    ("System-Control-Network", "System Offering for System-Control-Network", "", "Control", "Optional", False,
     False, False, True, ()),
    ("System-Storage-Network", "System Offering for System-Storage-Network", "", "Storage", "Optional", True,
     False, False, True, ()),
    ("System-Guest-Network", "System Offering for System-Guest-Network", "", "Guest", "Optional", True, True,
     False, True, ()),
)

# CloudStack's guest OS categories and a selection of its guest OS types, with its ids.
OS_CATEGORIES = ((1, "CentOS"), (2, "Debian"), (3, "Oracle"), (4, "RedHat"), (5, "SUSE"), (6, "Windows"),
                 (7, "Other"), (8, "Novel"), (9, "Unix"), (10, "Ubuntu"), (11, "None"))
OS_TYPES = (
    (1, 1, "CentOS 4.5 (32-bit)"), (5, 1, "CentOS 5.0 (32-bit)"), (6, 1, "CentOS 5.0 (64-bit)"),
    (11, 1, "CentOS 5.3 (32-bit)"), (12, 1, "CentOS 5.3 (64-bit)"), (13, 1, "CentOS 5.4 (32-bit)"),
    (14, 1, "CentOS 5.4 (64-bit)"), (111, 1, "CentOS 5.5 (32-bit)"), (112, 1, "CentOS 5.5 (64-bit)"),
    (141, 1, "CentOS 5.6 (32-bit)"), (142, 1, "CentOS 5.6 (64-bit)"), (161, 1, "CentOS 5.7 (32-bit)"),
    (162, 1, "CentOS 5.7 (64-bit)"), (143, 1, "CentOS 6.0 (32-bit)"), (144, 1, "CentOS 6.0 (64-bit)"),
    (200, 1, "Other CentOS (32-bit)"), (201, 1, "Other CentOS (64-bit)"),
    (15, 2, "Debian GNU/Linux 5.0 (32-bit)"), (72, 2, "Debian GNU/Linux 5(64-bit)"),
    (73, 2, "Debian GNU/Linux 4(32-bit)"), (74, 2, "Debian GNU/Linux 4(64-bit)"),
    (132, 2, "Debian GNU/Linux 6(32-bit)"), (133, 2, "Debian GNU/Linux 6(64-bit)"),
    (16, 3, "Oracle Enterprise Linux 5.0 (32-bit)"), (17, 3, "Oracle Enterprise Linux 5.0 (64-bit)"),
    (147, 3, "Oracle Enterprise Linux 6.0 (32-bit)"), (148, 3, "Oracle Enterprise Linux 6.0 (64-bit)"),
    (30, 4, "Red Hat Enterprise Linux 5.0 (32-bit)"), (31, 4, "Red Hat Enterprise Linux 5.0 (64-bit)"),
    (136, 4, "Red Hat Enterprise Linux 6.0 (32-bit)"), (137, 4, "Red Hat Enterprise Linux 6.0 (64-bit)"),
    (115, 4, "Fedora 13"), (46, 5, "SUSE Linux Enterprise Server 11 (32-bit)"),
    (47, 5, "SUSE Linux Enterprise Server 11 (64-bit)"), (202, 5, "Other SUSE Linux(32-bit)"),
    (203, 5, "Other SUSE Linux(64-bit)"),
    (48, 6, "Windows 7 (32-bit)"), (49, 6, "Windows 7 (64-bit)"),
    (50, 6, "Windows Server 2003 Enterprise Edition(32-bit)"),
    (51, 6, "Windows Server 2003 Enterprise Edition(64-bit)"), (52, 6, "Windows Server 2008 (32-bit)"),
    (53, 6, "Windows Server 2008 (64-bit)"), (54, 6, "Windows Server 2008 R2 (64-bit)"),
    (56, 6, "Windows Vista (32-bit)"), (101, 6, "Windows Vista (64-bit)"), (58, 6, "Windows XP SP3 (32-bit)"),
    (93, 6, "Windows XP (32-bit)"), (94, 6, "Windows XP (64-bit)"), (102, 6, "DOS"),
    (60, 7, "Other (32-bit)"), (103, 7, "Other (64-bit)"), (98, 7, "Other Linux (32-bit)"),
    (99, 7, "Other Linux (64-bit)"), (75, 7, "Other 2.6x Linux (32-bit)"), (76, 7, "Other 2.6x Linux (64-bit)"),
    (139, 7, "Other PV (32-bit)"), (140, 7, "Other PV (64-bit)"), (138, 7, "None"),
    (77, 8, "Novell Netware 6.x"), (79, 9, "Sun Solaris 10(32-bit)"), (80, 9, "Sun Solaris 10(64-bit)"),
    (83, 9, "FreeBSD (32-bit)"), (84, 9, "FreeBSD (64-bit)"),
    (121, 10, "Ubuntu 10.04 (32-bit)"), (126, 10, "Ubuntu 10.04 (64-bit)"), (156, 10, "Ubuntu 10.10 (32-bit)"),
    (157, 10, "Ubuntu 10.10 (64-bit)"), (59, 10, "Other Ubuntu (32-bit)"), (100, 10, "Other Ubuntu (64-bit)"),
)

# The simulator's built-in templates (CloudStack's templates.simulator.sql): its system VM
# template and a featured public CentOS template, both on every zone's secondary storage.
TEMPLATES = (
    {"id": 100, "name": "SystemVM Template (simulator)", "template_type": "SYSTEM", "is_public": False,
     "is_featured": False, "requires_hvm": False, "os_type_id": 15,
     "url": "http://nfs1.lab.vmops.com/templates/routing/debian/latest/systemvm.vhd.bz2"},
    {"id": 111, "name": "CentOS 5.6 (64-bit) no GUI (Simulator)", "template_type": "BUILTIN", "is_public": True,
     "is_featured": True, "requires_hvm": False, "os_type_id": 142,
     "url": "http://nfs1.lab.vmops.com/templates/centos53-x86_64/latest/f59f18fb-ae94-4f97-afd2-f84755767aca.vhd.bz2"},
)


def _base() -> dict[str, Any]:
    return {"uuid": new_uuid(), "version": 1, "created": utcnow()}


async def _insert(conn: AsyncConnection, table: Any, values: dict[str, Any]) -> int:
    res = await conn.execute(insert(table).values(**_base(), **values))
    return int(res.inserted_primary_key[0])


async def seed(engine: AsyncEngine, *, admin_password_hash: str) -> bool:
    """Create the fresh-install rows; return True if this was a fresh install."""
    async with engine.begin() as conn:
        fresh = (await conn.execute(select(T_DOMAIN.c.id).where(T_DOMAIN.c.parent_id.is_(None)))).first() is None
        if fresh:
            root = await _insert(conn, T_DOMAIN, {"name": "ROOT", "parent_id": None, "path": "/", "level": 0,
                                                  "state": "Active"})
            roles: dict[str, int] = {}
            for name, rtype in DEFAULT_ROLES:
                rid = await _insert(conn, T_ROLE, {"name": name, "role_type": rtype, "is_default": True,
                                                   "description": f"Default {name.lower()} role"})
                roles[rtype] = rid
                # Every default role may call whatever its role type is allowed to (the
                # registry's bound); operators narrow it with more rules.
                await _insert(conn, T_PERM, {"role_id": rid, "rule": "*", "permission": "allow", "sort_order": 0})
            system = await _insert(conn, T_ACCOUNT, {"name": "system", "domain_id": root, "role_id": roles["Admin"],
                                                     "account_type": 1, "state": "enabled", "is_default": True})
            admin = await _insert(conn, T_ACCOUNT, {"name": "admin", "domain_id": root, "role_id": roles["Admin"],
                                                    "account_type": 1, "state": "enabled", "is_default": True})
            await _insert(conn, T_USER, {"account_id": system, "username": "system", "password": None,
                                         "state": "enabled", "is_default": True, "first_name": "system",
                                         "last_name": "cloud"})
            await _insert(conn, T_USER, {"account_id": admin, "username": "admin", "password": admin_password_hash,
                                         "state": "enabled", "is_default": True, "first_name": "Admin",
                                         "last_name": "User"})
        have = {r[0] for r in (await conn.execute(
            select(T_CONF.c.name).where(T_CONF.c.scope == "global"))).all()}
        for d in CATALOGUE:
            if d.name not in have:
                await _insert(conn, T_CONF, {"name": d.name, "scope": "global", "scope_id": 0, "value": d.default,
                                             "default_value": d.default, "value_type": d.type, "category": d.category,
                                             "description": d.description, "is_dynamic": d.dynamic})
        await seed_catalogue(conn)
    return fresh


async def _names(conn: AsyncConnection, table: Any, *where: Any) -> set[str]:
    return {r[0] for r in (await conn.execute(select(table.c.name).where(table.c.removed.is_(None), *where))).all()}


async def _free_id(conn: AsyncConnection, table: Any, wanted: int) -> dict[str, int]:
    """CloudStack's id when it is still free (an older install may have used it)."""
    taken = (await conn.execute(select(table.c.id).where(table.c.id == wanted))).first() is not None
    return {} if taken else {"id": wanted}


async def seed_catalogue(conn: AsyncConnection) -> None:
    """Offerings, OS catalogue and templates of a fresh install; each added if missing."""
    have = await _names(conn, T_SO, T_SO.c.is_system.is_(False))
    for name, cpus, mhz, mib in SERVICE_OFFERINGS:
        if name not in have:
            await _insert(conn, T_SO, {"name": name, "display_text": name, "cpu_count": cpus, "cpu_speed_mhz": mhz,
                                       "ram_mb": mib, "customized": False, "is_system": False, "default_use": False,
                                       "storage_type": "shared", "provisioning_type": "thin", "state": "Active"})
    have = await _names(conn, T_DO)
    for name, text, gb in DISK_OFFERINGS:
        if name not in have:
            await _insert(conn, T_DO, {"name": name, "display_text": text, "disk_size_bytes": gb * GB,
                                       "customized": gb == 0, "storage_type": "shared", "provisioning_type": "thin",
                                       "display": True, "state": "Active"})
    have = await _names(conn, T_NO)
    for (name, text, guest, traffic, avail, vlan, ranges, vpc, system, services) in NETWORK_OFFERINGS:
        if name in have:
            continue
        oid = await _insert(conn, T_NO, {
            "name": name, "display_text": text, "guest_ip_type": guest, "traffic_type": traffic,
            "availability": avail, "specify_vlan": vlan, "specify_ip_ranges": ranges, "for_vpc": vpc,
            "is_system": system, "is_default": True, "state": "Enabled", "conserve_mode": True,
            "egress_default_policy": False, "is_persistent": False, "internet_protocol": "IPv4"})
        for service, provider in services:
            await conn.execute(insert(T_NOS).values(network_offering_id=oid, service=service, provider=provider))
    have = await _names(conn, T_OSC)
    for cid, name in OS_CATEGORIES:
        if name not in have:
            await _insert(conn, T_OSC, {"name": name, **await _free_id(conn, T_OSC, cid)})
    categories = {r.name: r.id for r in (await conn.execute(select(T_OSC.c.name, T_OSC.c.id))).all()}
    by_cid = {cid: categories[name] for cid, name in OS_CATEGORIES}
    have = {r[0] for r in (await conn.execute(select(T_OST.c.display_name))).all()}
    for tid, cid, name in OS_TYPES:
        if name in have:
            continue
        await _insert(conn, T_OST, {"category_id": by_cid[cid], "display_name": name,
                                                  "is_user_defined": False, **await _free_id(conn, T_OST, tid)})
    os_by_name = {r.display_name: r.id for r in (await conn.execute(select(T_OST.c.display_name, T_OST.c.id))).all()}
    names = {tid: name for tid, _, name in OS_TYPES}
    system = (await conn.execute(select(T_ACCOUNT.c.id).where(T_ACCOUNT.c.name == "system",
                                                               T_ACCOUNT.c.is_default.is_(True)))).scalar()
    have = await _names(conn, T_TPL)
    for t in TEMPLATES:
        if t["name"] in have or system is None:
            continue
        await _insert(conn, T_TPL, {
            **await _free_id(conn, T_TPL, t["id"]), "name": t["name"], "display_text": t["name"], "format": "VHD",
            "template_type": t["template_type"], "state": "Active", "hypervisor_type": "Simulator",
            "account_id": system, "os_type_id": os_by_name.get(names[t["os_type_id"]]), "url": t["url"],
            "checksum": "", "bits": 64, "is_public": t["is_public"], "is_featured": t["is_featured"],
            "is_extractable": False, "bootable": True, "requires_hvm": t["requires_hvm"], "password_enabled": False,
            "ssh_key_enabled": False, "dynamically_scalable": False, "cross_zones": True, "direct_download": False,
            "deploy_as_is": False})
