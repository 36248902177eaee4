"""Tags in list commands: the `tags[n].key`/`tags[n].value` filter every list
of a taggable resource takes (keys match in any case, as CloudStack's do),
and the `tags` a listed resource carries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.store import prepared
from cloudplane.store.tables.identity import Account, Domain
from cloudplane.store.tables.tags import ResourceTag

TAG, A, D = (t.__table__ for t in (ResourceTag, Account, Domain))  # type: ignore[attr-defined]

_PAGE_TAGS = (select(TAG, A.c.name.label("acct"), D.c.uuid.label("dom_uuid"), D.c.name.label("dom_name"))
              .select_from(TAG.outerjoin(A, TAG.c.account_id == A.c.id).outerjoin(D, TAG.c.domain_id == D.c.id))
              .where(TAG.c.resource_type == bindparam("rtype"),
                     TAG.c.resource_id.in_(bindparam("ids", expanding=True)))
              .order_by(TAG.c.id))


def tag_filter(call: Any, rtype: str, id_col: Any) -> list[ColumnElement[bool]]:
    """One condition per `tags[n]` entry: the resource has a tag with that key (any case)
    and, when given, that value."""
    where: list[Any] = []
    for t in call.get("tags") or []:
        t = {str(k).lower(): v for k, v in t.items()}
        sub = select(TAG.c.resource_id).where(TAG.c.resource_type == rtype)
        if t.get("key") is not None:
            sub = sub.where(func.lower(TAG.c.name) == str(t["key"]).lower())
        if t.get("value") is not None:
            sub = sub.where(TAG.c.value == str(t["value"]))
        where.append(id_col.in_(sub))
    return where


def tag_view(t: Any) -> dict[str, Any]:
    out = {"key": t.name, "value": t.value, "resourcetype": t.resource_type, "resourceid": t.resource_uuid,
           "account": t.acct, "domainid": t.dom_uuid, "domain": t.dom_name, "customer": t.customer}
    return {k: v for k, v in out.items() if v is not None}


async def tags_by_resource(conn: AsyncConnection, rtype: str, ids: list[int]) -> Mapping[int, list[dict[str, Any]]]:
    """The tags of a page of resources (one query), by the resources' internal ids."""
    if not ids:
        return {}
    return tags_of((await prepared.execute(conn, *page_tags_query(rtype, ids))).all())


def page_tags_query(rtype: str, ids: list[int]) -> tuple[Any, dict[str, Any]]:
    """The query `tags_by_resource` runs, for a caller that runs it with others (`tags_of` reads it)."""
    return _PAGE_TAGS, {"rtype": rtype, "ids": ids}


def tags_of(rows: list[Any]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for t in rows:
        out.setdefault(t.resource_id, []).append(tag_view(t))
    return out
