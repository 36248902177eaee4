"""End to end: a management node and one real agent (`cloudplane agent`, a child
process) on this machine, with libvirtd and the tiny guest from the lab.

addHost (KVM) answers the agent token -> the agent connects -> the host is Up ->
StartCommand through the host entity -> the domain runs in libvirt -> the
management node restarts -> the agent reconnects and the host is Up again, the
guest untouched -> StopCommand -> the domain is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import insert, select

from cloudplane.actors.kinds.host import host_ref
from cloudplane.agentproto import Cmd
from cloudplane.api.app import create_app
from cloudplane.apiclient import ApiClient
from cloudplane.node import ManagementNode
from cloudplane.settings import Settings
from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.tables.infra import Cluster, Host, Pod, Zone
from tests.hostagent.realhost import BOOT_TIMEOUT_S, Lab, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.ray]
Z, P, C, H = (t.__table__ for t in (Zone, Pod, Cluster, Host))  # type: ignore[attr-defined]
UP_TIMEOUT_S = 120.0


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Management:
    """One in-process management node with its API and agent gateway on `port`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.node: ManagementNode | None = None
        self.app: Any = None
        self.server: uvicorn.Server | None = None
        self.serving: asyncio.Task[Any] | None = None

    async def start(self) -> ManagementNode:
        self.node = ManagementNode(self.settings)
        await self.node.start()
        self.app = create_app(self.node)
        self.app.state.gateway.start()
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.settings.port,
                                                    log_level="warning", lifespan="off"))
        self.serving = asyncio.create_task(self.server.serve())
        await wait_for(lambda: self.server is not None and self.server.started, 60, "the API to listen")
        return self.node

    async def stop(self) -> None:
        if self.server is not None and self.serving is not None:
            self.server.should_exit = True
            await self.serving
        if self.app is not None:
            await self.app.state.gateway.stop()
        if self.node is not None:
            await self.node.stop()
        self.node = self.app = self.server = self.serving = None


async def _kvm_cluster(node: ManagementNode) -> tuple[str, str, str]:
    assert node.engine is not None
    base = {"version": 1, "created": utcnow()}
    cuuid, zuuid, puuid = new_uuid(), new_uuid(), new_uuid()
    async with node.engine.begin() as conn:
        z = (await conn.execute(insert(Z).values(uuid=zuuid, name="kz", **base))).inserted_primary_key[0]
        p = (await conn.execute(insert(P).values(uuid=puuid, name="kp", zone_id=z, **base))).inserted_primary_key[0]
        await conn.execute(insert(C).values(uuid=cuuid, name="kc", zone_id=z, pod_id=p, hypervisor_type="KVM", **base))
    return cuuid, zuuid, puuid


async def _host(node: ManagementNode, host: str) -> Any:
    assert node.engine is not None
    async with node.engine.connect() as conn:
        return (await conn.execute(select(H.c.status, H.c.mgmt_server_id, H.c.hypervisor_type, H.c.cpus,
                                          H.c.memory_bytes).where(H.c.uuid == host))).one()


def _write_config(path: Path, port: int, host: str, token: str, lab: Lab) -> None:
    assert lab.a is not None
    path.write_text("\n".join([
        "# written by test_real_e2e",
        f"servers=ws://127.0.0.1:{port}/agent",
        f"host.id={host}",
        f"host.token.file={path.parent / 'token'}",
        f"libvirt.uri={lab.a.uri}",
        "domain.type=qemu",
        f"console.log.dir={lab.consoles}",
        f"config.drive.dir={path.parent / 'configdrive'}",
        "stop.timeout=60",
        "backoff.base=0.2",
        "backoff.cap=2",
    ]) + "\n")
    (path.parent / "token").write_text(token + "\n")


