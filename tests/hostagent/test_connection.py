"""The agent's WebSocket loop against a small fake management server: the
protocol exchange, pings, concurrent commands, rejection, failover, reconnects
and TLS."""

from __future__ import annotations

import asyncio
import datetime
import json
import random
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from cloudplane.agentproto import Answer, Capacity, welcome
from cloudplane.hostagent.config import TlsConfig
from cloudplane.hostagent.connection import Connection, backoff_delay, merge_servers
from tests.hostagent.realhost import wait_for

HOST, TOKEN = "5c8e6a43-1f4b-4f57-9a53-2d1b1c0f8a11", "s3cret"


class FakeCore:
    def __init__(self) -> None:
        self.vms = {"i-2-1-VM": "PowerOn"}
        self.broken = False
        self.handled: list[str] = []

    async def capacity(self) -> Capacity:
        return Capacity(cpus=2, cpu_speed_mhz=2000, memory_bytes=2**30, hypervisor="KVM")

    async def power_states(self) -> dict[str, str]:
        if self.broken:
            raise RuntimeError("libvirtd is gone")
        return dict(self.vms)

    async def handle(self, name: str, args: dict[str, Any]) -> Answer:
        await asyncio.sleep(float(args.get("delay", 0)))
        self.handled.append(name)
        if name == "Crash":
            raise KeyError("boom")
        return Answer(True, {"vm": args.get("vm"), "echo": name})


class FirstServerRng(random.Random):
    """Start with the first server and wait only a moment between attempts."""

    def randrange(self, *_a: Any, **_k: Any) -> int:  # type: ignore[override]
        return 0

    def uniform(self, a: float, b: float) -> float:
        return min(b, 0.05)


class FakeManagement:
    """Accepts hello with the right token, welcomes, records what the agent says."""

    def __init__(self, ping_interval: float = 0.1, servers: list[str] | None = None) -> None:
        self.ping_interval = ping_interval
        self.servers = servers or []
        self.hellos: list[dict[str, Any]] = []
        self.startups: list[dict[str, Any]] = []
        self.pings: list[dict[str, Any]] = []
        self.answers: dict[int, dict[str, Any]] = {}
        self.conns: list[ServerConnection] = []
        self.reject = False

    async def handler(self, ws: ServerConnection) -> None:
        hello = json.loads(await ws.recv())
        self.hellos.append(hello)
        if self.reject or hello.get("token") != TOKEN:
            await ws.send(json.dumps({"t": "reject", "reason": "unknown host or bad token"}))
            await ws.close(4401)
            return
        await ws.send(json.dumps(welcome(self.ping_interval, self.servers)))
        self.startups.append(json.loads(await ws.recv()))
        self.conns.append(ws)
        async for raw in ws:
            msg = json.loads(raw)
            if msg["t"] == "ping":
                self.pings.append(msg)
            elif msg["t"] == "ans":
                self.answers[msg["id"]] = msg

    async def command(self, cid: int, name: str, args: dict[str, Any]) -> None:
        await self.conns[-1].send(json.dumps({"t": "cmd", "id": cid, "name": name, "args": args}))


@asynccontextmanager
async def management(fake: FakeManagement, ssl_ctx: ssl.SSLContext | None = None,
                     host: str = "127.0.0.1") -> AsyncIterator[str]:
    async with serve(fake.handler, host, 0, ssl=ssl_ctx) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"{'wss' if ssl_ctx else 'ws'}://{host}:{port}/agent"


@asynccontextmanager
async def running(conn: Connection) -> AsyncIterator[Connection]:
    task = asyncio.create_task(conn.run())
    try:
        yield conn
    finally:
        conn.stop()
        await asyncio.wait_for(task, 10)


def agent(core: FakeCore, servers: list[str], token: str = TOKEN, **kw: Any) -> Connection:
    return Connection(core, HOST, token, servers, backoff_base_s=0.05, backoff_cap_s=0.2, rng=FirstServerRng(),
                      **kw)


