"""Virtual machines as entity actors: CloudStack's lifecycle (vmstate.py),
placement by claiming capacity, and agent commands through the host entity.

A start records the chosen host and claims its capacity in one transaction,
so a crash can never leak a claim; `settle()` asks the host what happened to
a VM a dead process left in Starting or Stopping.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.actors.entity import Entity, operation
from cloudplane.actors.identity import EntityRef
from cloudplane.actors.kinds.host import host_ref
from cloudplane.actors.kinds.vmdisks import expunge_volumes, place_volumes, volume_rows
from cloudplane.actors.kinds.vmstate import TRANSITIONAL, VmState, check
from cloudplane.agentproto import Cmd, Power
from cloudplane.errors import ApiError, Insufficient, ParamError
from cloudplane.store.base import utcnow
from cloudplane.store.capacity import claim, release
from cloudplane.store.tables.compute import VmInstance
from cloudplane.store.tables.infra import Cluster, Host
from cloudplane.store.tables.network import Network, Nic
from cloudplane.store.versioned import versioned_update
from cloudplane.supervisors.placement import PlacementRequest, Trace, candidates, summary

log = logging.getLogger(__name__)
T_VM: Table = VmInstance.__table__  # type: ignore[attr-defined]
T_HOST: Table = Host.__table__  # type: ignore[attr-defined]
T_CLUSTER: Table = Cluster.__table__  # type: ignore[attr-defined]
T_NET: Table = Network.__table__  # type: ignore[attr-defined]
T_NIC: Table = Nic.__table__  # type: ignore[attr-defined]
PREFIX = {"User": "i", "SecondaryStorageVm": "s", "ConsoleProxy": "v", "DomainRouter": "r"}
MAX_HOST_ATTEMPTS = 5


class VmEntity(Entity):
    kind = "vm"
    table: ClassVar[Table] = T_VM
    transitional = frozenset(TRANSITIONAL)

    def supervision_path(self) -> tuple[str, ...]:
        return (f"group:{self.ref.key}",) if self.ref.key else ()

    @property
    def instance_name(self) -> str:
        return str(self.row.get("instance_name") or self.row.get("name"))

    @property
    def demand(self) -> tuple[int, int]:
        return int(self.row["cpu_count"]) * int(self.row["cpu_speed_mhz"]), int(self.row["ram_mb"]) * 2**20

    async def _save_with(self, changes: dict[str, Any],
                         extra: Callable[[AsyncConnection], Awaitable[None]]) -> None:
        """A versioned write plus related writes (capacity) in one transaction of their own."""
        async with self.host.engine.begin() as conn:
            new_version = await versioned_update(conn, self.table, self.row["id"], self.version, changes)
            await extra(conn)
        self.row.update(changes)
        self.row["version"] = new_version

    # -- birth and death -------------------------------------------------------------------
    @operation(creates=True)
    async def create(self, values: dict[str, Any], start: bool = False, nets: list[dict[str, Any]] | None = None,
                     volumes: list[dict[str, Any]] | None = None, **start_args: Any) -> dict[str, Any]:
        if self.unborn:
            await self.born({**values, "version": 1, "created": utcnow(), "state": VmState.STOPPED,
                             "placement_key": self.ref.key})
            prefix = PREFIX.get(self.row.get("type") or "User", "i")
            name = (f"i-{self.row['account_id']}-{self.row['id']}-VM" if prefix == "i"
                    else f"{prefix}-{self.row['id']}-VM")
            changes: dict[str, Any] = {"instance_name": name}
            if values.get("name") in (None, "", "vm"):
                changes["name"] = f"VM-{self.ref.id}"
                changes["display_name"] = values.get("display_name") or changes["name"]
            await self.save(**changes)
            try:
                for i, n in enumerate(nets or []):
                    await self.host.call_entity(EntityRef("network", n["network"]), "allocate_nic", {
                        "vm_id": self.row["id"], "device": i, "default": i == 0, "ip": n.get("ip")})
            except ApiError:
                # Nothing may be left half-created: give back what was allocated, then forget the VM.
                await self._release_nics()
                await self.save(removed=utcnow(), state=VmState.EXPUNGING)
                raise
            await volume_rows(self, volumes or [])
        if start and self.state != VmState.RUNNING:
            return await self._start(deploy=True, **start_args)
        return self._summary()

    def _summary(self) -> dict[str, Any]:
        return {"id": self.ref.id, "state": self.state, "host_id": self.row.get("host_id")}

    @operation()
    async def destroy(self, expunge: bool = False) -> dict[str, Any]:
        if self.state in (VmState.RUNNING, VmState.STARTING, VmState.STOPPING):
            await self._stop(forced=True)
        if self.state in (VmState.STOPPED, VmState.ERROR):
            check(self.state, VmState.DESTROYED)
            await self.save(state=VmState.DESTROYED)
        if expunge:
            await self._expunge()
        return self._summary()

    @operation()
    async def expunge(self) -> dict[str, Any]:
        await self._expunge()
        return {"success": True}

    async def _expunge(self) -> None:
        if self.state not in (VmState.DESTROYED, VmState.ERROR, VmState.EXPUNGING):
            raise ParamError(f"VM {self.ref.id} must be destroyed before it is expunged (it is {self.state})")
        await self.save(state=VmState.EXPUNGING)
        await self._release_nics()
        await expunge_volumes(self)
        await self.save(removed=utcnow(), host_id=None)

    async def _release_nics(self) -> None:
        async with self.host.engine.connect() as conn:
            nets = [r[0] for r in (await conn.execute(select(T_NET.c.uuid).distinct().select_from(
                T_NIC.join(T_NET, T_NIC.c.network_id == T_NET.c.id)).where(
                T_NIC.c.instance_id == self.row["id"], T_NIC.c.removed.is_(None)))).all()]
        for n in nets:
            await self.host.call_entity(EntityRef("network", n), "release_nics", {"vm_id": self.row["id"]})

    @operation()
    async def update(self, **changes: Any) -> dict[str, Any]:
        allowed = {"display_name", "group_name", "ha_enabled", "user_data", "name", "display"}
        bad = set(changes) - allowed
        if bad:
            raise ParamError(f"cannot update {sorted(bad)} of a VM")
        if "name" in changes and self.state != VmState.STOPPED:
            raise ParamError("A VM's name can only be changed while it is Stopped")
        if changes:
            await self.save(**changes)
        return self._summary()

    @operation()
    async def recover(self) -> dict[str, Any]:
        if self.state != VmState.DESTROYED:
            raise ParamError(f"VM {self.ref.id} is {self.state}, not Destroyed: nothing to recover")
        await self.save(state=VmState.STOPPED)
        return self._summary()

    # -- start -------------------------------------------------------------------------------
    @operation(joinable=True)
    async def start(self, host: str | None = None, cluster: str | None = None, pod: str | None = None,
                    ha: bool = False) -> dict[str, Any]:
        return await self._start(host=host, cluster=cluster, pod=pod, ha=ha)

    async def _ids(self, table: Table, uuid: str | None) -> int | None:
        if uuid is None:
            return None
        async with self.host.engine.connect() as conn:
            v = (await conn.execute(select(table.c.id).where(table.c.uuid == uuid))).scalar()
        if v is None:
            raise ParamError(f"Unable to find {table.name} {uuid}")
        return int(v)

    async def _start(self, host: str | None = None, cluster: str | None = None, pod: str | None = None,
                     ha: bool = False, deploy: bool = False) -> dict[str, Any]:
        if self.state == VmState.RUNNING:
            return self._summary()
        if self.state not in (VmState.STOPPED, VmState.ERROR):
            raise ParamError(f"VM {self.ref.id} is {self.state}; it can only be started when Stopped")
        cpu, mem = self.demand
        req = PlacementRequest(
            zone_id=self.row["zone_id"], cpu_mhz=cpu, mem_bytes=mem, host_id=await self._ids(T_HOST, host),
            cluster_id=await self._ids(T_CLUSTER, cluster), ha=ha,
            algorithm=await self.host.config("vm.allocation.algorithm") or "random")
        await self.save(state=VmState.STARTING)
        trace, avoid = Trace(), set[int]()
        cpu_f = float(await self.host.config("cpu.overprovisioning.factor") or 1)
        mem_f = float(await self.host.config("mem.overprovisioning.factor") or 1)
        ha_tag = await self.host.config("ha.tag")
        attempts = 0
        while attempts < MAX_HOST_ATTEMPTS:
            async with self.host.engine.connect() as conn:
                cands = await candidates(conn, PlacementRequest(**{**req.__dict__, "avoid": frozenset(avoid)}),
                                         ha_tag=ha_tag, cpu_factor=cpu_f, mem_factor=mem_f, trace=trace)
            if not cands:
                break
            progressed = False
            for c in cands:
                try:
                    await self._save_with({"host_id": c.id, "pod_id": c.pod_id},
                                          lambda conn, c=c: claim(conn, c.id, cpu, mem, cpu_f, mem_f))
                except Insufficient:
                    trace.add(f"host {c.uuid}: lost the capacity race")
                    continue
                attempts += 1
                progressed = True
                try:
                    await place_volumes(self, c)
                except Insufficient as e:
                    ok, why = False, e.text
                else:
                    ok, why = await self._start_on(c.uuid, c.cluster_uuid)
                if ok:
                    await self.save(state=VmState.RUNNING, power_state=Power.ON, power_state_updated=utcnow(),
                                    last_host_id=c.id)
                    return self._summary()
                trace.add(f"host {c.uuid}: start failed ({why})")
                avoid.add(c.id)
                await self._save_with({"host_id": None}, lambda conn, c=c: release(conn, c.id, cpu, mem))
                break  # re-plan without the failed host
            if not progressed:
                break
        await self.save(state=VmState.ERROR if deploy else VmState.STOPPED, host_id=None)
        raise Insufficient(f"Unable to create a deployment for VM {self.ref.id}: no host could take "
                           f"{cpu} MHz and {mem // 2**20} MiB ({summary(trace)})")

    def _vm_spec(self) -> dict[str, Any]:
        r = self.row
        return {"name": self.instance_name, "uuid": self.ref.id, "cpus": r["cpu_count"], "mhz": r["cpu_speed_mhz"],
                "ram_mb": r["ram_mb"], "type": r.get("type"), "ha": bool(r.get("ha_enabled")),
                "user_data": r.get("user_data")}

    async def _start_on(self, host_uuid: str, cluster_uuid: str | None) -> tuple[bool, str]:
        try:
            ans = await self.host.call_entity(host_ref(host_uuid, cluster_uuid), "command",
                                              {"name": Cmd.START, "args": {"vm": self._vm_spec()}})
        except ApiError as e:
            return False, e.text
        return bool(ans["ok"]), str(ans.get("error") or "")

    # -- stop and reboot ---------------------------------------------------------------------
    @operation(joinable=True)
    async def stop(self, forced: bool = False) -> dict[str, Any]:
        if self.state in (VmState.STOPPED, VmState.DESTROYED):
            return self._summary()
        if self.state not in (VmState.RUNNING, VmState.ERROR, VmState.STOPPING):
            raise ParamError(f"VM {self.ref.id} is {self.state}; it can only be stopped when Running")
        await self._stop(forced)
        return self._summary()

    async def _host_uuid(self, host_id: int) -> tuple[str, str | None]:
        async with self.host.engine.connect() as conn:
            r = (await conn.execute(select(T_HOST.c.uuid, T_CLUSTER.c.uuid.label("c")).select_from(
                T_HOST.outerjoin(T_CLUSTER, T_HOST.c.cluster_id == T_CLUSTER.c.id)).where(T_HOST.c.id == host_id))).one()
        return r.uuid, r.c

    async def _stop(self, forced: bool) -> None:
        host_id = self.row.get("host_id")
        if self.state != VmState.STOPPING:
            await self.save(state=VmState.STOPPING)
        if host_id is not None:
            h, c = await self._host_uuid(host_id)
            try:
                ans = await self.host.call_entity(host_ref(h, c), "command",
                                                  {"name": Cmd.STOP, "args": {"vm": self.instance_name}})
                ok, why = bool(ans["ok"]), ans.get("error")
            except ApiError as e:
                ok, why = False, e.text
            if not ok and not forced:
                await self.save(state=VmState.RUNNING)
                raise ApiError(f"Failed to stop VM {self.ref.id}: {why}", 530)
        cpu, mem = self.demand
        changes = {"state": VmState.STOPPED, "host_id": None, "power_state": Power.OFF, "power_state_updated": utcnow()}
        if host_id is not None:
            changes["last_host_id"] = host_id
            await self._save_with(changes, lambda conn: release(conn, host_id, cpu, mem))
        else:
            await self.save(**changes)

    @operation()
    async def reboot(self) -> dict[str, Any]:
        if self.state != VmState.RUNNING or self.row.get("host_id") is None:
            raise ParamError(f"VM {self.ref.id} is {self.state}; only a Running VM can be rebooted")
        h, c = await self._host_uuid(self.row["host_id"])
        ans = await self.host.call_entity(host_ref(h, c), "command",
                                          {"name": Cmd.REBOOT, "args": {"vm": self.instance_name}})
        if not ans["ok"]:
            raise ApiError(f"Failed to reboot VM {self.ref.id}: {ans.get('error')}", 530)
        return self._summary()

    # -- live migration --------------------------------------------------------------------------
    @operation()
    async def migrate(self, host: str | None = None, cluster: str | None = None,
                      avoid: list[int] | None = None) -> dict[str, Any]:
        """Live-migrate a Running VM: to `host`, or to a planner-chosen host (in `cluster`).
        The destination's capacity is claimed before anything moves."""
        if self.state != VmState.RUNNING or self.row.get("host_id") is None:
            raise ParamError(f"VM {self.ref.id} is {self.state}; only a Running VM can be migrated")
        src_id = self.row["host_id"]
        cpu, mem = self.demand
        cpu_f = float(await self.host.config("cpu.overprovisioning.factor") or 1)
        mem_f = float(await self.host.config("mem.overprovisioning.factor") or 1)
        req = PlacementRequest(zone_id=self.row["zone_id"], cpu_mhz=cpu, mem_bytes=mem,
                               host_id=await self._ids(T_HOST, host), cluster_id=await self._ids(T_CLUSTER, cluster),
                               avoid=frozenset([src_id, *(avoid or [])]),
                               algorithm=await self.host.config("vm.allocation.algorithm") or "random")
        trace = Trace()
        async with self.host.engine.connect() as conn:
            cands = await candidates(conn, req, ha_tag=await self.host.config("ha.tag"), cpu_factor=cpu_f,
                                     mem_factor=mem_f, trace=trace)
        src_uuid, src_cluster = await self._host_uuid(src_id)
        for c in cands:
            try:
                # In flight, `last_host_id` names the destination: settle() can finish or undo the move.
                await self._save_with({"state": VmState.MIGRATING, "last_host_id": c.id},
                                      lambda conn, c=c: claim(conn, c.id, cpu, mem, cpu_f, mem_f))
            except Insufficient:
                trace.add(f"host {c.uuid}: lost the capacity race")
                continue
            ok, why = await self._move(src_uuid, src_cluster, c.uuid, c.cluster_uuid)
            if ok:
                await self._save_with({"state": VmState.RUNNING, "host_id": c.id, "pod_id": c.pod_id,
                                       "last_host_id": src_id}, lambda conn: release(conn, src_id, cpu, mem))
                return {**self._summary(), "from": src_uuid, "to": c.uuid}
            trace.add(f"host {c.uuid}: migration failed ({why})")
            await self._save_with({"state": VmState.RUNNING, "last_host_id": src_id},
                                  lambda conn, c=c: release(conn, c.id, cpu, mem))
        raise Insufficient(f"Unable to migrate VM {self.ref.id}: no host could take it ({summary(trace)})")

    async def _move(self, src: str, src_cluster: str | None, dst: str, dst_cluster: str | None) -> tuple[bool, str]:
        try:
            prep = await self.host.call_entity(host_ref(dst, dst_cluster), "command",
                                               {"name": Cmd.PREPARE_MIGRATION, "args": {"vm": self._vm_spec()}})
            if not prep["ok"]:
                return False, str(prep.get("error"))
            ans = await self.host.call_entity(host_ref(src, src_cluster), "command",
                                              {"name": Cmd.MIGRATE, "args": {"vm": self.instance_name, "dest": dst}})
        except ApiError as e:
            return False, e.text
        return bool(ans["ok"]), str(ans.get("error") or "")

    # -- HA ------------------------------------------------------------------------------------
    @operation(joinable=True)
    async def ha_restart(self, failed_host_id: int | None, restart: bool = True) -> dict[str, Any]:
        """Its host is Down and fenced: let go of it, then start elsewhere if HA-enabled."""
        host_id = self.row.get("host_id")
        if failed_host_id is not None and host_id == failed_host_id and self.state in (
                VmState.RUNNING, VmState.STARTING, VmState.STOPPING, VmState.MIGRATING):
            cpu, mem = self.demand
            await self._save_with({"state": VmState.STOPPED, "host_id": None, "power_state": Power.OFF,
                                   "last_host_id": host_id, "power_state_updated": utcnow()},
                                  lambda conn: release(conn, host_id, cpu, mem))
        if restart and self.state in (VmState.STOPPED, VmState.ERROR):
            return await self._start(ha=True)
        return self._summary()

    @operation()
    async def power_report(self, host_id: int, power: str, host_uuid: str | None = None,
                           cluster_uuid: str | None = None) -> dict[str, Any]:
        """A host's ping disagrees with the store. Runs in the VM's mailbox, after any operation
        already queued, and only touches stable states: a late report cannot undo a newer operation."""
        if self.state in self.transitional:
            return self._summary()
        mine = self.row.get("host_id") == host_id
        if power == "PowerOff" and mine and self.state == VmState.RUNNING:
            cpu, mem = self.demand
            await self._save_with({"state": VmState.STOPPED, "host_id": None, "power_state": Power.OFF,
                                   "last_host_id": host_id, "power_state_updated": utcnow()},
                                  lambda conn: release(conn, host_id, cpu, mem))
            restart = (await self.host.config("ha.vm.restart.hostup")).lower() == "true"
            if self.row.get("ha_enabled") and restart:
                try:
                    await self._start(ha=True)
                except Insufficient:
                    log.warning("vm %s vanished from its host and could not be restarted", self.ref)
        elif power == "PowerOn" and not mine and host_uuid is not None:
            if self.state == VmState.STOPPED and self.row.get("host_id") is None:
                # Running where we thought it stopped: adopt it there, with its capacity.
                cpu, mem = self.demand
                cpu_f = float(await self.host.config("cpu.overprovisioning.factor") or 1)
                mem_f = float(await self.host.config("mem.overprovisioning.factor") or 1)
                try:
                    await self._save_with({"state": VmState.RUNNING, "host_id": host_id, "power_state": Power.ON,
                                           "power_state_updated": utcnow()},
                                          lambda conn: claim(conn, host_id, cpu, mem, cpu_f, mem_f))
                    return self._summary()
                except Insufficient:
                    pass
            # Running on a host the store does not name: it must not run twice, stop that copy.
            await self.host.call_entity(host_ref(host_uuid, cluster_uuid), "command",
                                        {"name": Cmd.STOP, "args": {"vm": self.instance_name}})
        return self._summary()

    async def _settle_migration(self, src_id: int, src_power: str) -> None:
        """A move was cut off: the VM is wherever it actually runs; the other claim is given back."""
        dst_id = int(self.row["last_host_id"])
        h, c = await self._host_uuid(dst_id)
        try:
            ans = await self.host.call_entity(host_ref(h, c), "command", {
                "name": Cmd.CHECK_VM, "args": {"vm": self.instance_name}, "timeout": 10.0})
            on_dst = ans["ok"] and ans["result"].get("state") == Power.ON
        except ApiError:
            on_dst = False
        cpu, mem = self.demand
        if on_dst:
            await self._save_with({"state": VmState.RUNNING, "host_id": dst_id, "last_host_id": src_id},
                                  lambda conn: release(conn, src_id, cpu, mem))
        else:
            await self._save_with({"state": VmState.RUNNING, "last_host_id": src_id},
                                  lambda conn: release(conn, dst_id, cpu, mem))

    # -- recovery ------------------------------------------------------------------------------
    async def settle(self) -> None:
        """A dead process left this VM half-way: ask its host, never guess towards two copies."""
        host_id = self.row.get("host_id")
        power = Power.UNKNOWN
        if host_id is not None:
            h, c = await self._host_uuid(host_id)
            try:
                ans = await self.host.call_entity(host_ref(h, c), "command",
                                                  {"name": Cmd.CHECK_VM, "args": {"vm": self.instance_name},
                                                   "timeout": 10.0})
                power = ans["result"].get("state", Power.UNKNOWN) if ans["ok"] else Power.UNKNOWN
            except ApiError:
                power = Power.UNKNOWN
        if self.state == VmState.MIGRATING and self.row.get("last_host_id") not in (None, host_id):
            await self._settle_migration(host_id, power)
            return
        if self.state == VmState.EXPUNGING:
            await self.save(removed=utcnow(), host_id=None)
        elif power == Power.ON:
            await self.save(state=VmState.RUNNING, power_state=Power.ON)
        elif power == Power.UNKNOWN and host_id is not None:
            # Cannot tell: keep it where it is, Running; power-state sync and HA decide later.
            await self.save(state=VmState.RUNNING, power_state=Power.UNKNOWN)
        else:
            cpu, mem = self.demand
            changes = {"state": VmState.STOPPED, "host_id": None, "power_state": Power.OFF}
            if host_id is not None:
                await self._save_with(changes, lambda conn: release(conn, host_id, cpu, mem))
            else:
                await self.save(**changes)
