"""Guest networks: createNetwork, updateNetwork, deleteNetwork, restartNetwork,
listNetworks, listNetworkOfferings. A network's own entity actor
(actors/kinds/network.py) creates and changes it; these handlers check what
the caller may ask for and record the job."""

from __future__ import annotations

import ipaddress
from dataclasses import asdict
from typing import Any

from sqlalchemy import and_, false, func, or_, select

from cloudplane.actors.identity import EntityRef
from cloudplane.actors.kinds import vlan as ranges
from cloudplane.actors.kinds.ipranges import check_range, ip4, is_netmask, vlan_uri
from cloudplane.api import scope
from cloudplane.api.commands.base import ALL, command, equalities, page
from cloudplane.api.commands.identity import check_network_domain
from cloudplane.api.commands.infrautil import find
from cloudplane.api.context import Accepted, Call, Caller, JobTarget, ListResult
from cloudplane.api.views.networks import (
    NET,
    NO,
    NOS,
    PN,
    SO,
    D,
    Z,
    networks_out,
    networks_query,
    offering_view,
    services_of,
)
from cloudplane.api.views.tags import tag_filter
from cloudplane.errors import NotAllowed, ParamError
from cloudplane.store.base import new_uuid
from cloudplane.store.tables.identity import Account
from cloudplane.store.tables.network import PhysicalNetworkTrafficType

A, TT = Account.__table__, PhysicalNetworkTrafficType.__table__  # type: ignore[attr-defined]
GUEST_TYPES = {"isolated": "Isolated", "shared": "Shared", "l2": "L2"}
TRAFFIC_TYPES = {t.lower(): t for t in ("Guest", "Public", "Management", "Control", "Storage")}
DEFAULT_GUEST_CIDR = "10.1.1.0/24"


def network_ref(uuid: str) -> EntityRef:
    return EntityRef("network", uuid)


def ancestors(path: str) -> list[str]:
    """`/a/b/` → [`/`, `/a/`]."""
    parts = [p for p in path.split("/") if p]
    return ["/" + "".join(f"{p}/" for p in parts[:i]) for i in range(len(parts))]


def may_use(c: Caller, row: Any) -> bool:
    """Whether the caller may use (deploy into, list) the network `row` (a networks_query row)."""
    if c.is_root_admin:
        return True
    if row.acl_type == "Account":
        return row.account_id == c.account_id if c.role_type == "User" else str(row.dom_path).startswith(c.domain_path)
    if row.dom_path == c.domain_path or (row.subdomain_access and row.dom_path in ancestors(c.domain_path)):
        return True
    return c.role_type != "User" and str(row.dom_path).startswith(c.domain_path)


async def load_network_row(call: Call, uuid: str, *, modify: bool = False) -> Any:
    async with call.service.engine.connect() as conn:
        row = (await conn.execute(networks_query().where(NET.c.uuid == uuid))).first()
    if row is None:
        raise ParamError(f"Unable to find network by id {uuid}")
    c = call.caller
    if not may_use(c, row):
        raise NotAllowed(f"Caller {c.username} is not allowed to access network {uuid}")
    if modify and not c.is_root_admin and (row.is_system or (row.acl_type != "Account" and (
            c.role_type == "User" or not str(row.dom_path).startswith(c.domain_path)))):
        raise NotAllowed(f"Caller {c.username} is not allowed to change network {uuid} (acl type {row.acl_type})")
    return row


async def load_network(call: Call, uuid: str) -> dict[str, Any]:
    async with call.service.engine.connect() as conn:
        rows = (await conn.execute(networks_query().where(NET.c.uuid == uuid))).all()
        items = await networks_out(conn, rows, admin=call.caller.role_type != "User")
    if not items:
        raise ParamError(f"Unable to find network by id {uuid}")
    return items[0]


async def network_job_view(service: Any, caller: Caller, result: dict[str, Any]) -> dict[str, Any]:
    async with service.engine.connect() as conn:
        rows = (await conn.execute(networks_query().where(NET.c.uuid == result.get("id")))).all()
        items = await networks_out(conn, rows, admin=caller.role_type != "User")
    return {"network": items[0]} if items else {"success": True}


# -- createNetwork ------------------------------------------------------------------------------------

