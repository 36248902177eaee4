"""The agent's link to the management servers: one WebSocket at a time, for ever.

    connect (ws:// or wss://) -> hello(host, token) -> welcome(ping_interval, servers)
    -> startup(capacity, power states) -> pings every ping_interval, commands answered
    as they come; any failure -> jittered exponential back-off -> the next server.

The loop behaves like the simulator's `FleetAgent`: full jitter (a random delay
up to min(cap, base * 2^attempt)), so a management restart does not bring every
host back in the same instant; the attempt count resets once a server welcomes
us. Servers named in a welcome are added after the configured ones.

Commands run as tasks and are never cancelled by a lost connection: a migration
or a shutdown in progress completes, only its answer is lost (the management
server asks CheckVirtualMachineCommand when it needs to know). A ping is skipped
when the host cannot report its VMs (libvirtd unreachable): an empty report would
read as "every VM vanished", silence lets the management server investigate.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import ssl
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlparse

import websockets

from cloudplane.agentproto import Answer, Capacity, answer, hello, ping, startup
from cloudplane.hostagent.config import TlsConfig

log = logging.getLogger(__name__)

OPEN_TIMEOUT_S = 10.0
WELCOME_TIMEOUT_S = 30.0
_UNSPECIFIED = {"0.0.0.0", "::", ""}


class AgentCore(Protocol):
    """What the connection needs from the host: reports and command handling."""

    async def capacity(self) -> Capacity: ...

    async def power_states(self) -> dict[str, str]: ...

    async def handle(self, name: str, args: dict[str, Any]) -> Answer: ...


class Rejected(ConnectionError):
    """The management server refused this host (unknown host or wrong token)."""


@dataclass
class LinkStats:
    connects: int = 0
    failures: int = 0
    rejected: int = 0
    commands: int = 0
    pings: int = 0
    server: str | None = None  # the one we are connected to
    last_error: str | None = None
    history: list[str] = field(default_factory=list)  # servers tried, most recent last (bounded)


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Full jitter: uniform over [0, min(cap, base * 2^attempt)]."""
    bound = min(cap, base * 2 ** min(attempt, 30))
    return (rng or random).uniform(0, bound)


def ssl_context(tls: TlsConfig) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=tls.ca)
    if not tls.verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if tls.cert:
        ctx.load_cert_chain(tls.cert, tls.key)
    return ctx


def merge_servers(configured: list[str], learned: list[str]) -> list[str]:
    """Configured servers first, then new ones a welcome named (never 0.0.0.0-style
    listen-all addresses, which are not reachable)."""
    out = list(configured)
    for url in learned:
        host = urlparse(url).hostname or ""
        if url not in out and host not in _UNSPECIFIED:
            out.append(url)
    return out


