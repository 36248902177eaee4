"""Physical networks and traffic types: createPhysicalNetwork (its zone
creates it, with CloudStack's default providers), updatePhysicalNetwork,
deletePhysicalNetwork, listPhysicalNetworks, addTrafficType, listTrafficTypes,
updateTrafficType, deleteTrafficType. Providers and elements: providers.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from cloudplane.actors.identity import EntityRef
from cloudplane.actors.kinds.infra import zone_ref
from cloudplane.actors.kinds.ipranges import vnet_set, vnet_string
from cloudplane.actors.kinds.physnet import ISOLATION_METHODS, OTHER_LABELS, TT_DETAIL, pn_state, resolve_traffic_type
from cloudplane.api.commands.base import ROOT, command, page
from cloudplane.api.commands.infrautil import create_now, find, job_view
from cloudplane.api.context import Accepted, Call, JobTarget, ListResult
from cloudplane.api.views.infra import physnet_view, traffic_type_view
from cloudplane.errors import ParamError
from cloudplane.store.base import new_uuid
from cloudplane.store.tables.identity import Domain
from cloudplane.store.tables.infra import Zone
from cloudplane.store.tables.network import PhysicalNetwork, PhysicalNetworkTrafficType
from cloudplane.store.tables.tags import ResourceDetail

PN, TT = PhysicalNetwork.__table__, PhysicalNetworkTrafficType.__table__  # type: ignore[attr-defined]
Z = Zone.__table__  # type: ignore[attr-defined]
D, DET = Domain.__table__, ResourceDetail.__table__  # type: ignore[attr-defined]


def pn_ref(uuid: str) -> EntityRef:
    return EntityRef("physical_network", uuid)


def physnets_q() -> Any:
    return (select(PN, Z.c.uuid.label("zone_uuid"), Z.c.name.label("zone_name"), D.c.uuid.label("domain_uuid"))
            .select_from(PN.join(Z, PN.c.zone_id == Z.c.id).outerjoin(D, PN.c.domain_id == D.c.id))
            .where(PN.c.removed.is_(None)))


async def load_physnet(call: Call, uuid: str) -> dict[str, Any]:
    async with call.service.engine.connect() as conn:
        row = (await conn.execute(physnets_q().where(PN.c.uuid == uuid))).first()
    if row is None:
        raise ParamError(f"Physical Network with specified id {uuid} doesn't exist in the system")
    return physnet_view(row)


def traffic_q() -> Any:
    return (select(TT, PN.c.uuid.label("pn_uuid")).select_from(TT.join(PN, TT.c.physical_network_id == PN.c.id))
            .where(TT.c.removed.is_(None), PN.c.removed.is_(None)))


async def traffic_out(conn: Any, rows: list[Any]) -> list[dict[str, Any]]:
    labels: dict[int, dict[str, str]] = {}
    if rows:
        q = select(DET.c.resource_id, DET.c.name, DET.c.value).where(
            DET.c.resource_type == TT_DETAIL, DET.c.resource_id.in_([r.id for r in rows]))
        for d in (await conn.execute(q)).all():
            labels.setdefault(d.resource_id, {})[d.name] = d.value
    return [traffic_type_view(r, labels.get(r.id, {})) for r in rows]


async def load_traffic_type(call: Call, uuid: str) -> dict[str, Any]:
    async with call.service.engine.connect() as conn:
        items = await traffic_out(conn, (await conn.execute(traffic_q().where(TT.c.uuid == uuid))).all())
    if not items:
        raise ParamError(f"Traffic Type with id={uuid}doesn't exist in the system")
    return items[0]


PHYSNET_VIEW = job_view("physicalnetwork", "listPhysicalNetworks", load_physnet)
TRAFFIC_VIEW = job_view("traffictype", "listTrafficTypes", load_traffic_type)


def _one_of(values: list[str] | None, what: str) -> str | None:
    if not values:
        return None
    if len(values) > 1:
        raise ParamError(f"Only one {what} can be specified for a physical network at this time")
    return values[0]


@command("createPhysicalNetwork", object_name="physicalnetwork", roles=ROOT, entity_type="PhysicalNetwork",
         job_view=PHYSNET_VIEW)
async def create_physical_network(call: Call) -> Accepted:
    zone = await find(call, Z, "zoneid")
    method = _one_of(call.get("isolationmethods"), "isolationMethod")
    if method is not None:
        known = {m.lower(): m for m in ISOLATION_METHODS}
        if method.lower() not in known:
            raise ParamError(f"Invalid isolation method {method}")
        method = known[method.lower()]
    tag = _one_of(call.get("tags"), "tag")
    basic = zone.network_type == "Basic"
    bdr = str(call.get("broadcastdomainrange") or ("POD" if basic else "ZONE")).upper()
    if bdr not in ("POD", "ZONE"):
        raise ParamError(f"Unable to resolve broadcastDomainRange '{call.get('broadcastdomainrange')}' to a supported "
                         "value {Pod or Zone}")
    if basic and bdr != "POD":
        raise ParamError("Basic zone can have broadcast domain type of value POD only")
    if not basic and bdr != "ZONE":
        raise ParamError("Advance zone can have broadcast domain type of value ZONE only")
    vlan = vnet_string(vnet_set(call.get("vlan"))) if call.get("vlan") else None
    domain = await find(call, D, "domainid", required=False)
    values = {"name": call.get("name"), "vlan": vlan, "speed": call.get("networkspeed") or "1G",
              "isolation_methods": method or ("L3" if basic else "VLAN"), "broadcast_domain_range": bdr,
              "state": "Disabled", "tags": tag, "domain_id": domain.id if domain is not None else None}
    uuid = new_uuid()
    accepted = await create_now(call, JobTarget(zone_ref(zone.uuid), "create_physical_network",
                                                {"uuid": uuid, "values": values}, "PhysicalNetwork"), uuid)
    await call.service.event(call.caller, "PHYSICAL.NETWORK.CREATE",
                             f"Creating Physical Network. Name: {values['name']}",
                             resource_type="PhysicalNetwork", resource_uuid=uuid)
    return accepted


@command("updatePhysicalNetwork", object_name="physicalnetwork", roles=ROOT, entity_type="PhysicalNetwork",
         job_view=PHYSNET_VIEW)
async def update_physical_network(call: Call) -> Accepted:
    pn = await find(call, PN, "id")
    if call.get("state"):
        pn_state(call.get("state"))
    if call.get("vlan") is not None:
        vnet_set(call.get("vlan"))  # refuse a malformed range now
    args = {"state": call.get("state"), "vlan": call.get("vlan"), "tags": call.get("tags"),
            "speed": call.get("networkspeed")}
    return await call.service.accept(call, JobTarget(pn_ref(pn.uuid), "update", args))


@command("deletePhysicalNetwork", roles=ROOT, entity_type="PhysicalNetwork")
async def delete_physical_network(call: Call) -> Accepted:
    pn = await find(call, PN, "id")
    return await call.service.accept(call, JobTarget(pn_ref(pn.uuid), "delete", {}))


@command("listPhysicalNetworks", object_name="physicalnetwork", roles=ROOT)
async def list_physical_networks(call: Call) -> ListResult:
    q = physnets_q()
    for param, col in (("id", PN.c.uuid), ("zoneid", Z.c.uuid)):
        if call.get(param) is not None:
            q = q.where(col == call.get(param))
    for param in ("name", "keyword"):
        if call.get(param):
            q = q.where(PN.c.name.contains(call.get(param)))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, PN.c.id)
    return ListResult([physnet_view(r) for r in rows], total)


def _labels(call: Call) -> dict[str, str]:
    return {name: call.get(name) for name in OTHER_LABELS if call.get(name) is not None}


@command("addTrafficType", object_name="traffictype", roles=ROOT, entity_type="TrafficType", job_view=TRAFFIC_VIEW)
async def add_traffic_type(call: Call) -> Accepted:
    pn = await find(call, PN, "physicalnetworkid")
    ttype = resolve_traffic_type(call.get("traffictype"))
    uuid = new_uuid()
    args = {"uuid": uuid, "traffic_type": ttype, "kvm_label": call.get("kvmnetworklabel"), "vlan": call.get("vlan"),
            "labels": _labels(call)}
    accepted = await create_now(call, JobTarget(pn_ref(pn.uuid), "add_traffic_type", args), uuid)
    await call.service.event(call.caller, "TRAFFIC.TYPE.CREATE", f"Creating Physical Network TrafficType {ttype}",
                             resource_type="TrafficType", resource_uuid=uuid)
    return accepted


@command("listTrafficTypes", object_name="traffictype", roles=ROOT)
async def list_traffic_types(call: Call) -> ListResult:
    pn = await find(call, PN, "physicalnetworkid")
    q = traffic_q().where(TT.c.physical_network_id == pn.id)
    if call.get("keyword"):
        q = q.where(TT.c.traffic_type.contains(call.get("keyword")))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, TT.c.id)
        items = await traffic_out(conn, rows)
    return ListResult(items, total)


async def _traffic(call: Call) -> Any:
    tt = await find(call, TT, "id")
    async with call.service.engine.connect() as conn:
        pn_uuid = (await conn.execute(select(PN.c.uuid).where(PN.c.id == tt.physical_network_id))).scalar()
    return tt, pn_ref(str(pn_uuid))


@command("updateTrafficType", object_name="traffictype", roles=ROOT, entity_type="TrafficType",
         job_view=TRAFFIC_VIEW)
async def update_traffic_type(call: Call) -> Accepted:
    tt, ref = await _traffic(call)
    args = {"tt_uuid": tt.uuid, "kvm_label": call.get("kvmnetworklabel"), "labels": _labels(call)}
    return await call.service.accept(call, JobTarget(ref, "update_traffic_type", args))


@command("deleteTrafficType", roles=ROOT, entity_type="TrafficType")
async def delete_traffic_type(call: Call) -> Accepted:
    tt, ref = await _traffic(call)
    return await call.service.accept(call, JobTarget(ref, "delete_traffic_type", {"tt_uuid": tt.uuid}))