async def _guest_physnet(call: Call, zone: Any) -> Any:
    if call.get("physicalnetworkid"):
        pn = await find(call, PN, "physicalnetworkid")
        if pn.zone_id != zone.id:
            raise ParamError(f"Physical network {pn.uuid} is not in zone {zone.uuid}")
        return pn
    async with call.service.engine.connect() as conn:
        q = select(PN).where(PN.c.zone_id == zone.id, PN.c.removed.is_(None)).order_by(PN.c.id)
        pn = (await conn.execute(q.where(PN.c.id.in_(select(TT.c.physical_network_id).where(
            TT.c.traffic_type == "Guest", TT.c.removed.is_(None)))).limit(1))).first()
        if pn is None and zone.network_type == "Basic":
            pn = (await conn.execute(q.limit(1))).first()
    if pn is None:
        raise ParamError(f"Unable to find a physical network with guest traffic in zone {zone.uuid}")
    return pn


async def _owner(call: Call, guest: str) -> tuple[int, int, str, bool | None]:
    """(account id, domain id, acl type, subdomain access) of a new network."""
    c = call.caller
    acl = call.get("acltype")
    if acl is not None:
        acl = {"account": "Account", "domain": "Domain"}.get(str(acl).lower())
        if acl is None:
            raise ParamError("Invalid acltype: it must be Account or Domain")
    if guest != "Shared":
        if acl == "Domain":
            raise ParamError("AclType=Domain can be specified only for shared networks")
        account_id, domain_id = await scope.target_account(call)
        return account_id, domain_id, "Account", None
    if acl == "Account" or (acl is None and call.get("account")):
        if not call.get("account"):
            raise ParamError("Account must be specified for a network with aclType=Account")
        account_id, domain_id = await scope.target_account(call)
        return account_id, domain_id, "Account", None
    dom = await scope.domain_by_uuid(call, call.get("domainid")) if call.get("domainid") else None
    if dom is not None and not scope.in_subtree(c, dom.path):
        raise NotAllowed(f"domain {dom.uuid} is outside the caller's domain subtree")
    async with call.service.engine.connect() as conn:
        system = (await conn.execute(select(A.c.id).where(A.c.name == "system", A.c.is_default.is_(True)))).scalar()
    sub = call.get("subdomainaccess")
    return int(system or c.account_id), dom.id if dom is not None else c.domain_id, "Domain", \
        True if sub is None else bool(sub)


def _gateway_netmask(call: Call) -> tuple[str | None, str | None]:
    gw, nm = call.get("gateway"), call.get("netmask")
    if bool(gw) != bool(nm):
        raise ParamError("gateway and netmask must be specified together")
    if gw and ip4(gw) is None:
        raise ParamError(f"Invalid gateway {gw}")
    if nm and not is_netmask(nm):
        raise ParamError(f"Invalid netmask {nm}")
    return gw or None, nm or None


async def _network_domain(call: Call, zone: Any, account_id: int, guest: str) -> str | None:
    given = call.get("networkdomain")
    if given:
        check_network_domain(given)
        return str(given)
    suffix = zone.network_domain or await call.service.config("guest.domain.suffix")
    if not suffix:
        return None
    # CloudStack names an account's network domain "cs" + the account id in hex + the suffix.
    return f"cs{account_id:x}{suffix}" if guest != "Shared" else str(suffix)


