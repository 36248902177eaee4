"""End to end through the CloudStack API with real agents (`cloudplane agent`
child processes) and the libvirt daemons of the lab:

an advanced zone with a KVM cluster, a SharedMountPoint primary storage pool
and a shared (untagged) guest network on the `cloudbr1` label -> addHost(KVM)
for each daemon -> Up when its agent connects -> the tiny guest registered as a
template (kernel, initrd and command line in its details; its qcow2 image
seeded on the pool, as nothing downloads templates yet) -> deployVirtualMachine
-> Running, the domain runs in libvirt with the ROOT overlay on the template, the
NIC's MAC on the bridge and a config drive with the user data and the SSH key
(registerSSHKeyPair, deploy keypair=), the guest boots ->
migrateVirtualMachine to the other host (MigrateCommand carries its address) ->
stopVirtualMachine -> the domain is gone -> startVirtualMachine reuses the ROOT
overlay -> stopVirtualMachine forced=true powers it off at once.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from cloudplane.api.sshkeys import generate_key_pair
from cloudplane.apiclient import ApiClient
from cloudplane.settings import Settings
from tests.hostagent import nettools
from tests.hostagent.libvirtd import Daemon
from tests.hostagent.realhost import ADDR_A, ADDR_B, BOOT_TIMEOUT_S, Lab, wait_for
from tests.hostagent.test_real_e2e import UP_TIMEOUT_S, Management, _port, _stop_agent

pytestmark = [pytest.mark.slow, pytest.mark.ray]
BRIDGE = "cloudbr1"
JOB_TIMEOUT_S = 600.0  # a deploy or a migration under TCG on a loaded machine


def one(resp: dict[str, Any], key: str) -> dict[str, Any]:
    """The object of an answer: `{key: {...}}` or `{key: [{...}]}`."""
    item = resp[key]
    return item[0] if isinstance(item, list) else item  # type: ignore[no-any-return]


async def _bridge(ns: str) -> None:
    async with nettools.iproute(ns) as ipr:
        if not await ipr.link_lookup(ifname=BRIDGE):
            await ipr.link("add", ifname=BRIDGE, kind="bridge")
        await ipr.link("set", index=(await ipr.link_lookup(ifname=BRIDGE))[0], state="up")


async def _zone(api: ApiClient, primary: Path) -> dict[str, str]:
    """Zone, physical network (Guest on cloudbr1; Management and Public, which an advanced
    zone needs to be enabled), pod, KVM cluster, pool, shared network."""
    zone = one(await api.do("createZone", name="kvm-zone", networktype="Advanced", dns1="192.0.2.53",
                         internaldns1="192.0.2.53", guestcidraddress="10.1.1.0/24"), "zone")
    pn = one(await api.do("createPhysicalNetwork", name="kvm-pn", zoneid=zone["id"],
                       isolationmethods="VLAN"), "physicalnetwork")
    await api.do("addTrafficType", physicalnetworkid=pn["id"], traffictype="Guest", kvmnetworklabel=BRIDGE)
    await api.do("addTrafficType", physicalnetworkid=pn["id"], traffictype="Management")
    await api.do("addTrafficType", physicalnetworkid=pn["id"], traffictype="Public")
    await api.do("updatePhysicalNetwork", id=pn["id"], state="Enabled", vlan="100-199")
    pod = one(await api.do("createPod", name="kvm-pod", zoneid=zone["id"], gateway="203.0.113.1",
                        netmask="255.255.255.0", startip="203.0.113.10", endip="203.0.113.20"), "pod")
    cluster = one(await api.do("addCluster", clustername="kvm-cluster", clustertype="CloudManaged", hypervisor="KVM",
                            zoneid=zone["id"], podid=pod["id"]), "cluster")
    await api.do("createStoragePool", name="kvm-primary", url=f"SharedMountPoint://{primary}", zoneid=zone["id"],
                 podid=pod["id"], clusterid=cluster["id"], scope="cluster", capacitybytes=100 * 2**30)
    await api.do("addImageStore", url="nfs://192.0.2.10/export/secondary", provider="NFS", zoneid=zone["id"])
    offering = one(await api.do("listNetworkOfferings", name="DefaultSharedNetworkOffering"), "networkoffering")
    net = one(await api.do("createNetwork", zoneid=zone["id"], networkofferingid=offering["id"], name="kvm-shared",
                        displaytext="kvm-shared", vlan="untagged", gateway="10.99.0.1", netmask="255.255.255.0",
                        startip="10.99.0.10", endip="10.99.0.50"), "network")
    await api.do("updateZone", id=zone["id"], allocationstate="Enabled")
    return {"zone": zone["id"], "pod": pod["id"], "cluster": cluster["id"], "network": net["id"]}


async def _template(api: ApiClient, lab: Lab, zone: str, primary: Path) -> str:
    """The tiny guest as a KVM template; its image is seeded on the primary pool under the
    template's id (where the agent looks for it), since templates are not downloaded."""
    os_type = one(await api.do("listOsTypes"), "ostype")["id"]
    guest = lab.guest
    tpl = one(await api.do("registerTemplate", name="tiny-guest", displaytext="tiny guest", format="QCOW2",
                        hypervisor="KVM", ostypeid=os_type, zoneid=zone,
                        url="http://images.example.org/tiny-guest.qcow2",
                        details=[{"kernel": str(guest.kernel), "initrd": str(guest.initrd),
                                  "cmdline": guest.cmdline}]), "template")
    await asyncio.to_thread(subprocess.run, ["qemu-img", "create", "-q", "-f", "qcow2",
                                             str(primary / tpl["id"]), "64M"], check=True)

    async def ready() -> bool:
        listed = await api.do("listTemplates", templatefilter="self", id=tpl["id"], zoneid=zone)
        return bool(listed.get("template")) and bool(listed["template"][0].get("isready"))

    await wait_for(ready, 60, "the template to be ready")
    return str(tpl["id"])


