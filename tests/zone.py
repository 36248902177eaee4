"""The session's simulated zone and its clients, for every live test that deploys VMs
(tests/vms, storage, limits, accounts_kit): cloudplane's demo data centre built once
per session through the API. One definition, registered in tests/conftest.py: a
second copy would build the zone again, and the demo pools' uuids (derived from
their URLs, as CloudStack's are) cannot exist twice."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import cs
import pytest

from cloudplane.datacenter import Deployer, load_config
from tests.vms.conftest import DEMO, Cloud, CsApi, Tenant, client, unique, wait_for


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


@pytest.fixture(scope="session")
def tenant(live_server: Any, root: cs.CloudStack) -> Callable[[], Tenant]:
    def make(accounttype: int = 0) -> Tenant:
        name = unique("vmuser")
        acct = root.createAccount(username=name, password="pw-" + name, email=f"{name}@example.org",
                                  firstname="V", lastname=name, accounttype=accounttype)["account"]
        keys = root.registerUserKeys(id=acct["user"][0]["id"])["userkeys"]
        return Tenant(client(live_server, keys["apikey"], keys["secretkey"]), acct)

    return make