@command("createNetwork", object_name="network", entity_type="Network")
async def create_network(call: Call) -> dict[str, Any]:
    c = call.caller
    off = await find(call, NO, "networkofferingid")
    zone = await find(call, Z, "zoneid")
    if zone.allocation_state != "Enabled" and not c.is_root_admin:
        raise NotAllowed(f"Cannot perform this operation, Zone is currently disabled: {zone.uuid}")
    if off.is_system or off.traffic_type != "Guest":
        raise ParamError(f"Network offering {off.uuid} is a system offering and can't be used for guest networks")
    if off.state != "Enabled":
        raise ParamError(f"Network offering {off.uuid} is not in Enabled state")
    if off.for_vpc or call.get("vpcid"):
        raise ParamError("VPC tiers are not supported")
    guest = off.guest_ip_type
    basic = zone.network_type == "Basic"
    if guest == "Shared" and c.role_type == "User":
        raise ParamError("Only administrators can create networks with guest type Shared")
    if basic and guest != "Shared":
        raise ParamError(f"Only shared guest networks can be created in zone {zone.uuid} of network type Basic")
    vlan = call.get("vlan")
    if vlan is not None and not c.is_root_admin:
        raise NotAllowed("Only the ROOT admin may specify a vlan")
    if vlan is not None and not off.specify_vlan:
        raise ParamError(f"Can't specify vlan; network offering {off.uuid} says specifyVlan=false")
    if vlan is None and off.specify_vlan and not basic:
        raise ParamError(f"Network offering {off.uuid} requires the vlan to be specified")
    uri = vlan_uri(str(vlan)) if vlan is not None else None
    vnet = int(uri[len("vlan://"):]) if uri and uri.startswith("vlan://") else None
    pn = await _guest_physnet(call, zone)
    account_id, domain_id, acl, sub = await _owner(call, guest)
    async with call.service.engine.connect() as conn:
        if basic and (await conn.execute(select(NET.c.id).where(
                NET.c.zone_id == zone.id, NET.c.traffic_type == "Guest", NET.c.removed.is_(None)).limit(1))).first():
            raise ParamError(f"A guest network already exists in zone {zone.uuid} of network type Basic")
        if uri and vnet is not None and (await conn.execute(select(NET.c.id).where(
                NET.c.zone_id == zone.id, NET.c.broadcast_uri == uri, NET.c.removed.is_(None)).limit(1))).first():
            raise ParamError(f"Network with vlan {vnet} already exists or overlaps with other network vlans in zone "
                             f"{zone.uuid}")
    gw, nm = _gateway_netmask(call)
    values: dict[str, Any] = {}
    specs: list[dict[str, Any]] = []
    if guest == "L2":
        if gw or call.get("startip"):
            raise ParamError("An L2 network has no IP settings: gateway, netmask and startip are not allowed")
    elif guest == "Isolated":
        try:
            cidr = (ipaddress.IPv4Network(f"{gw}/{nm}", strict=False) if gw else
                    ipaddress.IPv4Network(zone.guest_cidr or DEFAULT_GUEST_CIDR, strict=False))
        except ValueError:
            raise ParamError(f"Invalid guest CIDR for zone {zone.uuid}") from None
        gateway = gw or str(next(cidr.hosts()))
        if ipaddress.IPv4Address(gateway) in (cidr.network_address, cidr.broadcast_address):
            raise ParamError(f"The gateway {gateway} is not a usable address of {cidr}")
        values.update(cidr=str(cidr), gateway=gateway, netmask=str(cidr.netmask))
    elif not basic:
        if not gw:
            raise ParamError("gateway and netmask are required for a shared network")
        cidr = ipaddress.IPv4Network(f"{gw}/{nm}", strict=False)
        values.update(cidr=str(cidr), gateway=gw, netmask=nm)
        if call.get("startip"):
            _, end = check_range(gw, nm, call.get("startip"), call.get("endip"))
            specs.append(asdict(ranges.RangeSpec(
                uuid=new_uuid(), range_type=ranges.GUEST, gateway=gw, netmask=str(nm),
                start_ip=str(call.get("startip")), end_ip=str(end), vlan_tag=uri or "untagged", physical_network_id=pn.id, for_virtual_network=False)))
        elif call.get("endip"):
            raise ParamError("endip needs startip")
    values.update(
        name=call.get("name"), display_text=call.get("displaytext") or call.get("name"), traffic_type="Guest",
        guest_type=guest, state="Setup" if guest == "Shared" else "Allocated", zone_id=zone.id,
        physical_network_id=pn.id, network_offering_id=off.id, account_id=account_id, domain_id=domain_id,
        acl_type=acl, subdomain_access=sub, broadcast_domain_type="Native" if basic else "Vlan",
        broadcast_uri=f"vlan://{uri}" if uri == "untagged" else uri,
        network_domain=await _network_domain(call, zone, account_id, guest),
        dns1=call.get("dns1"), dns2=call.get("dns2"), specify_ip_ranges=bool(off.specify_ip_ranges),
        display=True if call.get("displaynetwork") is None else bool(call.get("displaynetwork")),
        is_system=False, external_id=call.get("externalid"))
    uuid = new_uuid()
    await call.service.run(call, JobTarget(network_ref(uuid), "create",
                                           {"values": values, "vlan": vnet, "ranges": specs}, "Network"))
    await call.service.event(c, "NETWORK.CREATE", f"Successfully created network {values['name']}",
                             resource_type="Network", resource_uuid=uuid)
    return await load_network(call, uuid)


# -- changes ------------------------------------------------------------------------------------------

