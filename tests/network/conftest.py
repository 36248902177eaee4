"""Fixtures for the guest-network tests: the session's management server, an
advanced and a basic zone built on it with the Deployer from Marvin-style
configs (once per session), fresh accounts with `cs` clients, and network GC
made short for the tests that wait for it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import cs
import pytest

from cloudplane.datacenter import Deployer
from cloudplane.store.configdefs import BY_NAME
from tests.live import LiveServer

GC_INTERVAL, GC_WAIT = "1", "2"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def fails(code: int, fn: Callable[..., Any], **params: Any) -> dict[str, Any]:
    """Call `fn`; it must fail with CloudStack error `code` (an HTTP status, or a failed job's result)."""
    with pytest.raises(cs.CloudStackApiException) as info:
        fn(**params)
    err = dict(info.value.error)
    status = info.value.response.status_code if info.value.response is not None else None
    assert err.get("errorcode") == code, (status, err)
    if status != 200:
        assert status == code, (status, err)
    assert err["errortext"], err
    return err


def eventually(fn: Callable[[], Any], timeout: float = 30.0, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def client(server: LiveServer, key: str, secret: str) -> cs.CloudStack:
    return cs.CloudStack(endpoint=server.url, key=key, secret=secret, timeout=60, fetch_result=True,
                         poll_interval=0.1, job_timeout=90)


class CsDeployApi:
    """The Deployer's calls through the real `cs` client, each waiting for its job as Marvin does."""

    def __init__(self, api: cs.CloudStack) -> None:
        self.api = api

    async def call(self, command: str, **params: Any) -> dict[str, Any]:
        clean = {k: v for k, v in params.items() if v is not None}
        result = await asyncio.to_thread(lambda: getattr(self.api, command)(fetch_result=True, **clean))
        return dict(result)

    do = call_async = call


def _host(c: str, h: str) -> dict[str, str]:
    return {"url": f"http://sim/{c}/{h}", "username": "root", "password": "password"}


def advanced_config(name: str) -> dict[str, Any]:
    """demo.cfg's shape: one pod, two clusters of two simulated hosts, VLANs 100-199."""
    clusters = [{"clustername": f"{name}-c{i}", "hypervisor": "Simulator", "clustertype": "CloudManaged",
                 "hosts": [_host(f"c{i}", "h1"), _host(f"c{i}", "h2")],
                 "primaryStorages": [{"name": f"{name}-ps{i}", "url": f"nfs://192.0.2.10/export/{name}/p{i}"}]}
                for i in (1, 2)]
    return {"zones": [{
        "name": name, "networktype": "Advanced", "dns1": "192.0.2.53", "internaldns1": "192.0.2.53",
        "guestcidraddress": "10.1.1.0/24",
        "physical_networks": [{"name": f"{name}-pnet", "vlan": "100-199", "broadcastdomainrange": "Zone",
                               "isolationmethods": ["VLAN"],
                               "traffictypes": [{"typ": "Guest"}, {"typ": "Management"}, {"typ": "Public"}],
                               "providers": [{"name": "VirtualRouter"}]}],
        "ipranges": [{"startip": "198.51.100.10", "endip": "198.51.100.60", "netmask": "255.255.255.0",
                      "gateway": "198.51.100.1", "vlan": "untagged"}],
        "pods": [{"name": f"{name}-pod", "startip": "203.0.113.10", "endip": "203.0.113.200",
                  "netmask": "255.255.255.0", "gateway": "203.0.113.1", "clusters": clusters}],
        "secondaryStorages": [{"url": f"nfs://192.0.2.10/export/{name}/secondary", "provider": "NFS"}],
    }]}


def basic_config(name: str) -> dict[str, Any]:
    """basic.cfg's shape: security groups, one pod with a guest range."""
    return {"zones": [{
        "name": name, "networktype": "Basic", "securitygroupenabled": "true", "dns1": "192.0.2.53",
        "internaldns1": "192.0.2.53",
        "physical_networks": [{"name": f"{name}-pnet", "broadcastdomainrange": "Pod", "isolationmethods": ["L3"],
                               "traffictypes": [{"typ": "Guest"}, {"typ": "Management"}],
                               "providers": [{"name": "VirtualRouter"}, {"name": "SecurityGroupProvider"}]}],
        "pods": [{"name": f"{name}-pod", "startip": "172.16.15.2", "endip": "172.16.15.254",
                  "netmask": "255.255.255.0", "gateway": "172.16.15.1",
                  "guestIpRanges": [{"startip": "60.147.41.2", "endip": "60.147.41.30", "netmask": "255.255.255.0",
                                     "gateway": "60.147.41.1"}],
                  "clusters": [{"clustername": f"{name}-c0", "hypervisor": "Simulator", "clustertype": "CloudManaged",
                                "hosts": [_host("c0", "h0"), _host("c0", "h1")],
                                "primaryStorages": [{"name": f"{name}-ps0",
                                                     "url": f"nfs://192.0.2.10/export/{name}/primary"}]}]}],
        "secondaryStorages": [{"url": f"nfs://192.0.2.10/export/{name}/secondary", "provider": "NFS"}],
    }]}


@pytest.fixture(scope="session")
def net_server(live_server: LiveServer) -> LiveServer:
    return live_server


@pytest.fixture
def short_gc(root: cs.CloudStack) -> Iterator[None]:
    """Network GC every second, after two seconds idle; CloudStack's defaults again afterwards."""
    root.updateConfiguration(name="network.gc.interval", value=GC_INTERVAL)
    root.updateConfiguration(name="network.gc.wait", value=GC_WAIT)
    try:
        yield
    finally:
        for name in ("network.gc.interval", "network.gc.wait"):
            root.updateConfiguration(name=name, value=BY_NAME[name].default)


@pytest.fixture(scope="session")
def root(net_server: LiveServer) -> cs.CloudStack:
    return client(net_server, net_server.admin_key, net_server.admin_secret)


class Zone(dict[str, Any]):
    """A deployed zone: its listZones entry plus `template` and `offering` ids to deploy with."""

    @property
    def id(self) -> str:
        return str(self["id"])


def deploy_zone(root: cs.CloudStack, cfg: dict[str, Any]) -> Zone:
    asyncio.run(Deployer(CsDeployApi(root), say=lambda _m: None).deploy(cfg))  # type: ignore[arg-type]
    z = Zone(root.listZones(name=cfg["zones"][0]["name"])["zone"][0])
    tpl = eventually(lambda: [t for t in root.listTemplates(templatefilter="featured", zoneid=z.id).get("template", [])
                              if t["isready"]], timeout=60)
    assert tpl, "no ready template"
    z["template"] = tpl[0]["id"]
    z["offering"] = root.listServiceOfferings(name="Small Instance")["serviceoffering"][0]["id"]
    return z


@pytest.fixture(scope="session")
def adv(root: cs.CloudStack) -> Zone:
    return deploy_zone(root, advanced_config(unique("adv")))


@pytest.fixture(scope="session")
def basic(root: cs.CloudStack) -> Zone:
    return deploy_zone(root, basic_config(unique("basic")))


class Tenant:
    """A fresh user account with API keys, and its `cs` client."""

    def __init__(self, server: LiveServer, root: cs.CloudStack, accounttype: int = 0) -> None:
        name = unique("acct")
        self.account = root.createAccount(username=name, password="pw-" + name, email=f"{name}@example.org",
                                          firstname="T", lastname=name, accounttype=accounttype)["account"]
        keys = root.registerUserKeys(id=self.account["user"][0]["id"])["userkeys"]
        self.api = client(server, keys["apikey"], keys["secretkey"])
        self.name = name

    def deploy(self, zone: Zone, **params: Any) -> dict[str, Any]:
        vm = self.api.deployVirtualMachine(zoneid=zone.id, templateid=zone["template"],
                                           serviceofferingid=zone["offering"], **params)
        return dict(vm["virtualmachine"])


@pytest.fixture
def tenant(net_server: LiveServer, root: cs.CloudStack) -> Tenant:
    return Tenant(net_server, root)


@pytest.fixture
def new_tenant(net_server: LiveServer, root: cs.CloudStack) -> Callable[[], Tenant]:
    return lambda: Tenant(net_server, root)
