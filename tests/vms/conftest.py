"""Live-server fixtures for the VM tests: `cs` clients, and a simulated
advanced zone (cloudplane's demo data centre: one pod, two clusters of two
hosts, a pool per cluster) built through the API by the Marvin-config
deployer, once per session."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cs
import pytest

import cloudplane
from cloudplane.datacenter import Deployer, load_config

DEMO = Path(cloudplane.__file__).parent / "demo.cfg"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def client(server: Any, key: str, secret: str) -> cs.CloudStack:
    return cs.CloudStack(endpoint=server.url, key=key, secret=secret, timeout=60, fetch_result=True,
                         poll_interval=0.05, job_timeout=60)


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


@pytest.fixture(scope="session")
def root(live_server: Any) -> cs.CloudStack:
    return client(live_server, live_server.admin_key, live_server.admin_secret)


@pytest.fixture(scope="session")
def cloud(live_server: Any, root: cs.CloudStack) -> Cloud:
    cfg = load_config(DEMO)
    cfg["zones"][0]["name"] = unique("vmzone")

    asyncio.run(Deployer(CsApi(root), say=lambda _: None).deploy(cfg))  # type: ignore[arg-type]
    zone = root.listZones(name=cfg["zones"][0]["name"])["zone"][0]
    tpl = wait_for(lambda: next((t for t in root.listTemplates(templatefilter="featured", zoneid=zone["id"]).get(
        "template", []) if t.get("isready") and t.get("hypervisor") == "Simulator"), None))
    offerings = {o["name"]: o["id"] for o in root.listServiceOfferings()["serviceoffering"]}
    hosts = [h for h in root.listHosts(zoneid=zone["id"], type="Routing")["host"]]
    pools = [p["id"] for p in root.listStoragePools(zoneid=zone["id"])["storagepool"]]
    return Cloud(zone["id"], tpl["id"], offerings["Small Instance"], offerings["Medium Instance"],
                 sorted(hosts, key=lambda h: h["name"]), sorted({h["clusterid"] for h in hosts}), pools)


@dataclass
class Tenant:
    api: cs.CloudStack
    account: dict[str, Any]


@pytest.fixture(scope="session")
def tenant(live_server: Any, root: cs.CloudStack) -> Callable[[], Tenant]:
    def make(accounttype: int = 0) -> Tenant:
        name = unique("vmuser")
        acct = root.createAccount(username=name, password="pw-" + name, email=f"{name}@example.org",
                                  firstname="V", lastname=name, accounttype=accounttype)["account"]
        keys = root.registerUserKeys(id=acct["user"][0]["id"])["userkeys"]
        return Tenant(client(live_server, keys["apikey"], keys["secretkey"]), acct)

    return make