async def _stop_agent(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def test_agent_end_to_end_and_through_a_management_restart(lab: Lab, ray_cluster: Any,
                                                                 tmp_path: Path) -> None:
    import libvirt

    assert lab.a is not None
    port = _port()
    settings = Settings(data_dir=tmp_path / "mgmt", db_url=f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}",
                        port=port, ray_address=ray_cluster.address, namespace=f"kvm-e2e-{time.monotonic_ns()}")
    mgmt = Management(settings)
    agent: asyncio.subprocess.Process | None = None
    agent_log = tmp_path / "agent.log"
    name = "i-2-303-VM"
    conn = await asyncio.to_thread(libvirt.open, lab.a.uri)
    try:
        node = await mgmt.start()
        cluster, zone, pod = await _kvm_cluster(node)
        api = await ApiClient.bootstrap(f"http://127.0.0.1:{port}/client/api")
        try:
            await api.call("updateConfiguration", name="ping.interval", value="2")
            added = (await api.call("addHost", clusterid=cluster, zoneid=zone, podid=pod, hypervisor="KVM",
                                    url="http://127.0.0.1", username="root", password="unused"))["host"][0]
        finally:
            await api.close()
        host, token = added["id"], added["agenttoken"]
        assert (await _host(node, host)).status == "Connecting"

        config = tmp_path / "agent" / "agent.properties"
        config.parent.mkdir()
        _write_config(config, port, host, token, lab)
        with agent_log.open("wb") as log:
            agent = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "cloudplane", "agent", "--config", str(config), "--log-level", "debug",
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log, env={**os.environ})

        async def status_is(node: ManagementNode, want: str) -> bool:
            if agent is not None and agent.returncode is not None:
                raise AssertionError(f"the agent exited with {agent.returncode}: {agent_log.read_text()[-3000:]}")
            return (await _host(node, host)).status == want

        await wait_for(lambda: status_is(node, "Up"), UP_TIMEOUT_S, "the host to be Up")
        row = await _host(node, host)
        assert row.hypervisor_type == "KVM" and row.cpus >= 1 and row.memory_bytes > 0
        assert row.mgmt_server_id == node.node_id

        # A StartCommand through the host entity, as a VM start sends it.
        ref = host_ref(host, cluster)
        ans = await node.runtime.run(ref, "command", {"name": Cmd.START, "args": {"vm": lab.vm_args(name)},
                                                      "timeout": 120.0})
        assert ans["ok"], ans
        assert ans["result"] == {"vm": name, "state": "PowerOn"}
        dom = await asyncio.to_thread(conn.lookupByName, name)
        assert dom.isActive()
        dom_id = dom.ID()
        await wait_for(lambda: "alive 1" in lab.console(name), BOOT_TIMEOUT_S, f"{name} to boot")
        # Pings keep the host Up well past ping.interval x ping.timeout (2 s x 2.5).
        await asyncio.sleep(6)
        assert await status_is(node, "Up")

        # The management node goes away and comes back on the same address.
        await mgmt.stop()
        node = await mgmt.start()
        await wait_for(lambda: status_is(node, "Up"), UP_TIMEOUT_S, "the host to be Up again")
        assert (await _host(node, host)).mgmt_server_id == node.node_id
        dom = await asyncio.to_thread(conn.lookupByName, name)
        assert dom.isActive() and dom.ID() == dom_id  # the same QEMU process, never restarted
        ans = await node.runtime.run(ref, "command", {"name": Cmd.CHECK_VM, "args": {"vm": name}})
        assert ans["result"] == {"vm": name, "state": "PowerOn"}
        text = agent_log.read_text()
        assert text.count(f"connected to ws://127.0.0.1:{port}/agent") >= 2, text[-3000:]
        assert "pings every 2s" in text

        ans = await node.runtime.run(ref, "command", {"name": Cmd.STOP, "args": {"vm": name}, "timeout": 120.0})
        assert ans["ok"] and ans["result"]["state"] == "PowerOff", ans
        names = await asyncio.to_thread(lambda: [d.name() for d in conn.listAllDomains(0) if d.isActive()])
        assert name not in names
    except BaseException:
        if agent_log.exists():
            print(agent_log.read_text()[-5000:])
        raise
    finally:
        if agent is not None:
            await _stop_agent(agent)
        with contextlib.suppress(libvirt.libvirtError):
            dom = conn.lookupByName(name)
            if dom.isActive():
                dom.destroy()
            dom.undefine()
        conn.close()
        await mgmt.stop()
