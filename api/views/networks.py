"""Guest networks, network offerings, virtual routers and public IP addresses:
rows → CloudStack's responses. Each list is one joined query per page plus
one query per page for what hangs off the rows (services, NICs, address
counts); the names of the joined columns (`zone_uuid`, `acct_name`, ...) are
the contract with the commands."""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.api.dates import format_date
from cloudplane.api.views.tags import tags_by_resource
from cloudplane.store.tables.compute import ServiceOffering, VmInstance
from cloudplane.store.tables.identity import Account, Domain
from cloudplane.store.tables.images import Template
from cloudplane.store.tables.infra import Host, Pod, Zone
from cloudplane.store.tables.network import (
    GuestIp,
    IpAddress,
    Network,
    NetworkOffering,
    NetworkOfferingService,
    Nic,
    PhysicalNetwork,
    VlanIpRange,
)

NET, NO, NOS, PN, NIC, GIP, IP, RANGE = (t.__table__ for t in (  # type: ignore[attr-defined]
    Network, NetworkOffering, NetworkOfferingService, PhysicalNetwork, Nic, GuestIp, IpAddress, VlanIpRange))
Z, A, D, VM, SO, H, P, T = (t.__table__ for t in (  # type: ignore[attr-defined]
    Zone, Account, Domain, VmInstance, ServiceOffering, Host, Pod, Template))
DEFAULT_NETWORK_RATE = 200  # CloudStack's network.throttling.rate, Mb/s


def _clean(out: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in out.items() if v is not None}


def vlan_of(uri: str | None) -> str | None:
    """`vlan://100` → `100`."""
    if not uri:
        return None
    return uri.split("://", 1)[1] if "://" in uri else uri


async def services_of(conn: AsyncConnection, offering_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, dict[str, list[str]]] = {}
    if offering_ids:
        q = select(NOS).where(NOS.c.network_offering_id.in_(offering_ids)).order_by(NOS.c.id)
        for s in (await conn.execute(q)).all():
            provs = out.setdefault(s.network_offering_id, {}).setdefault(s.service, [])
            if s.provider and s.provider not in provs:
                provs.append(s.provider)
    return {oid: [{"name": svc, "provider": [{"name": p} for p in provs], "capability": []}
                  for svc, provs in svcs.items()] for oid, svcs in out.items()}


# -- networks ------------------------------------------------------------------------------------

def networks_query() -> Any:
    return (select(NET, Z.c.uuid.label("zone_uuid"), Z.c.name.label("zone_name"), Z.c.dns1.label("zone_dns1"),
                   Z.c.dns2.label("zone_dns2"), NO.c.uuid.label("off_uuid"), NO.c.name.label("off_name"),
                   NO.c.display_text.label("off_text"), NO.c.conserve_mode.label("off_conserve"),
                   NO.c.availability.label("off_availability"), NO.c.is_persistent.label("off_persistent"),
                   NO.c.egress_default_policy.label("off_egress"), A.c.uuid.label("acct_uuid"),
                   A.c.name.label("acct_name"), D.c.uuid.label("dom_uuid"), D.c.name.label("dom_name"),
                   D.c.path.label("dom_path"), PN.c.uuid.label("pn_uuid"))
            .select_from(NET.join(Z, NET.c.zone_id == Z.c.id).join(NO, NET.c.network_offering_id == NO.c.id)
                         .join(A, NET.c.account_id == A.c.id).join(D, NET.c.domain_id == D.c.id)
                         .outerjoin(PN, NET.c.physical_network_id == PN.c.id))
            .where(NET.c.removed.is_(None)))


async def free_addresses(conn: AsyncConnection, rows: list[Any]) -> dict[int, int]:
    """Unclaimed addresses of shared networks (from their IP ranges)."""
    ids = [r.id for r in rows if r.guest_type == "Shared"]
    if not ids:
        return {}
    size: dict[int, int] = dict.fromkeys(ids, 0)
    for r in (await conn.execute(select(RANGE.c.network_id, RANGE.c.start_ip, RANGE.c.end_ip).where(
            RANGE.c.network_id.in_(ids), RANGE.c.range_type == "guest", RANGE.c.removed.is_(None)))).all():
        if r.start_ip and r.end_ip:
            size[r.network_id] += int(ipaddress.IPv4Address(r.end_ip)) - int(ipaddress.IPv4Address(r.start_ip)) + 1
    for nid, n in (await conn.execute(select(GIP.c.network_id, func.count()).where(
            GIP.c.network_id.in_(ids)).group_by(GIP.c.network_id))).all():
        size[nid] -= int(n)
    return size


async def networks_out(conn: AsyncConnection, rows: list[Any], *, admin: bool) -> list[dict[str, Any]]:
    services = await services_of(conn, list({r.network_offering_id for r in rows}))
    free = await free_addresses(conn, rows)
    tags = await tags_by_resource(conn, "Network", [r.id for r in rows])
    return [{**network_view(r, services.get(r.network_offering_id, []), free.get(r.id), admin=admin),
             "tags": tags.get(r.id, [])} for r in rows]