def _write_config(path: Path, port: int, host: str, token: str, daemon: Daemon, lab: Lab) -> None:
    path.parent.mkdir(parents=True)
    path.write_text("\n".join([
        "# written by test_real_api_e2e",
        f"servers=ws://127.0.0.1:{port}/agent",
        f"host.id={host}",
        f"host.token.file={path.parent / 'token'}",
        f"libvirt.uri={daemon.uri}",
        "domain.type=qemu",
        f"console.log.dir={lab.consoles}",
        f"config.drive.dir={path.parent / 'configdrive'}",
        "stop.timeout=60",
        # The pool is a directory both daemons see, which libvirt cannot know is shared.
        "migration.unsafe=true",
        "backoff.base=0.2",
        "backoff.cap=2",
    ]) + "\n")
    (path.parent / "token").write_text(token + "\n")


class Agents:
    """`cloudplane agent` child processes, one per host; all stopped at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.procs: dict[str, asyncio.subprocess.Process] = {}

    async def start(self, name: str, config: Path) -> None:
        with (self.root / f"{name}.log").open("wb") as log:
            self.procs[name] = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "cloudplane", "agent", "--config", str(config), "--log-level", "debug",
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log, env={**os.environ})

    def check(self) -> None:
        for name, proc in self.procs.items():
            if proc.returncode is not None:
                raise AssertionError(f"agent {name} exited with {proc.returncode}: {self.log(name)[-3000:]}")

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    async def stop(self) -> None:
        for proc in self.procs.values():
            await _stop_agent(proc)


def _domain(uri: str, name: str) -> tuple[bool, str] | None:
    """(active, XML) of domain `name` in the daemon at `uri`, None if it is not defined there."""
    import libvirt

    conn = libvirt.open(uri)
    try:
        try:
            dom = conn.lookupByName(name)
        except libvirt.libvirtError:
            return None
        return bool(dom.isActive()), dom.XMLDesc(0)
    finally:
        conn.close()


async def test_deploy_migrate_stop_through_the_api(lab: Lab, ray_cluster: Any, tmp_path: Path) -> None:
    assert lab.a is not None
    b = await lab.daemon_b()
    ns_a, ns_b = lab.spaces.created[0], lab.spaces.created[1]
    for ns in (ns_a, ns_b):
        await _bridge(ns)
    primary = tmp_path / "primary"
    primary.mkdir()
    port = _port()
    settings = Settings(data_dir=tmp_path / "mgmt", db_url=f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}",
                        port=port, ray_address=ray_cluster.address, namespace=f"kvm-api-{time.monotonic_ns()}")
    mgmt = Management(settings)
    agents = Agents(tmp_path)
    api: ApiClient | None = None
    instance = ""
    try:
        await mgmt.start()
        api = await ApiClient.bootstrap(f"http://127.0.0.1:{port}/client/api")
        await api.do("updateConfiguration", name="simulator.template.download.seconds", value="0")
        await api.do("updateConfiguration", name="ping.interval", value="2")
        ids = await _zone(api, primary)

        # addHost answers each host's token once; its agent connects with it and the host is Up.
        hosts: dict[str, str] = {}
        for name, daemon, addr in (("a", lab.a, ADDR_A), ("b", b, ADDR_B)):
            added = one(await api.do("addHost", zoneid=ids["zone"], podid=ids["pod"], clusterid=ids["cluster"],
                                  hypervisor="KVM", url=f"http://{addr}", username="root",
                                  password="unused"), "host")
            assert added["state"] == "Connecting" and added["ipaddress"] == addr
            hosts[name] = added["id"]
            config = tmp_path / f"agent-{name}" / "agent.properties"
            _write_config(config, port, added["id"], added["agenttoken"], daemon, lab)
            await agents.start(name, config)

        async def up(host: str) -> bool:
            agents.check()
            return one(await api.do("listHosts", id=host), "host")["state"] == "Up"

        for host in hosts.values():
            await wait_for(lambda host=host: up(host), UP_TIMEOUT_S, f"host {host} to be Up")
        host_a = one(await api.do("listHosts", id=hosts["a"]), "host")
        assert host_a["hypervisor"] == "KVM" and host_a["cpunumber"] >= 1

        template = await _template(api, lab, ids["zone"], primary)
        offering = one(await api.do("createServiceOffering", name="tiny", displaytext="tiny", cpunumber=1,
                                 cpuspeed=500, memory=128), "serviceoffering")

        key, _ = generate_key_pair("e2e@cloudplane")
        await api.do("registerSSHKeyPair", name="e2e", publickey=key.text)

        # Deploy on host a: the StartCommand carries the disks, the NIC, the boot details, the
        # user data and the SSH key.
        t0 = time.monotonic()
        vm = one(await api.do("deployVirtualMachine", zoneid=ids["zone"], templateid=template,
                              serviceofferingid=offering["id"], networkids=ids["network"], hostid=hosts["a"],
                              name="tiny-1", keypair="e2e", userdata=base64.b64encode(b"#cloud-config\n").decode()),
                 "virtualmachine")
        timings = {"deploy": time.monotonic() - t0}
        instance = vm["instancename"]
        assert vm["state"] == "Running" and vm["hostid"] == hosts["a"], vm
        nic = vm["nic"][0]
        assert nic["ipaddress"].startswith("10.99.0.")
        found = await asyncio.to_thread(_domain, lab.a.uri, instance)
        assert found is not None and found[0], f"{instance} is not running in libvirt a"
        xml = ET.fromstring(found[1])
        root_disk = xml.find("./devices/disk[@device='disk']")
        assert root_disk is not None
        root_file = Path(root_disk.find("source").get("file") or "")  # type: ignore[union-attr]
        assert root_file.parent == primary, found[1]
        backing = await asyncio.to_thread(subprocess.run, ["qemu-img", "info", "-U", "--output=json",
                                                           str(root_file)], capture_output=True, text=True)
        assert f'"backing-filename": "{primary / template}"' in backing.stdout, backing.stdout
        iface = xml.find("./devices/interface")
        assert iface is not None
        assert iface.find("mac").get("address") == nic["macaddress"]  # type: ignore[union-attr]
        assert iface.find("source").get("bridge") == BRIDGE  # type: ignore[union-attr]
        cdrom = xml.find("./devices/disk[@device='cdrom']/source")  # the user data's config drive
        assert cdrom is not None and (cdrom.get("file") or "").endswith(".iso"), found[1]
        drive = (await asyncio.to_thread(Path(cdrom.get("file") or "").read_bytes))
        assert key.text.encode() in drive and b"#cloud-config" in drive  # ISO 9660 keeps file bytes as they are
        # The kernel and initramfs came from the template's details: the guest boots.
        await wait_for(lambda: "alive 2" in lab.console(instance), BOOT_TIMEOUT_S, f"{instance} to boot")

        # Live migration to host b: the source's libvirt reaches b at the address addHost was given.
        t0 = time.monotonic()
        moved_vm = one(await api.do("migrateVirtualMachine", virtualmachineid=vm["id"], hostid=hosts["b"]),
                       "virtualmachine")
        timings["migrate"] = time.monotonic() - t0
        assert moved_vm["state"] == "Running" and moved_vm["hostid"] == hosts["b"], moved_vm
        on_b = await asyncio.to_thread(_domain, b.uri, instance)
        assert on_b is not None and on_b[0], f"{instance} is not running in libvirt b"
        assert await asyncio.to_thread(_domain, lab.a.uri, instance) is None
        seen = int(lab.console(instance).rsplit("alive ", 1)[-1].split()[0])
        await wait_for(lambda: f"alive {seen + 2}" in lab.console(instance), 120, f"{instance} to run on b")

        # Stop: the guest powers off and its definition goes (its disks stay on the pool).
        t0 = time.monotonic()
        stopped = one(await api.do("stopVirtualMachine", id=vm["id"]), "virtualmachine")
        timings["stop"] = time.monotonic() - t0
        assert stopped["state"] == "Stopped", stopped
        assert await asyncio.to_thread(_domain, b.uri, instance) is None
        assert root_file.exists()

        # Started again on b, it finds its ROOT overlay there; a forced stop powers it off at once
        # (a graceful one would wait up to stop.timeout=60 s for a guest still booting).
        t0 = time.monotonic()
        again = one(await api.do("startVirtualMachine", id=vm["id"], hostid=hosts["b"]), "virtualmachine")
        timings["start"] = time.monotonic() - t0
        assert again["state"] == "Running" and again["hostid"] == hosts["b"], again
        on_b = await asyncio.to_thread(_domain, b.uri, instance)
        assert on_b is not None and on_b[0] and str(root_file) in on_b[1]
        t0 = time.monotonic()
        stopped = one(await api.do("stopVirtualMachine", id=vm["id"], forced=True), "virtualmachine")
        timings["forced stop"] = time.monotonic() - t0
        assert stopped["state"] == "Stopped" and timings["forced stop"] < 45, stopped
        # Only the first stop asked the guest to shut down; the forced one powered it off.
        assert agents.log("b").count(f"stopped {instance}: ") == 1, agents.log("b")[-3000:]
        assert await asyncio.to_thread(_domain, b.uri, instance) is None
        assert one(await api.do("listHosts", id=hosts["b"]), "host")["state"] == "Up"
        print(f"timings (load {os.getloadavg()[0]:.1f}): " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))
    except BaseException:
        for name in agents.procs:
            print(f"--- agent {name}\n{agents.log(name)[-4000:]}")
        raise
    finally:
        if api is not None:
            await api.close()
        await agents.stop()
        for daemon in (lab.a, b):
            with contextlib.suppress(Exception):
                await asyncio.to_thread(_destroy, daemon.uri, instance)
        await mgmt.stop()


def _destroy(uri: str, name: str) -> None:
    import libvirt

    if not name:
        return
    conn = libvirt.open(uri)
    try:
        with contextlib.suppress(libvirt.libvirtError):
            dom = conn.lookupByName(name)
            if dom.isActive():
                dom.destroy()
            dom.undefine()
    finally:
        conn.close()
