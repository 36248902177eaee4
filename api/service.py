"""The API's shared machinery: configuration values, role rules, throttling,
job submission and events. One instance per management node."""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cloudplane.api.auth import Authenticator
from cloudplane.api.context import Accepted, Call, Caller, JobTarget
from cloudplane.api.registry import CommandSpec, Registry
from cloudplane.api.secrets import ServerKey
from cloudplane.errors import NotAllowed, Throttled
from cloudplane.node import ManagementNode
from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.configdefs import BY_NAME
from cloudplane.store.tables.config import GLOBAL_SCOPE, Configuration
from cloudplane.store.tables.events import Event
from cloudplane.store.tables.identity import RolePermission

log = logging.getLogger(__name__)
C, P, E = Configuration.__table__, RolePermission.__table__, Event.__table__  # type: ignore[attr-defined]

# What queryAsyncJobResult shows as `jobresult` of a succeeded job, per command.
JobView = Callable[["ApiService", Caller, dict[str, Any]], Awaitable[dict[str, Any]]]


class RateLimited(Throttled):
    """CloudStack raises this as a ServerApiException(API_LIMIT_EXCEED): 429, cserrorcode 9999."""

    @property
    def cs_code(self) -> int:
        return 9999


@dataclass(frozen=True, slots=True)
class _ConfigValues:
    glob: dict[str, str]  # name -> value
    scoped: dict[tuple[str, str, int], str]  # (name, scope, scope_id) -> value


class CachedValue:
    """A value re-read from the store at most every `ttl` seconds.

    One load at a time (a burst of requests that finds the value old starts one
    query, not one each); an old value is served while the new one loads. After
    `invalidate()` (a change made on this node) callers wait for a load that
    started after it, so they see the change.
    """

    def __init__(self, load: Callable[[], Awaitable[Any]], ttl: float) -> None:
        self._load, self._ttl = load, ttl
        self._value: Any = None
        self._at = -1e9
        self._gen = 0  # bumped by invalidate()
        self._loaded_gen = -1  # generation of _value
        self._task: asyncio.Task[Any] | None = None
        self._task_gen = -1

    async def get(self) -> Any:
        if self._loaded_gen == self._gen and time.monotonic() - self._at <= self._ttl:
            return self._value
        task = self._refresh()
        if self._loaded_gen == self._gen:
            return self._value  # merely old: serve it while the refresh runs
        return await asyncio.shield(task)

    def _refresh(self) -> asyncio.Task[Any]:
        if self._task is not None and self._task_gen == self._gen:
            return self._task
        gen = self._gen

        async def load() -> Any:
            value = await self._load()
            if gen >= self._loaded_gen:
                self._value, self._at, self._loaded_gen = value, time.monotonic(), gen
            return value

        task = self._task = asyncio.create_task(load())
        self._task_gen = gen
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        if self._task is task:
            self._task = None
        if not task.cancelled() and task.exception() is not None:
            log.warning("reloading a cached value failed: %r", task.exception())

    def invalidate(self) -> None:
        self._gen += 1


