"""queryAsyncJobResult and listAsyncJobs: reading the durable job table."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import bindparam, select

from cloudplane.api import scope
from cloudplane.api.commands.base import JOB_VIEWS, command, page
from cloudplane.api.context import Call, ListResult, Raw
from cloudplane.api.dates import format_date
from cloudplane.errors import NotAllowed, ParamError
from cloudplane.store import prepared
from cloudplane.store.jobs import AsyncJob, JobStatus
from cloudplane.store.tables.identity import Account, Domain

J, A, D = AsyncJob.__table__, Account.__table__, Domain.__table__  # type: ignore[attr-defined]


async def job_out(call: Call, job: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "accountid": job.account_uuid, "userid": job.user_uuid, "cmd": job.cmd, "jobstatus": job.status,
        "jobprocstatus": job.proc_status, "jobresultcode": job.result_code, "jobresulttype": job.result_type,
        "created": format_date(job.created), "jobid": job.uuid,
    }
    if job.instance_type:
        out["jobinstancetype"] = job.instance_type
        out["jobinstanceid"] = job.instance_uuid
    if job.status != JobStatus.PENDING:
        result = orjson.loads(job.result) if job.result else {}
        if job.status == JobStatus.SUCCEEDED:
            view = JOB_VIEWS.get(job.cmd)
            if view is not None:
                result = await view(call.service, call.caller, result)
            elif isinstance(result, dict) and result.get("success") is True:
                result = {"success": True}
        out["jobresult"] = result
        if job.completed is not None:
            out["completed"] = format_date(job.completed)
    return out


def _jobs_q() -> Any:
    return select(J, D.c.path.label("d_path"), A.c.id.label("a_id")).select_from(
        J.outerjoin(A, J.c.account_uuid == A.c.uuid).outerjoin(D, A.c.domain_id == D.c.id))


_JOB_BY_UUID = _jobs_q().where(J.c.uuid == bindparam("b_job"))  # every poll: built once


@command("queryAsyncJobResult", object_name="")
async def query_async_job_result(call: Call) -> Raw:
    # Most polls ask after a job this node submitted and that is still running: its
    # owner (or the root admin) is answered from memory, without a read of the store.
    mine = call.service.runtime.pending(call.get("jobid"))
    if mine is not None and (call.caller.account_uuid == mine.account_uuid or call.caller.is_root_admin):
        return Raw(await job_out(call, mine))
    async with prepared.reading(call.service.engine) as conn:
        job = (await prepared.execute(conn, _JOB_BY_UUID, {"b_job": call.get("jobid")})).first()
    if job is None:
        raise ParamError(f"Unable to find a job by id {call.get('jobid')}")
    c = call.caller
    if c.role_type == "User" and job.account_uuid != c.account_uuid:
        raise NotAllowed(f"Caller is not allowed to view job {job.uuid}")
    if c.role_type != "User" and job.d_path is not None and not job.d_path.startswith(c.domain_path):
        raise NotAllowed(f"Caller is not allowed to view job {job.uuid}")
    return Raw(await job_out(call, job))


@command("listAsyncJobs", object_name="asyncjobs")
async def list_async_jobs(call: Call) -> ListResult:
    vis = await scope.visibility(call)
    q = _jobs_q().where(vis.clause(A.c.id, A.c.domain_id))
    if call.get("startdate") is not None:
        q = q.where(J.c.created >= call.get("startdate"))
    if call.get("id"):
        q = q.where(J.c.uuid == call.get("id"))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, J.c.id.desc())
    return ListResult([await job_out(call, r) for r in rows], total)
