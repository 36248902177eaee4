"""System VMs, level-triggered: every enabled zone with secondary storage and
an Up host has one secondary-storage VM and one console proxy, Running.

Like a Kubernetes controller, it compares what should be (from the store) with
what is, and acts through the ordinary path (durable jobs on VM entities). Ids
are derived from the zone, so several management nodes reconciling at once
reach the same entities and cannot create duplicates.
"""

from __future__ import annotations

import logging
import uuid as _uuid
from typing import Any

from sqlalchemy import and_, func, select

from cloudplane.actors.identity import EntityRef
from cloudplane.actors.runtime import Runtime
from cloudplane.supervisors.reconciler import Reconciler
from cloudplane.store.jobs import AsyncJob, JobStatus
from cloudplane.store.tables.compute import ServiceOffering, VmInstance
from cloudplane.store.tables.identity import Account
from cloudplane.store.tables.images import Template
from cloudplane.store.tables.infra import Host, Zone
from cloudplane.store.tables.storage import ImageStore

log = logging.getLogger(__name__)
Z, H, VM, IS = Zone.__table__, Host.__table__, VmInstance.__table__, ImageStore.__table__  # type: ignore[attr-defined]
SO, A, TPL, J = (ServiceOffering.__table__, Account.__table__, Template.__table__,  # type: ignore[attr-defined]
                 AsyncJob.__table__)  # type: ignore[attr-defined]
NS = _uuid.UUID("6f1c0c36-6b7d-4b0e-9a3e-5c2f6d1e8a11")
KINDS = (("SecondaryStorageVm", "secondarystoragevm"), ("ConsoleProxy", "consoleproxy"))


def system_vm_uuid(zone_uuid: str, vm_type: str, generation: int = 0) -> str:
    """Deterministic per zone, type and generation (how many were destroyed before)."""
    return str(_uuid.uuid5(NS, f"{zone_uuid}:{vm_type}:{generation}"))


class SystemVmReconciler(Reconciler):
    what = "system VM reconcile"

    def __init__(self, runtime: Runtime, interval_s: float = 2.0) -> None:
        super().__init__(runtime, interval_s)
        self.actions = 0

    async def round(self) -> None:
        await self.reconcile()

    async def reconcile(self) -> int:
        engine = self.runtime.engine
        assert engine is not None
        async with engine.connect() as conn:
            zones = (await conn.execute(select(Z.c.id, Z.c.uuid).where(
                Z.c.removed.is_(None), Z.c.allocation_state == "Enabled",
                Z.c.id.in_(select(IS.c.zone_id).where(IS.c.removed.is_(None))),
                Z.c.id.in_(select(H.c.zone_id).where(H.c.status == "Up", H.c.removed.is_(None)))))).all()
            if not zones:
                return 0
            gone = {(r.zone_id, r.type): r.n for r in (await conn.execute(
                select(VM.c.zone_id, VM.c.type, func.count().label("n")).where(
                    VM.c.zone_id.in_([z.id for z in zones]), VM.c.removed.is_not(None),
                    VM.c.type.in_([t for t, _ in KINDS])).group_by(VM.c.zone_id, VM.c.type))).all()}
            wanted = {system_vm_uuid(z.uuid, t, gone.get((z.id, t), 0)): (z, t, o) for z in zones for t, o in KINDS}
            have = {r.uuid: r for r in (await conn.execute(select(VM.c.uuid, VM.c.state).where(
                VM.c.uuid.in_(list(wanted)), VM.c.removed.is_(None)))).all()}
            busy = {r[0] for r in (await conn.execute(select(J.c.instance_uuid).where(
                J.c.instance_uuid.in_(list(wanted)), J.c.status == JobStatus.PENDING))).all()}
            offerings = {r.system_vm_type: r for r in (await conn.execute(select(SO).where(
                SO.c.is_system.is_(True), SO.c.default_use.is_(True)))).all()}
            system = (await conn.execute(select(A.c.id, A.c.domain_id).where(
                and_(A.c.name == "system", A.c.is_default.is_(True))))).first()
            template = (await conn.execute(select(TPL.c.id).where(TPL.c.template_type == "SYSTEM")
                                           .order_by(TPL.c.id))).scalar()
        acted = 0
        for vm_uuid, (zone, vm_type, otype) in wanted.items():
            if vm_uuid in busy:
                continue
            row = have.get(vm_uuid)
            ref = EntityRef("vm", vm_uuid, zone.uuid)
            if row is None:
                o = offerings.get(otype)
                if o is None or system is None:
                    continue
                values = self._values(zone.id, vm_type, o, system, template)
                await self.runtime.submit(ref, "create", {"values": values, "start": True},
                                          cmd="startSystemVm", instance_type="SystemVm")
            elif row.state in ("Stopped", "Error"):
                await self.runtime.submit(ref, "start", {}, cmd="startSystemVm", instance_type="SystemVm")
            else:
                continue
            acted += 1
        self.actions += acted
        return acted

    @staticmethod
    def _values(zone_id: int, vm_type: str, o: Any, system: Any, template: int | None) -> dict[str, Any]:
        name = {"SecondaryStorageVm": "s", "ConsoleProxy": "v"}[vm_type]
        return {"name": f"{name}-systemvm", "display_name": None, "type": vm_type, "zone_id": zone_id,
                "account_id": system.id, "domain_id": system.domain_id, "service_offering_id": o.id,
                "template_id": template, "hypervisor_type": "Simulator", "cpu_count": o.cpu_count,
                "cpu_speed_mhz": o.cpu_speed_mhz, "ram_mb": o.ram_mb, "ha_enabled": True}
