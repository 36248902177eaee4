"""LibvirtDriver against libvirt's built-in test driver (no daemon).

Each test gets its own `test:///<tmp>/node.xml` connection, so no state is shared
between tests (connections to test:///default would all share one host).
"""

from __future__ import annotations

import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

libvirt = pytest.importorskip("libvirt", reason="libvirt-python is not installed (the project's `agent` extra)")

from cloudplane.hostagent import configdrive  # noqa: E402
from cloudplane.hostagent.driver import LibvirtDriver, StopOutcome, migration_flags, migration_params, power_state  # noqa: E402
from cloudplane.hostagent.errors import AgentError, HypervisorError, InvalidState, NotFound, Unsupported  # noqa: E402
from cloudplane.hostagent.spec import DiskSpec, DiskType, NicSpec, VmPowerState, VmSpec  # noqa: E402

NODE_XML = """<node>
  <cpu><mhz>2400</mhz><model>x86_64</model><active>8</active>
       <nodes>1</nodes><sockets>2</sockets><cores>2</cores><threads>2</threads></cpu>
  <memory>16777216</memory>
  <pool type='dir'>
    <name>local</name>
    <capacity unit='bytes'>107374182400</capacity>
    <allocation unit='bytes'>0</allocation>
    <available unit='bytes'>107374182400</available>
    <target><path>/var/lib/cloudplane/local</path></target>
  </pool>
</node>
"""


@pytest.fixture
async def driver(tmp_path: Path) -> AsyncIterator[LibvirtDriver]:
    node = tmp_path / "node.xml"
    node.write_text(NODE_XML)
    drv = await LibvirtDriver.open(f"test://{node}", config_drive_dir=tmp_path / "configdrive")
    async with drv:
        yield drv


def vm(name: str = "i-2-10-VM", memory_mib: int = 256, **kwargs: object) -> VmSpec:
    return VmSpec(
        name=name, uuid=str(uuid.uuid5(uuid.NAMESPACE_URL, name)), vcpus=1, cpu_mhz=1000, memory_mib=memory_mib,
        disks=(DiskSpec("/var/lib/cloudplane/local/root.qcow2", 0),),
        nics=(NicSpec("02:00:0a:00:00:01", "cloudbr1", 0, ip="10.1.1.10"),),
        **kwargs,  # type: ignore[arg-type]
    )


async def test_capacity(driver: LibvirtDriver) -> None:
    cap = await driver.capacity()
    assert (cap.cpu_sockets, cap.cpu_cores, cap.cpus, cap.cpu_mhz) == (2, 4, 8, 2400)
    assert cap.memory_bytes == 16 * 2**30
    assert cap.local_storage_bytes == 100 * 2**30  # the dir pool
    assert cap.hypervisor_version.count(".") == 2
    await driver.create_pool_netfs("nfs1", "10.1.1.5", "/export/primary", "/mnt/nfs1")
    assert (await driver.capacity()).local_storage_bytes == 100 * 2**30  # shared storage is not local


async def test_lifecycle(driver: LibvirtDriver) -> None:
    spec = vm()
    assert await driver.power_states() == {}
    assert await driver.start(spec) is VmPowerState.RUNNING
    assert await driver.start(spec) is VmPowerState.RUNNING  # idempotent
    assert await driver.state(spec.name) is VmPowerState.RUNNING
    assert await driver.power_states() == {spec.name: VmPowerState.RUNNING}

    assert await driver.stop(spec.name, timeout_s=5) is StopOutcome.SHUTDOWN
    assert await driver.state(spec.name) is VmPowerState.STOPPED
    assert await driver.power_states() == {spec.name: VmPowerState.STOPPED}  # still defined
    assert await driver.stop(spec.name) is StopOutcome.ALREADY_STOPPED

    assert await driver.start(spec) is VmPowerState.RUNNING  # restart a stopped, defined VM
    await driver.reboot(spec.name)
    assert await driver.state(spec.name) is VmPowerState.RUNNING

    await driver.destroy(spec.name)
    assert await driver.power_states() == {}
    with pytest.raises(NotFound):
        await driver.state(spec.name)
    await driver.destroy(spec.name)  # already gone: no-op
    assert await driver.stop(spec.name) is StopOutcome.ALREADY_STOPPED


