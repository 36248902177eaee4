"""Fixtures for the infrastructure tests: a `cs` client of the session's live
server, unique names, and a fresh zone (with a pod, a physical network, ...)
per test, so no test depends on another's rows."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cs
import pytest

RECORDED = Path("/work/shared/cloudstack/responses")
DATACENTERS = Path("/work/shared/cloudstack/datacenters")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def api_error(fn: Callable[..., Any], **params: Any) -> dict[str, Any]:
    """The error body (or the failed job's result) of a call that must fail."""
    with pytest.raises(cs.CloudStackApiException) as e:
        fn(**params)
    return dict(e.value.error)


def recorded(service: str, command: str, key: str) -> dict[str, Any]:
    """An object of a real CloudStack answer, from the recorded responses."""
    body = json.loads((RECORDED / f"{service}.json").read_text())[command]
    inner = next(iter(body.values()))
    if "jobresult" in inner:
        inner = inner["jobresult"]
    obj = inner[key]
    return dict(obj[0] if isinstance(obj, list) else obj)


def shape(want: dict[str, Any], got: dict[str, Any], *, ignore: tuple[str, ...] = ()) -> None:
    """Every field of the recorded object is in ours (values differ, names must not)."""
    missing = set(want) - set(got) - set(ignore) - {"jobid", "jobstatus"}
    assert not missing, f"missing fields {sorted(missing)} in {got}"


@contextmanager
def db(server: Any) -> Iterator[sqlite3.Connection]:
    """The live server's SQLite store, for reading what no command shows."""
    conn = sqlite3.connect(server.db_url.split("///", 1)[1], timeout=30, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture(scope="session")
def api(live_server: Any) -> cs.CloudStack:
    return cs.CloudStack(endpoint=live_server.url, key=live_server.admin_key, secret=live_server.admin_secret,
                         timeout=60, fetch_result=True, poll_interval=0.1, job_timeout=60)


@pytest.fixture
def zone(api: cs.CloudStack) -> dict[str, Any]:
    """A new, disabled advanced zone."""
    return dict(api.createZone(name=unique("zone"), dns1="10.147.28.6", internaldns1="10.147.28.6",
                               networktype="Advanced", guestcidraddress="10.1.1.0/24")["zone"])


@pytest.fixture
def pod(api: cs.CloudStack, zone: dict[str, Any]) -> dict[str, Any]:
    return dict(api.createPod(zoneid=zone["id"], name=unique("pod"), gateway="172.16.15.1", netmask="255.255.255.0",
                              startip="172.16.15.2", endip="172.16.15.200")["pod"])


@pytest.fixture
def cluster(api: cs.CloudStack, zone: dict[str, Any], pod: dict[str, Any]) -> dict[str, Any]:
    return dict(api.addCluster(zoneid=zone["id"], podid=pod["id"], clustername=unique("cluster"),
                               hypervisor="Simulator", clustertype="CloudManaged")["cluster"][0])


@pytest.fixture
def physnet(api: cs.CloudStack, zone: dict[str, Any]) -> dict[str, Any]:
    """A physical network carrying Guest, Management and Public traffic."""
    pn = api.createPhysicalNetwork(zoneid=zone["id"], name=unique("pnet"), isolationmethods="VLAN",
                                   vlan="100-200")["physicalnetwork"]
    for t in ("Guest", "Management", "Public"):
        api.addTrafficType(physicalnetworkid=pn["id"], traffictype=t)
    return dict(pn)


def nfs_url(tag: str = "primary") -> str:
    """A primary-storage URL nobody else uses (pools are named after their export)."""
    return f"nfs://10.147.28.6:/export/home/sandbox/{unique(tag)}"
