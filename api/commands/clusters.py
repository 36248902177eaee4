"""Clusters: addCluster (its pod creates it), updateCluster, deleteCluster,
listClusters. addCluster answers a list, as CloudStack's does."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from cloudplane.actors.kinds.infra import cluster_ref, pod_ref
from cloudplane.actors.kinds.ipranges import allocation_state
from cloudplane.api.commands.base import ROOT, command, page
from cloudplane.api.commands.capacity import summarize
from cloudplane.api.commands.infrautil import find, hypervisor
from cloudplane.api.context import Call, JobTarget, ListResult, Success
from cloudplane.api.views.infra import cluster_view
from cloudplane.errors import ParamError
from cloudplane.store.base import new_uuid
from cloudplane.store.tables.infra import Cluster, Pod, Zone

C, P, Z = Cluster.__table__, Pod.__table__, Zone.__table__  # type: ignore[attr-defined]
CLUSTER_TYPES = {"cloudmanaged": "CloudManaged", "externalmanaged": "ExternalManaged"}
MANAGED_STATES = ("Managed", "Unmanaged")


def clusters_q() -> Any:
    return (select(C, P.c.uuid.label("pod_uuid"), P.c.name.label("pod_name"), Z.c.uuid.label("zone_uuid"),
                   Z.c.name.label("zone_name"))
            .select_from(C.join(P, C.c.pod_id == P.c.id).join(Z, C.c.zone_id == Z.c.id))
            .where(C.c.removed.is_(None)))


async def load_clusters(call: Call, uuids: list[str]) -> list[dict[str, Any]]:
    async with call.service.engine.connect() as conn:
        rows = (await conn.execute(clusters_q().where(C.c.uuid.in_(uuids)))).all()
    return [cluster_view(r) for r in rows]


def _cluster_type(value: str) -> str:
    t = CLUSTER_TYPES.get(value.lower())
    if t is None:
        raise ParamError(f"Unable to resolve {value} to a valid supported cluster type")
    return t


@command("addCluster", object_name="cluster", roles=ROOT, entity_type="Cluster")
async def add_cluster(call: Call) -> ListResult:
    zone = await find(call, Z, "zoneid")
    pod = await find(call, P, "podid")
    if pod.zone_id != zone.id:
        raise ParamError(f"Pod {pod.uuid} doesn't belong to the zone {zone.uuid}")
    values = {"name": call.get("clustername"), "hypervisor_type": hypervisor(call.get("hypervisor")),
              "cluster_type": _cluster_type(call.get("clustertype")),
              "allocation_state": allocation_state(call.get("allocationstate")) or "Enabled",
              "managed_state": "Managed"}
    uuid = new_uuid()
    await call.service.run(call, JobTarget(pod_ref(pod.uuid), "add_cluster", {"uuid": uuid, "values": values}))
    await call.service.event(call.caller, "CLUSTER.CREATE",
                             f"Successfully completed adding cluster. Name: {values['name']}",
                             resource_type="Cluster", resource_uuid=uuid)
    items = await load_clusters(call, [uuid])
    return ListResult(items, len(items))


@command("updateCluster", object_name="cluster", roles=ROOT, entity_type="Cluster")
async def update_cluster(call: Call) -> dict[str, Any]:
    cluster = await find(call, C, "id")
    changes: dict[str, Any] = {}
    if call.get("clustername"):
        changes["name"] = call.get("clustername")
    if call.get("hypervisor"):
        changes["hypervisor_type"] = hypervisor(call.get("hypervisor"))
    if call.get("clustertype"):
        changes["cluster_type"] = _cluster_type(call.get("clustertype"))
    state = allocation_state(call.get("allocationstate"))
    if state is not None:
        changes["allocation_state"] = state
    managed = call.get("managedstate")
    if managed:
        if managed not in MANAGED_STATES:
            raise ParamError(f"Unable to resolve Managed State '{managed}' to a supported state")
        changes["managed_state"] = managed
    await call.service.run(call, JobTarget(cluster_ref(cluster.uuid), "update", {"changes": changes}))
    await call.service.event(call.caller, "CLUSTER.EDIT", f"Successfully completed updating cluster {cluster.uuid}",
                             resource_type="Cluster", resource_uuid=cluster.uuid)
    return (await load_clusters(call, [cluster.uuid]))[0]


@command("deleteCluster", roles=ROOT, entity_type="Cluster")
async def delete_cluster(call: Call) -> Success:
    cluster = await find(call, C, "id")
    await call.service.run(call, JobTarget(cluster_ref(cluster.uuid), "delete", {}))
    await call.service.event(call.caller, "CLUSTER.DELETE", f"Successfully completed deleting cluster {cluster.uuid}",
                             resource_type="Cluster", resource_uuid=cluster.uuid)
    return Success()


@command("listClusters", object_name="cluster", roles=ROOT)
async def list_clusters(call: Call) -> ListResult:
    q = clusters_q()
    for param, col in (("id", C.c.uuid), ("name", C.c.name), ("podid", P.c.uuid), ("zoneid", Z.c.uuid),
                       ("allocationstate", C.c.allocation_state), ("managedstate", C.c.managed_state)):
        if call.get(param) is not None:
            q = q.where(col == call.get(param))
    if call.get("hypervisor"):
        q = q.where(C.c.hypervisor_type == hypervisor(call.get("hypervisor")))
    if call.get("clustertype"):
        q = q.where(C.c.cluster_type == _cluster_type(call.get("clustertype")))
    if call.get("keyword"):
        q = q.where(C.c.name.contains(call.get("keyword")))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, C.c.id)
        caps = await summarize(call, conn, "cluster", [r.id for r in rows]) if call.get("showcapacities") else None
    return ListResult([cluster_view(r, capacity=caps.get(r.id, []) if caps is not None else None) for r in rows], total)