class Connection:
    def __init__(self, core: AgentCore, host_id: str, token: str, servers: list[str], *,
                 tls: TlsConfig | None = None, backoff_base_s: float = 0.5, backoff_cap_s: float = 30.0,
                 rng: random.Random | None = None) -> None:
        if not servers:
            raise ValueError("at least one management server is needed")
        self.core = core
        self.host_id, self.token = host_id, token
        self.configured = list(servers)
        self.servers = list(servers)
        self.tls = tls or TlsConfig()
        self.base, self.cap = backoff_base_s, backoff_cap_s
        self.rng = rng or random.Random()
        self.stats = LinkStats()
        self.up = asyncio.Event()  # set while a session is established
        self._stopping = asyncio.Event()
        self._commands: set[asyncio.Task[None]] = set()
        self._send_lock = asyncio.Lock()
        self._welcomed = False

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Connect, serve, reconnect, until `stop()`."""
        attempt, index = 0, self.rng.randrange(len(self.servers))
        try:
            while not self._stopping.is_set():
                url = self.servers[index % len(self.servers)]
                self.stats.history = [*self.stats.history[-19:], url]
                welcomed = await self._attempt(url)
                if self._stopping.is_set():
                    break
                attempt = 0 if welcomed else attempt + 1
                index += 1
                delay = backoff_delay(attempt, self.base, self.cap, self.rng)
                log.info("reconnecting in %.1fs (next server %s)", delay, self.servers[index % len(self.servers)])
                try:
                    await asyncio.wait_for(self._stopping.wait(), delay)
                except TimeoutError:
                    pass
        finally:
            for task in list(self._commands):
                task.cancel()
            await asyncio.gather(*self._commands, return_exceptions=True)

    async def _attempt(self, url: str) -> bool:
        """One connection to `url`; True when the server welcomed us."""
        self._welcomed = False
        ssl_ctx = ssl_context(self.tls) if url.startswith("wss://") else None
        try:
            async with websockets.connect(url, open_timeout=OPEN_TIMEOUT_S, ssl=ssl_ctx, max_queue=None) as ws:
                stop = asyncio.create_task(self._stopping.wait())
                session = asyncio.create_task(self._session(ws, url))
                try:
                    await asyncio.wait({stop, session}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    stop.cancel()
                    if not session.done():
                        session.cancel()
                    (outcome,) = await asyncio.gather(session, return_exceptions=True)
                if isinstance(outcome, Exception):
                    raise outcome  # handled below, like a failure to connect
        except Rejected as err:
            self.stats.rejected += 1
            self.stats.last_error = str(err)
            log.error("%s refused this host: %s (check host.id and host.token)", url, err)
        except websockets.ConnectionClosed as err:
            if not self._welcomed:
                self.stats.failures += 1
            self.stats.last_error = f"closed: {err}"
            log.warning("connection to %s closed: %s", url, err)
        except Exception as err:  # any network or protocol failure: try the next server
            self.stats.failures += 1
            self.stats.last_error = f"{type(err).__name__}: {err}"
            log.warning("connection to %s failed: %s", url, self.stats.last_error)
        finally:
            self.up.clear()
            self.stats.server = None
        return self._welcomed

    async def _session(self, ws: Any, url: str) -> None:
        await ws.send(json.dumps(hello(self.host_id, self.token, "kvm")))
        msg = json.loads(await asyncio.wait_for(ws.recv(), WELCOME_TIMEOUT_S))
        if msg.get("t") != "welcome":
            raise Rejected(msg.get("reason") or f"unexpected {msg.get('t')!r} instead of welcome")
        self._welcomed = True
        self.servers = merge_servers(self.configured, [*self.servers, *(msg.get("servers") or [])])
        interval = float(msg.get("ping_interval") or 60)
        capacity, vms = await asyncio.gather(self.core.capacity(), self.core.power_states())
        await ws.send(json.dumps(startup(capacity, vms)))
        self.stats.connects += 1
        self.stats.server = url
        self.up.set()
        log.info("connected to %s as host %s (%d VMs, pings every %.0fs)", url, self.host_id, len(vms), interval)
        pinger = asyncio.create_task(self._pings(ws, interval))
        try:
            async for raw in ws:
                m = json.loads(raw)
                if m.get("t") == "cmd":
                    task = asyncio.create_task(self._command(ws, m))
                    self._commands.add(task)
                    task.add_done_callback(self._commands.discard)
        finally:
            pinger.cancel()
            await asyncio.gather(pinger, return_exceptions=True)
            log.warning("disconnected from %s", url)

    async def _send(self, ws: Any, msg: dict[str, Any]) -> None:
        async with self._send_lock:
            await ws.send(json.dumps(msg))

    async def _pings(self, ws: Any, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                vms = await self.core.power_states()
            except Exception as err:  # libvirtd unreachable: say nothing rather than "no VMs"
                log.warning("ping skipped, VM power states unavailable: %s", err)
                continue
            await self._send(ws, ping(vms))
            self.stats.pings += 1

    async def _command(self, ws: Any, m: dict[str, Any]) -> None:
        self.stats.commands += 1
        name = str(m.get("name"))
        try:
            ans = await self.core.handle(name, m.get("args") or {})
        except Exception as err:  # a bug in a handler must still answer
            log.exception("%s crashed", name)
            ans = Answer(False, error=f"{name} failed on the agent: {type(err).__name__}: {err}")
        try:
            await self._send(ws, answer(m["id"], ans))
        except Exception as err:
            log.warning("answer to %s #%s lost: %s", name, m.get("id"), err)
