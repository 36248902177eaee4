"""Host HA (CloudStack's HA framework): configureHAForHost, enable/disable HA for
a host, a cluster or a zone, listHostHAResources, listHostHAProviders; and the
simulator's configureSimulatorHAProviderState / listSimulatorHAStateTransitions
(not in listApis: their parameters are declared here). Every switch is a job on
the resource's `haconfig` entity (actors/kinds/hostha.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select, update

from cloudplane.actors.kinds.hostha import haconfig_ref
from cloudplane.api.commands.base import ROOT, command, page
from cloudplane.api.context import Call, JobTarget, ListResult, Raw
from cloudplane.api.registry import ParamSpec
from cloudplane.api.views.hosts import hostha_of
from cloudplane.errors import ParamError
from cloudplane.store.base import utcnow
from cloudplane.store.tables.drs import HaConfig, HaStateTransition, SimulatorHaState
from cloudplane.store.tables.infra import Cluster, Host, Zone
from cloudplane.supervisors.hostha import PROVIDERS, providers_for

HA, TR, SIM, H, C, Z = (t.__table__ for t in (HaConfig, HaStateTransition, SimulatorHaState, Host, Cluster,  # type: ignore[attr-defined]
                                              Zone))


def hostha_view(host_uuid: str, r: Any | None) -> dict[str, Any]:
    return {"hostid": host_uuid, **hostha_of(r)}


async def _host(call: Call, uuid: str) -> Any:
    async with call.service.engine.connect() as conn:
        row = (await conn.execute(select(H.c.id, H.c.uuid, H.c.hypervisor_type, C.c.uuid.label("cluster_uuid"))
                                  .select_from(H.outerjoin(C, H.c.cluster_id == C.c.id))
                                  .where(H.c.uuid == uuid, H.c.removed.is_(None)))).first()
    if row is None:
        raise ParamError(f"Unable to find host by ID: {uuid}")
    return row


async def hostha_job_view(service: Any, caller: Any, result: dict[str, Any]) -> dict[str, Any]:
    async with service.engine.connect() as conn:
        r = (await conn.execute(select(HA).where(HA.c.uuid == result["id"]))).first()
    return {"hostha": {**hostha_view(result["id"], r), "status": True}}


async def _switch(call: Call, ref: Any, resource_type: str, resource_id: int, enabled: bool) -> Any:
    return await call.service.accept(call, JobTarget(ref, "switch", {
        "resource_type": resource_type, "resource_id": resource_id, "enabled": enabled}), ref.id)


@command("configureHAForHost", object_name="hostha", roles=ROOT, job_view=hostha_job_view)
async def configure_ha_for_host(call: Call) -> Any:
    host = await _host(call, call.get("hostid"))
    provider = str(call.get("provider")).lower()
    if provider not in PROVIDERS:
        raise ParamError(f"Invalid HA provider {call.get('provider')}: one of {', '.join(sorted(PROVIDERS))}")
    if PROVIDERS[provider].hypervisor.lower() != str(host.hypervisor_type).lower():
        raise ParamError(f"HA provider {provider} does not support {host.hypervisor_type} hosts")
    ref = haconfig_ref(host.uuid, host.cluster_uuid)
    return await call.service.accept(call, JobTarget(ref, "configure", {"resource_id": host.id, "provider": provider}),
                                     ref.id)


async def _configured(call: Call, host: Any) -> None:
    async with call.service.engine.connect() as conn:
        provider = (await conn.execute(select(HA.c.provider).where(
            HA.c.resource_type == "Host", HA.c.resource_id == host.id, HA.c.removed.is_(None)))).scalar()
    if not provider:
        raise ParamError(f"HA provider is not configured for host {host.uuid}: use configureHAForHost first")


@command("enableHAForHost", object_name="hostha", roles=ROOT, job_view=hostha_job_view)
async def enable_ha_for_host(call: Call) -> Any:
    host = await _host(call, call.get("hostid"))
    await _configured(call, host)
    return await _switch(call, haconfig_ref(host.uuid, host.cluster_uuid), "Host", host.id, True)


@command("disableHAForHost", object_name="hostha", roles=ROOT, job_view=hostha_job_view)
async def disable_ha_for_host(call: Call) -> Any:
    host = await _host(call, call.get("hostid"))
    await _configured(call, host)
    return await _switch(call, haconfig_ref(host.uuid, host.cluster_uuid), "Host", host.id, False)


async def _scope(call: Call, table: Any, uuid: str, what: str) -> Any:
    async with call.service.engine.connect() as conn:
        row = (await conn.execute(select(table.c.id, table.c.uuid).where(
            table.c.uuid == uuid, table.c.removed.is_(None)))).first()
    if row is None:
        raise ParamError(f"Unable to find {what} by ID: {uuid}")
    return row


@command("enableHAForCluster", roles=ROOT)
async def enable_ha_for_cluster(call: Call) -> Any:
    c = await _scope(call, C, call.get("clusterid"), "cluster")
    return await _switch(call, haconfig_ref(c.uuid, c.uuid), "Cluster", c.id, True)


@command("disableHAForCluster", roles=ROOT)
async def disable_ha_for_cluster(call: Call) -> Any:
    c = await _scope(call, C, call.get("clusterid"), "cluster")
    return await _switch(call, haconfig_ref(c.uuid, c.uuid), "Cluster", c.id, False)


@command("enableHAForZone", roles=ROOT)
async def enable_ha_for_zone(call: Call) -> Any:
    z = await _scope(call, Z, call.get("zoneid"), "zone")
    return await _switch(call, haconfig_ref(z.uuid, z.uuid), "Zone", z.id, True)


@command("disableHAForZone", roles=ROOT)
async def disable_ha_for_zone(call: Call) -> Any:
    z = await _scope(call, Z, call.get("zoneid"), "zone")
    return await _switch(call, haconfig_ref(z.uuid, z.uuid), "Zone", z.id, False)


@command("listHostHAResources", object_name="hostha", roles=ROOT)
async def list_host_ha_resources(call: Call) -> ListResult:
    q = (select(HA, H.c.uuid.label("host_uuid")).select_from(HA.join(H, HA.c.resource_id == H.c.id))
         .where(HA.c.resource_type == "Host", HA.c.removed.is_(None), H.c.removed.is_(None)))
    if call.get("hostid"):
        q = q.where(H.c.uuid == call.get("hostid"))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, HA.c.id)
    return ListResult([hostha_view(r.host_uuid, r) for r in rows], total)


@command("listHostHAProviders", object_name="hostha", roles=ROOT)
async def list_host_ha_providers(call: Call) -> ListResult:
    items = [{"haprovider": p.display} for p in providers_for(str(call.get("hypervisor")))]
    return ListResult(items, len(items))


@command("configureSimulatorHAProviderState", roles=ROOT, since="4.11", params=(
    ParamSpec("hostid", "uuid", required=True, description="List by host ID"),
    ParamSpec("health", "boolean", required=True,
              description="Set true is haprovider for simulator host should be healthy"),
    ParamSpec("activity", "boolean", required=True,
              description="Set true is haprovider for simulator host should have activity"),
    ParamSpec("recover", "boolean", required=True,
              description="Set true is haprovider for simulator host should be be recoverable"),
    ParamSpec("fence", "boolean", required=True,
              description="Set true is haprovider for simulator host should be be fence-able")),
    description="configures simulator HA provider state for a host for probing and testing")
async def configure_simulator_ha_provider_state(call: Call) -> Raw:
    """What the simulated HA provider answers for the host: part of the simulated world,
    written here as configureSimulator writes its mocks."""
    host = await _host(call, call.get("hostid"))
    flags = {k: bool(call.get(k)) for k in ("health", "activity", "recover", "fence")}
    async with call.service.engine.begin() as conn:
        mark = int((await conn.execute(select(func.max(TR.c.id)))).scalar() or 0) + 1
        values = {**flags, "transitions_from": mark, "updated": utcnow()}
        res = await conn.execute(update(SIM).where(SIM.c.host_id == host.id).values(**values))
        if res.rowcount == 0:
            await conn.execute(insert(SIM).values(host_id=host.id, **values))
    return Raw({"success": True})


@command("listSimulatorHAStateTransitions", object_name="simulatorhastatetransition", roles=ROOT, since="4.11",
         params=(ParamSpec("hostid", "uuid", required=True, description="List by host ID"),
                 ParamSpec("keyword", "string"), ParamSpec("page", "integer"), ParamSpec("pagesize", "integer")),
         description="list recent simulator HA state transitions for a host for probing and testing")
async def list_simulator_ha_state_transitions(call: Call) -> ListResult:
    """The host's transitions since its simulated provider's flags were last set, oldest first."""
    host = await _host(call, call.get("hostid"))
    q = (select(TR).select_from(TR.join(HA, TR.c.config_id == HA.c.id))
         .where(HA.c.resource_type == "Host", HA.c.resource_id == host.id))
    async with call.service.engine.connect() as conn:
        mark = (await conn.execute(select(SIM.c.transitions_from).where(SIM.c.host_id == host.id))).scalar()
        if mark:
            q = q.where(TR.c.id >= mark)
        rows, total = await page(call, conn, q, TR.c.id)
    return ListResult([{"hastate": r.state.lower(), "prevhastate": r.prev_state.lower(), "event": r.event.lower(),
                        "activitycounter": r.activity_counter, "recoverycounter": r.recovery_counter,
                        "reason": r.reason} for r in rows], total)
