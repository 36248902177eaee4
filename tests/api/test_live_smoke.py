"""The first live round trip: Marvin-style key bootstrap, then signed calls with `cs`."""

from __future__ import annotations

from typing import Any

import cs
import httpx
import pytest

pytestmark = pytest.mark.ray


def client(server: Any) -> cs.CloudStack:
    return cs.CloudStack(endpoint=server.url, key=server.admin_key, secret=server.admin_secret, timeout=30)


def test_signed_list_and_create_account(live_server: Any) -> None:
    api = client(live_server)
    users = api.listUsers(username="admin")["user"]
    assert users[0]["account"] == "admin" and users[0]["apikey"] == live_server.admin_key
    acct = api.createAccount(username="alice", password="s3cret", email="a@example.org", firstname="A",
                             lastname="Lice", accounttype=0)["account"]
    assert acct["name"] == "alice" and acct["user"][0]["username"] == "alice"
    listed = api.listAccounts(name="alice", listall=True)
    assert listed["count"] == 1 and listed["account"][0]["id"] == acct["id"]


def test_unknown_command_and_bad_signature(live_server: Any) -> None:
    r = httpx.get(live_server.url, params={"command": "noSuchThing", "response": "json",
                                            "apiKey": live_server.admin_key, "signature": "x"})
    assert r.status_code == 432 and r.json()["errorresponse"]["errorcode"] == 432
    r = httpx.get(live_server.url, params={"command": "listUsers", "response": "json",
                                            "apiKey": live_server.admin_key, "signature": "AAAA"})
    assert r.status_code == 401
    assert r.json()["listusersresponse"]["errortext"] == "unable to verify user credentials and/or request signature"