async def test_power_states_of_many(driver: LibvirtDriver) -> None:
    for i in range(5):
        await driver.start(vm(f"i-2-{i}-VM"))
    await driver.stop("i-2-3-VM")
    await driver.destroy("i-2-4-VM", undefine=False)
    states = await driver.power_states()
    assert states == {
        "i-2-0-VM": VmPowerState.RUNNING, "i-2-1-VM": VmPowerState.RUNNING, "i-2-2-VM": VmPowerState.RUNNING,
        "i-2-3-VM": VmPowerState.STOPPED, "i-2-4-VM": VmPowerState.STOPPED,
    }
    assert {s.cloudstack for s in states.values()} == {"PowerOn", "PowerOff"}


async def test_start_redefines_a_stopped_vm_from_the_spec(driver: LibvirtDriver) -> None:
    await driver.start(vm(memory_mib=256))
    await driver.stop("i-2-10-VM")
    await driver.start(vm(memory_mib=512))
    memory = ET.fromstring(await driver.xml("i-2-10-VM")).find("memory")
    assert memory is not None and (memory.text, memory.get("unit")) == (str(512 * 1024), "KiB")


async def test_stop_destroys_a_guest_that_ignores_acpi(driver: LibvirtDriver, monkeypatch: pytest.MonkeyPatch) -> None:
    await driver.start(vm())
    monkeypatch.setattr(libvirt.virDomain, "shutdownFlags", lambda self, flags=0: 0)
    monkeypatch.setattr(libvirt.virDomain, "shutdown", lambda self: 0)
    assert await driver.stop("i-2-10-VM", timeout_s=0.2) is StopOutcome.DESTROYED
    assert await driver.state("i-2-10-VM") is VmPowerState.STOPPED


async def test_paused_vm(tmp_path: Path) -> None:
    """The agent never pauses a guest but may find one paused. test:///default shares its
    state between connections, so a second, raw connection pauses it (unique VM name)."""
    name = f"i-9-{uuid.uuid4().hex[:8]}-VM"
    raw = libvirt.open("test:///default")
    try:
        async with await LibvirtDriver.open("test:///default", config_drive_dir=tmp_path) as drv:
            await drv.start(vm(name))
            raw.lookupByName(name).suspend()
            assert await drv.state(name) is VmPowerState.PAUSED
            assert await drv.start(vm(name)) is VmPowerState.RUNNING  # start resumes it
            raw.lookupByName(name).suspend()
            assert await drv.stop(name) is StopOutcome.DESTROYED  # the ACPI button cannot reach it
            await drv.destroy(name)
    finally:
        raw.close()


async def test_reboot_of_stopped_vm_is_invalid(driver: LibvirtDriver) -> None:
    await driver.start(vm())
    await driver.stop("i-2-10-VM")
    with pytest.raises(InvalidState, match="not running") as info:
        await driver.reboot("i-2-10-VM")
    assert info.value.retryable is False
    with pytest.raises(NotFound):
        await driver.reboot("i-9-9-VM")


async def test_config_drive(driver: LibvirtDriver, tmp_path: Path) -> None:
    if configdrive.iso_tool() is None:
        pytest.skip("no ISO builder installed (Debian package genisoimage)")
    spec = vm(user_data=b"#cloud-config\n")
    await driver.start(spec)
    image = configdrive.image_path(tmp_path / "configdrive", spec.name)
    assert image.exists()
    cdroms = [d for d in ET.fromstring(await driver.xml(spec.name)).iter("disk") if d.get("device") == "cdrom"]
    sources = [d.find("source") for d in cdroms]
    assert [s.get("file") for s in sources if s is not None] == [str(image)]
    await driver.destroy(spec.name)
    assert not image.exists()


async def test_devices_unsupported_by_the_test_driver_map_to_unsupported(driver: LibvirtDriver) -> None:
    await driver.start(vm())
    data = DiskSpec("data1", 1, DiskType.DATADISK, pool="local")
    with pytest.raises(Unsupported, match="attach data1 to i-2-10-VM"):
        await driver.attach_disk("i-2-10-VM", data)
    with pytest.raises(Unsupported, match="detach data1"):
        await driver.detach_disk("i-2-10-VM", data)
    with pytest.raises(Unsupported, match="insert /iso/x.iso"):
        await driver.attach_iso("i-2-10-VM", "/iso/x.iso")
    with pytest.raises(Unsupported, match="eject"):
        await driver.detach_iso("i-2-10-VM")
    with pytest.raises(NotFound):
        await driver.attach_iso("i-9-9-VM", "/iso/x.iso")


