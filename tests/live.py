"""A live management server for tests: `cloudplane serve` in a subprocess on
127.0.0.1 with a random port, joined to the session's Ray cluster."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str  # http://127.0.0.1:PORT/client/api
    base: str
    proc: subprocess.Popen[bytes]
    data_dir: Path
    db_url: str
    log: Path
    admin_key: str = ""
    admin_secret: str = ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(2)  # Ctrl-C
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def start_server(ray_address: str, data_dir: Path, db_url: str, *, extra: list[str] | None = None,
                 timeout: float = 90.0, port: int | None = None) -> LiveServer:
    port = port or free_port()
    log = data_dir / "server.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
    cmd = [sys.executable, "-m", "cloudplane", "serve", "--port", str(port), "--data-dir", str(data_dir),
           "--db", db_url, "--address", ray_address, "--namespace", f"live-{uuid.uuid4().hex[:8]}",
           *(extra or [])]
    proc = subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                return LiveServer(base + "/client/api", base, proc, data_dir, db_url, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"server did not become healthy:\n{log.read_text()[-3000:]}")


def admin_keys(server: LiveServer, password: str = "password") -> tuple[str, str]:
    """Marvin's bootstrap: log in, find admin, register keys."""
    with httpx.Client(timeout=30) as c:
        r = c.post(server.url, data={"command": "login", "username": "admin", "password": password,
                                     "domain": "/", "response": "json"})
        r.raise_for_status()
        key = r.json()["loginresponse"]["sessionkey"]
        users = c.get(server.url, params={"command": "listUsers", "username": "admin", "response": "json",
                                          "sessionkey": key}).json()["listusersresponse"]["user"]
        r = c.get(server.url, params={"command": "registerUserKeys", "id": users[0]["id"], "response": "json",
                                      "sessionkey": key})
        r.raise_for_status()
        k = r.json()["registeruserkeysresponse"]["userkeys"]
    return k["apikey"], k["secretkey"]


def json_of(resp: Any) -> Any:
    return resp.json()
