"""The simulator's API: CloudStack's configureSimulator / querySimulatorMock /
cleanupSimulatorMock, and cloudplane's injectSimulatorFault (host crash,
partition, agent disconnect, a VM dying out of band)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update

from cloudplane.api.commands.base import ROOT, command
from cloudplane.api.commands.hosts import host_target
from cloudplane.api.context import Call, JobTarget, Raw
from cloudplane.api.registry import ParamSpec
from cloudplane.errors import ParamError
from cloudplane.simulator.mocks import parse_options
from cloudplane.store.base import utcnow
from cloudplane.store.tables.simulator import SimulatorMock

M = SimulatorMock.__table__  # type: ignore[attr-defined]


def _mock_out(r: Any) -> dict[str, Any]:
    out = {"id": r.id, "name": r.name, "count": r.count, "fired": r.fired, "value": r.value,
           "zoneid": r.zone_uuid, "podid": r.pod_uuid, "clusterid": r.cluster_uuid, "hostid": r.host_uuid}
    return {k: v for k, v in out.items() if v is not None}


@command("configureSimulator", object_name="mock", roles=ROOT, params=(
    ParamSpec("name", "string", required=True, description="the agent command to intercept, e.g. StartCommand"),
    ParamSpec("value", "string", required=True, length=1024, description="result:fail|fault;wait:<ms>;..."),
    ParamSpec("zoneid", "uuid"), ParamSpec("podid", "uuid"), ParamSpec("clusterid", "uuid"),
    ParamSpec("hostid", "uuid"), ParamSpec("count", "integer"),
    ParamSpec("jsonresponse", "string", length=4096)),
    description="Configure a simulator mock that intercepts an agent command")
async def configure_simulator(call: Call) -> dict[str, Any]:
    try:
        parse_options(call.get("value"))
    except ValueError as e:
        raise ParamError(f"Invalid value for parameter value: {e}") from None
    if call.get("count") is not None and call.get("count") < 1:
        raise ParamError("count must be at least 1")
    async with call.service.engine.begin() as conn:
        res = await conn.execute(insert(M).values(
            name=call.get("name"), value=call.get("value"), zone_uuid=call.get("zoneid"), pod_uuid=call.get("podid"),
            cluster_uuid=call.get("clusterid"), host_uuid=call.get("hostid"), count=call.get("count"), fired=0,
            json_response=call.get("jsonresponse"), created=utcnow()))
        mock_id = res.inserted_primary_key[0]
        row = (await conn.execute(select(M).where(M.c.id == mock_id))).one()
    await call.service.runtime.reset_caches()
    return _mock_out(row)


@command("querySimulatorMock", object_name="mock", roles=ROOT,
         params=(ParamSpec("id", "long", required=True),), description="Query a simulator mock")
async def query_simulator_mock(call: Call) -> dict[str, Any]:
    async with call.service.engine.connect() as conn:
        row = (await conn.execute(select(M).where(M.c.id == call.get("id")))).first()
    if row is None:
        raise ParamError(f"Unable to find simulator mock {call.get('id')}")
    return _mock_out(row)


@command("cleanupSimulatorMock", roles=ROOT, params=(ParamSpec("id", "long", required=True),),
         description="Remove a simulator mock")
async def cleanup_simulator_mock(call: Call) -> Raw:
    async with call.service.engine.begin() as conn:
        res = await conn.execute(update(M).where(M.c.id == call.get("id"), M.c.removed.is_(None))
                                 .values(removed=utcnow()))
    if res.rowcount != 1:
        raise ParamError(f"Unable to find simulator mock {call.get('id')}")
    await call.service.runtime.reset_caches()
    return Raw({"success": True})


@command("injectSimulatorFault", roles=ROOT, params=(
    ParamSpec("hostid", "uuid", required=True),
    ParamSpec("fault", "string", required=True, description="crash, partition, heal, disconnect or kill_vm"),
    ParamSpec("vmname", "string", description="the VM's internal name, for kill_vm")),
    description="cloudplane: make a simulated host misbehave (for tests and benchmarks)")
async def inject_simulator_fault(call: Call) -> Raw:
    ref = await host_target(call, call.get("hostid"))
    await call.service.run(call, JobTarget(ref, "sim_fault", {"fault": call.get("fault"),
                                                              "vm": call.get("vmname")}, "Host"))
    return Raw({"success": True})
