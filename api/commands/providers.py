"""Network service providers of a physical network and their elements:
listNetworkServiceProviders, addNetworkServiceProvider,
updateNetworkServiceProvider, deleteNetworkServiceProvider,
listVirtualRouterElements, configureVirtualRouterElement,
listInternalLoadBalancerElements, configureInternalLoadBalancerElement.
The physical network's actor owns all of these rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from cloudplane.actors.kinds.physnet import provider_def
from cloudplane.api.commands.base import ROOT, command, page
from cloudplane.api.commands.infrautil import create_now, find, job_view
from cloudplane.api.commands.physnet import pn_ref
from cloudplane.api.context import Accepted, Call, JobTarget, ListResult
from cloudplane.api.views.infra import element_view, provider_view
from cloudplane.errors import ParamError
from cloudplane.store.base import new_uuid
from cloudplane.store.tables.identity import Domain
from cloudplane.store.tables.network import NetworkServiceProvider, PhysicalNetwork, VirtualRouterElement

NSP, PN = NetworkServiceProvider.__table__, PhysicalNetwork.__table__  # type: ignore[attr-defined]
VRE = VirtualRouterElement.__table__  # type: ignore[attr-defined]
D = Domain.__table__  # type: ignore[attr-defined]
DEST = PN.alias("dest_pn")
ROUTER_TYPES = ("VirtualRouter", "VPCVirtualRouter")
ILB_TYPES = ("InternalLbVm",)


def providers_q() -> Any:
    return (select(NSP, PN.c.uuid.label("pn_uuid"), DEST.c.uuid.label("dest_uuid"))
            .select_from(NSP.join(PN, NSP.c.physical_network_id == PN.c.id)
                         .outerjoin(DEST, NSP.c.destination_physical_network_id == DEST.c.id))
            .where(NSP.c.removed.is_(None), PN.c.removed.is_(None)))


async def load_provider(call: Call, uuid: str) -> dict[str, Any]:
    async with call.service.engine.connect() as conn:
        row = (await conn.execute(providers_q().where(NSP.c.uuid == uuid))).first()
    if row is None:
        raise ParamError(f"Network Service Provider id={uuid}doesn't exist in the system")
    return provider_view(row)


def elements_q(types: tuple[str, ...]) -> Any:
    root = select(D.c.uuid).where(D.c.parent_id.is_(None)).scalar_subquery()
    return (select(VRE, NSP.c.uuid.label("nsp_uuid"), root.label("domain_uuid"))
            .select_from(VRE.join(NSP, VRE.c.nsp_id == NSP.c.id).join(PN, NSP.c.physical_network_id == PN.c.id))
            .where(VRE.c.removed.is_(None), NSP.c.removed.is_(None), PN.c.removed.is_(None),
                   VRE.c.element_type.in_(types)))


def _element_loader(types: tuple[str, ...]) -> Any:
    async def load(call: Call, uuid: str) -> dict[str, Any]:
        async with call.service.engine.connect() as conn:
            row = (await conn.execute(elements_q(types).where(VRE.c.uuid == uuid))).first()
        if row is None:
            raise ParamError(f"Can't find element with network service provider id {uuid}")
        return element_view(row, router=types == ROUTER_TYPES)

    return load


PROVIDER_VIEW = job_view("networkserviceprovider", "listNetworkServiceProviders", load_provider)
ROUTER_VIEW = job_view("virtualrouterelement", "listVirtualRouterElements", _element_loader(ROUTER_TYPES))
ILB_VIEW = job_view("internalloadbalancerelement", "listInternalLoadBalancerElements", _element_loader(ILB_TYPES))


async def _provider(call: Call) -> tuple[Any, Any]:
    nsp = await find(call, NSP, "id")
    async with call.service.engine.connect() as conn:
        pn_uuid = (await conn.execute(select(PN.c.uuid).where(PN.c.id == nsp.physical_network_id))).scalar()
    return nsp, pn_ref(str(pn_uuid))


@command("listNetworkServiceProviders", object_name="networkserviceprovider", roles=ROOT)
async def list_network_service_providers(call: Call) -> ListResult:
    q = providers_q()
    if call.get("physicalnetworkid"):
        q = q.where(PN.c.uuid == (await find(call, PN, "physicalnetworkid")).uuid)
    if call.get("name"):
        q = q.where(NSP.c.provider_name == call.get("name"))
    if call.get("state"):
        q = q.where(NSP.c.state == call.get("state"))
    if call.get("keyword"):
        q = q.where(NSP.c.provider_name.contains(call.get("keyword")))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, NSP.c.id)
    return ListResult([provider_view(r) for r in rows], total)


@command("addNetworkServiceProvider", object_name="networkserviceprovider", roles=ROOT,
         entity_type="PhysicalNetworkServiceProvider", job_view=PROVIDER_VIEW)
async def add_network_service_provider(call: Call) -> Accepted:
    pn = await find(call, PN, "physicalnetworkid")
    dest = await find(call, PN, "destinationphysicalnetworkid", required=False)
    p = provider_def(call.get("name"))
    uuid = new_uuid()
    args = {"uuid": uuid, "name": p.name, "destination_id": dest.id if dest is not None else None,
            "services": call.get("servicelist")}
    accepted = await create_now(call, JobTarget(pn_ref(pn.uuid), "add_provider", args), uuid)
    await call.service.event(call.caller, "SERVICE.PROVIDER.CREATE",
                             f"Creating Physical Network ServiceProvider {p.name}",
                             resource_type="PhysicalNetworkServiceProvider", resource_uuid=uuid)
    return accepted


@command("updateNetworkServiceProvider", object_name="networkserviceprovider", roles=ROOT,
         entity_type="PhysicalNetworkServiceProvider", job_view=PROVIDER_VIEW)
async def update_network_service_provider(call: Call) -> Accepted:
    nsp, ref = await _provider(call)
    args = {"nsp_uuid": nsp.uuid, "state": call.get("state"), "services": call.get("servicelist")}
    return await call.service.accept(call, JobTarget(ref, "update_provider", args))


@command("deleteNetworkServiceProvider", roles=ROOT, entity_type="PhysicalNetworkServiceProvider")
async def delete_network_service_provider(call: Call) -> Accepted:
    nsp, ref = await _provider(call)
    return await call.service.accept(call, JobTarget(ref, "delete_provider", {"nsp_uuid": nsp.uuid}))


async def _list_elements(call: Call, types: tuple[str, ...]) -> ListResult:
    q = elements_q(types)
    if call.get("id"):
        q = q.where(VRE.c.uuid == call.get("id"))
    if call.get("nspid"):
        q = q.where(NSP.c.uuid == call.get("nspid"))
    if call.get("enabled") is not None:
        q = q.where(VRE.c.enabled.is_(bool(call.get("enabled"))))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, VRE.c.id)
    return ListResult([element_view(r, router=types == ROUTER_TYPES) for r in rows], total)


async def _configure(call: Call, types: tuple[str, ...]) -> Accepted:
    el = await find(call, VRE, "id")
    if el.element_type not in types:
        raise ParamError(f"Can't find element with network service provider id {el.uuid}")
    async with call.service.engine.connect() as conn:
        pn_uuid = (await conn.execute(select(PN.c.uuid).select_from(NSP.join(PN, NSP.c.physical_network_id == PN.c.id))
                                      .where(NSP.c.id == el.nsp_id))).scalar()
    args = {"element_uuid": el.uuid, "enabled": bool(call.get("enabled"))}
    return await call.service.accept(call, JobTarget(pn_ref(str(pn_uuid)), "configure_element", args))


@command("listVirtualRouterElements", object_name="virtualrouterelement", roles=ROOT)
async def list_virtual_router_elements(call: Call) -> ListResult:
    return await _list_elements(call, ROUTER_TYPES)


@command("configureVirtualRouterElement", object_name="virtualrouterelement", roles=ROOT,
         entity_type="VirtualRouterProvider", job_view=ROUTER_VIEW)
async def configure_virtual_router_element(call: Call) -> Accepted:
    return await _configure(call, ROUTER_TYPES)


@command("listInternalLoadBalancerElements", object_name="internalloadbalancerelement", roles=ROOT)
async def list_internal_load_balancer_elements(call: Call) -> ListResult:
    return await _list_elements(call, ILB_TYPES)


@command("configureInternalLoadBalancerElement", object_name="internalloadbalancerelement", roles=ROOT,
         entity_type="InternalLbElement", job_view=ILB_VIEW)
async def configure_internal_load_balancer_element(call: Call) -> Accepted:
    return await _configure(call, ILB_TYPES)
