"""Pods: createPod (the zone creates it, with its management IP range),
updatePod, deletePod, listPods."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from cloudplane.actors.kinds.infra import pod_ref, zone_ref
from cloudplane.actors.kinds.ipranges import allocation_state
from cloudplane.api.commands.base import ROOT, command, page
from cloudplane.api.commands.capacity import summarize
from cloudplane.api.commands.infrautil import find
from cloudplane.api.context import Call, JobTarget, ListResult, Success
from cloudplane.api.views.infra import pod_view
from cloudplane.errors import NotAllowed, ParamError
from cloudplane.store.base import new_uuid
from cloudplane.store.tables.infra import Pod, Zone
from cloudplane.store.tables.network import VlanIpRange

P, Z, VLAN = Pod.__table__, Zone.__table__, VlanIpRange.__table__  # type: ignore[attr-defined]


def pods_q() -> Any:
    return (select(P, Z.c.uuid.label("zone_uuid"), Z.c.name.label("zone_name"))
            .select_from(P.join(Z, P.c.zone_id == Z.c.id)).where(P.c.removed.is_(None)))


async def pods_out(call: Call, conn: Any, rows: list[Any], capacities: bool = False) -> list[dict[str, Any]]:
    if not rows:
        return []
    ranges: dict[int, list[Any]] = {}
    q = select(VLAN).where(VLAN.c.pod_id.in_([r.id for r in rows]), VLAN.c.range_type == "pod",
                           VLAN.c.removed.is_(None)).order_by(VLAN.c.id)
    for r in (await conn.execute(q)).all():
        ranges.setdefault(r.pod_id, []).append(r)
    caps = await summarize(call, conn, "pod", [r.id for r in rows]) if capacities else {}
    return [pod_view(r, ranges.get(r.id, []), capacity=caps.get(r.id, []) if capacities else None) for r in rows]


async def load_pod(call: Call, uuid: str) -> dict[str, Any]:
    async with call.service.engine.connect() as conn:
        rows = (await conn.execute(pods_q().where(P.c.uuid == uuid))).all()
        items = await pods_out(call, conn, rows)
    if not items:
        raise ParamError(f"Unable to find pod by id {uuid}")
    return items[0]


async def _check_cidrs(call: Call) -> bool:
    """check.pod.cidrs (CloudStack checks unless it is explicitly false)."""
    return (await call.service.config("check.pod.cidrs")).strip().lower() != "false"


@command("createPod", object_name="pod", roles=ROOT, entity_type="Pod")
async def create_pod(call: Call) -> dict[str, Any]:
    zone = await find(call, Z, "zoneid")
    if zone.allocation_state == "Disabled" and not call.caller.is_root_admin:
        raise NotAllowed(f"Cannot perform this operation, Zone is currently disabled: {zone.uuid}")
    values = {"name": call.get("name"), "gateway": call.get("gateway"), "netmask": call.get("netmask"),
              "start_ip": call.get("startip"), "end_ip": call.get("endip"),
              "allocation_state": allocation_state(call.get("allocationstate")) or "Enabled"}
    uuid = new_uuid()
    await call.service.run(call, JobTarget(zone_ref(zone.uuid), "create_pod", {
        "uuid": uuid, "values": values, "check_cidrs": await _check_cidrs(call)}))
    await call.service.event(call.caller, "POD.CREATE", f"Successfully completed creating pod. Name: {values['name']}",
                             resource_type="Pod", resource_uuid=uuid)
    return await load_pod(call, uuid)


@command("updatePod", object_name="pod", roles=ROOT, entity_type="Pod")
async def update_pod(call: Call) -> dict[str, Any]:
    pod = await find(call, P, "id")
    changes: dict[str, Any] = {}
    for param, col in (("name", "name"), ("gateway", "gateway"), ("netmask", "netmask")):
        if call.get(param):
            changes[col] = call.get(param)
    state = allocation_state(call.get("allocationstate"))
    if state is not None:
        changes["allocation_state"] = state
    if call.get("startip") or call.get("endip"):
        raise ParamError("startip and endip of a pod can not be updated; use createManagementNetworkIpRange")
    await call.service.run(call, JobTarget(pod_ref(pod.uuid), "update", {
        "changes": changes, "check_cidrs": await _check_cidrs(call)}))
    await call.service.event(call.caller, "POD.EDIT", f"Successfully completed editing pod. Pod Id: {pod.uuid}",
                             resource_type="Pod", resource_uuid=pod.uuid)
    return await load_pod(call, pod.uuid)


@command("deletePod", roles=ROOT, entity_type="Pod")
async def delete_pod(call: Call) -> Success:
    pod = await find(call, P, "id")
    await call.service.run(call, JobTarget(pod_ref(pod.uuid), "delete", {}))
    await call.service.event(call.caller, "POD.DELETE", f"Successfully completed deleting pod. Pod Id: {pod.uuid}",
                             resource_type="Pod", resource_uuid=pod.uuid)
    return Success()


@command("listPods", object_name="pod", roles=ROOT)
async def list_pods(call: Call) -> ListResult:
    q = pods_q()
    for param, col in (("id", P.c.uuid), ("name", P.c.name), ("zoneid", Z.c.uuid),
                       ("allocationstate", P.c.allocation_state)):
        if call.get(param) is not None:
            q = q.where(col == call.get(param))
    if call.get("keyword"):
        q = q.where(P.c.name.contains(call.get("keyword")))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, P.c.id)
        items = await pods_out(call, conn, rows, bool(call.get("showcapacities")))
    return ListResult(items, total)
