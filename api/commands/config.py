"""listConfigurations, updateConfiguration and resetConfiguration.

Settings come from the catalogue (store/configdefs.py). A value may be set
globally or, where the setting allows it, for one zone, cluster, storage pool,
image store, domain or account; the scoped value overrides the global one for
that resource. Writes go through the setting's entity actor (the global row,
actors/kinds/config.py), which also creates the scoped rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, and_, or_, select

from cloudplane.actors.identity import EntityRef
from cloudplane.api.commands.base import ROOT, command, page
from cloudplane.api.context import Call, JobTarget, ListResult
from cloudplane.errors import ParamError
from cloudplane.store.configdefs import BY_NAME, ConfigDef, coerce
from cloudplane.store.tables.config import GLOBAL_SCOPE, Configuration
from cloudplane.store.tables.identity import Account, Domain
from cloudplane.store.tables.infra import Cluster, Zone
from cloudplane.store.tables.storage import ImageStore, StoragePool

C: Table = Configuration.__table__  # type: ignore[attr-defined]
HIDDEN = "Hidden"  # CloudStack never lists this category
COMPONENT = "management-server"


@dataclass(frozen=True)
class Scope:
    """A resolved scope: its name, the resource's internal id, and its uuid."""

    name: str
    id: int
    uuid: str


GLOBAL = Scope(GLOBAL_SCOPE, 0, "")

# parameter -> (scope name, table of the resource it names)
SCOPE_PARAMS: dict[str, tuple[str, Table]] = {
    "zoneid": ("zone", Zone.__table__),  # type: ignore[attr-defined]
    "clusterid": ("cluster", Cluster.__table__),  # type: ignore[attr-defined]
    "storageid": ("storagepool", StoragePool.__table__),  # type: ignore[attr-defined]
    "imagestoreuuid": ("imagestore", ImageStore.__table__),  # type: ignore[attr-defined]
    "imagestoreid": ("imagestore", ImageStore.__table__),  # type: ignore[attr-defined]  (resetConfiguration)
    "domainid": ("domain", Domain.__table__),  # type: ignore[attr-defined]
    "accountid": ("account", Account.__table__),  # type: ignore[attr-defined]
}


async def resolve_scope(call: Call) -> Scope:
    """The one scope the request names, or global; 431 for two, or for an unknown id."""
    given = [(p, call.get(p)) for p in SCOPE_PARAMS if call.get(p)]
    if not given:
        return GLOBAL
    if len(given) > 1:
        raise ParamError("cannot handle multiple IDs, provide only one ID corresponding to the scope")
    param, uuid = given[0]
    name, table = SCOPE_PARAMS[param]
    async with call.service.engine.connect() as conn:
        row = (await conn.execute(select(table.c.id).where(table.c.uuid == uuid, table.c.removed.is_(None)))).first()
    if row is None:
        raise ParamError(f"Unable to execute API command {call.spec.error_name} due to invalid value. Invalid "
                         f"parameter {param} value={uuid} due to incorrect long value format, or entity does not "
                         "exist or due to incorrect parameter annotation for the field in api cmd class.")
    return Scope(name, int(row.id), uuid)


def definition(name: str) -> ConfigDef:
    d = BY_NAME.get(name)
    if d is None:
        raise ParamError(f"Config parameter with name {name} doesn't exist")
    return d


def check_scope(d: ConfigDef, scope: Scope) -> None:
    if scope.name not in d.scopes:
        raise ParamError(f"Invalid scope id provided for the parameter {d.name}: it can be set at "
                         f"{', '.join(d.scopes)} scope, not {scope.name}")


async def fallbacks(call: Call, scope: Scope) -> list[tuple[str, int]]:
    """Where a value for `scope` comes from, most specific first (global is implied):
    an account falls back to its domain."""
    chain = [(scope.name, scope.id)]
    if scope.name == "account":
        A = Account.__table__  # type: ignore[attr-defined]
        async with call.service.engine.connect() as conn:
            domain_id = (await conn.execute(select(A.c.domain_id).where(A.c.id == scope.id))).scalar()
        if domain_id is not None:
            chain.append(("domain", int(domain_id)))
    return chain


def config_view(row: Any, d: ConfigDef | None, scope: Scope, value: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "category": row.category, "name": row.name, "value": value,
        "defaultvalue": row.default_value if row.default_value is not None else (d.default if d else None),
        "description": row.description, "isdynamic": bool(row.is_dynamic),
        "type": d.type if d else row.value_type, "component": COMPONENT,
    }
    if scope is not GLOBAL:
        out["scope"] = scope.name
    return {k: v for k, v in out.items() if v is not None}