async def test_session_pings_and_commands() -> None:
    fake, core = FakeManagement(servers=["ws://0.0.0.0:8080/agent", "ws://10.0.0.9:8080/agent"]), FakeCore()
    async with management(fake) as url, running(agent(core, [url])) as conn:
        await wait_for(lambda: len(fake.pings) >= 2, 10, "two pings")
        assert fake.hellos[0] == {"t": "hello", "host": HOST, "token": TOKEN, "agent": "kvm", "version": 1}
        start = fake.startups[0]
        assert start["t"] == "startup" and start["vms"] == {"i-2-1-VM": "PowerOn"}
        assert start["capacity"]["hypervisor"] == "KVM" and start["capacity"]["cpus"] == 2
        assert fake.pings[0] == {"t": "ping", "vms": {"i-2-1-VM": "PowerOn"}}
        # Learned servers are kept after the configured one; listen-all addresses are not.
        assert conn.servers == [url, "ws://10.0.0.9:8080/agent"]
        # A slow command does not hold up a quick one; a crashing handler still answers.
        await fake.command(1, "Slow", {"vm": "a", "delay": 0.5})
        await fake.command(2, "Quick", {"vm": "b"})
        await fake.command(3, "Crash", {})
        await wait_for(lambda: len(fake.answers) == 3, 10, "three answers")
        assert core.handled[:2] == ["Quick", "Crash"]
        assert fake.answers[1]["ok"] and fake.answers[1]["result"] == {"vm": "a", "echo": "Slow"}
        assert not fake.answers[3]["ok"] and "KeyError" in fake.answers[3]["error"]
        # libvirtd unreachable: pings stop rather than report an empty host.
        core.broken = True
        await asyncio.sleep(0.3)
        count = len(fake.pings)
        await asyncio.sleep(0.4)
        assert len(fake.pings) == count
        core.broken = False
        await wait_for(lambda: len(fake.pings) > count, 10, "pings to resume")
        assert conn.stats.connects == 1 and conn.up.is_set()


async def test_reconnects_after_the_server_drops_it() -> None:
    fake, core = FakeManagement(ping_interval=30), FakeCore()
    async with management(fake) as url, running(agent(core, [url])) as conn:
        await wait_for(lambda: len(fake.startups) == 1, 10, "the first session")
        await fake.conns[-1].close(1001)
        await wait_for(lambda: len(fake.startups) == 2, 10, "a second session")
        assert conn.stats.connects == 2 and [h["host"] for h in fake.hellos] == [HOST, HOST]


async def test_fails_over_to_the_next_server() -> None:
    fake, core = FakeManagement(), FakeCore()
    async with management(fake) as live:
        async with management(FakeManagement()) as dead:
            pass  # closed again: nothing listens there any more
        async with running(agent(core, [dead, live])) as conn:
            await wait_for(lambda: conn.stats.server == live, 10, "a session with the live server")
            assert conn.stats.failures >= 1 and conn.stats.history[0] == dead


async def test_a_rejected_host_backs_off_and_keeps_trying() -> None:
    fake, core = FakeManagement(), FakeCore()
    async with management(fake) as url, running(agent(core, [url], token="wrong")) as conn:
        await wait_for(lambda: conn.stats.rejected >= 2, 10, "two rejections")
        assert not conn.up.is_set() and "bad token" in (conn.stats.last_error or "")
        assert fake.startups == []


def test_backoff_and_server_lists() -> None:
    rng = random.Random(7)
    delays = [backoff_delay(a, 0.5, 30, rng) for a in range(12)]
    assert all(0 <= d <= min(30, 0.5 * 2**a) for a, d in enumerate(delays))
    assert max(backoff_delay(50, 0.5, 30, rng) for _ in range(100)) <= 30
    assert merge_servers(["ws://a/agent"], ["ws://a/agent", "ws://[::]:8080/agent", "ws://b/agent"]) == [
        "ws://a/agent", "ws://b/agent"]
    with pytest.raises(ValueError):
        Connection(FakeCore(), HOST, TOKEN, [])


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp / "server.pem", tmp / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@pytest.mark.parametrize("trust", ["ca", "untrusted", "no-verify"])
async def test_tls(tmp_path: Path, trust: str) -> None:
    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    tls: Callable[[], TlsConfig] = {"ca": lambda: TlsConfig(ca=str(cert)), "untrusted": TlsConfig,
                                    "no-verify": lambda: TlsConfig(verify=False)}[trust]
    fake, core = FakeManagement(), FakeCore()
    async with management(fake, server_ctx, host="localhost") as url, \
            running(agent(core, [url], tls=tls())) as conn:
        if trust == "untrusted":
            await wait_for(lambda: conn.stats.failures >= 1, 10, "a refused certificate")
            assert "CERTIFICATE_VERIFY_FAILED" in (conn.stats.last_error or "") and fake.startups == []
        else:
            await wait_for(conn.up.is_set, 10, "a TLS session")
            assert fake.startups and url.startswith("wss://")
