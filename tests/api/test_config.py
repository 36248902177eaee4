"""listConfigurations / updateConfiguration / resetConfiguration against the live server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cloudplane.api.registry import load_reference
from cloudplane.api.service import CachedValue
from cloudplane.store.configdefs import CATALOGUE, ConfigDef
from tests.api.signed import Api, admin, new_tenant

pytestmark = pytest.mark.ray

VISIBLE = [d for d in CATALOGUE if d.category != "Hidden"]


def _listed(api: Api, **params: Any) -> dict[str, dict[str, Any]]:
    body = api("listConfigurations", pagesize=500, **params)
    return {c["name"]: c for c in body.get("configuration", [])}


def _another_value(d: ConfigDef) -> str:
    if d.name == "default.page.size":
        return "600"  # still one page for the listing that checks the others
    return {"Integer": "7", "Long": "7", "Float": "0.5", "Boolean": "true" if d.default == "false" else "false"}.get(
        d.type, "changed-by-test")


def test_every_setting_is_listed_with_cloudstack_fields(live_server: Any, reference_path: Any) -> None:
    api = admin(live_server)
    body = api("listConfigurations", pagesize=500)
    assert body["count"] == len(VISIBLE)
    by_name = {c["name"]: c for c in body["configuration"]}
    assert set(by_name) == {d.name for d in VISIBLE}  # Hidden ones are never listed, as in CloudStack
    allowed = {f["name"] for f in load_reference(reference_path)["listconfigurations"]["response"] if f}
    for d in VISIBLE:
        c = by_name[d.name]
        assert set(c) <= allowed, set(c) - allowed
        assert (c["category"], c["type"], c["defaultvalue"], c["isdynamic"]) == (d.category, d.type, d.default,
                                                                                 d.dynamic)
        assert "scope" not in c


def test_filters_name_category_keyword_and_paging(live_server: Any) -> None:
    api = admin(live_server)
    assert set(_listed(api, name="api.throttling")) == {"api.throttling.enabled", "api.throttling.interval",
                                                        "api.throttling.max"}
    storage = _listed(api, category="Storage")
    assert storage and all(c["category"] == "Storage" for c in storage.values())
    assert set(storage) == {d.name for d in VISIBLE if d.category == "Storage"}
    assert "vm.deployment.planner" in _listed(api, keyword="Planner")
    assert api("listConfigurations", name="no.such.setting.anywhere") == {}
    page2 = api("listConfigurations", pagesize=3, page=2)
    assert page2["count"] == len(VISIBLE) and len(page2["configuration"]) == 3


def test_every_setting_can_be_updated_and_reset(live_server: Any) -> None:
    api = admin(live_server)
    changed = {d.name: _another_value(d) for d in CATALOGUE}
    try:
        for d in CATALOGUE:
            got = api("updateConfiguration", name=d.name, value=changed[d.name])["configuration"]
            assert (got["name"], got["value"]) == (d.name, changed[d.name])
        listed = _listed(api)
        assert {n: c["value"] for n, c in listed.items()} == {d.name: changed[d.name] for d in VISIBLE}
    finally:
        for d in CATALOGUE:
            assert api("resetConfiguration", name=d.name)["configuration"]["value"] == d.default
    assert {n: c["value"] for n, c in _listed(api).items()} == {d.name: d.default for d in VISIBLE}


def test_values_are_typed(live_server: Any) -> None:
    api = admin(live_server)
    for name, bad in (("api.throttling.max", "lots"), ("api.throttling.enabled", "maybe"),
                      ("ping.timeout", "nan"), ("ping.timeout", "x1"), ("expunge.delay", "1.5")):
        err = api.error("updateConfiguration", 431, name=name, value=bad)
        assert name in err["errortext"] and err["cserrorcode"] == 4350
    assert api("updateConfiguration", name="api.throttling.enabled", value=" TRUE ")["configuration"]["value"] == "true"
    api("resetConfiguration", name="api.throttling.enabled")
    assert api("listConfigurations", name="api.throttling.enabled")["configuration"][0]["value"] == "false"


def test_unknown_name_and_bad_scopes(live_server: Any) -> None:
    api = admin(live_server)
    err = api.error("updateConfiguration", 431, name="no.such.setting", value="1")
    assert err["errortext"] == "Config parameter with name no.such.setting doesn't exist"
    api.error("resetConfiguration", 431, name="no.such.setting")
    err = api.error("updateConfiguration", 431, value="1")
    assert err["errortext"] == "Unable to execute API command updateconfiguration due to missing parameter name"
    # without a value nothing changes: the answer is the setting as it is
    assert api("updateConfiguration", name="ha.tag")["configuration"]["value"] == ""


def test_scope_errors(live_server: Any) -> None:
    api = admin(live_server)
    tenant = new_tenant(api, prefix="cfgscope")
    acct = tenant.account["id"]
    # default.page.size is global only
    err = api.error("updateConfiguration", 431, name="default.page.size", value="10", accountid=acct)
    assert "scope" in err["errortext"]
    # zones do not exist yet: any zone id is unknown
    err = api.error("updateConfiguration", 431, name="enable.dynamic.scale.vm", value="true",
                    zoneid="00000000-0000-4000-8000-000000000000")
    assert "zoneid" in err["errortext"]
    err = api.error("updateConfiguration", 431, name="allow.user.view.destroyed.vm", value="true",
                    accountid=acct, domainid=tenant.account["domainid"])
    assert "only one ID" in err["errortext"]
    api.error("listConfigurations", 431, accountid="00000000-0000-4000-8000-000000000000")


def test_account_and_domain_scope_override_global(live_server: Any) -> None:
    api = admin(live_server)
    a, b = new_tenant(api, prefix="cfga"), new_tenant(api, prefix="cfgb")
    name = "allow.user.view.destroyed.vm"
    got = api("updateConfiguration", name=name, value="true", accountid=a.account["id"])["configuration"]
    assert (got["value"], got["scope"]) == ("true", "account")
    try:
        scoped = _listed(api, accountid=a.account["id"])
        # only settings that may be set per account are listed at account scope
        assert set(scoped) == {d.name for d in VISIBLE if "account" in d.scopes}
        assert scoped[name]["value"] == "true" and scoped[name]["scope"] == "account"
        assert _listed(api, accountid=b.account["id"])[name]["value"] == "false"
        assert _listed(api, name=name)[name]["value"] == "false"  # global unchanged
        # the setting takes effect for that account only
        assert a.api("listCapabilities")["capability"]["allowuserviewdestroyedvm"] is True
        assert b.api("listCapabilities")["capability"]["allowuserviewdestroyedvm"] is False

        # a domain value applies to that domain's accounts that set none
        root = api("listDomains")["domain"][0]["id"]
        got = api("updateConfiguration", name=name, value="true", domainid=root)["configuration"]
        assert got["scope"] == "domain"
        assert _listed(api, accountid=b.account["id"])[name]["value"] == "true"
        assert b.api("listCapabilities")["capability"]["allowuserviewdestroyedvm"] is True
        api("updateConfiguration", name=name, value="false", accountid=b.account["id"])
        assert _listed(api, accountid=b.account["id"])[name]["value"] == "false"  # account beats domain
    finally:
        root = api("listDomains")["domain"][0]["id"]
        api("resetConfiguration", name=name, domainid=root)
        for t in (a, b):
            api("resetConfiguration", name=name, accountid=t.account["id"])
    assert _listed(api, accountid=a.account["id"])[name]["value"] == "false"
    assert a.api("listCapabilities")["capability"]["allowuserviewdestroyedvm"] is False


def test_change_takes_effect_at_once_and_is_an_event(live_server: Any) -> None:
    api = admin(live_server)
    for _ in range(3):
        new_tenant(api, prefix="cfgpage")
    api("updateConfiguration", name="default.page.size", value="2")
    try:
        body = api("listAccounts", listall=True)
        assert len(body["account"]) == 2 and body["count"] > 2
    finally:
        api("resetConfiguration", name="default.page.size")
    assert len(api("listAccounts", listall=True)["account"]) > 2
    events = api("listEvents", type="CONFIGURATION.VALUE.EDIT", keyword="default.page.size")["event"]
    assert len(events) >= 2 and events[0]["account"] == "admin"
    jobs = api("listAsyncJobs")["asyncjobs"]
    assert any(j["cmd"] == "resetConfiguration" and j["jobinstancetype"] == "Configuration" for j in jobs)


def test_only_root_admins(live_server: Any) -> None:
    api = admin(live_server)
    user = new_tenant(api, prefix="cfguser")
    dadmin = new_tenant(api, prefix="cfgdadm", accounttype=2)
    for t in (user, dadmin):
        t.api.error("listConfigurations", 432)
        t.api.error("updateConfiguration", 432, name="ha.tag", value="x")


async def test_cached_values_load_once_and_see_invalidations() -> None:
    """ApiService's cache of settings and role rules: one load for a burst,
    old values served while reloading, a change on this node seen at once."""
    loads: list[int] = []
    gate = asyncio.Event()

    async def load() -> int:
        loads.append(len(loads))
        await gate.wait()
        return len(loads)

    cached = CachedValue(load, ttl=0.0)
    first = [asyncio.create_task(cached.get()) for _ in range(20)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*first) == [1] * 20 and len(loads) == 1  # one load for the burst
    gate.clear()
    assert await cached.get() == 1  # expired (ttl 0): the old value, and a reload starts behind it
    await asyncio.sleep(0)
    assert len(loads) == 2
    cached.invalidate()
    waiting = asyncio.create_task(cached.get())  # after a change: wait for a load begun after it
    await asyncio.sleep(0)
    assert not waiting.done()
    gate.set()
    assert await waiting == 3 and len(loads) == 3
