"""Virtual machines as entity actors: CloudStack's lifecycle (vmstate.py),
placement by claiming capacity (vmstart.py), moves (vmmove.py), in-place
changes (vmchange.py) and agent commands through the host entity.

A start records the chosen host and claims its capacity in one transaction,
so a crash can never leak a claim; `settle()` asks the host what happened to
a VM a dead process left in Starting, Stopping or Migrating.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.actors.entity import operation
from cloudplane.actors.identity import EntityRef
from cloudplane.actors.kinds.annex import forget_annex
from cloudplane.actors.kinds.limits import reservation, vm_need, volumes_need
from cloudplane.actors.kinds.vmbase import T_VM, placement_cache
from cloudplane.actors.kinds.vmvolumes import VmVolumes, forget_vm_snapshots
from cloudplane.actors.kinds.vmdisks import Storage, expunge_volumes, forget_volumes, volume_values
from cloudplane.actors.kinds.vmkeys import write_ssh_keys
from cloudplane.actors.kinds.vmplace import T_AGVM, Groups, release_host
from cloudplane.actors.kinds.vmstate import VmState, check
from cloudplane.agentproto import Cmd, Power
from cloudplane.errors import ApiError, Insufficient, ParamError
from cloudplane.store import limits, prepared
from cloudplane.store.base import utcnow
from cloudplane.store.capacity import claim
from cloudplane.store.tables.network import Network, Nic
from cloudplane.store.tables.storage import Volume

log = logging.getLogger(__name__)
T_NET: Table = Network.__table__  # type: ignore[attr-defined]
T_NIC: Table = Nic.__table__  # type: ignore[attr-defined]
T_VOL: Table = Volume.__table__  # type: ignore[attr-defined]
PREFIX = {"User": "i", "SecondaryStorageVm": "s", "ConsoleProxy": "v", "DomainRouter": "r"}
# A new row in full: the columns' scalar defaults under the values a deploy gives.
ROW_DEFAULTS: dict[str, Any] = {c.name: (c.default.arg if c.default is not None and c.default.is_scalar else None)
                                for c in T_VM.columns if c.name != "id"}
_INSERT, _INSERT_VOL, _INSERT_MEMBER = T_VM.insert(), T_VOL.insert(), T_AGVM.insert()
_NAMES = update(T_VM).where(T_VM.c.id == bindparam("vid")).values(
    instance_name=bindparam("b_iname"), name=bindparam("b_name"), display_name=bindparam("b_dname"))


def _changed_since(updated: datetime | None, seen: float | None) -> bool:
    """Whether the VM changed after `seen` (epoch seconds); naive times are UTC."""
    if updated is None or seen is None:
        return False
    if updated.tzinfo is None:
        updated = updated.replace(tzinfo=timezone.utc)
    return updated.timestamp() > seen


class VmEntity(VmVolumes):
    kind = "vm"

    # -- birth and death -------------------------------------------------------------------
    @operation(creates=True)
    async def create(self, values: dict[str, Any], start: bool = False, nets: list[dict[str, Any]] | None = None,
                     volumes: list[dict[str, Any]] | None = None, groups: dict[str, list[Any]] | None = None,
                     keys: dict[str, str] | None = None, **start_args: Any) -> dict[str, Any]:
        """Deploy: the VM's row, its volumes, affinity memberships and SSH keys in one transaction,
        then its NICs (each network hands out its own), then (if asked) a start."""
        g = Groups(tuple(groups.get("anti", ())), tuple(groups.get("affinity", ())), tuple(groups.get("names", ())))\
            if groups else Groups()
        fresh = self.unborn
        if fresh:
            await self._birth(values, volumes or [], g, keys)
            try:
                for i, n in enumerate(nets or []):
                    await self.host.call_entity(EntityRef("network", n["network"]), "allocate_nic", {
                        "vm_id": self.row["id"], "device": i, "default": i == 0, "ip": n.get("ip")})
            except ApiError:
                await self._unbirth()  # nothing may be left half-created
                raise
        if start and self.state != VmState.RUNNING:
            storage = Storage(sum(int(v["size"]) for v in volumes or [])) if fresh else None
            networks = list(dict.fromkeys(n["network"] for n in nets or [])) if fresh else None
            return await self._start(deploy=True, groups=g if fresh else None, storage=storage, networks=networks,
                                     **start_args)
        return self._summary()

    async def _birth(self, values: dict[str, Any], volumes: list[dict[str, Any]], g: Groups,
                     keys: dict[str, str] | None = None) -> None:
        """One transaction: the row (built here in full, so nothing is read back), its
        hypervisor name once the id is known, its volumes and its group memberships."""
        now = utcnow()
        row = {**ROW_DEFAULTS, **values, "uuid": self.ref.id, "version": 1, "created": now, "updated": now,
               "state": VmState.STOPPED, "placement_key": self.ref.key}
        vm_uuid = self.ref.id
        need = {**vm_need(row), **volumes_need(row, [int(v["size"]) for v in volumes])}
        defaults = await reservation(self.host, row["account_id"], need)

        async def work(conn: AsyncConnection) -> dict[str, Any]:
            # The account's counts first: a refusal (532) has written nothing.
            await limits.reserve(conn, row["account_id"], need, defaults)
            vm_id = (await prepared.execute(conn, _INSERT, row)).inserted_primary_key[0]
            prefix = PREFIX.get(row.get("type") or "User", "i")
            names = {"instance_name": f"i-{row['account_id']}-{vm_id}-VM" if prefix == "i" else f"{prefix}-{vm_id}-VM",
                     "name": row["name"], "display_name": row.get("display_name")}
            if row.get("name") in (None, "", "vm"):
                names["name"] = f"VM-{vm_uuid}"
                names["display_name"] = row.get("display_name") or names["name"]
            await prepared.execute(conn, _NAMES, {"vid": vm_id, "b_iname": names["instance_name"],
                                                  "b_name": names["name"], "b_dname": names["display_name"]})
            vm = {**row, **names, "id": vm_id}
            if volumes:
                await prepared.executemany(conn, _INSERT_VOL, volume_values(vm, volumes))
            if g.ids:
                await prepared.executemany(conn, _INSERT_MEMBER,
                                           [{"affinity_group_id": i, "instance_id": vm_id} for i in g.ids])
            if keys:
                await write_ssh_keys(conn, vm_id, keys)
            return vm

        self.row = await self.host.writer.submit(work)
        self.unborn = False

    async def _unbirth(self) -> None:
        await self._release_nics()
        vm_id = self.row["id"]

        async def work(conn: AsyncConnection) -> None:
            await limits.release(conn, self.row["account_id"], {**vm_need(self.row), **await self._root_need(conn)})
            await forget_volumes(conn, vm_id)
            await write_ssh_keys(conn, vm_id, None)
            await conn.execute(delete(T_AGVM).where(T_AGVM.c.instance_id == vm_id))

        await self._save_with({"removed": utcnow(), "state": VmState.EXPUNGING}, work)

    async def _root_need(self, conn: AsyncConnection, root_only: bool = False) -> dict[str, int]:
        """What the VM's volumes (or only its ROOT volume) count, before they go."""
        q = select(T_VOL.c.size_bytes).where(T_VOL.c.instance_id == self.row["id"], T_VOL.c.removed.is_(None))
        if root_only:
            q = q.where(T_VOL.c.volume_type == "ROOT")
        return volumes_need(self.row, [int(r[0]) for r in (await conn.execute(q)).all()])

    async def _give_back_vm(self, conn: AsyncConnection) -> None:
        await limits.release(conn, self.row["account_id"], vm_need(self.row))

    @operation()
    async def destroy(self, expunge: bool = False) -> dict[str, Any]:
        if self.row.get("removed") is not None:
            return self._summary()
        if self.state in (VmState.RUNNING, VmState.STARTING, VmState.STOPPING):
            await self._stop(forced=True)
        if self.state in (VmState.STOPPED, VmState.ERROR):
            check(self.state, VmState.DESTROYED)
            # A destroyed VM no longer counts (its volumes do, until expunged).
            await self._save_with({"state": VmState.DESTROYED}, self._give_back_vm)
        if expunge:
            await self._expunge()
        return self._summary()

    @operation()
    async def expunge(self) -> dict[str, Any]:
        if self.row.get("removed") is None:
            await self._expunge()
        return {"success": True}

    async def _expunge(self) -> None:
        if self.state not in (VmState.DESTROYED, VmState.ERROR, VmState.EXPUNGING):
            raise ParamError(f"VM {self.ref.id} must be destroyed before it is expunged (it is {self.state})")
        if self.state == VmState.ERROR:  # never destroyed: it still counts
            await self._save_with({"state": VmState.EXPUNGING}, self._give_back_vm)
        elif self.state != VmState.EXPUNGING:
            await self.save(state=VmState.EXPUNGING)
        await self._release_nics()
        vm_id = self.row["id"]

        async def work(conn: AsyncConnection) -> None:
            await limits.release(conn, self.row["account_id"], await self._root_need(conn, root_only=True))
            await expunge_volumes(conn, vm_id)
            await forget_vm_snapshots(conn, vm_id)
            await conn.execute(delete(T_AGVM).where(T_AGVM.c.instance_id == vm_id))
            await forget_annex(conn, "UserVm", vm_id)  # its tags and details (SSH keys among them)

        await self._save_with({"removed": utcnow(), "host_id": None}, work)

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
        if self.state != VmState.DESTROYED or self.row.get("removed") is not None:
            raise ParamError(f"VM {self.ref.id} is {self.state}, not Destroyed: nothing to recover")
        need = vm_need(self.row)
        defaults = await reservation(self.host, self.row["account_id"], need)
        await self._transact({"state": VmState.STOPPED},
                             lambda conn: limits.reserve(conn, self.row["account_id"], need, defaults))
        return self._summary()

    # -- start, stop, reboot -----------------------------------------------------------------
    @operation(joinable=True)
    async def start(self, host: str | None = None, cluster: str | None = None, pod: str | None = None,
                    ha: bool = False, planner: str | None = None, root_admin: bool = False) -> dict[str, Any]:
        return await self._start(host=host, cluster=cluster, pod=pod, ha=ha, planner=planner, root_admin=root_admin)

    @operation(joinable=True)
    async def stop(self, forced: bool = False) -> dict[str, Any]:
        if self.state in (VmState.STOPPED, VmState.DESTROYED):
            return self._summary()
        if self.state not in (VmState.RUNNING, VmState.ERROR, VmState.STOPPING):
            raise ParamError(f"VM {self.ref.id} is {self.state}; it can only be stopped when Running")
        await self._stop(forced)
        return self._summary()

    async def _stop(self, forced: bool) -> None:
        host_id = self.row.get("host_id")
        if self.state != VmState.STOPPING:
            await self.save(state=VmState.STOPPING)
        if host_id is not None:
            ok, why, _ = await self._agent_here(Cmd.STOP, {"vm": self.instance_name, "forced": forced})
            if not ok and not forced:
                await self.save(state=VmState.RUNNING)
                raise ApiError(f"Failed to stop VM {self.ref.id}: {why}", 530)
        changes: dict[str, Any] = {"state": VmState.STOPPED, "host_id": None, "power_state": Power.OFF,
                                   "power_state_updated": utcnow()}
        if host_id is not None:
            changes["last_host_id"] = host_id
        await self._release_to(changes, host_id)

    @operation()
    async def reboot(self) -> dict[str, Any]:
        if self.state != VmState.RUNNING or self.row.get("host_id") is None:
            raise ParamError(f"VM {self.ref.id} is {self.state}; only a Running VM can be rebooted")
        ok, why, _ = await self._agent_here(Cmd.REBOOT, {"vm": self.instance_name})
        if not ok:
            raise ApiError(f"Failed to reboot VM {self.ref.id}: {why}", 530)
        return self._summary()

    # -- HA and power-state reports ----------------------------------------------------------
    @operation(joinable=True)
    async def ha_restart(self, failed_host_id: int | None, restart: bool = True) -> dict[str, Any]:
        """Its host is Down and fenced: let go of it, then start elsewhere if HA-enabled."""
        host_id = self.row.get("host_id")
        if self.state == VmState.MIGRATING and self.row.get("last_host_id") not in (None, host_id):
            # Caught mid-move: it ends up on one side and the other claim is given back.
            await self._settle_migration(host_id)
            host_id = self.row.get("host_id")
        if failed_host_id is not None and host_id == failed_host_id and self.state in (
                VmState.RUNNING, VmState.STARTING, VmState.STOPPING, VmState.MIGRATING):
            await self._release_to({"state": VmState.STOPPED, "host_id": None, "power_state": Power.OFF,
                                    "last_host_id": host_id, "power_state_updated": utcnow()}, host_id)
        if restart and self.state in (VmState.STOPPED, VmState.ERROR):
            return await self._start(ha=True)
        return self._summary()

    @operation()
    async def power_report(self, host_id: int, power: str, host_uuid: str | None = None,
                           cluster_uuid: str | None = None, seen: float | None = None) -> dict[str, Any]:
        """A host's ping disagrees with the store. Runs in the VM's mailbox, after any operation
        already queued, and only touches stable states; a report taken (`seen`, epoch seconds)
        before the VM's last change describes the past and is ignored, or a ping that still saw
        the VM running, answered just before its stop, would bring it back. An ignored report
        says `stale`, and the host compares its next ping again."""
        if self.state in self.transitional or _changed_since(self.row.get("updated"), seen):
            return {**self._summary(), "stale": True}
        mine = self.row.get("host_id") == host_id
        if power == "PowerOff" and mine and self.state == VmState.RUNNING:
            await self._release_to({"state": VmState.STOPPED, "host_id": None, "power_state": Power.OFF,
                                    "last_host_id": host_id, "power_state_updated": utcnow()}, host_id)
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
                try:
                    await self._transact({"state": VmState.RUNNING, "host_id": host_id, "power_state": Power.ON,
                                          "power_state_updated": utcnow()},
                                         lambda conn: claim(conn, host_id, cpu, mem, *self._factors(host_id)))
                    return self._summary()
                except Insufficient:
                    pass
            # Running on a host the store does not name: it must not run twice, stop that copy.
            await self._agent(host_uuid, cluster_uuid, Cmd.STOP, {"vm": self.instance_name, "forced": True})
        return self._summary()

    def _factors(self, host_id: int) -> tuple[float, float]:
        snap = placement_cache(self.host).peek(self.row["zone_id"])
        h = snap.hosts.get(host_id) if snap is not None else None
        if snap is None or h is None:
            return 1.0, 1.0
        c = snap.clusters[h.cluster_id]
        return c.cpu_factor, c.mem_factor

    # -- recovery ------------------------------------------------------------------------------
    async def _settle_migration(self, src_id: int) -> None:
        """A move was cut off: the VM is wherever it actually runs; the other claim is given back."""
        dst_id = int(self.row["last_host_id"])
        h, c = await self._host_uuid(dst_id)
        ok, _, res = await self._agent(h, c, Cmd.CHECK_VM, {"vm": self.instance_name}, timeout=10.0)
        cpu, mem = self.demand
        if ok and res.get("state") == Power.ON:
            await self._save_with({"state": VmState.RUNNING, "host_id": dst_id, "last_host_id": src_id},
                                  lambda conn: release_host(conn, src_id, cpu, mem))
        else:
            await self._save_with({"state": VmState.RUNNING, "last_host_id": src_id},
                                  lambda conn: release_host(conn, dst_id, cpu, mem))

    async def settle(self) -> None:
        """A dead process left this VM half-way: ask its host, never guess towards two copies."""
        host_id = self.row.get("host_id")
        power = Power.UNKNOWN
        if host_id is not None:
            h, c = await self._host_uuid(host_id)
            ok, _, res = await self._agent(h, c, Cmd.CHECK_VM, {"vm": self.instance_name}, timeout=10.0)
            power = res.get("state", Power.UNKNOWN) if ok else Power.UNKNOWN
        if self.state == VmState.MIGRATING and self.row.get("last_host_id") not in (None, host_id):
            await self._settle_migration(host_id)
            return
        if self.state == VmState.EXPUNGING:
            await self._expunge()  # idempotent: NICs, ROOT volume, then the row
        elif power == Power.ON:
            await self.save(state=VmState.RUNNING, power_state=Power.ON)
        elif power == Power.UNKNOWN and host_id is not None:
            # Cannot tell: keep it where it is, Running; power-state sync and HA decide later.
            await self.save(state=VmState.RUNNING, power_state=Power.UNKNOWN)
        else:
            await self._release_to({"state": VmState.STOPPED, "host_id": None, "power_state": Power.OFF}, host_id)
