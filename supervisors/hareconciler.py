"""HA, level-triggered: VMs that a Down (confirmed dead and fenced) host still
holds are restarted elsewhere or stopped; HA restarts that failed are retried
with back-off up to `max.retries`. Reading the store each round means a lost
event, a restarted shard or a second management node cannot lose a VM: the
next round sees the same state and acts (jobs are joined, so acting twice runs
once).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import func, select

from cloudplane.actors.identity import EntityRef
from cloudplane.actors.runtime import Runtime
from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.jobs import AsyncJob, JobStatus
from cloudplane.store.tables.compute import ServiceOffering, VmInstance
from cloudplane.store.tables.events import Event
from cloudplane.store.tables.infra import Host
from cloudplane.supervisors.reconciler import Reconciler, global_setting
from cloudplane.supervisors.ha import Action, VmOnHost, backoff, decide

log = logging.getLogger(__name__)
VM, H, SO, J, EV = (t.__table__ for t in (VmInstance, Host, ServiceOffering, AsyncJob, Event))  # type: ignore[attr-defined]
HELD = ("Running", "Starting", "Stopping", "Migrating")
SYSTEM = ("SecondaryStorageVm", "ConsoleProxy", "DomainRouter")


class HaReconciler(Reconciler):
    what = "HA reconcile"

    def __init__(self, runtime: Runtime, interval_s: float = 1.0) -> None:
        super().__init__(runtime, interval_s)
        self.restarts = 0

    async def round(self) -> None:
        await self.reconcile()

    async def _setting(self, conn: object, name: str) -> float:
        return await global_setting(conn, name)

    async def reconcile(self) -> int:
        engine = self.runtime.engine
        assert engine is not None
        async with engine.connect() as conn:
            held = (await conn.execute(
                select(VM.c.uuid, VM.c.placement_key, VM.c.type, VM.c.host_id, VM.c.ha_enabled,
                       SO.c.offer_ha, VM.c.account_id, VM.c.domain_id)
                .select_from(VM.join(H, VM.c.host_id == H.c.id).join(SO, VM.c.service_offering_id == SO.c.id))
                .where(H.c.status == "Down", VM.c.removed.is_(None), VM.c.state.in_(HELD)))).all()
            retry_base = await self._setting(conn, "restart.retry.interval")
            max_retries = int(await self._setting(conn, "max.retries"))
            # HA VMs whose newest job is a failed HA restart: candidates for another try.
            newest = (select(J.c.instance_uuid, func.max(J.c.id).label("jid")).where(J.c.entity_kind == "vm")
                      .group_by(J.c.instance_uuid).subquery())
            failed = (await conn.execute(
                select(J.c.instance_uuid, J.c.completed, VM.c.placement_key, VM.c.type, VM.c.account_id,
                       VM.c.domain_id)
                .select_from(J.join(newest, J.c.id == newest.c.jid).join(VM, VM.c.uuid == J.c.instance_uuid))
                .where(J.c.op == "ha_restart", J.c.status == JobStatus.FAILED, VM.c.removed.is_(None),
                       VM.c.state.in_(("Stopped", "Error"))))).all()
            attempts = dict((await conn.execute(
                select(J.c.instance_uuid, func.count()).where(
                    J.c.op == "ha_restart", J.c.status == JobStatus.FAILED,
                    J.c.instance_uuid.in_([f.instance_uuid for f in failed] or [""]))
                .group_by(J.c.instance_uuid))).all())
            busy = {r[0] for r in (await conn.execute(select(J.c.instance_uuid).where(
                J.c.status == JobStatus.PENDING, J.c.entity_kind == "vm",
                J.c.instance_uuid.in_([h.uuid for h in held] + [f.instance_uuid for f in failed] or [""])))).all()}
        acted = 0
        vms = [VmOnHost(r.uuid, r.placement_key, bool(r.ha_enabled or r.offer_ha), r.type in SYSTEM) for r in held]
        host_of = {r.uuid: r.host_id for r in held}
        # Events belong to the VM's owner, so its account (and admins) see them in listEvents.
        owner = {r.uuid: (r.account_id, r.domain_id) for r in held}
        owner.update({f.instance_uuid: (f.account_id, f.domain_id) for f in failed})
        for vm, action in decide(vms):
            if vm.uuid in busy:
                continue
            await self._submit(vm.uuid, vm.placement_key, {"failed_host_id": host_of[vm.uuid],
                                                            "restart": action is Action.RESTART})
            await self._event(vm.uuid, owner[vm.uuid], "VM.HA.RESTART" if action is Action.RESTART else "VM.STOP",
                              f"host {host_of[vm.uuid]} is Down: "
                              + ("restarting VM elsewhere" if action is Action.RESTART else "VM is not HA-enabled, "
                                 "marked Stopped"))
            acted += 1
        now = utcnow()
        for f in failed:
            n = int(attempts.get(f.instance_uuid, 1))
            if f.instance_uuid in busy or n >= max_retries or f.completed is None:
                continue
            if now - f.completed < timedelta(seconds=backoff(n, retry_base)):
                continue
            await self._submit(f.instance_uuid, f.placement_key, {"failed_host_id": None, "restart": True})
            await self._event(f.instance_uuid, owner[f.instance_uuid], "VM.HA.RESTART",
                              f"HA restart attempt {n + 1} of {max_retries}")
            acted += 1
        self.restarts += acted
        return acted

    async def _submit(self, uuid: str, key: str | None, args: dict[str, object]) -> None:
        await self.runtime.submit(EntityRef("vm", uuid, key), "ha_restart", args, cmd="haRestartVirtualMachine",
                                  instance_type="VirtualMachine")

    async def _event(self, uuid: str, owner: tuple[int | None, int | None], type_: str, text: str) -> None:
        assert self.runtime.writer is not None
        await self.runtime.writer.insert(EV, {
            "uuid": new_uuid(), "version": 1, "created": utcnow(), "type": type_, "state": "Started",
            "account_id": owner[0], "domain_id": owner[1],
            "level": "INFO", "description": text, "resource_type": "VirtualMachine", "resource_uuid": uuid,
            "archived": False, "display": True})
