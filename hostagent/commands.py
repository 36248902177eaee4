"""The agent command set (CloudStack's names, `agentproto.Cmd`) on a real host.

`HostCommands.handle(name, args)` answers one command with an `agentproto.Answer`,
in the same shapes as the simulator (`simulator/agent.py`), so the management
server cannot tell the two apart:

    StartCommand                {"vm": {...}}              -> {"vm", "state": "PowerOn"}
    StopCommand                 {"vm", "forced"?, "timeout"?} -> {"vm", "state": "PowerOff", "existed"}
    RebootCommand               {"vm"}                     -> {"vm", "state": "PowerOn"}
    PrepareForMigrationCommand  {"vm": {...}}              -> {"vm"}
    MigrateCommand              {"vm", "dest", "dest_ip"? | "dest_uri"?} -> {"vm", "dest"}
    CheckVirtualMachineCommand  {"vm"}                     -> {"vm", "state": "PowerOn" | "PowerOff"}
    CheckHealthCommand          {}                         -> {"healthy": true}
    CheckOnHostCommand          {"host"}                   -> {"alive": null}  (no shared heartbeat yet)
    ReadyCommand, MaintainCommand                          -> {}
    ModifyStoragePoolCommand    {"pool", "type": dir|netfs, "path", "host"?, "export"?, "delete"?}
    CreateCommand               {"pool"?, "volume", "size", "format"?, "backing"?} -> {"path"}
    DestroyCommand              {"pool"?, "volume"}
    CopyCommand                 {"src", "pool"?, "volume"}  -> {"path"}
    AttachCommand / DettachCommand {"vm", "iso": path | true (detach)}

Operations on one VM run one at a time (a per-instance lock); different VMs
proceed concurrently. Host-side errors become failed answers carrying the
error's `retryable`; malformed arguments fail terminally. A StopCommand powers
the guest off and removes its definition, as CloudStack's KVM agent does: the
management server sends the whole VM again on the next start, on any host.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from cloudplane.agentproto import Answer, Capacity, Cmd, Power
from cloudplane.hostagent import images
from cloudplane.hostagent.config import AgentConfig
from cloudplane.hostagent.driver import LibvirtDriver
from cloudplane.hostagent.errors import AgentError, InvalidState, NotFound
from cloudplane.hostagent.netrefs import NetworkRefs
from cloudplane.hostagent.spec import DiskFormat, DiskSpec, DiskType, HostCapacity, VmPowerState
from cloudplane.hostagent.vmargs import ROOT_DEVICE_ID, PoolRef, StartRequest, guest_networks, start_request

log = logging.getLogger(__name__)

DIR_POOL_TYPES = frozenset({"Filesystem", "SharedMountPoint", "dir"})  # a directory on this host
NFS_POOL_TYPES = frozenset({"NetworkFilesystem", "netfs"})
NFS_MOUNT_ROOT = "/mnt"  # an NFS pool is mounted on /mnt/<pool uuid>, as CloudStack's KVM agent does

AGENT_VERSION = "cloudplane-agent-1"
Handler = Callable[["HostCommands", dict[str, Any]], Awaitable[Answer]]


def report_capacity(cap: HostCapacity, cfg: AgentConfig) -> Capacity:
    """What the startup message offers: memory minus the host's reserve (never more
    than half of it), the CPU speed from the configuration when libvirt's is wrong."""
    reserved = min(cfg.reserved_mem_mb * 2**20, cap.memory_bytes // 2)
    return Capacity(cpus=cap.cpus, cpu_speed_mhz=cfg.cpu_mhz or cap.cpu_mhz,
                    memory_bytes=cap.memory_bytes - reserved, local_storage_bytes=cap.local_storage_bytes,
                    cpu_sockets=cap.cpu_sockets, hypervisor="KVM", hypervisor_version=cap.hypervisor_version,
                    agent_version=AGENT_VERSION)


def _vm_name(args: dict[str, Any]) -> str:
    vm = args.get("vm")
    name = vm.get("name") if isinstance(vm, dict) else vm
    if not name:
        raise ValueError("the command names no vm")
    return str(name)


class HostCommands:
    """The command handlers over one libvirt connection (`driver` may be replaced
    when the daemon reconnects to libvirtd)."""

    def __init__(self, driver: LibvirtDriver, cfg: AgentConfig, refs: NetworkRefs | None = None) -> None:
        self.driver = driver
        self.cfg = cfg
        self.refs = refs if refs is not None else NetworkRefs(cfg.netns)
        self._locks: dict[str, asyncio.Lock] = {}
        self._vm_nets: dict[str, list[Any]] = {}  # instance -> the guest networks it holds here
        self._pool_dirs: dict[str, str] = {}  # pools defined for StartCommands -> their directories

    # -- reports ----------------------------------------------------------------------
    async def capacity(self) -> Capacity:
        return report_capacity(await self.driver.capacity(), self.cfg)

    async def power_states(self) -> dict[str, str]:
        return {name: state.cloudstack for name, state in (await self.driver.power_states()).items()}

    # -- dispatch --------------------------------------------------------------------
    async def handle(self, name: str, args: dict[str, Any]) -> Answer:
        handler = _HANDLERS.get(name)
        if handler is None:
            return Answer(False, error=f"{name} is not supported by the cloudplane KVM agent")
        try:
            return await handler(self, args)
        except AgentError as err:
            log.warning("%s failed: %s", name, err.message)
            return Answer(False, error=err.message, retryable=err.retryable)
        except (ValueError, KeyError, TypeError) as err:
            return Answer(False, error=f"bad {name} arguments: {err}")

    @asynccontextmanager
    async def _serial(self, vm: str) -> Any:
        lock = self._locks.setdefault(vm, asyncio.Lock())
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and self._locks.get(vm) is lock:
                del self._locks[vm]

    # -- guest networks ------------------------------------------------------------------
    def _vxlan(self) -> tuple[str, str, str] | None:
        v = self.cfg.vxlan
        return None if v is None else (v.device, v.local_ip, v.group)

    async def _acquire_networks(self, req: StartRequest) -> None:
        nets = guest_networks(req.nics, self._vxlan())
        held: list[Any] = []
        try:
            for net in nets:
                await self.refs.acquire(net, req.name)
                held.append(net)
        except BaseException:
            for net in held:
                await self.refs.release(net, req.name)
            raise
        self._vm_nets[req.name] = nets

    async def _release_networks(self, vm: str) -> None:
        for net in self._vm_nets.pop(vm, []):
            try:
                await self.refs.release(net, vm)
            except AgentError as err:  # the bridge stays; the next release retries
                log.warning("releasing %s for %s: %s", net, vm, err.message)

    # -- storage ---------------------------------------------------------------------------
    def _pool_file(self, pool: str, volume: str) -> str:
        if pool in self._pool_dirs:
            return str(Path(self._pool_dirs[pool]) / volume)
        if pool != self.cfg.pool or self.cfg.pool_path is None:
            raise InvalidState(f"volume {pool}/{volume}: only the local pool's directory is known here "
                               "(set local.storage.path)")
        return str(Path(self.cfg.pool_path) / volume)

    async def _ensure_pool(self, pool: PoolRef) -> None:
        """Define (idempotently) a primary storage pool the management server described."""
        if pool.type in DIR_POOL_TYPES and pool.path:
            await self.driver.create_pool_dir(pool.name, pool.path)
            self._pool_dirs[pool.name] = pool.path
        elif pool.type in NFS_POOL_TYPES and pool.host and pool.path:
            target = f"{NFS_MOUNT_ROOT}/{pool.name}"
            await self.driver.create_pool_netfs(pool.name, pool.host, pool.path, target)
            self._pool_dirs[pool.name] = target
        else:
            raise InvalidState(f"storage pool {pool.name} of type {pool.type} is not supported by the "
                               f"cloudplane KVM agent ({', '.join(sorted(DIR_POOL_TYPES | NFS_POOL_TYPES))})")

    async def _storage(self, req: StartRequest) -> None:
        """The VM's pools defined here and its fresh volumes created (both idempotent)."""
        for pool in req.pools:
            await self._ensure_pool(pool)
        for vol in req.volumes:
            await self.driver.create_volume(vol.pool, vol.name, vol.size, vol.format)

    async def _template_path(self, req: StartRequest) -> str:
        assert req.template is not None
        pool = req.template.pool or self.cfg.pool
        if req.template.path is None:
            path = self._pool_file(pool, req.template.name)
            if not await asyncio.to_thread(Path(path).exists):
                raise NotFound(f"template {req.template.name} is not in storage pool {pool} ({path}): "
                               "seed it there, or send its image's path on this host")
            return path
        try:
            return await self.driver.copy_template(req.template.path, pool, req.template.name)
        except InvalidState:  # copied before: the pool has it
            return self._pool_file(pool, req.template.name)

    async def _root_disk(self, req: StartRequest) -> DiskSpec | None:
        """A qcow2 overlay on the template, in the template's pool (kept across stops)."""
        if req.template is None:
            return None
        backing = await self._template_path(req)
        info = await asyncio.to_thread(images.probe, Path(backing))
        size = max(req.root_size or 0, info.virtual_size)
        path = await self.driver.create_volume(req.template.pool or self.cfg.pool, req.root_volume, size,
                                               DiskFormat.QCOW2, backing=backing)
        return DiskSpec(path=path, device_id=ROOT_DEVICE_ID, type=DiskType.ROOT, format=DiskFormat.QCOW2,
                        backing=backing, backing_format=info.format)

    def _console_log(self, vm: str) -> str | None:
        return None if self.cfg.console_log_dir is None else str(Path(self.cfg.console_log_dir) / f"{vm}.log")

    # -- VM commands ---------------------------------------------------------------------------
    async def start(self, args: dict[str, Any]) -> Answer:
        req = start_request(args.get("vm"), self.cfg.labels, self.cfg.pool)
        async with self._serial(req.name):
            await self._storage(req)
            root = await self._root_disk(req)
            spec = req.spec(root, self._console_log(req.name))  # validates before anything is plugged in
            await self._acquire_networks(req)
            try:
                state = await self.driver.start(spec)
            except BaseException:
                await self._release_networks(req.name)
                raise
        log.info("started %s (%s)", req.name, state)
        return Answer(True, {"vm": req.name, "state": state.cloudstack})

    async def stop(self, args: dict[str, Any]) -> Answer:
        vm = _vm_name(args)
        forced = bool(args.get("forced"))
        timeout = min(float(args.get("timeout") or self.cfg.stop_timeout_s), self.cfg.stop_timeout_s)
        async with self._serial(vm):
            try:
                await self.driver.state(vm)
                existed = True
            except NotFound:
                existed = False
            if existed:
                if not forced:
                    outcome = await self.driver.stop(vm, timeout_s=timeout)
                    log.info("stopped %s: %s", vm, outcome)
                await self.driver.destroy(vm, undefine=True)
            await self._release_networks(vm)
        return Answer(True, {"vm": vm, "state": Power.OFF, "existed": existed})

    async def reboot(self, args: dict[str, Any]) -> Answer:
        vm = _vm_name(args)
        async with self._serial(vm):
            try:
                await self.driver.reboot(vm)
            except (NotFound, InvalidState):
                return Answer(False, error=f"VM {vm} is not running on {self.cfg.host_id}")
        return Answer(True, {"vm": vm, "state": Power.ON})

    async def prepare_migration(self, args: dict[str, Any]) -> Answer:
        """The destination side: the guest's pools and networks must exist before it arrives."""
        req = start_request(args.get("vm"), self.cfg.labels, self.cfg.pool)
        async with self._serial(req.name):
            for pool in req.pools:  # the disks are named by pool: the pools must exist here too
                await self._ensure_pool(pool)
            if req.name not in self._vm_nets:
                await self._acquire_networks(req)
        return Answer(True, {"vm": req.name})

    def _destination(self, args: dict[str, Any]) -> tuple[str, str | None]:
        """(libvirt URI, migration data URI) of the destination host."""
        if args.get("dest_uri"):
            return str(args["dest_uri"]), args.get("migrate_uri")
        ip = args.get("dest_ip") or self.cfg.peers.get(str(args.get("dest")))
        if not ip:
            raise ValueError(f"no address for destination host {args.get('dest')}: the command carries no "
                             "dest_ip and migration.peers does not name it")
        data = self.cfg.migration_data_uri.format(ip=ip) if self.cfg.migration_data_uri else None
        return self.cfg.migration_uri.format(ip=ip), data

    async def migrate(self, args: dict[str, Any]) -> Answer:
        vm, dest = _vm_name(args), str(args.get("dest") or "")
        uri, data_uri = self._destination(args)
        async with self._serial(vm):
            state = await self._check(vm)
            if state != Power.ON:
                return Answer(False, error=f"VM {vm} is not running on {self.cfg.host_id}")
            log.info("migrating %s to %s (%s)", vm, dest, uri)
            await self.driver.migrate(vm, uri, live=True, migrate_uri=data_uri, unsafe=self.cfg.migration_unsafe)
            await self._release_networks(vm)
        return Answer(True, {"vm": vm, "dest": dest})

    async def _check(self, vm: str) -> str:
        try:
            state = await self.driver.state(vm)
        except NotFound:
            return Power.OFF
        return Power.ON if state in (VmPowerState.RUNNING, VmPowerState.PAUSED) else Power.OFF

    async def check_vm(self, args: dict[str, Any]) -> Answer:
        vm = _vm_name(args)
        return Answer(True, {"vm": vm, "state": await self._check(vm)})

    async def check_health(self, _args: dict[str, Any]) -> Answer:
        await self.driver.power_states()  # libvirtd answers
        return Answer(True, {"healthy": True})

    async def check_on_host(self, args: dict[str, Any]) -> Answer:
        # Telling whether another host is alive needs a shared heartbeat (CloudStack's
        # KVM HA writes one to NFS primary storage); without it the answer is "unknown".
        return Answer(True, {"alive": None})

    async def accept(self, _args: dict[str, Any]) -> Answer:
        return Answer(True, {})

    # -- storage commands ------------------------------------------------------------------
    async def modify_pool(self, args: dict[str, Any]) -> Answer:
        pool = str(args["pool"])
        if args.get("delete"):
            await self.driver.delete_pool(pool)
        elif args.get("type", "dir") == "netfs":
            await self.driver.create_pool_netfs(pool, str(args["host"]), str(args["export"]), str(args["path"]))
        else:
            await self.driver.create_pool_dir(pool, str(args["path"]))
        return Answer(True, {"pool": pool})

    async def create_volume(self, args: dict[str, Any]) -> Answer:
        path = await self.driver.create_volume(str(args.get("pool") or self.cfg.pool), str(args["volume"]),
                                               int(args["size"]), DiskFormat(args.get("format", "qcow2")),
                                               backing=args.get("backing"))
        return Answer(True, {"path": path})

    async def destroy_volume(self, args: dict[str, Any]) -> Answer:
        await self.driver.delete_volume(str(args.get("pool") or self.cfg.pool), str(args["volume"]))
        return Answer(True, {})

    async def copy(self, args: dict[str, Any]) -> Answer:
        path = await self.driver.copy_template(str(args["src"]), str(args.get("pool") or self.cfg.pool),
                                               str(args["volume"]))
        return Answer(True, {"path": path})

    async def attach(self, args: dict[str, Any]) -> Answer:
        vm, iso = _vm_name(args), args.get("iso")
        if not isinstance(iso, str) or not iso.startswith("/"):
            raise ValueError("AttachCommand needs iso: the ISO's absolute path on this host")
        async with self._serial(vm):
            await self.driver.attach_iso(vm, iso)
        return Answer(True, {"vm": vm})

    async def detach(self, args: dict[str, Any]) -> Answer:
        vm = _vm_name(args)
        async with self._serial(vm):
            await self.driver.detach_iso(vm)
        return Answer(True, {"vm": vm})


_HANDLERS: dict[str, Handler] = {
    Cmd.START: HostCommands.start,
    Cmd.STOP: HostCommands.stop,
    Cmd.REBOOT: HostCommands.reboot,
    Cmd.PREPARE_MIGRATION: HostCommands.prepare_migration,
    Cmd.MIGRATE: HostCommands.migrate,
    Cmd.CHECK_VM: HostCommands.check_vm,
    Cmd.CHECK_HEALTH: HostCommands.check_health,
    Cmd.CHECK_ON_HOST: HostCommands.check_on_host,
    Cmd.READY: HostCommands.accept,
    Cmd.MAINTAIN: HostCommands.accept,
    Cmd.MODIFY_STORAGE_POOL: HostCommands.modify_pool,
    Cmd.CREATE_VOLUME: HostCommands.create_volume,
    Cmd.DESTROY_VOLUME: HostCommands.destroy_volume,
    Cmd.COPY: HostCommands.copy,
    Cmd.ATTACH: HostCommands.attach,
    Cmd.DETACH: HostCommands.detach,
}