def can_use_for_deploy(r: Any, free: int | None) -> bool:
    if r.is_system or r.traffic_type != "Guest":
        return False
    return free is None or free > 0


def network_view(r: Any, services: list[dict[str, Any]], free: int | None, *, admin: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": r.uuid, "name": r.name, "displaytext": r.display_text or r.name,
        "broadcastdomaintype": r.broadcast_domain_type, "traffictype": r.traffic_type, "gateway": r.gateway,
        "netmask": r.netmask, "cidr": r.cidr, "zoneid": r.zone_uuid, "zonename": r.zone_name,
        "networkofferingid": r.off_uuid, "networkofferingname": r.off_name,
        "networkofferingdisplaytext": r.off_text, "networkofferingconservemode": bool(r.off_conserve),
        "networkofferingavailability": r.off_availability, "issystem": bool(r.is_system), "state": r.state,
        "related": r.uuid, "dns1": r.dns1 or r.zone_dns1, "dns2": r.dns2 or r.zone_dns2, "type": r.guest_type,
        "acltype": r.acl_type, "domainid": r.dom_uuid, "domain": r.dom_name, "service": services,
        "networkdomain": r.network_domain, "physicalnetworkid": r.pn_uuid,
        "restartrequired": bool(r.restart_required), "specifyipranges": bool(r.specify_ip_ranges),
        "canusefordeploy": can_use_for_deploy(r, free), "ispersistent": bool(r.off_persistent), "tags": [],
        "details": {}, "displaynetwork": bool(r.display), "strechedl2subnet": False, "redundantrouter": False,
        "created": format_date(r.created), "hasannotations": False, "supportsvmautoscaling": False,
        "egressdefaultpolicy": bool(r.off_egress) if r.guest_type == "Isolated" else None,
    }
    if r.acl_type == "Account":
        out["account"] = r.acct_name
    else:
        out["subdomainaccess"] = bool(r.subdomain_access)
    if admin:
        out.update(broadcasturi=r.broadcast_uri, vlan=vlan_of(r.broadcast_uri))
    return _clean(out)


# -- network offerings ---------------------------------------------------------------------------

def offering_view(r: Any, services: list[dict[str, Any]], router_offering: str | None) -> dict[str, Any]:
    return _clean({
        "id": r.uuid, "name": r.name, "displaytext": r.display_text, "traffictype": r.traffic_type,
        "isdefault": bool(r.is_default), "specifyvlan": bool(r.specify_vlan), "conservemode": bool(r.conserve_mode),
        "specifyipranges": bool(r.specify_ip_ranges), "availability": r.availability,
        "networkrate": r.network_rate_mbps or DEFAULT_NETWORK_RATE, "state": r.state, "guestiptype": r.guest_ip_type,
        "serviceofferingid": getattr(r, "so_uuid", None) or router_offering, "service": services,
        "forvpc": bool(r.for_vpc), "ispersistent": bool(r.is_persistent),
        "egressdefaultpolicy": bool(r.egress_default_policy), "supportsstrechedl2subnet": False,
        "supportspublicaccess": False, "created": format_date(r.created), "internetprotocol": r.internet_protocol,
        "fortungsten": False, "maxconnections": r.max_connections, "tags": r.tags, "hasannotations": False,
    })


# -- virtual routers ----------------------------------------------------------------------------

def routers_query(*, removed: bool = False) -> Any:
    q = (select(VM, Z.c.uuid.label("zone_uuid"), Z.c.name.label("zone_name"), Z.c.dns1.label("zone_dns1"),
                   Z.c.dns2.label("zone_dns2"), H.c.uuid.label("host_uuid"), H.c.name.label("host_name"),
                   P.c.uuid.label("pod_uuid"), P.c.name.label("pod_name"), T.c.uuid.label("tpl_uuid"),
                   T.c.name.label("tpl_name"), SO.c.uuid.label("so_uuid"), SO.c.name.label("so_name"),
                   A.c.name.label("acct_name"), D.c.uuid.label("dom_uuid"), D.c.name.label("dom_name"),
                   D.c.path.label("dom_path"))
            .select_from(VM.join(Z, VM.c.zone_id == Z.c.id).outerjoin(H, VM.c.host_id == H.c.id)
                         .outerjoin(P, VM.c.pod_id == P.c.id).outerjoin(T, VM.c.template_id == T.c.id)
                         .join(SO, VM.c.service_offering_id == SO.c.id).join(A, VM.c.account_id == A.c.id)
                         .join(D, VM.c.domain_id == D.c.id))
         .where(VM.c.type == "DomainRouter"))
    return q if removed else q.where(VM.c.removed.is_(None))


async def routers_out(conn: AsyncConnection, rows: list[Any]) -> list[dict[str, Any]]:
    nics: dict[int, list[Any]] = {}
    if rows:
        q = (select(NIC, NET.c.uuid.label("net_uuid"), NET.c.name.label("net_name"),
                    NET.c.network_domain.label("net_domain"), NET.c.guest_type.label("net_type"))
             .select_from(NIC.join(NET, NIC.c.network_id == NET.c.id))
             .where(NIC.c.instance_id.in_([r.id for r in rows]), NIC.c.removed.is_(None)).order_by(NIC.c.device_id))
        for n in (await conn.execute(q)).all():
            nics.setdefault(n.instance_id, []).append(n)
    return [router_view(r, nics.get(r.id, [])) for r in rows]


