"""Cluster DRS (CloudStack 4.19): generateClusterDrsPlan, executeClusterDrsPlan,
listClusterDrsPlan. Not in the 4.18 reference, so their parameters are
declared here. A plan is an entity (actors/kinds/drs.py): the handlers only
check what is asked and record it as a job on the plan."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from cloudplane.actors.identity import EntityRef
from cloudplane.api.commands.base import ROOT, command, page
from cloudplane.api.context import Call, JobTarget, ListResult
from cloudplane.api.registry import ParamSpec
from cloudplane.api.views.drs import plan_view
from cloudplane.errors import ParamError
from cloudplane.store.base import new_uuid
from cloudplane.store.tables.compute import VmInstance
from cloudplane.store.tables.drs import ClusterDrsPlan, ClusterDrsPlanMigration
from cloudplane.store.tables.infra import Cluster, Host

PLAN, MIG, C, H, VM = (t.__table__ for t in (ClusterDrsPlan, ClusterDrsPlanMigration, Cluster, Host,  # type: ignore[attr-defined]
                                             VmInstance))
LIST_PARAMS = (ParamSpec("keyword", "string"), ParamSpec("page", "integer"), ParamSpec("pagesize", "integer"))


def plans_q() -> Any:
    return (select(PLAN, C.c.uuid.label("cluster_uuid")).select_from(PLAN.join(C, PLAN.c.cluster_id == C.c.id))
            .where(PLAN.c.removed.is_(None)))


async def plans_out(conn: Any, rows: list[Any]) -> list[dict[str, Any]]:
    if not rows:
        return []
    src, dst = H.alias("src"), H.alias("dst")
    migs = (await conn.execute(
        select(MIG, VM.c.uuid.label("vm_uuid"), VM.c.display_name, VM.c.name.label("vname"),
               src.c.uuid.label("src_uuid"), src.c.name.label("src_name"),
               dst.c.uuid.label("dst_uuid"), dst.c.name.label("dst_name"))
        .select_from(MIG.join(VM, MIG.c.vm_id == VM.c.id).join(src, MIG.c.src_host_id == src.c.id)
                     .join(dst, MIG.c.dst_host_id == dst.c.id))
        .where(MIG.c.plan_id.in_([r.id for r in rows])).order_by(MIG.c.plan_id, MIG.c.seq))).all()
    by_plan: dict[int, list[Any]] = {}
    for m in migs:
        by_plan.setdefault(m.plan_id, []).append(_Mig(m))
    return [plan_view(r, by_plan.get(r.id, [])) for r in rows]


class _Mig:
    """A migration row with the names the view wants."""

    def __init__(self, r: Any) -> None:
        self.vm_uuid, self.vm_name = r.vm_uuid, r.display_name or r.vname
        self.src_uuid, self.src_name, self.dst_uuid, self.dst_name = r.src_uuid, r.src_name, r.dst_uuid, r.dst_name
        self.status, self.error, self.imbalance_after = r.status, r.error, r.imbalance_after


async def load_plan(service: Any, uuid: str) -> dict[str, Any] | None:
    async with service.engine.connect() as conn:
        rows = (await conn.execute(plans_q().where(PLAN.c.uuid == uuid))).all()
        out = await plans_out(conn, rows)
    return out[0] if out else None


async def plan_job_view(service: Any, caller: Any, result: dict[str, Any]) -> dict[str, Any]:
    plan = await load_plan(service, result["id"]) if result.get("id") else None
    return {"drsPlan": plan} if plan else {"success": True, "displaytext": result.get("explanation", "")}


async def _cluster(call: Call, uuid: str) -> Any:
    async with call.service.engine.connect() as conn:
        row = (await conn.execute(select(C.c.id, C.c.uuid).where(C.c.uuid == uuid, C.c.removed.is_(None)))).first()
    if row is None:
        raise ParamError(f"Unable to find cluster by id {uuid}")
    return row


async def _in_progress(call: Call, cluster_id: int) -> None:
    async with call.service.engine.connect() as conn:
        busy = (await conn.execute(select(PLAN.c.uuid).where(
            PLAN.c.cluster_id == cluster_id, PLAN.c.status == "IN_PROGRESS", PLAN.c.removed.is_(None)))).first()
    if busy is not None:
        raise ParamError(f"DRS plan {busy.uuid} is in progress for this cluster: only one may run at a time")


@command("generateClusterDrsPlan", object_name="generateclusterdrsplanresponse", roles=ROOT, since="4.19.0",
         description="Generate DRS plan for a cluster", params=(
             ParamSpec("id", "uuid", required=True, description="the ID of the Cluster"),
             ParamSpec("migrations", "integer", description="Maximum number of VMs to migrate for a DRS execution. "
                       "Defaults to drs.iterations of the cluster's movable VMs, at most drs.max.migrations")))
async def generate_cluster_drs_plan(call: Call) -> dict[str, Any]:
    cluster = await _cluster(call, call.get("id"))
    migrations = call.get("migrations")
    if migrations is not None and migrations < 0:
        raise ParamError("migrations must not be negative")
    ref = EntityRef("drsplan", new_uuid(), cluster.uuid)
    await call.service.run(call, JobTarget(ref, "create", {"cluster_id": cluster.id, "plan_type": "MANUAL",
                                                           "migrations": migrations}))
    plan = await load_plan(call.service, ref.id)
    assert plan is not None
    return plan


@command("executeClusterDrsPlan", object_name="drsPlan", roles=ROOT, is_async=True, since="4.19.0",
         job_view=plan_job_view, description="Execute DRS for a cluster. If there is another plan in progress for the "
         "same cluster, this command will fail.", params=(
             ParamSpec("id", "uuid", required=True, description="ID of cluster"),
             ParamSpec("migrateto", "map", description="Virtual Machine to destination host mapping: "
                       "migrateto[0].vm=<uuid>&migrateto[0].host=<uuid>. Without it, the cluster's newest plan that "
                       "was generated and not run, or else a new plan, is executed")))
async def execute_cluster_drs_plan(call: Call) -> Any:
    cluster = await _cluster(call, call.get("id"))
    await _in_progress(call, cluster.id)
    args: dict[str, Any] = {"cluster_id": cluster.id, "plan_type": "MANUAL", "execute": True}
    uuid = new_uuid()
    given = call.get("migrateto")
    if given:
        moves = [{"vm": str(d.get("vm") or ""), "host": str(d.get("host") or "")} for d in given]
        await _check_moves(call, cluster.id, moves)
        args["moves"] = moves
    else:
        async with call.service.engine.connect() as conn:
            waiting = (await conn.execute(select(PLAN.c.uuid).where(
                PLAN.c.cluster_id == cluster.id, PLAN.c.status == "UNDER_REVIEW", PLAN.c.removed.is_(None))
                .order_by(PLAN.c.id.desc()).limit(1))).scalar()
        uuid = waiting or uuid
    ref = EntityRef("drsplan", uuid, cluster.uuid)
    return await call.service.accept(call, JobTarget(ref, "create", args), ref.id)


async def _check_moves(call: Call, cluster_id: int, moves: list[dict[str, str]]) -> None:
    async with call.service.engine.connect() as conn:
        vms = {r.uuid: r for r in (await conn.execute(select(VM.c.uuid, VM.c.host_id).where(
            VM.c.uuid.in_([m["vm"] for m in moves]), VM.c.removed.is_(None)))).all()}
        hosts = {r.uuid: r for r in (await conn.execute(select(H.c.uuid, H.c.id, H.c.cluster_id).where(
            H.c.uuid.in_([m["host"] for m in moves]), H.c.removed.is_(None)))).all()}
    for m in moves:
        if m["vm"] not in vms or m["host"] not in hosts:
            raise ParamError(f"Unable to find the vm/host for vmId={m['vm']}, destHostId={m['host']}")
        if hosts[m["host"]].cluster_id != cluster_id:
            raise ParamError(f"Host {m['host']} is not in the cluster")


@command("listClusterDrsPlan", object_name="drsPlan", roles=ROOT, since="4.19.0",
         description="List DRS plans for clusters", params=(
             ParamSpec("id", "uuid", description="ID of the drs plan"),
             ParamSpec("clusterid", "uuid", description="ID of the cluster"), *LIST_PARAMS))
async def list_cluster_drs_plan(call: Call) -> ListResult:
    q = plans_q()
    if call.get("id"):
        q = q.where(PLAN.c.uuid == call.get("id"))
    if call.get("clusterid"):
        q = q.where(C.c.uuid == call.get("clusterid"))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, PLAN.c.id.desc())
        return ListResult(await plans_out(conn, rows), total)
