"""Virtual routers: listRouters, startRouter, stopRouter, rebootRouter,
destroyRouter. A router is a VM entity (type DomainRouter) that its guest
network creates and starts (actors/kinds/router.py); starting one goes
through its network, which implements itself first if it has to."""

from __future__ import annotations

from typing import Any

from sqlalchemy import false, select

from cloudplane.actors.identity import EntityRef
from cloudplane.api import scope
from cloudplane.api.commands.base import ADMINS, command, equalities, page
from cloudplane.api.context import Accepted, Call, Caller, JobTarget, ListResult
from cloudplane.api.views.networks import NET, NIC, VM, H, P, Z, routers_out, routers_query
from cloudplane.errors import NotAllowed, ParamError
from cloudplane.store.tables.infra import Cluster

C = Cluster.__table__  # type: ignore[attr-defined]


async def router_job_view(service: Any, caller: Caller, result: dict[str, Any]) -> dict[str, Any]:
    async with service.engine.connect() as conn:
        rows = (await conn.execute(routers_query(removed=True).where(VM.c.uuid == result.get("id")))).all()
        items = await routers_out(conn, rows)
    return {"router": items[0]} if items else {"success": True}


async def _router(call: Call) -> Any:
    uuid = call.get("id")
    async with call.service.engine.connect() as conn:
        row = (await conn.execute(routers_query().where(VM.c.uuid == uuid))).first()
    if row is None:
        raise ParamError(f"Unable to find router by id {uuid}")
    c = call.caller
    if not c.is_root_admin and not str(row.dom_path).startswith(c.domain_path):
        raise NotAllowed(f"Caller {c.username} is not allowed to operate on router {uuid}")
    return row


def _ref(row: Any) -> EntityRef:
    return EntityRef("vm", row.uuid, row.placement_key or row.zone_uuid)


async def _act(call: Call, op: str, args: dict[str, Any], event: str) -> Accepted:
    row = await _router(call)
    accepted = await call.service.accept(call, JobTarget(_ref(row), op, args, "DomainRouter"), row.uuid)
    await call.service.event(call.caller, event, f"{event.split('.')[1].capitalize()} router {row.uuid}",
                             state="Scheduled", resource_type="DomainRouter", resource_uuid=row.uuid)
    return accepted


@command("startRouter", object_name="router", roles=ADMINS, entity_type="DomainRouter", job_view=router_job_view)
async def start_router(call: Call) -> Accepted:
    row = await _router(call)
    async with call.service.engine.connect() as conn:
        net = (await conn.execute(select(NET.c.uuid).select_from(NIC.join(NET, NIC.c.network_id == NET.c.id)).where(
            NIC.c.instance_id == row.id, NIC.c.removed.is_(None), NET.c.traffic_type == "Guest").limit(1))).scalar()
    if net is None:
        raise ParamError(f"Router {row.uuid} serves no guest network")
    # Through its network: a router starts on an implemented network (VLAN first).
    accepted = await call.service.accept(call, JobTarget(EntityRef("network", net), "implement", {}, "Network"),
                                         row.uuid)
    await call.service.event(call.caller, "ROUTER.START", f"Starting router {row.uuid}", state="Scheduled",
                             resource_type="DomainRouter", resource_uuid=row.uuid)
    return accepted


@command("stopRouter", object_name="router", roles=ADMINS, entity_type="DomainRouter", job_view=router_job_view)
async def stop_router(call: Call) -> Accepted:
    return await _act(call, "stop", {"forced": bool(call.get("forced", False))}, "ROUTER.STOP")


@command("rebootRouter", object_name="router", roles=ADMINS, entity_type="DomainRouter", job_view=router_job_view)
async def reboot_router(call: Call) -> Accepted:
    return await _act(call, "reboot", {}, "ROUTER.REBOOT")


@command("destroyRouter", object_name="router", roles=ADMINS, entity_type="DomainRouter",
         job_view=router_job_view)
async def destroy_router(call: Call) -> Accepted:
    return await _act(call, "destroy", {"expunge": True}, "ROUTER.DESTROY")


@command("listRouters", object_name="router", roles=ADMINS)
async def list_routers(call: Call) -> ListResult:
    vis = await scope.visibility(call)
    q = routers_query().where(vis.clause(VM.c.account_id, VM.c.domain_id))
    q = q.where(*equalities(call, (("id", VM.c.uuid), ("name", VM.c.instance_name), ("state", VM.c.state),
                                   ("zoneid", Z.c.uuid), ("podid", P.c.uuid), ("hostid", H.c.uuid))))
    if call.get("clusterid"):
        q = q.where(VM.c.host_id.in_(select(H.c.id).join(C, H.c.cluster_id == C.c.id).where(
            C.c.uuid == call.get("clusterid"))))
    if call.get("networkid"):
        q = q.where(VM.c.id.in_(select(NIC.c.instance_id).join(NET, NIC.c.network_id == NET.c.id).where(
            NET.c.uuid == call.get("networkid"), NIC.c.removed.is_(None))))
    if call.get("keyword"):
        q = q.where(VM.c.instance_name.contains(call.get("keyword"), autoescape=True))
    if call.get("forvpc") or call.get("vpcid"):
        q = q.where(false())  # no VPC routers
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, VM.c.id)
        return ListResult(await routers_out(conn, rows), total)