@command("updateNetwork", object_name="network", entity_type="Network", job_view=network_job_view)
async def update_network(call: Call) -> Accepted:
    row = await load_network_row(call, call.get("id"), modify=True)
    if call.get("networkofferingid") and call.get("networkofferingid") != row.off_uuid:
        raise ParamError("Changing the network offering of a network is not supported")
    for p in ("guestvmcidr", "ip6dns1", "ip6dns2", "publicmtu", "privatemtu"):
        if call.get(p) is not None:
            raise ParamError(f"Updating {p} of a network is not supported")
    changes = {"name": call.get("name"), "display_text": call.get("displaytext"),
               "network_domain": call.get("networkdomain"), "display": call.get("displaynetwork"),
               "dns1": call.get("dns1"), "dns2": call.get("dns2")}
    if changes["network_domain"]:
        check_network_domain(changes["network_domain"])
    for k in ("dns1", "dns2"):
        if changes[k] and ip4(changes[k]) is None:
            raise ParamError(f"Invalid {k} {changes[k]}")
    changes = {k: v for k, v in changes.items() if v is not None}
    accepted = await call.service.accept(call, JobTarget(network_ref(row.uuid), "update", changes, "Network"),
                                         row.uuid)
    await call.service.event(call.caller, "NETWORK.UPDATE", f"Updating network {row.uuid}", state="Scheduled",
                             resource_type="Network", resource_uuid=row.uuid)
    return accepted


@command("deleteNetwork", entity_type="Network")
async def delete_network(call: Call) -> Accepted:
    row = await load_network_row(call, call.get("id"), modify=True)
    if row.is_system:
        raise ParamError(f"Network {row.uuid} is a system network and cannot be deleted")
    if call.get("forced") and not call.caller.is_root_admin:
        raise NotAllowed("Only the ROOT admin may delete a network with forced=true")
    accepted = await call.service.accept(call, JobTarget(network_ref(row.uuid), "delete",
                                                         {"forced": bool(call.get("forced", False))}, "Network"),
                                         row.uuid)
    await call.service.event(call.caller, "NETWORK.DELETE", f"Deleting network {row.uuid}", state="Scheduled",
                             resource_type="Network", resource_uuid=row.uuid)
    return accepted


@command("restartNetwork", entity_type="Network")
async def restart_network(call: Call) -> Accepted:
    row = await load_network_row(call, call.get("id"), modify=True)
    if call.get("makeredundant"):
        raise ParamError("Redundant routers are not supported")
    accepted = await call.service.accept(call, JobTarget(network_ref(row.uuid), "restart",
                                                         {"cleanup": bool(call.get("cleanup", False))}, "Network"),
                                         row.uuid)
    await call.service.event(call.caller, "NETWORK.RESTART", f"Restarting network {row.uuid}", state="Scheduled",
                             resource_type="Network", resource_uuid=row.uuid)
    return accepted


# -- listing ------------------------------------------------------------------------------------------

async def _visible(call: Call) -> Any:
    """Accounts' networks as `scope.visibility` says, plus the domain (shared) networks the
    target domain may use: its own, and those of its ancestors that allow subdomain access."""
    vis = await scope.visibility(call)
    if vis.account_id is not None:
        if vis.account_id == call.caller.account_id:
            path = call.caller.domain_path
        else:
            async with call.service.engine.connect() as conn:
                path = (await conn.execute(select(D.c.path).select_from(A.join(D, A.c.domain_id == D.c.id)).where(
                    A.c.id == vis.account_id))).scalar_one()
        mine = and_(NET.c.acl_type == "Account", NET.c.account_id == vis.account_id)
    else:
        assert vis.domain_path is not None
        path = vis.domain_path
        mine = vis.clause(NET.c.account_id, NET.c.domain_id)
    inherited = and_(NET.c.acl_type == "Domain", or_(
        D.c.path == path, and_(NET.c.subdomain_access.is_(True), D.c.path.in_(ancestors(path)))))
    return or_(mine, inherited)


def _supporting(services: list[str], offering_col: Any) -> Any:
    wanted = {s.strip() for s in services if s and s.strip()}
    sub = (select(NOS.c.network_offering_id).where(NOS.c.service.in_(wanted))
           .group_by(NOS.c.network_offering_id).having(func.count(func.distinct(NOS.c.service)) == len(wanted)))
    return offering_col.in_(sub)