def router_view(r: Any, nics: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": r.uuid, "name": r.instance_name or r.name, "account": r.acct_name, "domainid": r.dom_uuid,
        "domain": r.dom_name, "created": format_date(r.created), "state": r.state, "zoneid": r.zone_uuid,
        "zonename": r.zone_name, "podid": r.pod_uuid, "podname": r.pod_name, "hostid": r.host_uuid,
        "hostname": r.host_name, "hypervisor": r.hypervisor_type, "templateid": r.tpl_uuid,
        "templatename": r.tpl_name, "serviceofferingid": r.so_uuid, "serviceofferingname": r.so_name,
        "dns1": r.zone_dns1, "dns2": r.zone_dns2, "role": "VIRTUAL_ROUTER", "isredundantrouter": False,
        "redundantstate": r.redundant_state or "UNKNOWN", "requiresupgrade": False, "version": "4.18.0",
        "healthchecksfailed": False, "hasannotations": False, "nic": [],
    }
    for n in nics:
        out["nic"].append(_clean({
            "id": n.uuid, "networkid": n.net_uuid, "networkname": n.net_name, "netmask": n.netmask,
            "gateway": n.gateway, "ipaddress": n.ip4_address, "isolationuri": n.isolation_uri,
            "broadcasturi": n.broadcast_uri, "traffictype": n.traffic_type, "type": n.net_type,
            "isdefault": bool(n.is_default), "macaddress": n.mac_address, "deviceid": str(n.device_id)}))
        if n.traffic_type == "Guest":
            out.update(guestnetworkid=n.net_uuid, guestnetworkname=n.net_name, guestipaddress=n.ip4_address,
                       guestmacaddress=n.mac_address, guestnetmask=n.netmask, networkdomain=n.net_domain)
        elif n.traffic_type == "Public":
            out.update(publicip=n.ip4_address, publicmacaddress=n.mac_address, publicnetmask=n.netmask,
                       publicnetworkid=n.net_uuid, gateway=n.gateway)
        elif n.traffic_type == "Control":
            out.update(linklocalip=n.ip4_address, linklocalmacaddress=n.mac_address, linklocalnetmask=n.netmask,
                       linklocalnetworkid=n.net_uuid)
    return _clean(out)


# -- public IP addresses -----------------------------------------------------------------------------

ASSOC, SRC = NET.alias("assoc"), NET.alias("src")  # the guest network using an address; the one it lives on


def addresses_query() -> Any:
    assoc, src = ASSOC, SRC
    return (select(IP, Z.c.uuid.label("zone_uuid"), Z.c.name.label("zone_name"), RANGE.c.uuid.label("range_uuid"),
                   RANGE.c.vlan_tag.label("range_tag"), RANGE.c.for_virtual_network.label("range_virtual"),
                   assoc.c.uuid.label("assoc_uuid"), assoc.c.name.label("assoc_name"), src.c.uuid.label("src_uuid"),
                   src.c.name.label("src_name"), PN.c.uuid.label("pn_uuid"), A.c.name.label("acct_name"),
                   D.c.uuid.label("dom_uuid"), D.c.name.label("dom_name"))
            .select_from(IP.join(Z, IP.c.zone_id == Z.c.id).join(RANGE, IP.c.vlan_range_id == RANGE.c.id)
                         .outerjoin(assoc, IP.c.associated_network_id == assoc.c.id)
                         .outerjoin(src, IP.c.source_network_id == src.c.id)
                         .outerjoin(PN, IP.c.physical_network_id == PN.c.id)
                         .outerjoin(A, IP.c.account_id == A.c.id).outerjoin(D, IP.c.domain_id == D.c.id))
            .where(RANGE.c.removed.is_(None)))


def address_view(r: Any) -> dict[str, Any]:
    tag = r.range_tag or "untagged"
    return _clean({
        "id": r.uuid, "ipaddress": r.public_ip, "allocated": format_date(r.allocated) if r.allocated else None,
        "zoneid": r.zone_uuid, "zonename": r.zone_name, "issourcenat": bool(r.is_source_nat),
        "account": r.acct_name, "domainid": r.dom_uuid, "domain": r.dom_name,
        "forvirtualnetwork": bool(r.range_virtual), "vlanid": r.range_uuid,
        "vlanname": tag if tag.startswith("vlan://") else f"vlan://{tag}", "isstaticnat": bool(r.is_static_nat),
        "issystem": bool(r.is_system), "associatednetworkid": r.assoc_uuid, "associatednetworkname": r.assoc_name,
        "networkid": r.src_uuid, "networkname": r.src_name, "state": r.state, "physicalnetworkid": r.pn_uuid,
        "tags": [], "isportable": bool(r.is_portable), "fordisplay": bool(r.display), "hasannotations": False,
    })
