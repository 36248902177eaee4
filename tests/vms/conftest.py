"""Live-server fixtures for the VM tests: `cs` clients, and a simulated
advanced zone (cloudplane's demo data centre: one pod, two clusters of two
hosts, a pool per cluster) built through the API by the Marvin-config
deployer, once per session."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import cs
import pytest

import cloudplane

DEMO = Path(cloudplane.__file__).parent / "demo.cfg"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def client(server: Any, key: str, secret: str) -> cs.CloudStack:
    return cs.CloudStack(endpoint=server.url, key=key, secret=secret, timeout=60, fetch_result=True,
                         poll_interval=0.05, job_timeout=60)


def rows(server: Any, sql: str, *args: Any) -> list[Any]:
    """Read the live server's SQLite store directly (what the API must not be trusted for)."""
    conn = sqlite3.connect(server.db_url.split("///", 1)[1], timeout=30)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def libcloud_driver(server: Any) -> Any:
    """Apache Libcloud's CloudStack driver against the live server, as the admin."""
    from libcloud.compute.providers import Provider, get_driver

    port = urlparse(server.url).port
    cls = get_driver(Provider.CLOUDSTACK)
    return cls(server.admin_key, server.admin_secret, host="127.0.0.1", port=port, path="/client/api", secure=False)


def api_error(fn: Callable[..., Any], **params: Any) -> dict[str, Any]:
    """The error body (or the failed job's result) of a call that must fail."""
    with pytest.raises(cs.CloudStackApiException) as e:
        fn(**params)
    return dict(e.value.error)


def wait_for(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"not so after {timeout}s")


@dataclass
class Cloud:
    zone: str
    template: str
    offering: str  # Small Instance
    medium: str  # Medium Instance
    hosts: list[dict[str, Any]]  # id, clusterid, name
    clusters: list[str]
    pools: list[str]


class CsApi:
    """The Deployer's calls made by `cs`, which waits for asynchronous commands' jobs
    (createPhysicalNetwork, addTrafficType, ... are asynchronous in CloudStack 4.18)."""

    def __init__(self, api: cs.CloudStack) -> None:
        self.api = api

    async def call(self, command: str, **params: Any) -> dict[str, Any]:
        clean = {k: v for k, v in params.items() if v is not None}
        return await asyncio.to_thread(lambda: getattr(self.api, command)(fetch_result=True, **clean))  # type: ignore[no-any-return]

    async def call_async(self, command: str, **params: Any) -> dict[str, Any]:
        return await self.call(command, **params)

    do = call_async


@dataclass
class Tenant:
    api: cs.CloudStack
    account: dict[str, Any]