@command("listNetworks", object_name="network", roles=ALL)
async def list_networks(call: Call) -> ListResult:
    c = call.caller
    q = networks_query()
    if call.get("issystem"):
        if not c.is_root_admin:
            raise NotAllowed("Only the ROOT admin may list system networks")
        q = q.where(NET.c.is_system.is_(True))
    else:
        q = q.where(NET.c.is_system.is_(False), await _visible(call))
    if call.get("type"):
        q = q.where(NET.c.guest_type == GUEST_TYPES.get(str(call.get("type")).lower(), call.get("type")))
    if call.get("traffictype"):
        q = q.where(NET.c.traffic_type == TRAFFIC_TYPES.get(str(call.get("traffictype")).lower(),
                                                             call.get("traffictype")))
    q = q.where(*equalities(call, (
        ("id", NET.c.uuid), ("zoneid", Z.c.uuid), ("physicalnetworkid", PN.c.uuid), ("networkofferingid", NO.c.uuid),
        ("displaynetwork", NET.c.display), ("restartrequired", NET.c.restart_required),
        ("specifyipranges", NET.c.specify_ip_ranges))))
    if call.get("acltype"):
        q = q.where(NET.c.acl_type == str(call.get("acltype")).capitalize())
    if call.get("vlan"):
        try:
            q = q.where(NET.c.broadcast_uri == vlan_uri(str(call.get("vlan"))))
        except ParamError:
            q = q.where(false())
    if call.get("keyword"):
        kw = call.get("keyword")
        q = q.where(NET.c.name.contains(kw, autoescape=True) | NET.c.display_text.contains(kw, autoescape=True))
    if call.get("supportedservices"):
        q = q.where(_supporting(call.get("supportedservices"), NET.c.network_offering_id))
    q = q.where(*tag_filter(call, "Network", NET.c.id))
    if call.get("forvpc") or call.get("vpcid"):
        q = q.where(false())  # no VPCs
    admin = c.role_type != "User"
    async with call.service.engine.connect() as conn:
        if call.get("canusefordeploy") is None:
            rows, total = await page(call, conn, q, NET.c.id)
            return ListResult(await networks_out(conn, rows, admin=admin), total)
        # Usability depends on free addresses: filter the rendered networks, then page.
        items = [n for n in await networks_out(conn, (await conn.execute(q.order_by(NET.c.id))).all(), admin=admin)
                 if n["canusefordeploy"] == bool(call.get("canusefordeploy"))]
    max_size = await call.service.config_int("default.page.size") or 500
    size = call.get("pagesize") if 0 < (call.get("pagesize") or 0) <= max_size else max_size
    start = max(0, (call.get("page") or 1) - 1) * size
    return ListResult(items[start:start + size], len(items))


@command("listNetworkOfferings", object_name="networkoffering", roles=ALL)
async def list_network_offerings(call: Call) -> ListResult:
    q = (select(NO, SO.c.uuid.label("so_uuid")).select_from(NO.outerjoin(SO, NO.c.service_offering_id == SO.c.id))
         .where(NO.c.removed.is_(None), NO.c.is_system.is_(False)))
    if call.caller.role_type == "User":
        q = q.where(NO.c.state == "Enabled")
    q = q.where(*equalities(call, (
        ("id", NO.c.uuid), ("name", NO.c.name), ("displaytext", NO.c.display_text), ("isdefault", NO.c.is_default),
        ("specifyvlan", NO.c.specify_vlan), ("specifyipranges", NO.c.specify_ip_ranges), ("forvpc", NO.c.for_vpc),
        ("tags", NO.c.tags))))
    for p, col, names in (("traffictype", NO.c.traffic_type, TRAFFIC_TYPES), ("guestiptype", NO.c.guest_ip_type,
                                                                               GUEST_TYPES)):
        if call.get(p):
            q = q.where(col == names.get(str(call.get(p)).lower(), call.get(p)))
    if call.get("availability"):
        q = q.where(NO.c.availability == str(call.get("availability")).capitalize())
    if call.get("state"):
        q = q.where(NO.c.state == str(call.get("state")).capitalize())
    if call.get("keyword"):
        q = q.where(NO.c.name.contains(call.get("keyword"), autoescape=True))
    if call.get("supportedservices"):
        q = q.where(_supporting(call.get("supportedservices"), NO.c.id))
    if call.get("sourcenatsupported") is not None:
        snat = NO.c.id.in_(select(NOS.c.network_offering_id).where(NOS.c.service == "SourceNat"))
        q = q.where(snat if call.get("sourcenatsupported") else ~snat)
    if call.get("istagged") is not None:
        q = q.where(NO.c.tags.is_not(None) if call.get("istagged") else NO.c.tags.is_(None))
    if call.get("networkid"):
        net = await load_network_row(call, call.get("networkid"))
        q = q.where(NO.c.guest_ip_type == net.guest_type, NO.c.state == "Enabled")
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, NO.c.id)
        services = await services_of(conn, [r.id for r in rows])
        router = (await conn.execute(select(SO.c.uuid).where(
            SO.c.is_system.is_(True), SO.c.system_vm_type == "domainrouter", SO.c.default_use.is_(True))
            .limit(1))).scalar()
    return ListResult([offering_view(r, services.get(r.id, []), router) for r in rows], total)
