"""Domains, accounts and users round-trip through a live server with `cs`."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.api.test_identity_kit import PASSWORD, client, fails, job, make_domain, make_tenant, unique

pytestmark = pytest.mark.ray


def test_domain_round_trip(live_server: Any) -> None:
    root = client(live_server)
    parent = make_domain(root)
    assert parent["path"] == f"ROOT/{parent['name']}" and parent["level"] == 1
    assert parent["parentdomainname"] == "ROOT" and parent["haschild"] is False and parent["state"] == "Active"
    child = make_domain(root, parent["id"])
    assert child["path"] == f"{parent['path']}/{child['name']}" and child["parentdomainid"] == parent["id"]

    kids = root.listDomainChildren(id=parent["id"])
    assert kids["count"] == 1 and kids["domain"][0]["id"] == child["id"]
    assert root.listDomains(id=parent["id"])["domain"][0]["haschild"] is True
    fails(431, root.createDomain, name=child["name"].upper(), parentdomainid=parent["id"])  # names are unique

    # A rename moves the subdomain's path with it.
    renamed = root.updateDomain(id=parent["id"], name=unique("moved"), networkdomain="example.org")["domain"]
    assert renamed["path"] == f"ROOT/{renamed['name']}" and renamed["networkdomain"] == "example.org"
    assert root.listDomains(id=child["id"])["domain"][0]["path"] == f"{renamed['path']}/{child['name']}"
    grandchild = make_domain(root, child["id"])
    assert grandchild["level"] == 3
    assert {d["id"] for d in root.listDomainChildren(id=parent["id"], isrecursive=True)["domain"]} == \
        {child["id"], grandchild["id"]}

    # Not empty: deleting without cleanup fails in the job; with cleanup everything below goes.
    tenant = make_tenant(live_server, root, domainid=grandchild["id"])
    fails(431, job, api=root, command="deleteDomain", id=parent["id"])
    assert job(root, "deleteDomain", id=parent["id"], cleanup=True) == {"success": True}
    for d in (parent, child, grandchild):
        fails(431, root.listDomains, id=d["id"])
    fails(431, root.listAccounts, id=tenant.account["id"])
    fails(401, tenant.api.listUsers)


def test_domain_paths_fit(live_server: Any) -> None:
    root = client(live_server)
    long = make_domain(root, name=unique("long") + "x" * 230)
    err = fails(431, root.createDomain, name=unique("child"), parentdomainid=long["id"])
    assert "name" in err["errortext"]
    short = make_domain(root)
    make_domain(root, short["id"], name=unique("kid"))
    err = fails(431, root.updateDomain, id=short["id"], name=unique("long") + "y" * 235)
    assert "name" in err["errortext"]


def test_root_domain_is_protected(live_server: Any) -> None:
    root = client(live_server)
    top = root.listDomains(level=0)["domain"][0]
    assert top["name"] == "ROOT" and top["path"] == "ROOT"
    fails(431, root.updateDomain, id=top["id"], name="NOTROOT")
    fails(432, root.deleteDomain, id=top["id"])


def test_account_round_trip(live_server: Any) -> None:
    root = client(live_server)
    dom = make_domain(root)
    t = make_tenant(live_server, root, domainid=dom["id"])
    acct = t.account
    assert acct["domainpath"] == dom["path"] and acct["roletype"] == "User" and acct["accounttype"] == 0
    assert acct["user"][0]["username"] == t.user["username"] and acct["state"] == "enabled"

    new = unique("renamed")
    upd = root.updateAccount(id=acct["id"], newname=new, networkdomain="tenant.example.org")["account"]
    assert upd["name"] == new and upd["networkdomain"] == "tenant.example.org"
    upd = root.updateAccount(account=new, domainid=dom["id"], networkdomain="")["account"]
    assert "networkdomain" not in upd

    other = make_tenant(live_server, root, domainid=dom["id"])
    fails(431, root.updateAccount, id=acct["id"], newname=other.name)

    assert job(root, "disableAccount", id=acct["id"], lock=False)["account"]["state"] == "disabled"
    assert root.enableAccount(id=acct["id"])["account"]["state"] == "enabled"
    assert root.lockAccount(account=new, domainid=dom["id"])["account"]["state"] == "locked"
    assert root.enableAccount(account=new, domainid=dom["id"])["account"]["state"] == "enabled"
    assert job(root, "disableAccount", account=new, domainid=dom["id"], lock=True)["account"]["state"] == "locked"

    assert job(root, "deleteAccount", id=acct["id"]) == {"success": True}
    fails(431, root.listAccounts, id=acct["id"])
    assert root.listUsers(id=t.user["id"]) == {}


def test_account_role_change(live_server: Any) -> None:
    root = client(live_server)
    dom = make_domain(root)
    t = make_tenant(live_server, root, domainid=dom["id"])
    fails(432, t.api.listDomainChildren)
    roles = {r["type"]: r for r in root.listRoles()["role"] if r["isdefault"]}
    upd = root.updateAccount(id=t.account["id"], roleid=roles["DomainAdmin"]["id"])["account"]
    assert upd["roletype"] == "DomainAdmin" and upd["accounttype"] == 2
    assert t.api.listDomainChildren() == {}  # a domain admin now; its domain has no children
    fails(432, root.updateAccount, id=t.account["id"], roleid=roles["Admin"]["id"])  # no promotion to root admin


def test_default_accounts_are_protected(live_server: Any) -> None:
    root = client(live_server)
    admin = root.listAccounts(name="admin")["account"][0]
    system = root.listAccounts(name="system", listall=True)["account"][0]
    fails(431, root.deleteAccount, id=admin["id"])  # the caller's own account
    fails(431, root.deleteAccount, id=system["id"])
    fails(432, root.updateAccount, id=system["id"], newname="sys")
    fails(432, root.disableAccount, id=system["id"], lock=True)


def test_user_round_trip(live_server: Any) -> None:
    root = client(live_server)
    t = make_tenant(live_server, root)
    name = unique("second")
    user = root.createUser(account=t.name, domainid=t.domainid, username=name, password=PASSWORD,
                           email="s@example.org", firstname="Sec", lastname="Ond", timezone="UTC")["user"]
    assert user["username"] == name and user["accountid"] == t.account["id"] and user["timezone"] == "UTC"
    assert user["state"] == "enabled" and user["roletype"] == "User" and user["isdefault"] is False
    fails(431, root.createUser, account=t.name, domainid=t.domainid, username=name, password=PASSWORD,
          email="x@example.org", firstname="x", lastname="y")
    assert {u["id"] for u in t.api.listUsers()["user"]} == {t.user["id"], user["id"]}

    upd = root.updateUser(id=user["id"], firstname="New", lastname="Name", email="new@example.org",
                          username=name + "x")["user"]
    assert (upd["firstname"], upd["lastname"], upd["email"], upd["username"]) == \
        ("New", "Name", "new@example.org", name + "x")
    fails(431, root.updateUser, id=user["id"], username=t.user["username"])
    fails(431, root.updateUser, id=user["id"], firstname="  ")

    # Locking one of two enabled users leaves the account enabled.
    assert root.lockUser(id=user["id"])["user"]["state"] == "locked"
    assert root.listAccounts(id=t.account["id"])["account"][0]["state"] == "enabled"
    assert job(root, "disableUser", id=user["id"])["user"]["state"] == "disabled"
    fails(431, root.lockUser, id=user["id"])  # only an enabled user can be locked
    assert root.enableUser(id=user["id"])["user"]["state"] == "enabled"

    assert root.deleteUser(id=user["id"]) == {"success": True}
    assert root.listUsers(id=user["id"]) == {}
    fails(431, root.updateUser, id=user["id"], firstname="gone")


def test_locking_the_last_user_locks_the_account(live_server: Any) -> None:
    root = client(live_server)
    t = make_tenant(live_server, root)
    assert root.lockUser(id=t.user["id"])["user"]["state"] == "locked"
    assert root.listAccounts(id=t.account["id"])["account"][0]["state"] == "locked"
    fails(401, t.api.listUsers)
    # Enabling the user enables its account again (as CloudStack does).
    assert root.enableUser(id=t.user["id"])["user"]["state"] == "enabled"
    assert root.listAccounts(id=t.account["id"])["account"][0]["state"] == "enabled"
    assert t.api.listUsers()["count"] == 1


def _login(server: Any, username: str, password: str, domain: str) -> int:
    r = httpx.post(server.url, data={"command": "login", "username": username, "password": password,
                                     "domain": domain, "response": "json"}, timeout=30)
    return r.status_code


def test_password_change_rules(live_server: Any) -> None:
    root = client(live_server)
    t = make_tenant(live_server, root)
    uid = t.user["id"]
    err = fails(431, t.api.updateUser, id=uid, password="new-Pw-1")
    assert "currentpassword" in err["errortext"]
    fails(431, t.api.updateUser, id=uid, password="new-Pw-1", currentpassword="wrong")
    fails(431, t.api.updateUser, id=uid, password="  ", currentpassword=PASSWORD)
    t.api.updateUser(id=uid, password="new-Pw-1", currentpassword=PASSWORD)
    assert _login(live_server, t.user["username"], PASSWORD, t.account["domainpath"]) == 401
    assert _login(live_server, t.user["username"], "new-Pw-1", t.account["domainpath"]) == 200
    # An admin needs no current password.
    root.updateUser(id=uid, password="new-Pw-2")
    assert _login(live_server, t.user["username"], "new-Pw-2", t.account["domainpath"]) == 200


def test_update_user_keys(live_server: Any) -> None:
    root = client(live_server)
    t = make_tenant(live_server, root)
    key, secret = unique("key") + "k" * 40, unique("secret") + "s" * 40
    fails(431, root.updateUser, id=t.user["id"], userapikey=key)
    root.updateUser(id=t.user["id"], userapikey=key, usersecretkey=secret)
    assert client(live_server, key, secret).listUsers()["user"][0]["id"] == t.user["id"]
    fails(401, t.api.listUsers)  # the old pair no longer signs
    other = make_tenant(live_server, root)
    fails(431, root.updateUser, id=other.user["id"], userapikey=key, usersecretkey="x" * 50)


def _events(api: Any, resource: str) -> set[tuple[str, str]]:
    return {(e["type"], e["state"]) for e in api.listEvents(resourceid=resource).get("event", [])}


def test_events_are_recorded(live_server: Any) -> None:
    root = client(live_server)
    t = make_tenant(live_server, root)
    job(root, "disableUser", id=t.user["id"])
    root.enableUser(id=t.user["id"])
    job(root, "deleteAccount", id=t.account["id"])
    assert {("USER.DISABLE", "Scheduled"), ("USER.ENABLE", "Completed")} <= _events(root, t.user["id"])
    assert {("ACCOUNT.CREATE", "Completed"), ("ACCOUNT.DELETE", "Scheduled")} <= _events(root, t.account["id"])
    # An async command's Completed event follows its job (recorded when the job's end is heard).
    deadline = time.monotonic() + 10
    while ("ACCOUNT.DELETE", "Completed") not in _events(root, t.account["id"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ("ACCOUNT.DELETE", "Completed") in _events(root, t.account["id"])
    assert ("USER.DISABLE", "Completed") in _events(root, t.user["id"])


BAD_INPUT = [
    ("createDomain", {"name": "a/b"}, "name"),
    ("createDomain", {"name": "ok", "networkdomain": "-bad-.example"}, "networkdomain"),
    ("createDomain", {"name": "ok", "parentdomainid": "not-a-uuid"}, "parentdomainid"),
    ("createDomain", {"name": "ok", "domainid": "not-a-uuid"}, "domainid"),
    ("updateDomain", {"id": "00000000-0000-0000-0000-000000000000"}, "id"),
    ("deleteDomain", {}, "id"),
    ("listDomainChildren", {"id": "00000000-0000-0000-0000-000000000000"}, "id"),
    ("updateAccount", {}, "id"),
    ("updateAccount", {"account": "no-such-account"}, "account"),
    ("disableAccount", {"id": "00000000-0000-0000-0000-000000000000"}, "lock"),
    ("lockAccount", {"account": "x"}, "domainid"),
    ("createAccount", {"username": "u", "password": "p", "email": "e", "firstname": "f", "lastname": "l",
                       "accounttype": 7}, "accounttype"),
    ("createAccount", {"username": "u", "password": "p", "email": "e", "firstname": "f", "lastname": "l",
                       "accounttype": 0, "accountid": "nope"}, "accountid"),
    ("createUser", {"username": "u", "password": "p", "email": "e", "firstname": "f", "lastname": "l"}, "account"),
    ("createUser", {"username": "u", "password": "p", "email": "e", "firstname": "f", "lastname": "l",
                    "account": "no-such-account"}, "account"),
    ("updateUser", {"id": "nope"}, "id"),
    ("deleteUser", {"id": "00000000-0000-0000-0000-000000000000"}, "id"),
    ("lockUser", {}, "id"),
    ("createUser", {"username": "u", "password": "p", "email": "e", "firstname": "f", "lastname": "l",
                    "account": "admin", "timezone": "T" * 65}, "timezone"),
    ("listAccounts", {"accounttype": "x"}, "accounttype"),
]


@pytest.mark.parametrize(("command", "params", "param"), BAD_INPUT)
def test_bad_input_is_431_naming_the_parameter(live_server: Any, command: str, params: dict[str, Any],
                                               param: str) -> None:
    err = fails(431, getattr(client(live_server), command), **params)
    assert param in err["errortext"], err