async def _global_row(call: Call, name: str) -> Any:
    async with call.service.engine.connect() as conn:
        row = (await conn.execute(select(C).where(C.c.name == name, C.c.scope == GLOBAL_SCOPE))).first()
    if row is None:
        raise ParamError(f"Config parameter with name {name} doesn't exist")
    return row


async def _effective(call: Call, scope: Scope, rows: list[Any]) -> dict[str, str | None]:
    """Each row's value as seen at `scope`."""
    out: dict[str, str | None] = {r.name: r.value for r in rows}
    if scope is GLOBAL or not rows:
        return out
    chain = await fallbacks(call, scope)
    async with call.service.engine.connect() as conn:
        found = (await conn.execute(select(C.c.name, C.c.scope, C.c.scope_id, C.c.value).where(
            C.c.name.in_([r.name for r in rows]), C.c.value.is_not(None),
            or_(*(and_(C.c.scope == s, C.c.scope_id == i) for s, i in chain))))).all()
    by_key = {(f.name, f.scope, f.scope_id): f.value for f in found}
    for r in rows:
        for s, i in chain:
            v = by_key.get((r.name, s, i))
            if v is not None:
                out[r.name] = v
                break
    return out


async def _answer(call: Call, name: str, scope: Scope) -> dict[str, Any]:
    row = await _global_row(call, name)
    value = (await _effective(call, scope, [row]))[name]
    return config_view(row, BY_NAME.get(name), scope, value)


@command("listConfigurations", object_name="configuration", roles=ROOT)
async def list_configurations(call: Call) -> ListResult:
    scope = await resolve_scope(call)
    q = select(C).where(C.c.scope == GLOBAL_SCOPE, C.c.category != HIDDEN, C.c.removed.is_(None))
    if scope is not GLOBAL:
        q = q.where(C.c.name.in_(sorted(d.name for d in BY_NAME.values() if scope.name in d.scopes)))
    if call.get("name"):
        q = q.where(C.c.name.contains(call.get("name"), autoescape=True))
    if call.get("category"):
        q = q.where(C.c.category == call.get("category"))
    if call.get("keyword"):
        kw = call.get("keyword")
        q = q.where(or_(*(col.contains(kw, autoescape=True)
                          for col in (C.c.name, C.c.description, C.c.category, C.c.value))))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, C.c.name)
    values = await _effective(call, scope, rows)
    return ListResult([config_view(r, BY_NAME.get(r.name), scope, values[r.name]) for r in rows], total)


@command("updateConfiguration", object_name="configuration", roles=ROOT)
async def update_configuration(call: Call) -> dict[str, Any]:
    d = definition(call.get("name"))
    scope = await resolve_scope(call)
    check_scope(d, scope)
    raw = call.params.get("value")
    if raw is None:  # nothing to change: answer with what is in force
        return await _answer(call, d.name, scope)
    try:
        value = coerce(d, raw)
    except ValueError:
        raise ParamError(f"Invalid value {raw!r} for configuration {d.name}: a {d.type} is expected") from None
    await _set(call, d, scope, "set_value", {"value": value})
    where = "" if scope is GLOBAL else f" for {scope.name} {scope.uuid}"
    await call.service.event(call.caller, "CONFIGURATION.VALUE.EDIT",
                             f"Successfully edited configuration value: {d.name}{where}",
                             resource_type="Configuration")
    return await _answer(call, d.name, scope)


@command("resetConfiguration", object_name="configuration", roles=ROOT)
async def reset_configuration(call: Call) -> dict[str, Any]:
    d = definition(call.get("name"))
    scope = await resolve_scope(call)
    check_scope(d, scope)
    await _set(call, d, scope, "reset", {})
    where = "" if scope is GLOBAL else f" for {scope.name} {scope.uuid}"
    await call.service.event(call.caller, "CONFIGURATION.VALUE.EDIT",
                             f"Successfully reset configuration value: {d.name}{where}",
                             resource_type="Configuration")
    return await _answer(call, d.name, scope)


async def _set(call: Call, d: ConfigDef, scope: Scope, op: str, args: dict[str, Any]) -> None:
    row = await _global_row(call, d.name)
    await call.service.run(call, JobTarget(EntityRef("configuration", row.uuid), op,
                                           {**args, "scope": scope.name, "scope_id": scope.id}, "Configuration"))
    call.service.config_changed()
