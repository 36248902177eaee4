"""Changing a VM in place: its size (scaleVirtualMachine,
changeServiceForVirtualMachine), its ROOT volume (restoreVirtualMachine),
its ISO, its password, its SSH keys and its affinity groups.

The API handlers check what a caller may ask for (offerings, templates,
policy settings); these operations check the VM's own state and keep the
capacity rows exact: scaling a running VM claims the difference on its host,
by the same conditional UPDATE as a start.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.actors.entity import operation
from cloudplane.actors.kinds.limits import negate, reservation, vm_need
from cloudplane.actors.kinds.vmbase import placement_cache
from cloudplane.actors.kinds.vmdisks import replace_root, zone_ratios
from cloudplane.actors.kinds.vmkeys import write_ssh_keys
from cloudplane.actors.kinds.vmmove import VmMoves
from cloudplane.actors.kinds.vmplace import T_AGVM, release_host
from cloudplane.actors.kinds.vmstate import VmState
from cloudplane.agentproto import Cmd
from cloudplane.errors import ApiError, ParamError
from cloudplane.store import limits
from cloudplane.store.capacity import claim

SCALE_VM = "ScaleVmCommand"  # CloudStack's agent command name


class VmChanges(VmMoves):
    # -- size ------------------------------------------------------------------------------------
    @operation()
    async def scale(self, offering_id: int, cpu_count: int, cpu_speed_mhz: int, ram_mb: int,
                    running_allowed: bool = False, why_not: str = "") -> dict[str, Any]:
        """A new offering (and size). A Stopped VM just takes it; a Running one only grows,
        with dynamic scaling allowed, by claiming the difference on its host."""
        new = {"service_offering_id": offering_id, "cpu_count": cpu_count, "cpu_speed_mhz": cpu_speed_mhz,
               "ram_mb": ram_mb}
        # What the account's counts change by (a scale-down gives back).
        delta = {"cpu": cpu_count - int(self.row["cpu_count"]), "memory": ram_mb - int(self.row["ram_mb"])} \
            if vm_need(self.row) else {}
        account = self.row["account_id"]
        defaults = await reservation(self.host, account, delta)
        if self.state in (VmState.STOPPED, VmState.ERROR):
            await self._transact(new, lambda conn: limits.reserve(conn, account, delta, defaults))
            return self._summary()
        if self.state != VmState.RUNNING or self.row.get("host_id") is None:
            raise ParamError(f"VM {self.ref.id} is {self.state}; it can be scaled when Stopped, or Running "
                             "with dynamic scaling")
        if not running_allowed:
            raise ParamError(f"Unable to scale VM {self.ref.id} while it is Running: {why_not or 'stop it first'}")
        old_cpu, old_mem = self.demand
        cpu, mem = cpu_count * cpu_speed_mhz, ram_mb * 2**20
        if cpu < old_cpu or mem < old_mem or cpu_count < self.row["cpu_count"]:
            raise ParamError("Only scaling up the vm is supported, new service offering(cpu, memory) should be "
                             "greater than the old one")
        host_id = self.row["host_id"]
        snap = await placement_cache(self.host).get(self.row["zone_id"], 0.0)
        h = snap.hosts.get(host_id)
        cl = snap.clusters.get(h.cluster_id) if h is not None else None
        cpu_f, mem_f = (cl.cpu_factor, cl.mem_factor) if cl is not None else (1.0, 1.0)
        dcpu, dmem = cpu - old_cpu, mem - old_mem
        old = {k: self.row[k] for k in new}

        async def grow(conn: AsyncConnection) -> None:  # its own transaction: either refusal undoes both
            await claim(conn, host_id, dcpu, dmem, cpu_f, mem_f)
            await limits.reserve(conn, account, delta, defaults)

        async def undo(conn: AsyncConnection) -> None:
            await release_host(conn, host_id, dcpu, dmem)
            await limits.reserve(conn, account, negate(delta), defaults)  # negative: never refuses

        await self._transact(new, grow)
        ok, why, _ = await self._agent_here(SCALE_VM, {"vm": self._vm_spec()})
        if not ok:
            await self._save_with(old, undo)
            raise ApiError(f"Failed to scale VM {self.ref.id} on its host: {why}", 530)
        snap.adjust(host_id, dcpu, dmem)
        return self._summary()

    # -- ROOT volume ---------------------------------------------------------------------------------
    @operation()
    async def restore(self, template_id: int | None, root_size: int) -> dict[str, Any]:
        """A new ROOT volume from the template (the VM's own, or a new one); a Running VM
        is stopped for it and started again."""
        if self.state not in (VmState.RUNNING, VmState.STOPPED):
            raise ParamError(f"VM {self.ref.id} is {self.state}; it can be restored when Running or Stopped")
        was_running = self.state == VmState.RUNNING
        if was_running:
            await self._stop(forced=False)
        tpl = template_id if template_id is not None else self.row.get("template_id")
        ratio = await zone_ratios(self.host.engine, self.row["zone_id"])
        vm = dict(self.row)

        async def work(conn: AsyncConnection) -> str:
            return await replace_root(conn, vm, tpl, root_size, ratio)

        await self._transact({"template_id": tpl}, work)
        placement_cache(self.host).invalidate(self.row["zone_id"])
        if was_running:
            return await self._start()
        return self._summary()

    # -- ISO -------------------------------------------------------------------------------------------
    @operation()
    async def attach_iso(self, iso_id: int, iso_uuid: str, display_name: str = "") -> dict[str, Any]:
        if self.state not in (VmState.RUNNING, VmState.STOPPED):
            raise ParamError(f"VM {self.ref.id} is {self.state}; an ISO can be attached when Running or Stopped")
        if self.row.get("iso_id") is not None:
            raise ParamError(f"An ISO is already attached to VM {self.row.get('display_name') or self.row['name']}")
        if self.state == VmState.RUNNING:
            ok, why, _ = await self._agent_here(Cmd.ATTACH, {"vm": self.instance_name, "iso": iso_uuid})
            if not ok:
                raise ApiError(f"Failed to attach ISO {iso_uuid} to VM {self.ref.id}: {why}", 530)
        await self.save(iso_id=iso_id)
        return self._summary()

    @operation()
    async def detach_iso(self) -> dict[str, Any]:
        if self.row.get("iso_id") is None:
            raise ParamError("The specified VM has no ISO attached to it.")
        if self.state == VmState.RUNNING:
            ok, why, _ = await self._agent_here(Cmd.DETACH, {"vm": self.instance_name, "iso": True})
            if not ok:
                raise ApiError(f"Failed to detach the ISO from VM {self.ref.id}: {why}", 530)
        await self.save(iso_id=None)
        return self._summary()

    # -- password -----------------------------------------------------------------------------------
    @operation()
    async def reset_password(self, encrypted: str) -> dict[str, Any]:
        """A new password (already encrypted with the server key by the API node)."""
        if self.state in (VmState.ERROR, VmState.EXPUNGING, VmState.DESTROYED):
            raise ParamError(f"Vm with id {self.ref.id} is not in the right state")
        if self.state != VmState.STOPPED:
            raise ParamError(f"Vm {self.ref.id} should be stopped to do password reset")
        await self.save(password=encrypted)
        return self._summary()

    # -- SSH keys ------------------------------------------------------------------------------------
    @operation()
    async def reset_ssh_keys(self, keys: dict[str, str]) -> dict[str, Any]:
        """resetSSHKeyForVirtualMachine: new key pairs for a Stopped VM (its next start takes them)."""
        if self.state != VmState.STOPPED:
            raise ParamError(f"Vm {self.ref.id} should be stopped to do SSH Key reset")
        vm_id = self.row["id"]
        await self._transact({}, lambda conn: write_ssh_keys(conn, vm_id, keys))
        return self._summary()

    # -- affinity groups -----------------------------------------------------------------------------
    @operation()
    async def set_affinity_groups(self, groups: list[int]) -> dict[str, Any]:
        """updateVMAffinityGroup: the VM's groups replaced (it must be Stopped)."""
        if self.state != VmState.STOPPED:
            raise ParamError(f"VM {self.ref.id} is {self.state}: its affinity groups can only be changed while "
                             "it is Stopped")
        vm_id = self.row["id"]

        async def work(conn: AsyncConnection) -> None:
            await conn.execute(delete(T_AGVM).where(T_AGVM.c.instance_id == vm_id))
            if groups:
                await conn.execute(insert(T_AGVM), [{"affinity_group_id": g, "instance_id": vm_id}
                                                    for g in dict.fromkeys(groups)])

        await self._transact({}, work)
        return self._summary()