class ApiService:
    def __init__(self, node: ManagementNode, registry: Registry, job_views: dict[str, JobView]) -> None:
        assert node.engine is not None, "start the node first"
        self.node = node
        self.registry = registry
        self.job_views = job_views
        self.engine: AsyncEngine = node.engine
        self.runtime = node.runtime
        self.key = ServerKey.load(node.settings.data_dir)
        self.auth = Authenticator(self.engine, self.key)
        self._config = CachedValue(self._load_config, 2.0)
        self._rules = CachedValue(self._load_rules, 2.0)
        self._window: dict[int, tuple[float, int]] = {}

    # -- configuration ------------------------------------------------------------
    async def _load_config(self) -> _ConfigValues:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(C.c.name, C.c.scope, C.c.scope_id, C.c.value)
                                       .where(C.c.value.is_not(None)))).all()
        values = _ConfigValues({}, {})
        for r in rows:
            if r.scope == GLOBAL_SCOPE:
                values.glob[r.name] = r.value
            else:
                values.scoped[(r.name, r.scope, r.scope_id)] = r.value
        return values

    async def config(self, name: str, scopes: Sequence[tuple[str, int]] = ()) -> str:
        """A setting's value: the first of `scopes` ((scope, internal id), most
        specific first) that overrides it, else the global value, else the default."""
        values: _ConfigValues = await self._config.get()
        for scope, scope_id in scopes:
            v = values.scoped.get((name, scope, scope_id))
            if v is not None:
                return v
        v = values.glob.get(name)
        if v is not None:
            return v
        d = BY_NAME.get(name)
        return d.default if d else ""

    async def config_int(self, name: str, scopes: Sequence[tuple[str, int]] = ()) -> int:
        return int(float(await self.config(name, scopes) or 0))

    def config_changed(self) -> None:
        self._config.invalidate()

    # -- permissions -------------------------------------------------------------------
    async def _load_rules(self) -> dict[int, list[tuple[str, str]]]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(P.c.role_id, P.c.rule, P.c.permission)
                                       .where(P.c.removed.is_(None)).order_by(P.c.role_id, P.c.sort_order, P.c.id))).all()
        out: dict[int, list[tuple[str, str]]] = {}
        for r in rows:
            out.setdefault(r.role_id, []).append((r.rule, r.permission))
        return out

    def rules_changed(self) -> None:
        self._rules.invalidate()

    async def allowed(self, caller: Caller, spec: CommandSpec) -> bool:
        """The command's role-type bound, then the role's rules: first match decides."""
        if caller.role_type not in spec.allowed_roles:
            return False
        if caller.role_id is None:
            return True
        for rule, permission in (await self._rules.get()).get(caller.role_id, []):
            if fnmatch.fnmatchcase(spec.name.lower(), rule.lower()):
                return permission == "allow"
        return False

    async def check_allowed(self, caller: Caller, spec: CommandSpec) -> None:
        if not await self.allowed(caller, spec):
            raise NotAllowed(f"The given command '{spec.name}' either does not exist, is not available "
                             f"for user, or not available from ip address '127.0.0.1'.")

    # -- throttling ------------------------------------------------------------------------
    async def throttle(self, caller: Caller) -> None:
        """CloudStack's api.throttling: a fixed window per account, root admins exempt."""
        if caller.is_root_admin or (await self.config("api.throttling.enabled")).lower() != "true":
            return
        interval = max(1, await self.config_int("api.throttling.interval"))
        limit = await self.config_int("api.throttling.max")
        now = time.monotonic()
        start, n = self._window.get(caller.account_id, (now, 0))
        if now - start >= interval:
            start, n = now, 0
        n += 1
        self._window[caller.account_id] = (start, n)
        if len(self._window) > 100_000:  # drop finished windows now and then
            self._window = {k: w for k, w in self._window.items() if now - w[0] < interval}
        if n > limit:
            retry_ms = max(0, int((start + interval - now) * 1000))
            raise RateLimited("The given user has reached his/her account api limit, "
                              f"please retry after [{retry_ms}] ms.")

    # -- jobs and events ------------------------------------------------------------------------
    async def submit(self, call: Call, target: JobTarget) -> str:
        return await self.runtime.submit(
            target.ref, target.op, target.args, cmd=call.spec.name,
            instance_type=target.instance_type or call.spec.entity_type,
            account=call.caller.account_uuid, user=call.caller.user_uuid)

    async def accept(self, call: Call, target: JobTarget, id: str | None = None) -> Accepted:  # noqa: A002
        """An async command: the job row is committed; answer with its id at once."""
        return Accepted(await self.submit(call, target), id)

    async def run(self, call: Call, target: JobTarget, timeout: float = 120.0) -> Any:
        """A synchronous command: through the same durable job, then wait."""
        return (await self.runtime.wait(await self.submit(call, target), timeout)).unwrap()

    async def event(self, caller: Caller | None, type_: str, description: str, *, level: str = "INFO",
                    resource_type: str | None = None, resource_uuid: str | None = None,
                    state: str = "Completed") -> None:
        writer = self.runtime.writer
        assert writer is not None
        await writer.insert(E, {
            "uuid": new_uuid(), "version": 1, "created": utcnow(), "type": type_, "state": state,
            "level": level, "description": description, "user_id": caller.user_id if caller else None,
            "account_id": caller.account_id if caller else None,
            "domain_id": caller.domain_id if caller else None, "resource_type": resource_type,
            "resource_uuid": resource_uuid, "archived": False, "display": True,
        })
