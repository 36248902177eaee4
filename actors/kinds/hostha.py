"""Host HA (CloudStack's HA framework, apart from VM HA) as entity actors: one
`haconfig` entity per row of ha_config. A host's carries its provider, its
switch and its host-HA state; a cluster's or a zone's only a switch.

Host configs are resident: a shard activates the ones it owns when it starts,
and its tick runs `evaluate` on each enabled one every `check_interval_s` of
its provider (a level-triggered evaluator: each round re-reads the switches of
host, cluster and zone, the host's status and resource state, and asks the
provider the one question the state needs). The decision is the pure
`decide()` of supervisors/hostha.py; this module observes, records each
change of state as a transition, and carries out the step's action.

Providers are thin drivers behind one Protocol:

- `simulatorhaprovider` answers from the flags `configureSimulatorHAProviderState`
  stored (a dead simulated host also fails health and activity); its fence
  powers the simulated host off, then its VMs are let go and the HA ones
  restarted elsewhere (CloudStack's fenceSubResources).
- `kvmhaprovider` needs out-of-band management (IPMI) to recover and fence, as
  in CloudStack; cloudplane has none, so a KVM host is Ineligible.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, ClassVar, Protocol

from sqlalchemy import Table, and_, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.actors.entity import Entity, operation
from cloudplane.actors.identity import EntityRef
from cloudplane.actors.kinds.host import host_ref
from cloudplane.agentproto import Cmd
from cloudplane.errors import ApiError, ParamError
from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.tables.compute import ServiceOffering, VmInstance
from cloudplane.store.tables.drs import HaConfig, HaStateTransition, SimulatorHaState
from cloudplane.store.tables.events import Alert
from cloudplane.store.tables.infra import Cluster, Host
from cloudplane.supervisors import ha as vmha
from cloudplane.supervisors.hostha import (
    PROBES,
    PROVIDERS,
    Action,
    Counters,
    Facts,
    HaEvent,
    HaState,
    Probe,
    Step,
    decide,
)

log = logging.getLogger(__name__)
T_HA: Table = HaConfig.__table__  # type: ignore[attr-defined]
T_TR: Table = HaStateTransition.__table__  # type: ignore[attr-defined]
T_SIM: Table = SimulatorHaState.__table__  # type: ignore[attr-defined]
H, C, VM, SO, ALERT = (t.__table__ for t in (Host, Cluster, VmInstance, ServiceOffering, Alert))  # type: ignore[attr-defined]
HELD = ("Running", "Starting", "Stopping", "Migrating")
SYSTEM = ("SecondaryStorageVm", "ConsoleProxy", "DomainRouter")
DEAD = ("Alert", "Down", "Disconnected", "Error", "Removed")
MAINTENANCE = ("PrepareForMaintenance", "ErrorInPrepareForMaintenance", "Maintenance", "ErrorInMaintenance")
ALERT_HOST = 7
AGENT_CHECK_TIMEOUT_S = 2.0


def haconfig_ref(resource_uuid: str, key: str | None) -> EntityRef:
    """A resource's HA config entity: its id is the resource's uuid (one each)."""
    return EntityRef("haconfig", resource_uuid, key)


@dataclass(frozen=True)
class HostView:
    """What one evaluation round knows about the host, from one query."""

    id: int
    uuid: str
    cluster_uuid: str | None
    status: str
    resource_state: str
    hypervisor: str
    removed: bool
    switches_on: bool  # cluster and zone HA switches (absent = on)
    sim: dict[str, bool]  # the simulated provider's flags


class HaProviderDriver(Protocol):
    def eligible(self, host: HostView) -> tuple[bool, str]: ...

    async def answer(self, probe: Probe, host: HostView, entity: HaConfigEntity) -> tuple[bool | None, str]: ...


class SimulatorProvider:
    def eligible(self, host: HostView) -> tuple[bool, str]:
        if host.hypervisor != "Simulator":
            return False, f"a {host.hypervisor} host, not a simulated one"
        if host.resource_state in MAINTENANCE:
            return False, f"host is in {host.resource_state}"
        if host.resource_state != "Enabled":
            return False, f"host is {host.resource_state}"
        return True, ""

    async def answer(self, probe: Probe, host: HostView, entity: HaConfigEntity) -> tuple[bool | None, str]:
        if probe in (Probe.HEALTH, Probe.ACTIVITY):
            flag = host.sim["health" if probe is Probe.HEALTH else "activity"]
            if not flag:
                return False, "simulated health check fails" if probe is Probe.HEALTH else "no activity"
            return await self._agent_answers(host, entity)
        if probe is Probe.RECOVER:
            return host.sim["recover"], "" if host.sim["recover"] else "simulated recovery fails"
        if probe is Probe.FENCE:
            if not host.sim["fence"]:
                return False, "simulated fence fails"
            try:  # power it off: whatever it still runs is gone
                await entity.host.call_entity(host_ref(host.uuid, host.cluster_uuid), "sim_fault", {"fault": "crash"})
            except ApiError as e:
                return False, f"could not power the simulated host off: {e.text}"
            return True, "simulated host powered off"
        return None, ""

    @staticmethod
    async def _agent_answers(host: HostView, entity: HaConfigEntity) -> tuple[bool, str]:
        """A dead or unreachable simulated host fails whatever its flags say."""
        if host.status in DEAD:
            return False, f"host is {host.status}"
        try:
            ans = await entity.host.call_entity(host_ref(host.uuid, host.cluster_uuid), "command", {
                "name": Cmd.CHECK_HEALTH, "args": {}, "timeout": AGENT_CHECK_TIMEOUT_S})
        except ApiError as e:
            return False, e.text
        return bool(ans.get("ok")), str(ans.get("error") or "")


class KvmProvider:
    def eligible(self, host: HostView) -> tuple[bool, str]:
        return False, "KVM host HA needs out-of-band management (IPMI) to recover and fence; cloudplane has none"

    async def answer(self, probe: Probe, host: HostView, entity: HaConfigEntity) -> tuple[bool | None, str]:
        if probe is Probe.HEALTH:
            return host.status == "Up", f"host is {host.status}"
        if probe is Probe.ACTIVITY:
            return host.status == "Up", f"host is {host.status}"
        return False, "no out-of-band management to recover or fence with"


DRIVERS: dict[str, HaProviderDriver] = {"simulatorhaprovider": SimulatorProvider(), "kvmhaprovider": KvmProvider()}
SIM_DEFAULTS = {"health": True, "activity": True, "recover": True, "fence": True}


def _epoch(value: datetime | None) -> float:
    if value is None:
        return 0.0
    if value.tzinfo is None:  # MySQL hands back naive UTC
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


class HaConfigEntity(Entity):
    kind = "haconfig"
    table: ClassVar[Table] = T_HA
    resident = True  # the tick evaluates host configs without being asked

    __slots__ = ("due", "running")

    def __init__(self, ref: EntityRef, row: dict[str, Any], host: Any) -> None:
        self.due = 0.0  # next evaluation (monotonic seconds)
        self.running = False
        super().__init__(ref, row, host)

    def on_activate(self) -> None:
        self.due = 0.0
        self.running = False
        if self.row.get("id") is not None and self.row.get("resource_type") == "Host" and not self.row.get("removed"):
            self.host.kind_state.setdefault("hostha", {})[self.ref.id] = self

    def on_passivate(self) -> None:
        self.host.kind_state.get("hostha", {}).pop(self.ref.id, None)

    def supervision_path(self) -> tuple[str, ...]:
        return (f"cluster:{self.ref.key}",) if self.ref.key else ()

    @property
    def state(self) -> str | None:
        return self.row.get("ha_state")

    def view(self) -> dict[str, Any]:
        return {"id": self.ref.id, "haenable": bool(self.row.get("enabled")), "hastate": self.row.get("ha_state"),
                "haprovider": self.row.get("provider")}

    # -- administration -------------------------------------------------------------------
    @operation(creates=True)
    async def configure(self, resource_id: int, provider: str) -> dict[str, Any]:
        """configureHAForHost: the host's provider (the config is created disabled)."""
        if self.unborn:
            await self._born("Host", resource_id, provider=provider)
        elif self.row.get("provider") != provider:
            await self.save(provider=provider)
        return self.view()

    @operation(creates=True)
    async def switch(self, resource_type: str, resource_id: int, enabled: bool) -> dict[str, Any]:
        """enable/disableHAFor{Host,Cluster,Zone}."""
        if self.unborn:
            if resource_type == "Host":
                raise ParamError(f"HA is not configured for host {self.ref.id}: configure a provider first "
                                 "(configureHAForHost)")
            await self._born(resource_type, resource_id)
        if resource_type == "Host" and enabled and not self.row.get("provider"):
            raise ParamError(f"HA provider is not configured for host {self.ref.id}")
        if bool(self.row["enabled"]) != enabled:
            await self.save(enabled=enabled)
        if resource_type == "Host":
            self.due = 0.0
            step = await self._round()  # Disabled <-> Available at once, as CloudStack does
            if step is not None and step.event is HaEvent.ENABLED:
                await self._round()  # and on to Ineligible at once when the host cannot have HA
        else:
            state = HaState.AVAILABLE.value if enabled else HaState.DISABLED.value
            if self.row["ha_state"] != state:
                await self.save(ha_state=state)
            return {"success": True}  # a cluster's or zone's switch answers as CloudStack's does
        return self.view()

    async def _born(self, resource_type: str, resource_id: int, provider: str | None = None) -> None:
        uuid, now = self.ref.id, utcnow()
        values = {"uuid": uuid, "version": 1, "created": now, "resource_type": resource_type,
                  "resource_id": resource_id, "provider": provider, "enabled": False,
                  "ha_state": HaState.DISABLED.value, "state_since": now, "activity_checks": 0,
                  "activity_failures": 0, "recovery_attempts": 0, "fence_attempts": 0}

        async def work(conn: AsyncConnection) -> dict[str, Any]:
            await conn.execute(insert(T_HA).values(**values))
            return dict((await conn.execute(select(T_HA).where(T_HA.c.uuid == uuid))).mappings().one())

        self.row = await self.host.writer.submit(work)
        self.unborn = False
        self.on_activate()

    # -- evaluation ---------------------------------------------------------------------------
    @operation(joinable=True)
    async def evaluate(self) -> dict[str, Any]:
        """One round of the evaluator (the shard's tick asks for it)."""
        if self.row.get("resource_type") == "Host" and self.row.get("removed") is None:
            await self._round()
        return self.view()

    async def _round(self) -> Step | None:
        view = await self._observe()
        if view is None or view.removed:
            await self.save(removed=utcnow(), enabled=False)
            self.on_passivate()
            return None
        policy = PROVIDERS.get(str(self.row.get("provider") or ""))
        driver = DRIVERS.get(str(self.row.get("provider") or ""))
        enabled = bool(self.row["enabled"]) and view.switches_on and policy is not None
        state = HaState(self.row["ha_state"])
        eligible, why = driver.eligible(view) if driver is not None else (False, "no provider")
        result: bool | None = None
        probe = PROBES[state]
        if enabled and eligible and driver is not None and probe is not Probe.NONE:
            result, answer = await driver.answer(probe, view, self)
            why = answer or why
        facts = Facts(enabled=enabled, eligible=eligible, result=result, why=why)
        step = decide(state, self._counters(), facts, policy or PROVIDERS["simulatorhaprovider"], time.time())
        await self._apply(state, step)
        if step.action is Action.FENCE_SUBRESOURCES:
            await self._fence_subresources(view)
        return step

    def _counters(self) -> Counters:
        r = self.row
        return Counters(int(r["activity_checks"]), int(r["activity_failures"]), int(r["recovery_attempts"]),
                        int(r["fence_attempts"]), _epoch(r.get("state_since")))

    async def _apply(self, before: HaState, step: Step) -> None:
        c = step.counters
        changes: dict[str, Any] = {
            "activity_checks": c.activity_checks, "activity_failures": c.activity_failures,
            "recovery_attempts": c.recovery_attempts, "fence_attempts": c.fence_attempts}
        if step.state != before:
            changes["ha_state"] = step.state.value
            changes["state_since"] = datetime.fromtimestamp(c.since, timezone.utc)
        if step.reason != self.row.get("reason"):
            changes["reason"] = step.reason[:1000]
        changes = {k: v for k, v in changes.items() if self.row.get(k) != v}
        if changes:
            await self.save(**changes)
        if step.event is not None and step.state != before:
            seen = step.seen or c
            await self.host.writer.insert(T_TR, {
                "config_id": self.row["id"], "event": step.event.value, "prev_state": before.value,
                "state": step.state.value, "activity_counter": seen.activity_checks,
                "recovery_counter": seen.recovery_attempts, "reason": step.reason[:1000], "created": utcnow()})
            log.info("host HA %s: %s -> %s on %s (%s)", self.ref.id, before, step.state, step.event, step.reason)

    async def _observe(self) -> HostView | None:
        cl, zn = T_HA.alias("cl"), T_HA.alias("zn")
        async with self.host.engine.connect() as conn:
            r = (await conn.execute(
                select(H.c.id, H.c.uuid, H.c.status, H.c.resource_state, H.c.hypervisor_type, H.c.removed,
                       C.c.uuid.label("cluster_uuid"), cl.c.enabled.label("cl_on"), zn.c.enabled.label("zn_on"),
                       T_SIM.c.health, T_SIM.c.activity, T_SIM.c.recover, T_SIM.c.fence)
                .select_from(H.outerjoin(C, H.c.cluster_id == C.c.id)
                             .outerjoin(cl, and_(cl.c.resource_type == "Cluster", cl.c.resource_id == H.c.cluster_id,
                                                 cl.c.removed.is_(None)))
                             .outerjoin(zn, and_(zn.c.resource_type == "Zone", zn.c.resource_id == H.c.zone_id,
                                                 zn.c.removed.is_(None)))
                             .outerjoin(T_SIM, T_SIM.c.host_id == H.c.id))
                .where(H.c.id == self.row["resource_id"]))).first()
        if r is None:
            return None
        sim = dict(SIM_DEFAULTS) if r.health is None else {
            "health": bool(r.health), "activity": bool(r.activity), "recover": bool(r.recover), "fence": bool(r.fence)}
        return HostView(r.id, r.uuid, r.cluster_uuid, str(r.status), str(r.resource_state), str(r.hypervisor_type),
                        r.removed is not None, r.cl_on is not False and r.zn_on is not False, sim)

    async def _fence_subresources(self, host: HostView) -> None:
        """The host is fenced: let go of its VMs; the HA ones start elsewhere (as VM HA would)."""
        async with self.host.engine.connect() as conn:
            rows = (await conn.execute(
                select(VM.c.uuid, VM.c.placement_key, VM.c.type, VM.c.ha_enabled, SO.c.offer_ha)
                .select_from(VM.join(SO, VM.c.service_offering_id == SO.c.id))
                .where(VM.c.host_id == host.id, VM.c.removed.is_(None), VM.c.state.in_(HELD)))).all()
        vms = [vmha.VmOnHost(r.uuid, r.placement_key, bool(r.ha_enabled or r.offer_ha), r.type in SYSTEM) for r in rows]
        decisions = vmha.decide(vms)
        results = await asyncio.gather(*(self.host.call_entity(
            EntityRef("vm", v.uuid, v.placement_key), "ha_restart",
            {"failed_host_id": host.id, "restart": a is vmha.Action.RESTART}) for v, a in decisions),
            return_exceptions=True)
        failed = [(v.uuid, r) for (v, _), r in zip(decisions, results, strict=True) if isinstance(r, BaseException)]
        for uuid, err in failed:
            log.warning("host HA %s: VM %s could not be restarted after the fence: %r", self.ref.id, uuid, err)
        if decisions:
            await self._alert(f"Host {host.uuid} fenced by host HA: {len(decisions) - len(failed)} of "
                              f"{len(decisions)} VM(s) let go ({vmha.summarize(decisions)})"
                              + (f"; {len(failed)} could not be restarted" if failed else ""))

    async def _alert(self, subject: str) -> None:
        async with self.host.engine.connect() as conn:
            r = (await conn.execute(select(H.c.zone_id, H.c.pod_id, H.c.cluster_id).where(
                H.c.id == self.row["resource_id"]))).first()
        if r is None:
            return
        await self.host.writer.insert(ALERT, {
            "uuid": new_uuid(), "version": 1, "created": utcnow(), "alert_type": ALERT_HOST, "name": "ALERT.HOST.HA",
            "subject": subject, "zone_id": r.zone_id, "pod_id": r.pod_id, "cluster_id": r.cluster_id,
            "sent_count": 1, "last_sent": utcnow(), "archived": False})

    # -- the shard's evaluator ------------------------------------------------------------------
    @classmethod
    async def shard_tick(cls, core: Any) -> None:
        configs: dict[str, HaConfigEntity] = core.kind_state.get("hostha", {})
        if not configs:
            return
        now = time.monotonic()
        for ent in list(configs.values()):
            if not ent.row.get("enabled") or ent.running or ent.due > now:
                continue
            policy = PROVIDERS.get(str(ent.row.get("provider") or ""))
            ent.due = now + (policy.check_interval_s if policy is not None else 60.0)
            ent.running = True
            core.spawn(cls._tick_one(core, ent))

    @staticmethod
    async def _tick_one(core: Any, ent: HaConfigEntity) -> None:
        try:
            await core.run_op(ent.ref, "evaluate", {})
        except Exception:  # the next round tries again
            log.exception("host HA evaluation of %s failed", ent.ref)
        finally:
            ent.running = False

    @classmethod
    async def on_shard_start(cls, core: Any) -> None:
        """Activate every host HA config this shard owns, so the tick evaluates them."""
        async with core.engine.connect() as conn:
            rows = (await conn.execute(
                select(T_HA.c.uuid, C.c.uuid.label("c")).select_from(
                    T_HA.join(H, and_(T_HA.c.resource_type == "Host", T_HA.c.resource_id == H.c.id))
                    .outerjoin(C, H.c.cluster_id == C.c.id))
                .where(T_HA.c.removed.is_(None)))).all()
        mine = [haconfig_ref(r.uuid, r.c) for r in rows if core.owns(haconfig_ref(r.uuid, r.c))]
        for i in range(0, len(mine), 1000):
            await asyncio.gather(*(core.activate(r) for r in mine[i:i + 1000]), return_exceptions=True)
