"""The one place that calls libvirt: domains, storage pools and volumes.

Every libvirt call is blocking, so each operation runs its libvirt work in one
`asyncio.to_thread` hop and the event loop never waits on libvirtd. Every
operation is idempotent where CloudStack retries it: starting a running VM,
stopping a stopped one, destroying a missing one and deleting a missing volume
all succeed. libvirt errors become `errors.AgentError` subclasses (`_agent_error`).

Waiting for a guest's ACPI shutdown polls the domain state with a growing
interval; the agent runtime may later feed libvirt lifecycle events instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import libvirt

from cloudplane.hostagent import configdrive, images
from cloudplane.hostagent.domxml import DomainType, cdrom_xml, disk_xml, domain_xml
from cloudplane.hostagent.errors import (
    AgentError,
    HypervisorError,
    InvalidState,
    NotFound,
    Unsupported,
)
from cloudplane.hostagent.hostinfo import LOCAL_POOL_TYPES, host_capacity
from cloudplane.hostagent.spec import CDROM_DEVICE_ID, DiskFormat, DiskSpec, HostCapacity, VmPowerState, VmSpec
from cloudplane.hostagent.storagexml import parse_pool, pool_dir_xml, pool_netfs_xml, volume_xml

P = ParamSpec("P")
T = TypeVar("T")
DeviceOp = Callable[[libvirt.virDomain, str, int], Any]  # virDomain.attachDeviceFlags and friends

_NOT_FOUND = {libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_NO_STORAGE_POOL, libvirt.VIR_ERR_NO_STORAGE_VOL}
_UNSUPPORTED = {libvirt.VIR_ERR_NO_SUPPORT, libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED, libvirt.VIR_ERR_OPERATION_UNSUPPORTED}
_RETRYABLE = {
    libvirt.VIR_ERR_OPERATION_TIMEOUT,
    libvirt.VIR_ERR_AGENT_UNRESPONSIVE,
    libvirt.VIR_ERR_RPC,
    libvirt.VIR_ERR_NO_CONNECT,
}

_POWER = {
    libvirt.VIR_DOMAIN_RUNNING: VmPowerState.RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: VmPowerState.RUNNING,
    libvirt.VIR_DOMAIN_SHUTDOWN: VmPowerState.RUNNING,  # shutting down, still running
    libvirt.VIR_DOMAIN_PAUSED: VmPowerState.PAUSED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: VmPowerState.PAUSED,
    libvirt.VIR_DOMAIN_SHUTOFF: VmPowerState.STOPPED,
    libvirt.VIR_DOMAIN_CRASHED: VmPowerState.STOPPED,
}

_UNDEFINE_ALL = (
    libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
    | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
    | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
)
_UNDEFINE_BASIC = libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA


CONFIG_DRIVE_DIR = Path("/var/lib/cloudplane/configdrive")


class StopOutcome(StrEnum):
    ALREADY_STOPPED = "already-stopped"
    SHUTDOWN = "shutdown"  # the guest powered off after the ACPI request
    DESTROYED = "destroyed"  # it did not within the timeout, and was powered off hard


def power_state(libvirt_state: int) -> VmPowerState:
    return _POWER.get(libvirt_state, VmPowerState.UNKNOWN)


def migration_flags(live: bool, unsafe: bool = False) -> int:
    """Peer-to-peer: the source libvirtd talks to the destination itself; the
    definition moves with the guest (persisted there, removed here). `unsafe`: the
    disks are shared although libvirt cannot tell (migration.unsafe)."""
    flags = libvirt.VIR_MIGRATE_PEER2PEER | libvirt.VIR_MIGRATE_PERSIST_DEST | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE
    if live:
        flags |= libvirt.VIR_MIGRATE_LIVE
    if unsafe:
        flags |= libvirt.VIR_MIGRATE_UNSAFE
    return int(flags)


def migration_params(migrate_uri: str | None) -> dict[str, Any]:
    """`migrate_uri` (e.g. tcp://10.0.0.2:49152) picks the data path when the
    hypervisor's own address is not the one to use."""
    return {} if migrate_uri is None else {libvirt.VIR_MIGRATE_PARAM_URI: migrate_uri}


def _agent_error(err: libvirt.libvirtError, what: str) -> AgentError:
    code = err.get_error_code() or 0
    message = f"{what}: {err.get_error_message() or err}"
    if code in _NOT_FOUND:
        return NotFound(message)
    if code == libvirt.VIR_ERR_OPERATION_INVALID:
        return InvalidState(message)
    if code in _UNSUPPORTED:
        return Unsupported(message)
    return HypervisorError(message, retryable=code in _RETRYABLE, code=code)


def _quiet(_ctx: object, _err: object) -> None:
    """libvirt prints every error to stderr unless a handler is set; we raise them instead."""


class LibvirtDriver:
    def __init__(
        self,
        conn: libvirt.virConnect,
        *,
        domain_type: DomainType = "kvm",
        config_drive_dir: Path = CONFIG_DRIVE_DIR,
    ) -> None:
        self._conn = conn
        self.domain_type: DomainType = domain_type
        self.config_drive_dir = config_drive_dir

    @classmethod
    async def open(
        cls, uri: str, *, domain_type: DomainType = "kvm", config_drive_dir: Path = CONFIG_DRIVE_DIR
    ) -> LibvirtDriver:
        libvirt.registerErrorHandler(_quiet, None)
        try:
            conn = await asyncio.to_thread(libvirt.open, uri)
        except libvirt.libvirtError as err:
            raise _agent_error(err, f"open {uri}") from err
        return cls(conn, domain_type=domain_type, config_drive_dir=config_drive_dir)

    async def close(self) -> None:
        await asyncio.to_thread(self._conn.close)

    async def __aenter__(self) -> LibvirtDriver:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def _io(self, what: str, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except libvirt.libvirtError as err:
            raise _agent_error(err, what) from err

    def _lookup(self, name: str) -> libvirt.virDomain | None:
        try:
            return self._conn.lookupByName(name)
        except libvirt.libvirtError as err:
            if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise

    def _domain(self, name: str) -> libvirt.virDomain:
        dom = self._lookup(name)
        if dom is None:
            raise NotFound(f"no domain {name}")
        return dom

    # ---- host -------------------------------------------------------------

    def _capacity(self) -> HostCapacity:
        local = 0
        for pool in self._conn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE):
            if parse_pool(pool.XMLDesc(0)).type in LOCAL_POOL_TYPES:
                local += pool.info()[1]
        return host_capacity(self._conn.getInfo(), self._conn.getCapabilities(), self._conn.getVersion(), local)

    async def capacity(self) -> HostCapacity:
        return await self._io("host capacity", self._capacity)

    # ---- domain lifecycle -------------------------------------------------

    def _running_state(self, name: str) -> VmPowerState | None:
        """The state of an active domain (resumed if it was paused), None if inactive."""
        dom = self._lookup(name)
        if dom is None or not dom.isActive():
            return None
        if dom.state()[0] in (libvirt.VIR_DOMAIN_PAUSED, libvirt.VIR_DOMAIN_PMSUSPENDED):
            dom.resume()
        return power_state(dom.state()[0])

    def _define_and_create(self, xml: str) -> VmPowerState:
        dom = self._conn.defineXML(xml)  # (re)define: the spec is the truth
        try:
            dom.create()
        except libvirt.libvirtError:
            if not dom.isActive():
                raise
            # "already running": someone started it between our check and create.
        return power_state(dom.state()[0])

    async def start(self, spec: VmSpec) -> VmPowerState:
        """Define (or redefine) and start `spec`; a running domain is left as it is."""
        what = f"start {spec.name}"
        running = await self._io(what, self._running_state, spec.name)
        if running is not None:
            return running
        drive = None
        if spec.needs_config_drive:
            drive = str(await configdrive.build(spec, self.config_drive_dir))
        xml = domain_xml(spec, domain_type=self.domain_type, config_drive=drive)
        return await self._io(what, self._define_and_create, xml)

    def _request_shutdown(self, name: str) -> StopOutcome | None:
        """Press the ACPI power button; an outcome if there is nothing to wait for."""
        dom = self._lookup(name)
        if dom is None or not dom.isActive():
            return StopOutcome.ALREADY_STOPPED
        if dom.state()[0] == libvirt.VIR_DOMAIN_PAUSED:
            self._force_off(name)  # a paused guest cannot see the button
            return StopOutcome.DESTROYED
        try:
            dom.shutdownFlags(libvirt.VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN)
        except libvirt.libvirtError as err:
            code = err.get_error_code()
            if code == libvirt.VIR_ERR_OPERATION_INVALID:
                return StopOutcome.ALREADY_STOPPED  # it stopped under us
            if code not in (libvirt.VIR_ERR_INVALID_ARG, *_UNSUPPORTED):
                raise
            dom.shutdown()  # this driver cannot choose the method: let it pick
        return None

    def _is_active(self, name: str) -> bool:
        dom = self._lookup(name)
        return dom is not None and bool(dom.isActive())

    def _force_off(self, name: str) -> None:
        dom = self._lookup(name)
        if dom is None:
            return
        try:
            dom.destroy()
        except libvirt.libvirtError as err:
            if err.get_error_code() != libvirt.VIR_ERR_OPERATION_INVALID:
                raise  # "not running" means it stopped by itself in the meantime

    async def stop(self, name: str, timeout_s: float = 60.0) -> StopOutcome:
        """ACPI shutdown, wait up to `timeout_s`, then power off hard."""
        what = f"stop {name}"
        outcome = await self._io(what, self._request_shutdown, name)
        if outcome is not None:
            return outcome
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        interval = 0.02
        while await self._io(what, self._is_active, name):
            remaining = deadline - loop.time()
            if remaining <= 0:
                await self._io(what, self._force_off, name)
                return StopOutcome.DESTROYED
            await asyncio.sleep(min(interval, remaining))
            interval = min(interval * 2, 1.0)
        return StopOutcome.SHUTDOWN

    def _reboot(self, name: str) -> None:
        dom = self._domain(name)
        if not dom.isActive():
            raise InvalidState(f"reboot {name}: domain is not running")
        dom.reboot(0)

    async def reboot(self, name: str) -> None:
        await self._io(f"reboot {name}", self._reboot, name)

    def _destroy(self, name: str, undefine: bool) -> None:
        self._force_off(name)
        dom = self._lookup(name)
        if dom is None or not undefine:
            return
        try:
            dom.undefineFlags(_UNDEFINE_ALL)
        except libvirt.libvirtError as err:
            if err.get_error_code() != libvirt.VIR_ERR_INVALID_ARG:
                raise
            dom.undefineFlags(_UNDEFINE_BASIC)  # driver without NVRAM support

    async def destroy(self, name: str, undefine: bool = True) -> None:
        """Power off hard and, by default, remove the definition and config drive."""
        await self._io(f"destroy {name}", self._destroy, name, undefine)
        if undefine:
            await configdrive.remove(self.config_drive_dir, name)

    def _state(self, name: str) -> VmPowerState:
        return power_state(self._domain(name).state()[0])

    async def state(self, name: str) -> VmPowerState:
        return await self._io(f"state of {name}", self._state, name)

    def _power_states(self) -> dict[str, VmPowerState]:
        states: dict[str, VmPowerState] = {}
        for dom in self._conn.listAllDomains(0):
            try:
                states[dom.name()] = power_state(dom.state()[0])
            except libvirt.libvirtError as err:
                if err.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                    raise  # undefined between the listing and the query: not ours to report
        return states

    async def power_states(self) -> dict[str, VmPowerState]:
        """Every defined domain's power state, for the ping report."""
        return await self._io("power states", self._power_states)

    def _xml(self, name: str) -> str:
        return str(self._domain(name).XMLDesc(0))

    async def xml(self, name: str) -> str:
        """The domain's XML as libvirt holds it (the live one while running)."""
        return await self._io(f"XML of {name}", self._xml, name)

    # ---- devices ----------------------------------------------------------

    def _device(self, name: str, xml: str, op: DeviceOp) -> None:
        """Apply a device change to the persistent definition, and to the live guest if running."""
        dom = self._domain(name)
        flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG
        if dom.isActive():
            flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
        op(dom, xml, flags)

    async def attach_disk(self, name: str, disk: DiskSpec) -> None:
        xml = disk_xml(disk)
        await self._io(f"attach {disk.path} to {name}", self._device, name, xml, libvirt.virDomain.attachDeviceFlags)

    async def detach_disk(self, name: str, disk: DiskSpec) -> None:
        xml = disk_xml(disk)
        await self._io(f"detach {disk.path} from {name}", self._device, name, xml, libvirt.virDomain.detachDeviceFlags)

    async def attach_iso(self, name: str, iso_path: str, device_id: int = CDROM_DEVICE_ID) -> None:
        """Insert an ISO into the domain's cdrom (domxml always gives it one)."""
        xml = cdrom_xml(iso_path, device_id)
        await self._io(f"insert {iso_path} into {name}", self._device, name, xml, libvirt.virDomain.updateDeviceFlags)

    async def detach_iso(self, name: str, device_id: int = CDROM_DEVICE_ID) -> None:
        xml = cdrom_xml(None, device_id)
        await self._io(f"eject cdrom of {name}", self._device, name, xml, libvirt.virDomain.updateDeviceFlags)

    # ---- migration --------------------------------------------------------

    def _migrate(self, name: str, dest_uri: str, live: bool, migrate_uri: str | None, unsafe: bool) -> None:
        dom = self._domain(name)
        if not dom.isActive():
            raise InvalidState(f"migrate {name}: domain is not running")
        dom.migrateToURI3(dest_uri, migration_params(migrate_uri), migration_flags(live, unsafe))

    async def migrate(self, name: str, dest_uri: str, *, live: bool = True, migrate_uri: str | None = None,
                      unsafe: bool = False) -> None:
        """Move a running domain to `dest_uri` (e.g. qemu+tcp://host/system). This
        holds one worker thread for the whole migration."""
        await self._io(f"migrate {name} to {dest_uri}", self._migrate, name, dest_uri, live, migrate_uri, unsafe)

    # ---- storage ----------------------------------------------------------

    def _pool(self, name: str) -> libvirt.virStoragePool:
        return self._conn.storagePoolLookupByName(name)

    def _ensure_pool(self, name: str, xml: str) -> None:
        wanted = parse_pool(xml)
        try:
            pool = self._pool(name)
        except libvirt.libvirtError as err:
            if err.get_error_code() != libvirt.VIR_ERR_NO_STORAGE_POOL:
                raise
            pool = self._conn.storagePoolDefineXML(xml, 0)
            try:
                pool.build(0)
                pool.create(0)
                pool.setAutostart(1)
            except libvirt.libvirtError:
                pool.undefine()
                raise
            return
        have = parse_pool(pool.XMLDesc(0))
        if (have.type, have.target_path) != (wanted.type, wanted.target_path):
            raise InvalidState(f"pool {name} exists as {have.type} on {have.target_path}")
        if not pool.isActive():
            pool.create(0)

    async def create_pool_dir(self, name: str, path: str) -> None:
        await self._io(f"create pool {name}", self._ensure_pool, name, pool_dir_xml(name, path))

    async def create_pool_netfs(self, name: str, host: str, export: str, path: str) -> None:
        xml = pool_netfs_xml(name, host, export, path)
        await self._io(f"create pool {name}", self._ensure_pool, name, xml)

    def _delete_pool(self, name: str) -> None:
        try:
            pool = self._pool(name)
        except libvirt.libvirtError as err:
            if err.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_POOL:
                return
            raise
        if pool.isActive():
            pool.destroy()
        pool.undefine()

    async def delete_pool(self, name: str) -> None:
        """Stop using the pool (unmount it); the data in it is left alone."""
        await self._io(f"delete pool {name}", self._delete_pool, name)

    def _volume(self, pool: libvirt.virStoragePool, name: str) -> libvirt.virStorageVol | None:
        try:
            return pool.storageVolLookupByName(name)
        except libvirt.libvirtError as err:
            if err.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_VOL:
                return None
            raise

    def _create_volume(self, pool_name: str, name: str, size_bytes: int, xml: str) -> str:
        pool = self._pool(pool_name)
        existing = self._volume(pool, name)
        if existing is not None:
            capacity = existing.info()[1]
            if capacity != size_bytes:
                raise InvalidState(f"volume {pool_name}/{name} exists with {capacity} bytes, not {size_bytes}")
            return str(existing.path())
        return str(pool.createXML(xml, 0).path())

    async def create_volume(
        self, pool: str, name: str, size_bytes: int, fmt: DiskFormat, backing: str | None = None
    ) -> str:
        """Create a volume (idempotent for the same size) and return its path."""
        xml = volume_xml(name, size_bytes, fmt, backing)
        return await self._io(f"create volume {pool}/{name}", self._create_volume, pool, name, size_bytes, xml)

    def _delete_volume(self, pool_name: str, name: str) -> None:
        volume = self._volume(self._pool(pool_name), name)
        if volume is not None:
            volume.delete(0)

    async def delete_volume(self, pool: str, name: str) -> None:
        await self._io(f"delete volume {pool}/{name}", self._delete_volume, pool, name)

    def _upload(self, pool_name: str, name: str, src: Path, info: images.ImageInfo) -> str:
        pool = self._pool(pool_name)
        if self._volume(pool, name) is not None:
            raise InvalidState(f"volume {pool_name}/{name} already exists")
        volume = pool.createXML(volume_xml(name, info.virtual_size, info.format), 0)
        try:
            stream = self._conn.newStream(0)
            try:
                volume.upload(stream, 0, info.file_size, 0)
                with src.open("rb") as f:
                    stream.sendAll(lambda _st, nbytes, fh: fh.read(nbytes), f)
                stream.finish()
            except BaseException:
                stream.abort()
                raise
        except BaseException:
            volume.delete(0)
            raise
        return str(volume.path())

    async def copy_template(self, src_path: str, pool: str, name: str) -> str:
        """Copy a template image (qcow2 or raw, detected from its header) into `pool`
        as volume `name` through libvirt's upload stream; returns the volume path."""
        src = Path(src_path)
        try:
            info = await asyncio.to_thread(images.probe, src)
        except OSError as err:
            raise NotFound(f"template {src_path}: {err.strerror}") from err
        return await self._io(f"copy {src_path} to {pool}/{name}", self._upload, pool, name, src, info)

