"""Declaring commands: a decorator that builds a CommandSpec from CloudStack's
own description of the command (parameters, response fields) plus ours
(handler, object name, who may call it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.api.context import Call, ListResult
from cloudplane.api.registry import CommandSpec, Registry, spec_from_listapis
from cloudplane.api.service import JobView

ALL = frozenset({"Admin", "ResourceAdmin", "DomainAdmin", "User"})
ADMINS = frozenset({"Admin", "ResourceAdmin", "DomainAdmin"})
ROOT = frozenset({"Admin"})

Handler = Callable[[Call], Awaitable[Any]]

_SPECS: list[CommandSpec] = []
JOB_VIEWS: dict[str, JobView] = {}


def command(name: str, *, object_name: str = "", roles: frozenset[str] = ALL, entity_type: str | None = None,
            job_view: JobView | None = None, **overrides: Any) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        try:
            spec = spec_from_listapis(name, handler=fn, object_name=object_name, allowed_roles=roles,
                                      entity_type=entity_type, **overrides)
        except KeyError:
            # Not a CloudStack 4.18 command (e.g. the simulator's): declared here in full.
            spec = CommandSpec(name=name, handler=fn, object_name=object_name, allowed_roles=roles,
                               entity_type=entity_type, **overrides)
        _SPECS.append(spec)
        if job_view is not None:
            JOB_VIEWS[name] = job_view
        return fn

    return register


def build_registry() -> Registry:
    # Importing every module of this package runs its @command decorators.
    import importlib
    import pkgutil

    import cloudplane.api.commands as pkg

    for m in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        importlib.import_module(f"{pkg.__name__}.{m.name}")

    reg = Registry()
    for spec in _SPECS:
        if spec.name not in reg:
            reg.register(spec)
    return reg


async def page(call: Call, conn: AsyncConnection, q: Select[Any], order_by: Any) -> tuple[list[Any], int]:
    """One page of `q` and the total count, with CloudStack's page/pagesize rules."""
    max_size = await call.service.config_int("default.page.size") or 500
    size = call.get("pagesize")
    pg = call.get("page")
    if size is None or size <= 0 or size > max_size:
        size = max_size
    total = (await conn.execute(select(func.count()).select_from(q.order_by(None).subquery()))).scalar_one()
    q = q.order_by(order_by).limit(size)
    if pg and pg > 1:
        q = q.offset((pg - 1) * size)
    return list((await conn.execute(q)).all()), int(total)


def equalities(call: Call, params: Iterable[tuple[str, Any]]) -> list[Any]:
    """`column == value` for each (parameter, column) the call gives a value: the plain
    equality filters of a list command."""
    return [col == call.get(p) for p, col in params if call.get(p) is not None]


def listed(items: list[dict[str, Any]], total: int) -> ListResult:
    return ListResult(items, total)
