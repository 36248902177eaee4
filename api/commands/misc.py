"""Read-only catalogue commands of the physical layer: listHypervisors,
listOsTypes, listOsCategories, listAlerts."""

from __future__ import annotations

from sqlalchemy import select

from cloudplane.api.commands.base import ALL, ROOT, command, page
from cloudplane.api.commands.infrautil import SUPPORTED_HYPERVISORS, find
from cloudplane.api.context import Call, ListResult
from cloudplane.api.views.infra import alert_view, os_type_view
from cloudplane.store.tables.events import Alert
from cloudplane.store.tables.images import OsCategory, OsType
from cloudplane.store.tables.infra import Cluster, Zone

OSC, OST, AL = OsCategory.__table__, OsType.__table__, Alert.__table__  # type: ignore[attr-defined]
C, Z = Cluster.__table__, Zone.__table__  # type: ignore[attr-defined]


@command("listHypervisors", object_name="hypervisor", roles=ALL)
async def list_hypervisors(call: Call) -> ListResult:
    """The hypervisors this cloud supports, or those of a zone's clusters."""
    if call.get("zoneid"):
        zone = await find(call, Z, "zoneid")
        async with call.service.engine.connect() as conn:
            names = [r[0] for r in (await conn.execute(select(C.c.hypervisor_type).where(
                C.c.zone_id == zone.id, C.c.removed.is_(None)).distinct().order_by(C.c.hypervisor_type))).all()]
    else:
        names = list(SUPPORTED_HYPERVISORS)
    return ListResult([{"name": n} for n in names], len(names))


@command("listOsCategories", object_name="oscategory", roles=ALL)
async def list_os_categories(call: Call) -> ListResult:
    q = select(OSC).where(OSC.c.removed.is_(None))
    for param, col in (("id", OSC.c.uuid), ("name", OSC.c.name)):
        if call.get(param) is not None:
            q = q.where(col == call.get(param))
    if call.get("keyword"):
        q = q.where(OSC.c.name.contains(call.get("keyword")))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, OSC.c.id)
    return ListResult([{"id": r.uuid, "name": r.name} for r in rows], total)


@command("listOsTypes", object_name="ostype", roles=ALL)
async def list_os_types(call: Call) -> ListResult:
    q = (select(OST, OSC.c.uuid.label("cat_uuid"), OSC.c.name.label("cat_name"))
         .select_from(OST.join(OSC, OST.c.category_id == OSC.c.id)).where(OST.c.removed.is_(None)))
    for param, col in (("id", OST.c.uuid), ("oscategoryid", OSC.c.uuid), ("description", OST.c.display_name)):
        if call.get(param) is not None:
            q = q.where(col == call.get(param))
    if call.get("keyword"):
        q = q.where(OST.c.display_name.contains(call.get("keyword")))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, OST.c.id)
    return ListResult([os_type_view(r) for r in rows], total)


@command("listAlerts", object_name="alert", roles=ROOT)
async def list_alerts(call: Call) -> ListResult:
    q = select(AL).where(AL.c.removed.is_(None), AL.c.archived.is_(False))
    for param, col in (("id", AL.c.uuid), ("name", AL.c.name)):
        if call.get(param) is not None:
            q = q.where(col == call.get(param))
    if call.get("type") is not None:
        try:
            q = q.where(AL.c.alert_type == int(call.get("type")))
        except ValueError:
            q = q.where(AL.c.name == call.get("type"))
    if call.get("keyword"):
        q = q.where(AL.c.subject.contains(call.get("keyword")))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, AL.c.id.desc())
    return ListResult([alert_view(r) for r in rows], total)
