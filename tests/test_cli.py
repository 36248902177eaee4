"""The `cloudplane` command: clear failures (database, server key, port), migrations, health
and metrics, and the loop it serves on."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, inspect

from cloudplane.cli import _run_server_loop


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cloudplane", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_bad_database_url_fails_clearly(tmp_path: Path) -> None:
    r = run("serve", "--data-dir", str(tmp_path), "--db", "postgresql://x@127.0.0.1/y")
    assert r.returncode == 2 and "unsupported database 'postgresql'" in r.stderr
    r = run("serve", "--data-dir", str(tmp_path), "--db", "mysql://root@127.0.0.1:1/nope")
    assert r.returncode == 2 and "cannot connect to database" in r.stderr and "Traceback" not in r.stderr


def test_busy_port_fails_clearly(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = run("serve", "--data-dir", str(tmp_path), "--port", str(port))
    assert r.returncode == 2 and f"port {port} on 127.0.0.1 is already in use" in r.stderr


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    r = run("db", "upgrade", "--db", f"sqlite:///{db}")
    assert r.returncode == 0, r.stderr
    tables = set(inspect(create_engine(f"sqlite:///{db}")).get_table_names())
    assert {"async_job", "vm_instance", "host", "zone", "app_user", "alembic_version"} <= tables
    r = run("db", "current", "--db", f"sqlite:///{db}")
    assert r.returncode == 0 and r.stdout.strip()


@pytest.mark.ray
def test_health_and_metrics(live_server: Any) -> None:
    h = httpx.get(live_server.base + "/health", timeout=10)
    assert h.status_code == 200 and h.json()["status"] == "ok"
    assert all(s["up"] for s in h.json()["shards"].values())
    text = httpx.get(live_server.base + "/metrics", timeout=10).text
    for name in ("cloudplane_mailbox_depth", "cloudplane_jobs{", "cloudplane_operation_latency_seconds_bucket",
                 "cloudplane_shard_restarts_total", "cloudplane_shard_rss_bytes"):
        assert name in text, name


@pytest.mark.ray
def test_default_admin_password_warning(live_server: Any) -> None:
    assert "default password 'password'" in live_server.log.read_text()


def test_the_server_loop_is_uvloop() -> None:
    seen: list[str] = []

    async def main() -> None:
        seen.append(type(asyncio.get_running_loop()).__module__)

    _run_server_loop(main())
    assert seen and seen[0].startswith("uvloop")


@pytest.mark.ray
def test_a_node_with_another_server_key_is_refused(live_server: Any, tmp_path: Path) -> None:
    """The live server's store holds admin's secret key encrypted under its own server key:
    a second node on that store with a key of its own would fail every signed request."""
    with socket.socket() as busy:  # every run must stop before it serves: the port check comes last
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        def serve(env_key: str | None) -> subprocess.CompletedProcess[str]:
            env = {k: v for k, v in os.environ.items() if k != "CLOUDPLANE_SERVER_KEY"}
            if env_key is not None:
                env["CLOUDPLANE_SERVER_KEY"] = env_key
            return subprocess.run([sys.executable, "-m", "cloudplane", "serve", "--data-dir", str(tmp_path),
                                   "--db", live_server.db_url, "--port", str(port)], capture_output=True,
                                  text=True, timeout=60, env=env)

        r = serve(None)  # a new server.key of its own
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert f"the server key ({tmp_path / 'server.key'}) is not the key" in r.stderr
        r = serve("bm90IGEga2V5")  # base64 of 9 bytes
        assert r.returncode == 2
        assert "bad server key (CLOUDPLANE_SERVER_KEY): the server key must be 32 bytes" in r.stderr
        # With the first node's key, the key check passes and the next check speaks.
        r = serve((live_server.data_dir / "server.key").read_text().strip())
        assert r.returncode == 2 and "server key" not in r.stderr and "already in use" in r.stderr
