"""listEvents, deleteEvents and archiveEvents.

Events are appended by ApiService.event (no actor: a new row has no other
writer). Archiving and deleting go through each event's entity actor
(actors/kinds/events.py). Who sees which events follows the usual list rules
(api/scope.py): a user its own account's, an admin its domain subtree's with
listall, or the account/domain it names.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, or_, select
from sqlalchemy.orm import aliased

from cloudplane.actors.identity import EntityRef
from cloudplane.api import scope
from cloudplane.api.commands.base import command, equalities, page
from cloudplane.api.context import Call, JobTarget, ListResult, Success
from cloudplane.api.dates import format_date
from cloudplane.api.params import lookup
from cloudplane.errors import ParamError
from cloudplane.store.tables.events import Event
from cloudplane.store.tables.identity import Account, Domain, User

E: Table = Event.__table__  # type: ignore[attr-defined]
U: Table = User.__table__  # type: ignore[attr-defined]
A: Table = Account.__table__  # type: ignore[attr-defined]
D: Table = Domain.__table__  # type: ignore[attr-defined]
PARENT = aliased(E)
LEVELS = ("INFO", "WARN", "ERROR")


def _events_q() -> Any:
    return (select(E, U.c.username.label("u_name"), A.c.name.label("a_name"), D.c.uuid.label("d_uuid"),
                   D.c.name.label("d_name"), PARENT.c.uuid.label("parent_uuid"))
            .select_from(E.outerjoin(U, E.c.user_id == U.c.id).outerjoin(A, E.c.account_id == A.c.id)
                         .outerjoin(D, E.c.domain_id == D.c.id).outerjoin(PARENT, E.c.start_id == PARENT.c.id))
            .where(E.c.removed.is_(None)))


def event_view(r: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": r.uuid, "username": r.u_name, "type": r.type, "level": r.level, "description": r.description,
        "account": r.a_name, "domainid": r.d_uuid, "domain": r.d_name, "created": format_date(r.created),
        "state": r.state, "parentid": r.parent_uuid, "resourceid": r.resource_uuid, "resourcetype": r.resource_type,
    }
    return {k: v for k, v in out.items() if v is not None}


def _end_bound(call: Call) -> datetime | None:
    """enddate as an exclusive bound: a bare day (yyyy-MM-dd) includes that whole day."""
    end = call.get("enddate")
    if end is None:
        return None
    raw = str(lookup(call.raw, "enddate") or "")
    return end + timedelta(days=1) if len(raw.strip()) <= 10 else end + timedelta(seconds=1)


def _dates(call: Call, q: Any) -> Any:
    start, end = call.get("startdate"), _end_bound(call)
    if start is not None and end is not None and start >= end:
        raise ParamError("Unable to execute API command: startdate is later than enddate")
    if start is not None:
        q = q.where(E.c.created >= start)
    if end is not None:
        q = q.where(E.c.created < end)
    return q


@command("listEvents", object_name="event")
async def list_events(call: Call) -> ListResult:
    vis = await scope.visibility(call)
    q = _dates(call, _events_q().where(vis.clause(E.c.account_id, E.c.domain_id), E.c.archived.is_(False)))
    if call.caller.role_type == "User":
        q = q.where(E.c.display.is_(True))
    q = q.where(*equalities(call, (("id", E.c.uuid), ("type", E.c.type), ("resourcetype", E.c.resource_type),
                                   ("resourceid", E.c.resource_uuid))))
    if call.get("level") is not None:
        level = str(call.get("level")).upper()
        if level not in LEVELS:
            raise ParamError(f"Level {call.get('level')} is not valid: use one of {', '.join(LEVELS)}")
        q = q.where(E.c.level == level)
    if call.get("startid"):
        start = select(E.c.id).where(E.c.uuid == call.get("startid")).scalar_subquery()
        q = q.where(or_(E.c.id == start, E.c.start_id == start))
    if call.get("keyword"):
        kw = call.get("keyword")
        q = q.where(or_(E.c.type.contains(kw, autoescape=True), E.c.description.contains(kw, autoescape=True),
                        E.c.level.contains(kw, autoescape=True)))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, E.c.id.desc())
    return ListResult([event_view(r) for r in rows], total)


async def _selected(call: Call) -> list[str]:
    """The uuids of the visible events that deleteEvents/archiveEvents name."""
    ids, etype = call.get("ids"), call.get("type")
    if not ids and not etype and call.get("enddate") is None:
        raise ParamError("Either 'ids', 'type' or 'enddate' are required")
    c = call.caller
    if c.role_type == "User":
        vis = scope.Visibility(account_id=c.account_id)
    else:
        vis = scope.Visibility(domain_path=c.domain_path, recursive=True)
    q = _dates(call, select(E.c.uuid).where(E.c.removed.is_(None), vis.clause(E.c.account_id, E.c.domain_id)))
    if ids:
        q = q.where(E.c.uuid.in_([str(i).lower() for i in ids]))
    if etype:
        q = q.where(E.c.type == etype)
    async with call.service.engine.connect() as conn:
        found = [r.uuid for r in (await conn.execute(q)).all()]
    if ids and len(found) != len(set(ids)):
        raise ParamError("Unable to find one or more of the events given in ids, or they are not yours")
    return found


async def _each(call: Call, op: str) -> None:
    uuids = await _selected(call)
    for i in range(0, len(uuids), 500):  # bounded fan-out; each event's actor does its own write
        await asyncio.gather(*(call.service.run(call, JobTarget(EntityRef("event", u), op, {}, "Event"))
                               for u in uuids[i : i + 500]))


@command("deleteEvents")
async def delete_events(call: Call) -> Success:
    await _each(call, "delete")
    return Success()


@command("archiveEvents")
async def archive_events(call: Call) -> Success:
    await _each(call, "archive")
    return Success()
