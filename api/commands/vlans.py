"""IP ranges: createVlanIpRange (the zone creates the range: public ranges on
its Public physical network, guest ranges of a shared network),
deleteVlanIpRange, listVlanIpRanges, dedicatePublicIpRange,
releasePublicIpRange. Pods' management ranges come with createPod."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import select

from cloudplane.actors.identity import EntityRef
from cloudplane.actors.kinds import vlan as kinds
from cloudplane.actors.kinds.infra import zone_ref
from cloudplane.actors.kinds.ipranges import check_range, ip4, vlan_uri
from cloudplane.api import scope
from cloudplane.api.commands.base import ROOT, command, page
from cloudplane.api.commands.infrautil import find
from cloudplane.api.context import Call, JobTarget, ListResult, Success
from cloudplane.api.views.infra import vlan_view
from cloudplane.errors import NotAllowed, ParamError
from cloudplane.store.base import new_uuid
from cloudplane.store.tables.identity import Account, Domain
from cloudplane.store.tables.infra import Pod, Zone
from cloudplane.store.tables.network import Network, PhysicalNetwork, PhysicalNetworkTrafficType, VlanIpRange

V, Z, P, NET = VlanIpRange.__table__, Zone.__table__, Pod.__table__, Network.__table__  # type: ignore[attr-defined]
PN, TT = PhysicalNetwork.__table__, PhysicalNetworkTrafficType.__table__  # type: ignore[attr-defined]
A, D = Account.__table__, Domain.__table__  # type: ignore[attr-defined]


def ranges_q() -> Any:
    return (select(V, Z.c.uuid.label("zone_uuid"), P.c.uuid.label("pod_uuid"), P.c.name.label("pod_name"),
                   NET.c.uuid.label("network_uuid"), PN.c.uuid.label("pn_uuid"), A.c.name.label("account_name"),
                   D.c.uuid.label("domain_uuid"), D.c.name.label("domain_name"))
            .select_from(V.join(Z, V.c.zone_id == Z.c.id).outerjoin(P, V.c.pod_id == P.c.id)
                         .outerjoin(NET, V.c.network_id == NET.c.id)
                         .outerjoin(PN, V.c.physical_network_id == PN.c.id)
                         .outerjoin(A, V.c.account_id == A.c.id).outerjoin(D, V.c.domain_id == D.c.id))
            .where(V.c.removed.is_(None), V.c.range_type != kinds.POD))


async def load_range(call: Call, uuid: str) -> dict[str, Any]:
    async with call.service.engine.connect() as conn:
        row = (await conn.execute(ranges_q().where(V.c.uuid == uuid))).first()
    if row is None:
        raise ParamError(f"Please specify a valid IP range id {uuid}")
    return vlan_view(row)


async def _public_physnet(call: Call, zone: Any) -> int:
    async with call.service.engine.connect() as conn:
        pn = (await conn.execute(select(PN.c.id).select_from(TT.join(PN, TT.c.physical_network_id == PN.c.id)).where(
            PN.c.zone_id == zone.id, PN.c.removed.is_(None), TT.c.traffic_type == "Public",
            TT.c.removed.is_(None)).limit(1))).scalar()
    if pn is None:
        raise ParamError("Unable to find the default physical network with traffic=Public in the specified zone id")
    return int(pn)


async def _basic_guest_network(call: Call, zone: Any) -> Any:
    """A basic zone's direct ranges belong to its one shared guest network."""
    async with call.service.engine.connect() as conn:
        net = (await conn.execute(select(NET).where(
            NET.c.zone_id == zone.id, NET.c.traffic_type == "Guest", NET.c.guest_type == "Shared",
            NET.c.removed.is_(None)).order_by(NET.c.id).limit(1))).first()
    if net is None:
        raise ParamError(f"Unable to find network with trafficType Guest and guestType Shared in zone {zone.uuid}; "
                         "create the zone's guest network first or give networkid")
    return net


async def _owner(call: Call) -> tuple[int | None, int | None]:
    """The account (and domain) a range is dedicated to at creation, if any."""
    if call.get("projectid"):
        raise ParamError("Dedicating IP ranges to projects is not supported")
    if not call.get("account") and not call.get("domainid"):
        return None, None
    dom = await scope.domain_by_uuid(call, call.get("domainid") or call.caller.domain_uuid)
    if call.get("account"):
        return int((await scope.account_in(call, call.get("account"), dom.id)).id), int(dom.id)
    return None, int(dom.id)


