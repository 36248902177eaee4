"""queryAsyncJobResult of a job still running: the node that submitted it answers
from memory, and the answer must be the one the store would give."""

from __future__ import annotations

from collections.abc import Callable

import cs

from tests.vms.conftest import Cloud, Tenant, api_error, unique, wait_for

SAME = ("accountid", "userid", "cmd", "created", "jobid", "jobinstancetype", "jobinstanceid", "jobstatus",
        "jobresultcode", "jobresulttype", "jobprocstatus")


def test_a_running_job_reads_the_same_from_memory_and_from_the_store(
        root: cs.CloudStack, cloud: Cloud, tenant: Callable[[], Tenant]) -> None:
    host = cloud.hosts[0]["id"]
    mock = root.configureSimulator(name="StartCommand", value="wait:3000", hostid=host, count=1)["mock"]
    try:
        job = root.deployVirtualMachine(zoneid=cloud.zone, templateid=cloud.template, serviceofferingid=cloud.offering,
                                        hostid=host, name=unique("poll"), fetch_result=False)["jobid"]
        polled = root.queryAsyncJobResult(jobid=job, fetch_result=False)
        assert polled["jobstatus"] == 0, polled
        listed = next(j for j in root.listAsyncJobs(listall=True)["asyncjobs"] if j["jobid"] == job)
        assert listed["jobstatus"] == 0, listed  # still running: the store's answer is the pending one too
        assert {k: polled.get(k) for k in SAME} == {k: listed.get(k) for k in SAME}
        assert "jobresult" not in polled and "completed" not in polled
        # Someone else's poll of it is refused while it runs, as after.
        assert api_error(tenant().api.queryAsyncJobResult, jobid=job)["errorcode"] == 432
        done = wait_for(lambda: (lambda j: j if j["jobstatus"] != 0 else None)(root.queryAsyncJobResult(jobid=job, fetch_result=False)))
        assert done["jobstatus"] == 1, done
        assert done["jobresult"]["virtualmachine"]["state"] == "Running"
        assert done["jobresult"]["virtualmachine"]["hostid"] == host
        assert done["created"] == polled["created"] and "completed" in done
    finally:
        root.cleanupSimulatorMock(id=mock["id"])
