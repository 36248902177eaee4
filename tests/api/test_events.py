"""listEvents, deleteEvents and archiveEvents against the live server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from cloudplane.api.registry import load_reference
from tests.api.signed import Api, Tenant, admin, new_tenant

pytestmark = pytest.mark.ray


def _login(server: Any, t: Tenant) -> None:
    """A password login: the tenant's own USER.LOGIN event."""
    name = t.user["username"]
    r = httpx.post(server.url, data={"command": "login", "username": name, "password": "pw-" + name,
                                     "domain": "/", "response": "json"})
    assert r.status_code == 200, r.text


def _events(api: Api, **params: Any) -> list[dict[str, Any]]:
    return list(api("listEvents", **params).get("event", []))


def test_account_creation_is_listed_with_cloudstack_fields(live_server: Any, reference_path: Any) -> None:
    api = admin(live_server)
    t = new_tenant(api, prefix="ev")
    events = _events(api, type="ACCOUNT.CREATE", keyword=t.account["name"])
    assert len(events) == 1
    e = events[0]
    assert e["account"] == "admin" and e["username"] == "admin" and e["domain"] == "ROOT"
    assert e["level"] == "INFO" and e["state"] == "Completed"
    assert e["resourcetype"] == "Account" and e["resourceid"] == t.account["id"]
    assert e["created"].endswith("+0000") and len(e["created"]) == 24
    allowed = {f["name"] for f in load_reference(reference_path)["listevents"]["response"] if f}
    assert set(e) <= allowed, set(e) - allowed
    assert _events(api, id=e["id"]) == [e]


def test_filters(live_server: Any) -> None:
    api = admin(live_server)
    for _ in range(3):
        new_tenant(api, prefix="evf")
    creates = _events(api, type="ACCOUNT.CREATE")
    assert len(creates) >= 3 and all(e["type"] == "ACCOUNT.CREATE" for e in creates)
    # newest first, and paged with the total count
    assert [e["created"] for e in creates] == sorted((e["created"] for e in creates), reverse=True)
    page = api("listEvents", type="ACCOUNT.CREATE", pagesize=2, page=2)
    assert page["count"] == len(creates) and page["event"] == creates[2:4]
    assert all(e["level"] == "INFO" for e in _events(api, level="info"))
    assert _events(api, level="ERROR") == []
    api.error("listEvents", 431, level="LOUD")
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")
    assert len(_events(api, type="ACCOUNT.CREATE", startdate=today, enddate=today)) == len(creates)
    assert _events(api, startdate=tomorrow) == []
    assert _events(api, enddate="2001-01-01") == []
    api.error("listEvents", 431, startdate="yesterday")
    assert _events(api, resourcetype="Account", type="ACCOUNT.CREATE") == creates
    assert _events(api, keyword="no-such-event-text-xyz") == []


def test_users_see_their_own_events_only(live_server: Any) -> None:
    api = admin(live_server)
    a, b = new_tenant(api, prefix="eva"), new_tenant(api, prefix="evb")
    _login(live_server, a)
    _login(live_server, b)
    mine = _events(a.api)
    assert mine and {e["account"] for e in mine} == {a.account["name"]}
    assert {e["type"] for e in mine} == {"USER.LOGIN"}
    a.api.error("listEvents", 432, account=b.account["name"], domainid=b.account["domainid"])
    # an admin sees both with listall, or one account by name
    both = {e["account"] for e in _events(api, listall=True, type="USER.LOGIN")}
    assert {a.account["name"], b.account["name"]} <= both
    only_b = _events(api, account=b.account["name"], domainid=b.account["domainid"])
    assert only_b and {e["account"] for e in only_b} == {b.account["name"]}
    # without listall an admin sees its own account's events
    assert a.account["name"] not in {e["account"] for e in _events(api)}


def test_archive_and_delete(live_server: Any) -> None:
    api = admin(live_server)
    a, b = new_tenant(api, prefix="evd"), new_tenant(api, prefix="eve")
    for _ in range(3):
        _login(live_server, a)
    _login(live_server, b)
    ids = [e["id"] for e in _events(a.api)]
    assert len(ids) == 3
    a.api.error("deleteEvents", 431)  # ids, type or enddate needed
    assert a.api("archiveEvents", ids=ids[0]) == {"success": True}
    assert [e["id"] for e in _events(a.api)] == ids[1:]
    assert a.api("deleteEvents", ids=",".join(ids[1:])) == {"success": True}
    assert _events(a.api) == []
    # someone else's events are not yours to delete, and stay
    theirs = _events(b.api)[0]["id"]
    a.api.error("deleteEvents", 431, ids=theirs)
    assert [e["id"] for e in _events(b.api)] == [theirs]
    # by type, for what the caller may see
    assert b.api("deleteEvents", type="USER.LOGIN") == {"success": True}
    assert _events(b.api) == []
    assert _events(api, account=a.account["name"], domainid=a.account["domainid"]) == []
