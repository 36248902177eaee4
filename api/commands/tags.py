"""Resource tags: createTags, deleteTags, listTags.

A handler resolves the resources by type (api/resources.py), checks that the
caller may change each one, and hands the write to the first resource's annex
entity (actors/kinds/annex.py) as one job.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from cloudplane.actors.identity import EntityRef
from cloudplane.api import scope
from cloudplane.api.commands.base import ALL, command, equalities, page
from cloudplane.api.context import Accepted, Call, JobTarget, ListResult
from cloudplane.api.resources import ResourceType, owned_resources, resource_type
from cloudplane.api.views.tags import A, D, TAG, tag_view
from cloudplane.errors import ParamError

MAX_KEY = 255


def annex_ref(rt: ResourceType, uuid: str) -> EntityRef:
    # The resource's uuid alone (unique across types; a job row keeps at most 40 characters).
    return EntityRef("annex", uuid)


def tag_entries(call: Call, *, required: bool) -> list[dict[str, str | None]]:
    """`tags[n].key`/`tags[n].value` as [{key, value}], keys present and non-blank."""
    out = []
    for t in call.get("tags") or []:
        t = {str(k).lower(): v for k, v in t.items()}
        key = str(t.get("key") or "").strip()
        if not key:
            raise ParamError("Every tag needs a non-empty key (tags[n].key)")
        if len(key) > MAX_KEY or len(str(t.get("value") or "")) > MAX_KEY:
            raise ParamError(f"Tag keys and values are at most {MAX_KEY} characters")
        out.append({"key": key, "value": None if t.get("value") is None else str(t["value"])})
    if required and not out:
        raise ParamError("tags must give at least one key and value (tags[0].key, tags[0].value)")
    return out


async def _targets(call: Call, rt: ResourceType) -> list[dict[str, Any]]:
    async with call.service.engine.connect() as conn:
        rows = await owned_resources(conn, call.caller, rt, call.get("resourceids") or [])
    return [{"id": r.id, "uuid": r.uuid, "account_id": r.account_id, "domain_id": r.domain_id} for r in rows]


async def _success_view(service: Any, caller: Any, result: dict[str, Any]) -> dict[str, Any]:
    return {"success": True}


@command("createTags", roles=ALL, entity_type="Tag", job_view=_success_view)
async def create_tags(call: Call) -> Accepted:
    rt = resource_type(call.get("resourcetype"), tags=True)
    entries = tag_entries(call, required=True)
    tags: dict[str, str] = {}
    for e in entries:
        if e["key"].lower() in {k.lower() for k in tags}:  # type: ignore[union-attr]
            raise ParamError(f"Tag key {e['key']} is given twice")
        tags[str(e["key"])] = e["value"] or ""
    resources = await _targets(call, rt)
    args = {"rtype": rt.name, "resources": resources, "tags": tags, "customer": call.get("customer")}
    await _scheduled(call, "CREATE_TAGS", f"Creating tags {sorted(tags)} on {len(resources)} {rt.name}", rt,
                     resources)
    return await call.service.accept(call, JobTarget(annex_ref(rt, resources[0]["uuid"]), "create_tags", args,
                                                     rt.name))


async def _scheduled(call: Call, type_: str, description: str, rt: ResourceType,
                     resources: list[dict[str, Any]]) -> None:
    """The Scheduled event of a tag job, as CloudStack records it (on the first resource)."""
    await call.service.event(call.caller, type_, description, state="Scheduled", resource_type=rt.name,
                             resource_uuid=resources[0]["uuid"])


@command("deleteTags", roles=ALL, entity_type="Tag", job_view=_success_view)
async def delete_tags(call: Call) -> Accepted:
    rt = resource_type(call.get("resourcetype"), tags=True)
    entries = tag_entries(call, required=False)
    resources = await _targets(call, rt)
    args = {"rtype": rt.name, "resources": resources, "tags": entries}
    await _scheduled(call, "DELETE_TAGS", f"Deleting tags from {len(resources)} {rt.name}", rt, resources)
    return await call.service.accept(call, JobTarget(annex_ref(rt, resources[0]["uuid"]), "delete_tags", args,
                                                     rt.name))


@command("listTags", object_name="tag", roles=ALL)
async def list_tags(call: Call) -> ListResult:
    vis = await scope.visibility(call)
    q = (select(TAG, A.c.name.label("acct"), D.c.uuid.label("dom_uuid"), D.c.name.label("dom_name"))
         .select_from(TAG.outerjoin(A, TAG.c.account_id == A.c.id).outerjoin(D, TAG.c.domain_id == D.c.id))
         .where(TAG.c.removed.is_(None), vis.clause(TAG.c.account_id, TAG.c.domain_id)))
    if call.get("resourcetype"):
        q = q.where(TAG.c.resource_type == resource_type(call.get("resourcetype"), tags=True).name)
    if call.get("resourceid"):
        q = q.where(TAG.c.resource_uuid == call.get("resourceid"))
    if call.get("key") is not None:
        q = q.where(func.lower(TAG.c.name) == str(call.get("key")).lower())
    q = q.where(*equalities(call, (("value", TAG.c.value), ("customer", TAG.c.customer))))
    if call.get("keyword"):
        kw = call.get("keyword")
        q = q.where(TAG.c.name.contains(kw, autoescape=True) | TAG.c.value.contains(kw, autoescape=True))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, TAG.c.id)
    return ListResult([tag_view(r) for r in rows], total)