async def test_migrate(driver: LibvirtDriver) -> None:
    await driver.start(vm())
    # The test driver has no peer-to-peer migration; the call and its mapping are what we check.
    with pytest.raises(Unsupported, match="migrate i-2-10-VM to qemu\\+tcp://10.0.0.2/system"):
        await driver.migrate("i-2-10-VM", "qemu+tcp://10.0.0.2/system", migrate_uri="tcp://10.0.0.2:49152")
    await driver.stop("i-2-10-VM")
    with pytest.raises(InvalidState):
        await driver.migrate("i-2-10-VM", "qemu+tcp://10.0.0.2/system")


def test_migration_flags_and_params() -> None:
    base = libvirt.VIR_MIGRATE_PEER2PEER | libvirt.VIR_MIGRATE_PERSIST_DEST | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE
    assert migration_flags(live=True) == base | libvirt.VIR_MIGRATE_LIVE
    assert migration_flags(live=False) == base
    assert migration_flags(live=True, unsafe=True) == base | libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_UNSAFE
    assert migration_params(None) == {}
    assert migration_params("tcp://10.0.0.2:49152") == {libvirt.VIR_MIGRATE_PARAM_URI: "tcp://10.0.0.2:49152"}


def test_power_state_mapping() -> None:
    assert power_state(libvirt.VIR_DOMAIN_RUNNING) is VmPowerState.RUNNING
    assert power_state(libvirt.VIR_DOMAIN_BLOCKED) is VmPowerState.RUNNING
    assert power_state(libvirt.VIR_DOMAIN_SHUTDOWN) is VmPowerState.RUNNING
    assert power_state(libvirt.VIR_DOMAIN_PAUSED) is VmPowerState.PAUSED
    assert power_state(libvirt.VIR_DOMAIN_PMSUSPENDED) is VmPowerState.PAUSED
    assert power_state(libvirt.VIR_DOMAIN_SHUTOFF) is VmPowerState.STOPPED
    assert power_state(libvirt.VIR_DOMAIN_CRASHED) is VmPowerState.STOPPED
    assert power_state(libvirt.VIR_DOMAIN_NOSTATE) is VmPowerState.UNKNOWN


async def test_open_failure_is_an_agent_error(tmp_path: Path) -> None:
    with pytest.raises(AgentError):
        await LibvirtDriver.open(f"test://{tmp_path}/missing.xml")


async def test_duplicate_uuid_is_a_hypervisor_error(driver: LibvirtDriver) -> None:
    first = vm("i-2-1-VM")
    await driver.start(first)
    clash = VmSpec(name="i-2-2-VM", uuid=first.uuid, vcpus=1, cpu_mhz=1000, memory_mib=128)
    with pytest.raises(HypervisorError) as info:
        await driver.start(clash)
    assert info.value.code != 0 and not info.value.retryable


async def test_shared_default_connection_is_usable(tmp_path: Path) -> None:
    """test:///default works too; its state is shared within the process, so use a unique name."""
    async with await LibvirtDriver.open("test:///default", config_drive_dir=tmp_path) as drv:
        name = f"i-9-{uuid.uuid4().hex[:8]}-VM"
        await drv.start(vm(name))
        assert (await drv.power_states())[name] is VmPowerState.RUNNING
        await drv.destroy(name)
        assert name not in await drv.power_states()


async def test_libvirt_calls_run_off_the_event_loop(driver: LibvirtDriver, monkeypatch: pytest.MonkeyPatch) -> None:
    loop_thread = threading.get_ident()
    seen: list[int] = []
    real = libvirt.virConnect.listAllDomains

    def spy(self: object, flags: int = 0) -> object:
        seen.append(threading.get_ident())
        return real(self, flags)

    monkeypatch.setattr(libvirt.virConnect, "listAllDomains", spy)
    await driver.power_states()
    assert seen and loop_thread not in seen