@command("createVlanIpRange", object_name="vlan", roles=ROOT, entity_type="Vlan")
async def create_vlan_ip_range(call: Call) -> dict[str, Any]:
    if not call.get("startip"):
        if call.get("ip6cidr") or call.get("startipv6"):
            raise ParamError("IPv6 ranges are not supported yet; please specify an IPv4 range")
        raise ParamError("Please specify IPv4 or IPv6 address.")
    network = await find(call, NET, "networkid", required=False)
    if network is not None:
        async with call.service.engine.connect() as conn:
            zone = (await conn.execute(select(Z).where(Z.c.id == network.zone_id))).first()
        if zone is not None and call.get("zoneid") and call.get("zoneid") != zone.uuid:
            raise ParamError(f"Network {network.uuid} doesn't belong to zone {call.get('zoneid')}")
    else:
        zone = await find(call, Z, "zoneid")
        if zone.network_type == "Basic" and call.get("forvirtualnetwork") is False:
            network = await _basic_guest_network(call, zone)
    assert zone is not None
    pod = await find(call, P, "podid", required=False)
    if pod is not None and pod.zone_id != zone.id:
        raise ParamError(f"Pod {pod.uuid} doesn't belong to zone id={zone.uuid}")
    gateway, netmask = call.get("gateway"), call.get("netmask")
    if network is not None and (not gateway or not netmask) and network.gateway and network.netmask:
        gateway, netmask = gateway or network.gateway, netmask or network.netmask
    _, end = check_range(gateway, netmask, call.get("startip"), call.get("endip"))
    account_id, domain_id = await _owner(call)
    if (account_id or domain_id) and zone.network_type != "Advanced":
        raise ParamError("Vlan owner can be defined only in the zone of type Advanced")
    forvirtual = call.get("forvirtualnetwork")
    pn = await find(call, PN, "physicalnetworkid", required=False)
    if network is not None and network.traffic_type == "Guest":
        if network.guest_type != "Shared":
            raise ParamError("Can only add IP ranges to a shared guest network")
        range_type, forvirtual = kinds.GUEST, False
        tag = vlan_uri(call.get("vlan") or (network.broadcast_uri or "").replace("vlan://", "") or None)
        pn_id = network.physical_network_id
    else:
        if forvirtual is False:
            raise ParamError("Network id is required for a direct (guest) IP range")
        if pod is not None:
            raise ParamError("Pod id can be specified only for the networks of type Guest in zone of type Basic")
        range_type, forvirtual = kinds.PUBLIC, True
        tag = vlan_uri(call.get("vlan"))
        pn_id = pn.id if pn is not None else await _public_physnet(call, zone)
    spec = kinds.RangeSpec(
        uuid=new_uuid(), range_type=range_type, gateway=str(gateway), netmask=str(netmask),
        start_ip=str(ip4(call.get("startip"))), end_ip=str(ip4(end)), vlan_tag=tag,
        pod_id=pod.id if pod is not None else None, physical_network_id=pn_id,
        network_id=network.id if network is not None else None, for_virtual_network=bool(forvirtual),
        for_system_vms=bool(call.get("forsystemvms", False)), account_id=account_id, domain_id=domain_id)
    await call.service.run(call, JobTarget(zone_ref(zone.uuid), "create_vlan_range", {"spec": asdict(spec)}))
    await call.service.event(call.caller, "VLAN.IP.RANGE.CREATE",
                             f"Successfully created VLAN IP range {spec.start_ip}-{spec.end_ip}",
                             resource_type="Vlan", resource_uuid=spec.uuid)
    return await load_range(call, spec.uuid)


@command("deleteVlanIpRange", roles=ROOT, entity_type="Vlan")
async def delete_vlan_ip_range(call: Call) -> Success:
    r = await find(call, V, "id")
    if r.range_type == kinds.POD:
        raise ParamError("A pod's management IP range is deleted with deleteManagementNetworkIpRange")
    await call.service.run(call, JobTarget(EntityRef("vlan_ip_range", r.uuid), "delete", {}))
    await call.service.event(call.caller, "VLAN.IP.RANGE.DELETE", f"Successfully deleted VLAN IP range {r.uuid}",
                             resource_type="Vlan", resource_uuid=r.uuid)
    return Success()


@command("listVlanIpRanges", object_name="vlaniprange", roles=ROOT)
async def list_vlan_ip_ranges(call: Call) -> ListResult:
    q = ranges_q()
    for param, col in (("id", V.c.uuid), ("zoneid", Z.c.uuid), ("podid", P.c.uuid), ("networkid", NET.c.uuid),
                       ("physicalnetworkid", PN.c.uuid)):
        if call.get(param) is not None:
            q = q.where(col == call.get(param))
    if call.get("vlan"):
        q = q.where(V.c.vlan_tag == vlan_uri(call.get("vlan")))
    if call.get("forvirtualnetwork") is not None:
        q = q.where(V.c.for_virtual_network.is_(bool(call.get("forvirtualnetwork"))))
    if call.get("account") or call.get("domainid"):
        account_id, domain_id = await _owner(call)
        q = q.where(V.c.account_id == account_id) if account_id is not None else q.where(V.c.domain_id == domain_id)
    if call.get("keyword"):
        q = q.where(V.c.vlan_tag.contains(call.get("keyword")))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, V.c.id)
    return ListResult([vlan_view(r) for r in rows], total)


@command("dedicatePublicIpRange", object_name="vlan", roles=ROOT, entity_type="Vlan")
async def dedicate_public_ip_range(call: Call) -> dict[str, Any]:
    r = await find(call, V, "id")
    account_id, domain_id = await _owner(call)
    if domain_id is None:
        raise NotAllowed("dedicatePublicIpRange needs a domain")
    await call.service.run(call, JobTarget(EntityRef("vlan_ip_range", r.uuid), "dedicate",
                                           {"account_id": account_id, "domain_id": domain_id}))
    await call.service.event(call.caller, "VLAN.IP.RANGE.DEDICATE", f"Dedicated VLAN IP range {r.uuid}",
                             resource_type="Vlan", resource_uuid=r.uuid)
    return await load_range(call, r.uuid)


@command("releasePublicIpRange", roles=ROOT, entity_type="Vlan")
async def release_public_ip_range(call: Call) -> Success:
    r = await find(call, V, "id")
    await call.service.run(call, JobTarget(EntityRef("vlan_ip_range", r.uuid), "release", {}))
    await call.service.event(call.caller, "VLAN.IP.RANGE.RELEASE", f"Released VLAN IP range {r.uuid}",
                             resource_type="Vlan", resource_uuid=r.uuid)
    return Success()
