"""Hosts as entity actors: connection status, resource state, capacity rows,
and the link to the host's agent (a simulated agent in this process, or a
real agent's WebSocket through a management node's gateway).

Hosts are resident: a shard activates all of its hosts when it starts, so
their agents reconnect and pings flow without waiting for a command.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from typing import Any, ClassVar

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.actors.entity import Entity, operation
from cloudplane.actors.identity import EntityRef
from cloudplane.actors.kinds.hostlink import AgentLink, GatewayLink, InProcessLink, Outbox
from cloudplane.actors.kinds.hostping import LAST_PINGED, Liveness, PingTurns
from cloudplane.actors.kinds.hoststate import Resource, Status, check_resource, check_status
from cloudplane.agentproto import Answer, Capacity
from cloudplane.errors import ApiError, InternalError, ParamError
from cloudplane.simulator.agent import SimAgent, Where
from cloudplane.simulator.mocks import MockBook
from cloudplane.store import prepared
from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.tables.capacity import Capacity as CapacityRow
from cloudplane.store.tables.capacity import CapacityType
from cloudplane.store.tables.compute import VmInstance
from cloudplane.store.tables.events import Alert
from cloudplane.store.tables.infra import Cluster, Host, HostTag, Pod, Zone
from cloudplane.store.tables.tags import ResourceDetail
from cloudplane.supervisors.ha import Verdict, explain, verdict
from cloudplane.supervisors.investigators import DEFAULT_FENCERS, DEFAULT_INVESTIGATORS, Peer, Suspect

log = logging.getLogger(__name__)

T_HOST: Table = Host.__table__
T_TAG: Table = HostTag.__table__
T_CAP: Table = CapacityRow.__table__
T_DETAIL: Table = ResourceDetail.__table__
T_ALERT: Table = Alert.__table__
T_VM: Table = VmInstance.__table__
T_CLUSTER: Table = Cluster.__table__
T_POD: Table = Pod.__table__
T_ZONE: Table = Zone.__table__
# Every changed ping: the VMs the store puts on the host, and those the host says run.
_POWER_SYNC = select(T_VM.c.uuid, T_VM.c.instance_name, T_VM.c.placement_key, T_VM.c.state, T_VM.c.host_id).where(
    T_VM.c.removed.is_(None),
    (T_VM.c.host_id == bindparam("b_host")) | T_VM.c.instance_name.in_(bindparam("b_on", expanding=True)))

ALERT_HOST = 7  # CloudStack's AlertType.ALERT_TYPE_HOST
COMMAND_TIMEOUT_S = 30.0
INVESTIGATE_TIMEOUT_S = 5.0  # a witness that cannot answer within this tells nothing


def host_ref(uuid: str, cluster_uuid: str | None) -> EntityRef:
    return EntityRef("host", uuid, cluster_uuid)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AgentUnavailable(ApiError):
    code = 530


def _liveness(core: Any) -> Liveness:
    book: Liveness = core.kind_state.setdefault("liveness", Liveness())
    return book


def _turns(core: Any) -> PingTurns:
    turns: PingTurns = core.kind_state.setdefault("ping_turns", PingTurns())
    return turns


async def _sweep(hosts: dict[str, HostEntity], turns: PingTurns, interval: float, now: float) -> None:
    """The in-process agents whose turn has come ping, and queue their next turn."""
    for hid, agent in turns.due(now):
        h = hosts.get(hid)
        if h is None or h.agent is not agent:
            continue  # stopped or replaced since: a stale turn
        turns.schedule(hid, agent, now + interval, interval)
        try:
            ok = await agent.ping_ok()
        except Exception:  # the mock lookup failed: this ping is lost, the other hosts' turns are not
            log.warning("host %s: ping lost", hid, exc_info=True)
            continue
        if ok:
            h.on_ping(agent.power_states())


async def _write_last_pinged(core: Any, host_ids: list[int]) -> None:
    at = utcnow()
    try:
        await asyncio.gather(*(core.writer.execute(LAST_PINGED, {"b_id": i, "b_at": at}) for i in host_ids))
    except Exception:  # display only: the next pings write it again
        log.warning("%s: could not record last_pinged of %d hosts", core.name, len(host_ids), exc_info=True)


class HostEntity(Entity):
    kind = "host"
    table: ClassVar[Table] = T_HOST
    resident = True

    __slots__ = ("agent", "link", "last_ping", "where", "power", "connected", "missing", "syncing",
                 "synced", "investigated", "evidence", "capless")

    def on_activate(self) -> None:
        # `create` has just set `where` on a host it inserted: keep it (no query), and such a
        # host runs no VMs and has no capacity rows yet.
        where: Where | None = getattr(self, "where", None)
        newborn = where is not None and self.activations == 1
        self.agent: SimAgent | None = None  # the in-process simulated agent, if any
        self.link: AgentLink | None = None  # how commands reach the agent
        self.last_ping = time.monotonic()  # a fresh activation gets a full ping window
        self.where = where
        self.power: dict[str, str] = {}
        self.connected = asyncio.Event()  # set while an agent is attached
        self.missing: dict[str, int] = {}  # VM instance name -> consecutive reports without it
        self.syncing = False
        self.synced: dict[str, str] | None = {} if newborn else None  # the last report compared with the store
        self.capless = newborn
        self.investigated = 0.0  # monotonic time of the last investigation
        self.evidence = ""  # what it concluded, so an unchanged Alert is not re-announced
        if self.row.get("id") is not None and self.row.get("status") != Status.REMOVED:
            self.host.kind_state.setdefault("hosts", {})[self.ref.id] = self
            _liveness(self.host).beat(self.ref.id, self.last_ping)
            if self.row.get("hypervisor_type") == "Simulator" and self.row.get("url", "").startswith("http://sim"):
                self.host.spawn(self._start_simulated())

    def on_passivate(self) -> None:
        self._stop_agent()

    def supervision_path(self) -> tuple[str, ...]:
        return (f"cluster:{self.ref.key}",) if self.ref.key else ()

    # -- creation and removal ----------------------------------------------------------
    @operation(creates=True)
    async def create(self, values: dict[str, Any], tags: list[str], where: dict[str, str | None],
                     token_sha256: str | None = None) -> dict[str, Any]:
        if not self.unborn:
            return {"id": self.ref.id}  # a resumed job: the host exists already
        await self.born({**values, "version": 1, "created": utcnow(), "status": Status.CONNECTING,
                         "resource_state": Resource.ENABLED})
        if tags:
            await self._write_tags(tags, replace=False)
        if token_sha256:
            await self.host.writer.insert(T_DETAIL, {"resource_type": "Host", "resource_id": self.row["id"],
                                                     "name": "agent.token.sha256", "value": token_sha256,
                                                     "display": False})
        self.where = Where(self.ref.id, where.get("cluster"), where.get("pod"), where.get("zone"))
        return {"id": self.ref.id}

    async def _write_tags(self, tags: list[str], replace: bool = True) -> None:
        host_id = self.row["id"]

        async def work(conn: AsyncConnection) -> None:
            if replace:
                await conn.execute(delete(T_TAG).where(T_TAG.c.host_id == host_id))
            for t in dict.fromkeys(x.strip() for x in tags if x.strip()):
                await conn.execute(insert(T_TAG).values(host_id=host_id, tag=t, is_rule=False))

        await self.host.writer.submit(work)

    @operation()
    async def delete(self, forced: bool = False) -> dict[str, Any]:
        if self.row["resource_state"] != Resource.MAINTENANCE and self.row["status"] == Status.UP and not forced:
            raise ParamError(f"Unable to delete host {self.ref.id}: it must be in maintenance mode first "
                             "(or use forced=true)")
        running = await self._vm_count()
        if running and not forced:
            raise ParamError(f"Unable to delete host {self.ref.id}: {running} VMs are still on it")
        self._stop_agent()
        host_id = self.row["id"]

        async def capacity(conn: AsyncConnection) -> None:
            await conn.execute(delete(T_CAP).where(T_CAP.c.owner_type == "host", T_CAP.c.owner_id == host_id))

        await self.host.writer.submit(capacity)
        await self.save(status=Status.REMOVED, removed=utcnow(), guid=None)
        self.host.kind_state.get("hosts", {}).pop(self.ref.id, None)
        _liveness(self.host).forget(self.ref.id)
        return {"success": True}

    async def _vm_count(self) -> int:
        from sqlalchemy import func

        async with self.host.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(T_VM).where(
                T_VM.c.host_id == self.row["id"], T_VM.c.removed.is_(None),
                T_VM.c.state.in_(("Running", "Starting", "Stopping", "Migrating"))))).scalar_one())

    # -- the agent connection ------------------------------------------------------------
    async def _start_simulated(self) -> None:
        """In-process simulated agent: it connects as a real agent would."""
        try:
            if self.where is None:
                self.where = await self._load_where()
            mocks = self.host.kind_state.get("sim_mocks")
            if mocks is None:
                mocks = self.host.kind_state["sim_mocks"] = MockBook(self.host.engine)
            cap = Capacity(cpus=self.row.get("cpus") or 4, cpu_speed_mhz=self.row.get("cpu_speed_mhz") or 8000,
                           memory_bytes=self.row.get("memory_bytes") or 8 * 2**30,
                           local_storage_bytes=2**40, hypervisor="Simulator")
            sim_caps = self.host.kind_state.get("sim_capacity", {})
            if self.ref.id in sim_caps:
                cap = sim_caps[self.ref.id]
            self.agent = SimAgent(self.where, cap, mocks)
            self.link = InProcessLink(self.agent)
            self.connected.set()
            await self.host.run_op(self.ref, "agent_connect", {"capacity": cap.to_dict(), "vms": {}})
            # Its first ping at a random point of the interval, so a restart does not make them all arrive together.
            interval = float(await self.host.config("ping.interval") or 60)
            _turns(self.host).schedule(self.ref.id, self.agent, time.monotonic() + interval * random.random(), interval)
        except Exception:
            log.exception("host %s: simulated agent failed to start", self.ref)

    async def _load_where(self) -> Where:
        async with self.host.engine.connect() as conn:
            r = (await conn.execute(
                select(T_CLUSTER.c.uuid.label("c"), T_POD.c.uuid.label("p"), T_ZONE.c.uuid.label("z"))
                .select_from(T_HOST.outerjoin(T_CLUSTER, T_HOST.c.cluster_id == T_CLUSTER.c.id)
                             .outerjoin(T_POD, T_HOST.c.pod_id == T_POD.c.id)
                             .join(T_ZONE, T_HOST.c.zone_id == T_ZONE.c.id))
                .where(T_HOST.c.id == self.row["id"]))).one()
        return Where(self.ref.id, r.c, r.p, r.z)

    def _stop_agent(self) -> None:
        # Its ping turn, if any, goes stale: the sweep drops a turn whose agent is no longer ours.
        if self.link is not None:
            self.link.close()
            self.link = None
        self.agent = None
        self.connected.clear()

    def on_ping(self, vms: dict[str, str]) -> None:
        """A ping arrived: liveness in memory (`last_pinged` is written in batches); state changes
        through the mailbox."""
        self.last_ping = time.monotonic()
        _liveness(self.host).beat(self.ref.id, self.last_ping, self.row.get("id"))
        self.power = vms
        if self.row["status"] in (Status.ALERT, Status.DISCONNECTED, Status.DOWN):
            self.host.spawn(self.host.run_op(self.ref, "ping_recovered", {}))
        elif self.row["status"] == Status.UP and not self.syncing and (vms != self.synced or self.missing):
            # Only a changed report (or a miss waiting for confirmation) costs a look at the store.
            self.syncing = True
            self.host.spawn(self._power_sync(dict(vms), time.time()))

    async def _power_sync(self, reported: dict[str, str], seen: float) -> None:
        """Compare a ping's power states (received at `seen`) with what the store says runs here."""
        stale = False
        try:
            on = [n for n, p in reported.items() if p == "PowerOn"] or [""]
            async with prepared.reading(self.host.engine) as conn:
                rows = (await prepared.execute(conn, _POWER_SYNC, {"b_host": self.row["id"], "b_on": on})).all()
            expected = {r.instance_name: r for r in rows if r.host_id == self.row["id"] and r.state == "Running"}
            for name, r in expected.items():
                if reported.get(name) == "PowerOn":
                    self.missing.pop(name, None)
                    continue
                self.missing[name] = self.missing.get(name, 0) + 1
                if self.missing[name] >= 2:  # gone for two ping intervals, not a glitch
                    self.missing.pop(name, None)
                    ans = await self.host.call_entity(EntityRef("vm", r.uuid, r.placement_key), "power_report",
                                                      {"host_id": self.row["id"], "power": "PowerOff", "seen": seen})
                    stale = stale or bool(ans.get("stale"))
            for name in list(self.missing):
                if name not in expected:
                    del self.missing[name]  # stopped or moved meanwhile: nothing to confirm
            for r in rows:
                if r.instance_name in expected or reported.get(r.instance_name) != "PowerOn":
                    continue
                # Running here though the store says otherwise: the VM entity decides.
                ans = await self.host.call_entity(EntityRef("vm", r.uuid, r.placement_key), "power_report",
                                                  {"host_id": self.row["id"], "power": "PowerOn", "seen": seen,
                                                   "host_uuid": self.ref.id, "cluster_uuid": self.ref.key})
                stale = stale or bool(ans.get("stale"))
            # A report a VM set aside (it changed meanwhile) is compared again on the next ping.
            self.synced = None if stale else reported
        except Exception:  # a failed sync is retried on the next ping
            log.exception("host %s: power-state sync failed", self.ref)
            self.synced = None
        finally:
            self.syncing = False

    @operation(joinable=True)
    async def agent_connect(self, capacity: dict[str, Any], vms: dict[str, str]) -> dict[str, Any]:
        cap = Capacity.from_dict(capacity)
        check_status(self.row["status"], Status.UP)
        self.last_ping = time.monotonic()
        _liveness(self.host).beat(self.ref.id, self.last_ping)
        self.power = vms
        await self.save(status=Status.UP, cpus=cap.cpus, cpu_speed_mhz=cap.cpu_speed_mhz,
                        memory_bytes=cap.memory_bytes, cpu_sockets=cap.cpu_sockets,
                        hypervisor_version=cap.hypervisor_version, agent_version=cap.agent_version,
                        mgmt_server_id=self.host.name, last_pinged=utcnow(), disconnected=None)
        await self._write_capacity(cap)
        return {"status": Status.UP}

    async def _write_capacity(self, cap: Capacity) -> None:
        row = self.row
        totals = {CapacityType.CPU: cap.cpus * cap.cpu_speed_mhz, CapacityType.MEMORY: cap.memory_bytes}
        enabled = row["resource_state"] == Resource.ENABLED
        if self.capless:  # a new host: plain inserts, which the writer merges across hosts
            self.capless = False
            await asyncio.gather(*(self.host.writer.insert(T_CAP, {
                "owner_type": "host", "owner_id": row["id"], "capacity_type": int(ctype), "zone_id": row["zone_id"],
                "pod_id": row["pod_id"], "cluster_id": row["cluster_id"], "total": total, "used": 0, "reserved": 0,
                "enabled": enabled, "updated": utcnow()}) for ctype, total in totals.items()))
            return

        async def work(conn: AsyncConnection) -> None:
            for ctype, total in totals.items():
                res = await conn.execute(update(T_CAP).where(
                    T_CAP.c.owner_type == "host", T_CAP.c.owner_id == row["id"], T_CAP.c.capacity_type == ctype)
                    .values(total=total, enabled=enabled, updated=utcnow()))
                if res.rowcount == 0:
                    await conn.execute(insert(T_CAP).values(
                        owner_type="host", owner_id=row["id"], capacity_type=int(ctype), zone_id=row["zone_id"],
                        pod_id=row["pod_id"], cluster_id=row["cluster_id"], total=total, used=0, reserved=0,
                        enabled=enabled, updated=utcnow()))

        await self.host.writer.submit(work)

    @operation()
    async def gateway_attach(self, node: str, capacity: dict[str, Any], vms: dict[str, str]) -> dict[str, Any]:
        """A real or fleet agent connected through management node `node`'s gateway."""
        if self.row["status"] == Status.REMOVED:
            raise ParamError(f"host {self.ref.id} has been removed")
        self._stop_agent()
        outbox = self.host.kind_state.setdefault("outbox", Outbox())
        self.link = GatewayLink(outbox, node, self.ref.id)
        self.connected.set()
        if self.row["status"] != Status.CONNECTING:
            await self.save(status=Status.CONNECTING)
        cap = Capacity.from_dict(capacity)
        self.last_ping = time.monotonic()
        _liveness(self.host).beat(self.ref.id, self.last_ping)
        self.power = vms
        await self.save(status=Status.UP, cpus=cap.cpus, cpu_speed_mhz=cap.cpu_speed_mhz,
                        memory_bytes=cap.memory_bytes, cpu_sockets=cap.cpu_sockets,
                        hypervisor_version=cap.hypervisor_version, agent_version=cap.agent_version,
                        mgmt_server_id=node, last_pinged=utcnow(), disconnected=None)
        await self._write_capacity(cap)
        return {"status": Status.UP}

    @operation()
    async def gateway_detach(self, node: str, reason: str = "agent disconnected") -> dict[str, Any]:
        link = self.link
        if isinstance(link, GatewayLink) and link.node == node:
            self._stop_agent()
            if self.row["status"] == Status.UP:
                await self.save(status=Status.DISCONNECTED, disconnected=utcnow())
        return {"status": self.row["status"]}

    @operation(joinable=True)
    async def ping_recovered(self) -> dict[str, Any]:
        if self.row["status"] in (Status.ALERT, Status.DISCONNECTED, Status.DOWN):
            await self.save(status=Status.UP, last_pinged=utcnow(), disconnected=None)
            self.evidence = ""
            await self._alert(f"Host {self.row['name']} is Up again")
        return {"status": self.row["status"]}

    @operation(joinable=True)
    async def ping_timeout(self) -> dict[str, Any]:
        limit = await self._ping_limit()
        if self.row["status"] == Status.CONNECTING and self.link is None:
            # Added (or reconnecting) and no agent has come yet: nothing went silent, nothing to
            # investigate; it goes Up when its agent connects.
            return {"status": self.row["status"]}
        if self.row["status"] in (Status.UP, Status.CONNECTING) and time.monotonic() - self.last_ping > limit:
            await self.save(status=Status.ALERT, disconnected=utcnow())
            await self._alert(f"Host {self.row['name']} has not pinged for {limit:.1f}s: Alert")
            self.host.spawn(self.host.run_op(self.ref, "investigate", {}))
        return {"status": self.row["status"]}

    @operation(joinable=True)
    async def investigate(self) -> dict[str, Any]:
        """Is the silent host dead? Ask the investigators; fence before declaring Down."""
        if self.row["status"] != Status.ALERT:
            return {"status": self.row["status"]}
        self.investigated = time.monotonic()
        suspect = await self._suspect()

        async def ask(peer: Peer, name: str, args: dict[str, Any]) -> dict[str, Any]:
            if peer.uuid == self.ref.id:  # its own agent, if a link is left: never wait for one
                return await self._send(name, args, INVESTIGATE_TIMEOUT_S)
            return dict(await self.host.call_entity(host_ref(peer.uuid, peer.cluster), "command",
                                                    {"name": name, "args": args, "timeout": INVESTIGATE_TIMEOUT_S}))

        evidence = [await i.investigate(suspect, ask) for i in DEFAULT_INVESTIGATORS]
        decision = verdict(evidence)
        why = explain(evidence)
        if decision is Verdict.ALERT:
            if why != self.evidence:
                await self._alert(f"Host {self.row['name']} stays in Alert, not confirmed dead: {why}")
            self.evidence = why
            return {"status": self.row["status"], "evidence": why}
        for fencer in DEFAULT_FENCERS:
            if await fencer.fence(self.ref.id, self.ref.key, str(self.row.get("hypervisor_type")), self._sim_fence):
                await self.save(status=Status.DOWN)
                await self._alert(f"Host {self.row['name']} is Down (fenced by {fencer.name}): {why}")
                return {"status": Status.DOWN, "evidence": why}
        await self._alert(f"Host {self.row['name']} looks dead ({why}) but no fencer could fence it: stays in Alert")
        return {"status": self.row["status"], "evidence": why}

    async def _suspect(self) -> Suspect:
        """This host and its witnesses: the other Up hosts of its pod and cluster, the VMs it holds."""
        async with self.host.engine.connect() as conn:
            peers = (await conn.execute(
                select(T_HOST.c.uuid, T_HOST.c.cluster_id, T_CLUSTER.c.uuid.label("c"))
                .select_from(T_HOST.outerjoin(T_CLUSTER, T_HOST.c.cluster_id == T_CLUSTER.c.id))
                .where(T_HOST.c.pod_id == self.row["pod_id"], T_HOST.c.id != self.row["id"],
                       T_HOST.c.status == Status.UP, T_HOST.c.removed.is_(None))
                .order_by(T_HOST.c.id))).all()
            vms = (await conn.execute(select(T_VM.c.instance_name).where(
                T_VM.c.host_id == self.row["id"], T_VM.c.removed.is_(None), T_VM.c.state == "Running")
                .order_by(T_VM.c.id).limit(1))).scalars().all()
        return Suspect(Peer(self.ref.id, self.ref.key), self.row.get("private_ip"), tuple(vms),
                       tuple(Peer(p.uuid, p.c) for p in peers if p.cluster_id == self.row["cluster_id"]),
                       tuple(Peer(p.uuid, p.c) for p in peers))

    async def _sim_fence(self) -> bool:
        if self.agent is None:
            return False
        self.agent.crash()  # powered off: whatever it ran is gone
        return True

    @operation(joinable=True)
    async def agent_disconnect(self, reason: str = "agent disconnected") -> dict[str, Any]:
        if self.row["status"] == Status.UP:
            await self.save(status=Status.DISCONNECTED, disconnected=utcnow())
        return {"status": self.row["status"]}

    async def _ping_limit(self) -> float:
        return float(await self.host.config("ping.interval") or 60) * float(await self.host.config("ping.timeout") or 2.5)

    async def _alert(self, subject: str) -> None:
        await self.host.writer.insert(T_ALERT, {
            "uuid": new_uuid(), "version": 1, "created": utcnow(),
            "alert_type": ALERT_HOST, "name": "ALERT.HOST", "subject": subject, "zone_id": self.row["zone_id"],
            "pod_id": self.row["pod_id"], "cluster_id": self.row["cluster_id"], "sent_count": 1,
            "last_sent": utcnow(), "archived": False})

    @classmethod
    async def shard_tick(cls, core: Any) -> None:
        hosts: dict[str, HostEntity] = core.kind_state.get("hosts", {})
        if not hosts:
            return
        now = time.monotonic()
        interval = float(await core.config("ping.interval") or 60)
        limit = interval * float(await core.config("ping.timeout") or 2.5)
        liveness, turns = _liveness(core), _turns(core)
        if interval < turns.interval:
            # A shorter interval: agents waiting out the old one ping within the new one, and
            # every host gets a fresh window rather than an Alert for the old interval's silence.
            turns.shorten(now, interval, random.random)
            liveness.restart(now)
        await _sweep(hosts, turns, interval, now)
        for hid in liveness.overdue(now, limit):
            h = hosts.get(hid)
            if h is None:
                liveness.forget(hid)  # deleted or passivated
            elif h.row.get("status") in (Status.UP, Status.CONNECTING) and now - h.last_ping > limit:
                core.spawn(core.run_op(h.ref, "ping_timeout", {}))
            elif h.row.get("status") == Status.ALERT and now - max(h.investigated, h.last_ping) > limit:
                # Still silent and not confirmed dead: look again, the witnesses may know more now.
                core.spawn(core.run_op(h.ref, "investigate", {}))
        pinged = liveness.take_unwritten()
        if pinged:
            core.spawn(_write_last_pinged(core, pinged))

    @classmethod
    async def on_shard_start(cls, core: Any) -> None:
        """Activate every host this shard owns, so their agents connect."""
        async with core.engine.connect() as conn:
            rows = (await conn.execute(
                select(T_HOST.c.uuid, T_CLUSTER.c.uuid.label("c")).select_from(
                    T_HOST.outerjoin(T_CLUSTER, T_HOST.c.cluster_id == T_CLUSTER.c.id))
                .where(T_HOST.c.removed.is_(None)))).all()
        mine = [host_ref(r.uuid, r.c) for r in rows if core.owns(host_ref(r.uuid, r.c))]
        for i in range(0, len(mine), 2000):
            await asyncio.gather(*(core.activate(r) for r in mine[i:i + 2000]), return_exceptions=True)

    # -- administration ------------------------------------------------------------------
    @operation()
    async def update(self, hosttags: list[str] | None = None, allocationstate: str | None = None,
                     name: str | None = None) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if allocationstate:
            target = {"enable": Resource.ENABLED, "disable": Resource.DISABLED}.get(allocationstate.lower())
            if target is None:
                raise ParamError("allocationstate must be Enable or Disable")
            if self.row["resource_state"] in (Resource.MAINTENANCE, Resource.PREPARE_MAINTENANCE):
                raise ParamError("Host is in maintenance: cancel maintenance first")
            check_resource(self.row["resource_state"], target)
            changes["resource_state"] = target
        if name:
            changes["name"] = name
        if changes:
            await self.save(**changes)
            if "resource_state" in changes:
                await self._capacity_enabled(changes["resource_state"] == Resource.ENABLED)
        if hosttags is not None:
            await self._write_tags(hosttags)
        return {"id": self.ref.id}

    async def _capacity_enabled(self, on: bool) -> None:
        host_id = self.row["id"]

        async def work(conn: AsyncConnection) -> None:
            await conn.execute(update(T_CAP).where(T_CAP.c.owner_type == "host", T_CAP.c.owner_id == host_id)
                               .values(enabled=on))

        await self.host.writer.submit(work)

    @operation()
    async def prepare_maintenance(self) -> dict[str, Any]:
        rs = self.row["resource_state"]
        if rs == Resource.MAINTENANCE:
            return {"id": self.ref.id}
        check_resource(rs, Resource.PREPARE_MAINTENANCE)
        await self.save(resource_state=Resource.PREPARE_MAINTENANCE)
        await self._capacity_enabled(False)
        failed = await self._drain()
        if failed or await self._vm_count():
            await self.save(resource_state=Resource.ERROR_PREPARE_MAINTENANCE)
            await self._alert(f"Host {self.row['name']} could not be drained for maintenance: {'; '.join(failed)}")
            raise ApiError(f"Failed to prepare host {self.ref.id} for maintenance: "
                           f"{len(failed)} VM(s) could not be moved ({'; '.join(failed)[:500]})", 530)
        await self.save(resource_state=Resource.MAINTENANCE)
        return {"id": self.ref.id}

    async def _drain(self) -> list[str]:
        """Live-migrate every VM off this host, to hosts of its cluster (capacity claimed first)."""
        async with self.host.engine.connect() as conn:
            vms = (await conn.execute(select(T_VM.c.uuid, T_VM.c.placement_key, T_VM.c.instance_name).where(
                T_VM.c.host_id == self.row["id"], T_VM.c.removed.is_(None), T_VM.c.state == "Running"))).all()
        failed: list[str] = []
        for v in vms:
            try:
                await self.host.call_entity(EntityRef("vm", v.uuid, v.placement_key), "migrate",
                                            {"cluster": self.ref.key, "avoid": [self.row["id"]]})
            except ApiError as e:
                failed.append(f"{v.instance_name}: {e.text}")
        return failed

    @operation()
    async def cancel_maintenance(self) -> dict[str, Any]:
        rs = self.row["resource_state"]
        if rs not in (Resource.MAINTENANCE, Resource.PREPARE_MAINTENANCE, Resource.ERROR_MAINTENANCE,
                      Resource.ERROR_PREPARE_MAINTENANCE):
            raise ParamError(f"Host {self.ref.id} is not in maintenance (resource state {rs})")
        await self.save(resource_state=Resource.ENABLED)
        await self._capacity_enabled(True)
        return {"id": self.ref.id}

    @operation()
    async def reconnect(self) -> dict[str, Any]:
        if self.row["resource_state"] == Resource.MAINTENANCE:
            raise ParamError("Host is in maintenance mode; cannot reconnect")
        check_status(self.row["status"], Status.CONNECTING)
        await self.save(status=Status.CONNECTING)
        self._stop_agent()
        if self.row.get("hypervisor_type") == "Simulator" and self.row.get("url", "").startswith("http://sim"):
            await self._start_simulated()
        return {"id": self.ref.id}

    # -- talking to the agent ------------------------------------------------------------------
    @operation(concurrent=True)
    async def command(self, name: str, args: dict[str, Any], timeout: float = COMMAND_TIMEOUT_S) -> dict[str, Any]:
        """Send one agent command; answers concurrently (many VMs start on one host at once)."""
        if self.link is None:
            # An agent may be (re)connecting right now, e.g. after a restart: give it a moment.
            try:
                await asyncio.wait_for(self.connected.wait(), min(timeout, 10.0))
            except TimeoutError:
                pass
        return await self._send(name, args, timeout)

    async def _send(self, name: str, args: dict[str, Any], timeout: float) -> dict[str, Any]:
        # What runs here may change with this command (a start, a migration): the next ping's report
        # is compared with the store even if it equals the last one.
        self.synced = None
        link = self.link
        if link is None or not link.reachable:
            raise AgentUnavailable(f"host {self.row.get('name')} ({self.ref.id}) has no agent connection")
        try:
            ans: Answer = await asyncio.wait_for(link.send(name, args), timeout)
        except TimeoutError:
            raise AgentUnavailable(f"{name} on host {self.ref.id} timed out after {timeout}s") from None
        except ApiError:
            raise
        except Exception as e:  # a `result:fault` mock or an agent crash
            raise InternalError(f"{name} on host {self.ref.id} failed: {e}") from None
        return {"ok": ans.ok, "result": ans.result, "error": ans.error, "retryable": ans.retryable}

    @operation(concurrent=True)
    async def sim_fault(self, fault: str, vm: str | None = None) -> dict[str, Any]:
        """Fault injection on a simulated host: crash, partition, heal, disconnect, kill_vm."""
        if self.agent is None:  # reconnecting (e.g. its shard just restarted): give it a moment
            try:
                await asyncio.wait_for(self.connected.wait(), 10.0)
            except TimeoutError:
                pass
        agent = self.agent
        if agent is None:
            raise ParamError(f"host {self.ref.id} has no simulated agent")
        if fault == "crash":
            agent.crash()
        elif fault == "partition":
            agent.partition(True)
        elif fault == "heal":
            agent.recover()
        elif fault == "disconnect":
            self.host.spawn(self.host.run_op(self.ref, "agent_disconnect", {}))
        elif fault == "kill_vm":
            if not vm or not agent.kill_vm(vm):
                raise ParamError(f"VM {vm} is not running on host {self.ref.id}")
        else:
            raise ParamError(f"unknown fault {fault!r}: crash, partition, heal, disconnect, kill_vm")
        return {"fault": fault}
