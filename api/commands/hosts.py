"""Hosts: addHost and friends. A host's own entity actor creates it, and its
agent (simulated in-process, or a real agent over the gateway) brings it Up."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import bindparam, select

from cloudplane.api.commands.base import ROOT, command, equalities, page
from cloudplane.api.context import Call, JobTarget, ListResult
from cloudplane.api.views.hosts import host_view
from cloudplane.actors.kinds.host import host_ref, token_hash
from cloudplane.errors import ParamError
from cloudplane.store.base import new_uuid
from cloudplane.store.tables.capacity import Capacity, CapacityType
from cloudplane.store.tables.drs import HaConfig
from cloudplane.store.tables.infra import Cluster, Host, HostTag, Pod, Zone
from cloudplane.store.tables.tags import Annotation

H, C, P, Z = Host.__table__, Cluster.__table__, Pod.__table__, Zone.__table__  # type: ignore[attr-defined]
TAG, CAP, HA = HostTag.__table__, Capacity.__table__, HaConfig.__table__  # type: ignore[attr-defined]
AN = Annotation.__table__  # type: ignore[attr-defined]
HYPERVISORS = {"simulator": "Simulator", "kvm": "KVM"}


def hosts_q() -> Any:
    return (select(H, Z.c.uuid.label("zone_uuid"), Z.c.name.label("zone_name"), P.c.uuid.label("pod_uuid"),
                   P.c.name.label("pod_name"), C.c.uuid.label("cluster_uuid"), C.c.name.label("cluster_name"),
                   C.c.cluster_type.label("cluster_type"), C.c.cpu_overcommit_ratio.label("cpu_ratio"),
                   C.c.memory_overcommit_ratio.label("mem_ratio"))
            .select_from(H.join(Z, H.c.zone_id == Z.c.id).outerjoin(P, H.c.pod_id == P.c.id)
                         .outerjoin(C, H.c.cluster_id == C.c.id))
            .where(H.c.removed.is_(None)))


# addHost's statements, built once: building and hashing a statement of this size costs more
# than running it, and addHost is what bulk registration (10,000 hosts) repeats.
_NEW_HOST = hosts_q().where(H.c.uuid == bindparam("uuid"))
_CLUSTER = select(C, P.c.uuid.label("pod_uuid"), Z.c.uuid.label("zone_uuid")).select_from(
    C.join(P, C.c.pod_id == P.c.id).join(Z, C.c.zone_id == Z.c.id)).where(C.c.removed.is_(None))
_CLUSTER_BY_ID = _CLUSTER.where(C.c.uuid == bindparam("cluster"))
_CLUSTER_BY_NAME = _CLUSTER.where(C.c.name == bindparam("cluster"))
_CLUSTER_BY_NAME_IN_POD = _CLUSTER_BY_NAME.where(P.c.uuid == bindparam("pod"))


async def hosts_out(call: Call, conn: Any, rows: list[Any]) -> list[dict[str, Any]]:
    if not rows:
        return []
    ids = [r.id for r in rows]
    tags: dict[int, list[str]] = {}
    for t in (await conn.execute(select(TAG.c.host_id, TAG.c.tag).where(TAG.c.host_id.in_(ids)))).all():
        tags.setdefault(t.host_id, []).append(t.tag)
    used: dict[tuple[int, int], int] = {}
    for c in (await conn.execute(select(CAP.c.owner_id, CAP.c.capacity_type, CAP.c.used).where(
            CAP.c.owner_type == "host", CAP.c.owner_id.in_(ids)))).all():
        used[(c.owner_id, c.capacity_type)] = c.used
    ha = {h.resource_id: h for h in (await conn.execute(select(HA.c.resource_id, HA.c.enabled, HA.c.ha_state,
                                                                 HA.c.provider).where(
        HA.c.resource_type == "Host", HA.c.resource_id.in_(ids), HA.c.removed.is_(None)))).all()}
    ha_tag = await call.service.config("ha.tag")
    cpu_f = float(await call.service.config("cpu.overprovisioning.factor") or 1)
    mem_f = float(await call.service.config("mem.overprovisioning.factor") or 1)
    noted = set((await conn.execute(select(AN.c.entity_uuid).where(
        AN.c.entity_type == "HOST", AN.c.entity_uuid.in_([r.uuid for r in rows]), AN.c.removed.is_(None)))).scalars())
    return [{**host_view(r, tags=tags.get(r.id, []), ha_tag=ha_tag, cpu_used=used.get((r.id, CapacityType.CPU), 0),
                         mem_used=used.get((r.id, CapacityType.MEMORY), 0), cpu_factor=cpu_f, mem_factor=mem_f,
                         ha=ha.get(r.id)), "hasannotations": r.uuid in noted}
            for r in rows]


async def load_hosts(call: Call, uuids: list[str]) -> list[dict[str, Any]]:
    async with call.service.engine.connect() as conn:
        rows = (await conn.execute(hosts_q().where(H.c.uuid.in_(uuids)))).all()
        return await hosts_out(call, conn, rows)


async def new_host_out(call: Call, uuid: str, tags: list[str]) -> list[dict[str, Any]]:
    """addHost's answer in one query, not four: a host just created has the tags it was given,
    nothing allocated on it and no HA configuration yet."""
    async with call.service.engine.connect() as conn:
        rows = (await conn.execute(_NEW_HOST, {"uuid": uuid})).all()
    tags = list(dict.fromkeys(t.strip() for t in tags if t.strip()))
    ha_tag = await call.service.config("ha.tag")
    cpu_f = float(await call.service.config("cpu.overprovisioning.factor") or 1)
    mem_f = float(await call.service.config("mem.overprovisioning.factor") or 1)
    return [{**host_view(r, tags=tags, ha_tag=ha_tag, cpu_used=0, mem_used=0, cpu_factor=cpu_f, mem_factor=mem_f),
             "hasannotations": False} for r in rows]


async def host_target(call: Call, uuid: str) -> Any:
    async with call.service.engine.connect() as conn:
        row = (await conn.execute(select(H.c.uuid, C.c.uuid.label("c")).select_from(
            H.outerjoin(C, H.c.cluster_id == C.c.id)).where(H.c.uuid == uuid, H.c.removed.is_(None)))).first()
    if row is None:
        raise ParamError(f"Unable to find host with id {uuid}")
    return host_ref(row.uuid, row.c)


async def host_job_view(service: Any, caller: Any, result: dict[str, Any]) -> dict[str, Any]:
    from cloudplane.api.context import Call as _Call

    spec = service.registry.get("listHosts")
    rows = await load_hosts(_Call(service, spec, caller, {}, {}), [result["id"]]) if result.get("id") else []
    return {"host": rows[0]} if rows else {"success": True}


@command("addHost", object_name="host", roles=ROOT, entity_type="Host")
async def add_host(call: Call) -> ListResult:
    hv = HYPERVISORS.get(str(call.get("hypervisor", "")).lower())
    if hv is None:
        raise ParamError(f"Unsupported hypervisor {call.get('hypervisor')}: use Simulator or KVM")
    url = call.get("url")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ParamError(f"Invalid host url {url}: expected http://<address>")
    if call.get("clusterid"):
        q, args = _CLUSTER_BY_ID, {"cluster": call.get("clusterid")}
    elif call.get("clustername") and call.get("podid"):
        q, args = _CLUSTER_BY_NAME_IN_POD, {"cluster": call.get("clustername"), "pod": call.get("podid")}
    elif call.get("clustername"):
        q, args = _CLUSTER_BY_NAME, {"cluster": call.get("clustername")}
    else:
        raise ParamError("Unable to execute API command addhost due to missing parameter clusterid")
    async with call.service.engine.connect() as conn:
        cl = (await conn.execute(q, args)).first()
    if cl is None:
        raise ParamError(f"Unable to find cluster {call.get('clusterid') or call.get('clustername')}")
    if call.get("zoneid") and call.get("zoneid") != cl.zone_uuid:
        raise ParamError(f"Cluster {cl.uuid} is not in zone {call.get('zoneid')}")
    if call.get("podid") and call.get("podid") != cl.pod_uuid:
        raise ParamError(f"Cluster {cl.uuid} is not in pod {call.get('podid')}")
    if cl.hypervisor_type.lower() != hv.lower():
        raise ParamError(f"Cannot add a {hv} host to a {cl.hypervisor_type} cluster")
    uuid = new_uuid()
    simulated = hv == "Simulator" and parsed.hostname.startswith("sim")
    token = None if simulated else secrets.token_urlsafe(32)
    ip = parsed.hostname if parsed.hostname.replace(".", "").isdigit() else None
    values = {"name": f"SimulatedAgent.{uuid}" if hv == "Simulator" else parsed.hostname, "type": "Routing",
              "zone_id": cl.zone_id, "pod_id": cl.pod_id, "cluster_id": cl.id, "guid": f"{uuid}-{hv}",
              "url": url, "username": call.get("username"), "private_ip": ip, "hypervisor_type": hv,
              "capabilities": "hvm"}
    tags = [t for t in (call.get("hosttags") or [])] if isinstance(call.get("hosttags"), list) else \
        [t for t in str(call.get("hosttags") or "").split(",") if t]
    await call.service.run(call, JobTarget(host_ref(uuid, cl.uuid), "create", {
        "values": values, "tags": tags, "token_sha256": token_hash(token) if token else None,
        "where": {"cluster": cl.uuid, "pod": cl.pod_uuid, "zone": cl.zone_uuid}}, "Host"))
    await call.service.event(call.caller, "HOST.CREATE", f"Added host {values['name']}",
                             resource_type="Host", resource_uuid=uuid)
    items = await new_host_out(call, uuid, tags)
    if token:
        items[0]["agenttoken"] = token  # shown once: the agent authenticates with it
    return ListResult(items, len(items))


@command("listHosts", object_name="host", roles=ROOT)
async def list_hosts(call: Call) -> ListResult:
    q = hosts_q()
    filters = (("id", H.c.uuid), ("name", H.c.name), ("zoneid", Z.c.uuid), ("podid", P.c.uuid),
               ("clusterid", C.c.uuid), ("type", H.c.type), ("state", H.c.status),
               ("resourcestate", H.c.resource_state), ("hypervisor", H.c.hypervisor_type))
    q = q.where(*equalities(call, filters))
    if call.get("keyword"):
        q = q.where(H.c.name.contains(call.get("keyword")))
    ha_tag = await call.service.config("ha.tag")
    if call.get("hahost") is not None and ha_tag:
        tagged = select(TAG.c.host_id).where(TAG.c.tag == ha_tag)
        q = q.where(H.c.id.in_(tagged) if call.get("hahost") else H.c.id.not_in(tagged))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, H.c.id)
        return ListResult(await hosts_out(call, conn, rows), total)


@command("updateHost", object_name="host", roles=ROOT, entity_type="Host")
async def update_host(call: Call) -> dict[str, Any]:
    ref = await host_target(call, call.get("id"))
    tags = call.get("hosttags")
    if isinstance(tags, str):
        tags = [t for t in tags.split(",") if t]
    await call.service.run(call, JobTarget(ref, "update", {
        "hosttags": tags, "allocationstate": call.get("allocationstate"), "name": call.get("name")}, "Host"))
    return (await load_hosts(call, [ref.id]))[0]


@command("deleteHost", roles=ROOT, entity_type="Host")
async def delete_host(call: Call) -> Any:
    from cloudplane.api.context import Success

    ref = await host_target(call, call.get("id"))
    await call.service.run(call, JobTarget(ref, "delete", {"forced": bool(call.get("forced", False))}, "Host"))
    await call.service.event(call.caller, "HOST.DELETE", f"Deleted host {ref.id}", resource_type="Host",
                             resource_uuid=ref.id)
    return Success()


async def _async_host_op(call: Call, op: str) -> Any:
    ref = await host_target(call, call.get("id"))
    return await call.service.accept(call, JobTarget(ref, op, {}, "Host"), ref.id)


@command("reconnectHost", object_name="host", roles=ROOT, entity_type="Host", job_view=host_job_view)
async def reconnect_host(call: Call) -> Any:
    return await _async_host_op(call, "reconnect")


@command("prepareHostForMaintenance", object_name="host", roles=ROOT, entity_type="Host", job_view=host_job_view)
async def prepare_host_for_maintenance(call: Call) -> Any:
    return await _async_host_op(call, "prepare_maintenance")


@command("cancelHostMaintenance", object_name="host", roles=ROOT, entity_type="Host", job_view=host_job_view)
async def cancel_host_maintenance(call: Call) -> Any:
    return await _async_host_op(call, "cancel_maintenance")
