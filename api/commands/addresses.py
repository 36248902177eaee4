"""Public IP addresses: associateIpAddress, disassociateIpAddress,
listPublicIpAddresses. An address is associated with an isolated guest
network by that network's entity (a conditional UPDATE of a Free
`ip_address` row: actors/kinds/router.py); the first one a network gets is its
source NAT address."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, false, or_, select

from cloudplane.api import scope
from cloudplane.api.commands.base import ALL, command, equalities, page
from cloudplane.api.commands.networks import load_network_row, network_ref
from cloudplane.api.context import Accepted, Call, Caller, JobTarget, ListResult
from cloudplane.api.views.networks import ASSOC, IP, NET, NOS, PN, RANGE, SRC, Z, address_view, addresses_query
from cloudplane.api.views.tags import tag_filter, tags_by_resource
from cloudplane.errors import NotAllowed, ParamError
from cloudplane.store.tables.identity import Domain

D = Domain.__table__  # type: ignore[attr-defined]


async def load_address(service: Any, uuid: str | None) -> dict[str, Any] | None:
    async with service.engine.connect() as conn:
        row = (await conn.execute(addresses_query().where(IP.c.uuid == uuid))).first()
    return address_view(row) if row is not None else None


async def address_job_view(service: Any, caller: Caller, result: dict[str, Any]) -> dict[str, Any]:
    view = await load_address(service, result.get("id"))
    return {"ipaddress": view} if view is not None else {"success": True}


async def _default_network(call: Call) -> str:
    """associateIpAddress with a zone only: the owner's first isolated network there with source NAT."""
    async with call.service.engine.connect() as conn:
        zone = (await conn.execute(select(Z.c.id).where(
            Z.c.uuid == call.get("zoneid"), Z.c.removed.is_(None)))).scalar()
    if zone is None:
        raise ParamError(f"Unable to find zone by id {call.get('zoneid')}")
    account_id, _ = await scope.target_account(call)
    async with call.service.engine.connect() as conn:
        uuid = (await conn.execute(select(NET.c.uuid).where(
            NET.c.zone_id == zone, NET.c.account_id == account_id, NET.c.guest_type == "Isolated",
            NET.c.removed.is_(None), NET.c.network_offering_id.in_(
                select(NOS.c.network_offering_id).where(NOS.c.service == "SourceNat"))).order_by(NET.c.id)
            .limit(1))).scalar()
    if uuid is None:
        raise ParamError(f"Unable to figure out the network to associate the IP address with in zone "
                         f"{call.get('zoneid')}: specify networkid")
    return str(uuid)


@command("associateIpAddress", object_name="ipaddress", entity_type="IpAddress", job_view=address_job_view)
async def associate_ip_address(call: Call) -> Accepted:
    if call.get("vpcid") or call.get("isportable"):
        raise ParamError("Portable IP addresses and VPCs are not supported")
    if not call.get("networkid") and not call.get("zoneid"):
        raise ParamError("Either networkid or zoneid must be specified")
    net = await load_network_row(call, call.get("networkid") or await _default_network(call))
    if call.get("zoneid") and call.get("zoneid") != net.zone_uuid:
        raise ParamError(f"Network {net.uuid} is not in zone {call.get('zoneid')}")
    if call.get("account") or call.get("domainid"):
        account_id, _ = await scope.target_account(call)
        if account_id != net.account_id:
            raise ParamError(f"Network {net.uuid} belongs to another account")
    if net.guest_type != "Isolated":
        raise ParamError(f"Public IP addresses can be associated only with isolated networks; network {net.uuid} "
                         f"is {net.guest_type}")
    # CloudStack reserves the address before it answers (an async create): refusals come at once.
    target = JobTarget(network_ref(net.uuid), "associate_ip", {"account_id": net.account_id,
                                                                "domain_id": net.domain_id,
                                                                "ip": call.get("ipaddress")}, "IpAddress")
    job = await call.service.submit(call, target)
    result = (await call.service.runtime.wait(job, 120.0)).unwrap()
    await call.service.event(call.caller, "NET.IPASSIGN", f"Associated IP address {result['ipaddress']} with "
                             f"network {net.uuid}", resource_type="IpAddress", resource_uuid=result["id"])
    return Accepted(job, result["id"])


@command("disassociateIpAddress", entity_type="IpAddress")
async def disassociate_ip_address(call: Call) -> Accepted:
    uuid = call.get("id")
    async with call.service.engine.connect() as conn:
        row = (await conn.execute(select(IP, D.c.path.label("dom_path")).select_from(
            IP.outerjoin(D, IP.c.domain_id == D.c.id)).where(IP.c.uuid == uuid))).first()
        net = (await conn.execute(select(NET.c.uuid).where(NET.c.id == row.associated_network_id))).scalar() \
            if row is not None and row.associated_network_id else None
    if row is None or row.state == "Free":
        raise ParamError(f"Unable to find an allocated IP address by id {uuid}")
    c = call.caller
    if (c.role_type == "User" and row.account_id != c.account_id) or \
            (c.role_type != "User" and not str(row.dom_path or "").startswith(c.domain_path)):
        raise NotAllowed(f"Caller {c.username} is not allowed to release IP address {uuid}")
    if row.is_source_nat:
        raise ParamError(f"IP address {row.public_ip} is used for source NAT and cannot be disassociated")
    if net is None:
        raise ParamError(f"IP address {uuid} is not associated with a network")
    accepted = await call.service.accept(call, JobTarget(network_ref(net), "disassociate_ip", {"ip_uuid": uuid},
                                                         "IpAddress"), uuid)
    await call.service.event(c, "NET.IPRELEASE", f"Releasing IP address {row.public_ip}", state="Scheduled",
                             resource_type="IpAddress", resource_uuid=uuid)
    return accepted


@command("listPublicIpAddresses", object_name="publicipaddress", roles=ALL)
async def list_public_ip_addresses(call: Call) -> ListResult:
    vis = await scope.visibility(call)
    q = addresses_query()
    owned = and_(IP.c.state != "Free", vis.clause(IP.c.account_id, IP.c.domain_id))
    if call.get("allocatedonly", True):
        q = q.where(owned)
    else:
        free = and_(IP.c.state == "Free", RANGE.c.account_id.is_(None), RANGE.c.domain_id.is_(None))
        q = q.where(or_(owned, free) if call.caller.role_type == "User" else or_(owned, IP.c.state == "Free"))
    q = q.where(*equalities(call, (
        ("id", IP.c.uuid), ("ipaddress", IP.c.public_ip), ("zoneid", Z.c.uuid), ("associatednetworkid", ASSOC.c.uuid),
        ("networkid", SRC.c.uuid), ("issourcenat", IP.c.is_source_nat), ("isstaticnat", IP.c.is_static_nat),
        ("forvirtualnetwork", RANGE.c.for_virtual_network), ("vlanid", RANGE.c.uuid),
        ("physicalnetworkid", PN.c.uuid), ("state", IP.c.state), ("fordisplay", IP.c.display))))
    if call.get("keyword"):
        q = q.where(IP.c.public_ip.contains(call.get("keyword"), autoescape=True))
    q = q.where(*tag_filter(call, "PublicIpAddress", IP.c.id))
    if call.get("vpcid"):
        q = q.where(false())  # no VPCs
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, IP.c.id)
        tags = await tags_by_resource(conn, "PublicIpAddress", [r.id for r in rows])
    return ListResult([{**address_view(r), "tags": tags.get(r.id, [])} for r in rows], total)
