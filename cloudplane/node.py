"""A management node: the store, Ray, the shards, the watchdog — started and
stopped in one place. The API (api/app.py) is built on top of a started node."""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cloudplane.actors.runtime import Runtime, init_ray
from cloudplane.settings import Settings
from cloudplane.store.engine import make_engine
from cloudplane.store.jobs import AsyncJob, JobStatus
from cloudplane.supervisors.shards import ShardWatchdog

log = logging.getLogger(__name__)
JOBS = AsyncJob.__table__  # type: ignore[attr-defined]


class ManagementNode:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runtime = Runtime(settings, namespace=settings.namespace)
        self.watchdog = ShardWatchdog(self.runtime.shard_names, self._ping)
        self.engine: AsyncEngine | None = None
        self.started_at = 0.0
        self.default_admin_password = False
        import uuid as _uuid

        # This node's identity: hosts record which node holds their agent's connection.
        self.node_id = f"mgmt-{_uuid.uuid4().hex[:10]}"
        self.systemvms: Any = None
        self.ha: Any = None
        self.expunger: Any = None
        self.networkgc: Any = None
        self.drs: Any = None
        self.snapshots: Any = None

    async def _ping(self, shard: str) -> str:
        return str(await self.runtime.handle(shard).ping.remote())

    async def start(self, *, migrate: bool = True) -> None:
        from cloudplane.store.migrate import upgrade

        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        if migrate:
            await upgrade(self.settings.database_url)
        self.engine = make_engine(self.settings.database_url)
        await self._seed()
        init_ray(self.settings.ray_address)
        await self.runtime.start()
        await self.watchdog.check_once()
        self.watchdog.start()
        from cloudplane.supervisors.systemvms import SystemVmReconciler

        self.systemvms = SystemVmReconciler(self.runtime)
        self.systemvms.start()
        from cloudplane.supervisors.hareconciler import HaReconciler

        self.ha = HaReconciler(self.runtime)
        self.ha.start()
        from cloudplane.supervisors.expunger import Expunger

        self.expunger = Expunger(self.runtime)
        self.expunger.start()
        from cloudplane.supervisors.networkgc import NetworkGc

        self.networkgc = NetworkGc(self.runtime)
        self.networkgc.start()
        from cloudplane.supervisors.drsreconciler import DrsReconciler

        self.drs = DrsReconciler(self.runtime)
        self.drs.start()
        from cloudplane.supervisors.snapshots import SnapshotScheduler

        self.snapshots = SnapshotScheduler(self.runtime)
        self.snapshots.start()
        self.started_at = time.time()

    async def _seed(self) -> None:
        import asyncio

        from cloudplane.api.secrets import hash_password, verify_password
        from cloudplane.store.seed import DEFAULT_ADMIN_PASSWORD, seed
        from cloudplane.store.tables.identity import User

        assert self.engine is not None
        pw = self.settings.admin_password or DEFAULT_ADMIN_PASSWORD
        await seed(self.engine, admin_password_hash=await asyncio.to_thread(hash_password, pw))
        from cloudplane.store.seed_system import seed_system_offerings

        await seed_system_offerings(self.engine)
        users = User.__table__  # type: ignore[attr-defined]
        async with self.engine.connect() as conn:
            stored = (await conn.execute(select(users.c.password).where(
                users.c.username == "admin", users.c.is_default.is_(True)))).scalar()
        self.default_admin_password = await asyncio.to_thread(verify_password, DEFAULT_ADMIN_PASSWORD, stored)
        if self.default_admin_password:
            log.warning("user admin still has the default password 'password': change it "
                        "(updateUser) or start with --admin-password / CLOUDPLANE_ADMIN_PASSWORD")

    async def stop(self) -> None:
        if self.systemvms is not None:
            await self.systemvms.stop()
        if self.ha is not None:
            await self.ha.stop()
        if self.expunger is not None:
            await self.expunger.stop()
        if self.networkgc is not None:
            await self.networkgc.stop()
        if self.drs is not None:
            await self.drs.stop()
        if self.snapshots is not None:
            await self.snapshots.stop()
        await self.watchdog.stop()
        # Shards are detached: the last node to leave takes them down; a node that
        # joined an existing cluster leaves them to the others.
        await self.runtime.stop(kill_shards=self.settings.ray_address is None)
        if self.engine is not None:
            await self.engine.dispose()

    async def jobs_by_state(self) -> dict[str, int]:
        assert self.engine is not None
        names = {JobStatus.PENDING: "pending", JobStatus.SUCCEEDED: "succeeded", JobStatus.FAILED: "failed"}
        out = dict.fromkeys(names.values(), 0)
        async with self.engine.connect() as conn:
            for status, n in (await conn.execute(select(JOBS.c.status, func.count()).group_by(JOBS.c.status))).all():
                out[names.get(status, str(status))] = int(n)
        return out
