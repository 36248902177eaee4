"""DRS plan rows -> CloudStack 4.19's ClusterDrsPlanResponse (object `drsPlan`),
with cloudplane's explanation of the plan beside CloudStack's fields."""

from __future__ import annotations

from typing import Any

from cloudplane.api.dates import format_date

# A migration's progress as CloudStack's JobInfo.Status names it.
JOB_STATUS = {"InProgress": "IN_PROGRESS", "Succeeded": "SUCCEEDED", "Failed": "FAILED"}


def migration_view(m: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "virtualmachineid": m.vm_uuid, "virtualmachinename": m.vm_name,
        "sourcehostid": m.src_uuid, "sourcehostname": m.src_name,
        "destinationhostid": m.dst_uuid, "destinationhostname": m.dst_name,
        "status": m.status,
    }
    if m.status in JOB_STATUS:
        out["jobstatus"] = JOB_STATUS[m.status]
    if m.imbalance_after is not None:
        out["imbalanceafter"] = round(float(m.imbalance_after), 4)
    if m.error:
        out["errortext"] = m.error
    return out


def plan_view(p: Any, migrations: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": p.uuid, "clusterid": p.cluster_uuid, "type": p.type, "status": p.status,
        "created": format_date(p.created), "migrations": [migration_view(m) for m in migrations],
        "algorithm": p.algorithm, "metric": p.metric, "imbalancebefore": round(float(p.imbalance_before), 4),
        "imbalanceafter": round(float(p.imbalance_after), 4), "threshold": round(float(p.threshold), 4),
    }
    if p.event_uuid:
        out["eventid"] = p.event_uuid
    if p.completed is not None:
        out["completed"] = format_date(p.completed)
    if p.explanation:
        out["explanation"] = p.explanation
    return out
