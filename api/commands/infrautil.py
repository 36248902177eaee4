"""Helpers the infrastructure commands share: finding a row named by a uuid
parameter (with CloudStack's wording when it does not exist), running a
create whose CloudStack command is asynchronous but creates synchronously,
and the job views of asynchronous commands."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import Table, select

from cloudplane.api.context import Accepted, Call, Caller, JobTarget
from cloudplane.errors import ParamError

# CloudStack's HypervisorType spellings, by lower case.
HYPERVISORS = {h.lower(): h for h in ("KVM", "Simulator", "XenServer", "VMware", "Hyperv", "LXC", "Ovm3",
                                      "BareMetal", "Any", "None")}
SUPPORTED_HYPERVISORS = ("Simulator", "KVM")


def invalid_id(call: Call, param: str, value: Any) -> ParamError:
    """What CloudStack answers when a uuid parameter names nothing."""
    return ParamError(f"Unable to execute API command {call.spec.error_name} due to invalid value. Invalid parameter "
                      f"{param} value={value} due to incorrect long value format, or entity does not exist or due to "
                      "incorrect parameter annotation for the field in api cmd class.")


async def find(call: Call, table: Table, param: str, value: Any = None, *, required: bool = True) -> Any:
    """The live row whose uuid the parameter `param` gives (or `value`); None if absent and
    not required."""
    uuid = value if value is not None else call.get(param)
    if uuid is None:
        if required:
            raise ParamError(f"Unable to execute API command {call.spec.error_name} due to missing parameter {param}")
        return None
    async with call.service.engine.connect() as conn:
        row = (await conn.execute(select(table).where(table.c.uuid == uuid, table.c.removed.is_(None)))).first()
    if row is None:
        raise invalid_id(call, param, uuid)
    return row


def hypervisor(name: str) -> str:
    h = HYPERVISORS.get(name.lower())
    if h is None or h in ("Any", "None"):
        raise ParamError(f"Unable to resolve {name} to a supported hypervisor type")
    return h


async def create_now(call: Call, target: JobTarget, uuid: str) -> Accepted:
    """An async CloudStack create that does its work before answering (BaseAsyncCreateCmd):
    refusals come back at once; the job then holds the created object."""
    job = await call.service.submit(call, target)
    (await call.service.runtime.wait(job, 120.0)).unwrap()
    return Accepted(job, uuid)


View = Callable[[Call, str], Awaitable[dict[str, Any]]]


def job_view(object_name: str, list_command: str, load: View) -> Callable[..., Awaitable[dict[str, Any]]]:
    """A queryAsyncJobResult view: the job's entity rendered as its list command would."""

    async def view(service: Any, caller: Caller, result: dict[str, Any]) -> dict[str, Any]:
        if not result.get("id"):
            return {"success": True}
        call = Call(service, service.registry.get(list_command), caller, {}, {})
        try:
            return {object_name: await load(call, result["id"])}
        except ParamError:
            return {"success": True}

    return view
