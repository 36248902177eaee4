"""The tenancy matrix: who may list, read and change whose accounts and users.

Each test builds its own small world:

    ROOT ── d1 ── d1c        d1:  user (two users), peer (user), dadmin (domain admin)
       └─── d2               d1c: child (user)       d2: stranger (user)

and the root admin. Outcomes are CloudStack's: a user id out of reach lists
as empty (listUsers narrows to what the caller may see), an account id out of
reach is 432 (listAccounts checks it), reading keys or changing a user out of
reach is 432, a domain or account named out of reach is 432.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.api.test_identity_kit import PASSWORD, Tenant, client, fails, job, make_domain, make_tenant, unique

pytestmark = pytest.mark.ray


@dataclass
class World:
    root: Any
    d1: dict[str, Any]
    d1c: dict[str, Any]
    d2: dict[str, Any]
    user: Tenant
    user2: dict[str, Any]  # a second user of user's account
    peer: Tenant
    dadmin: Tenant
    child: Tenant
    stranger: Tenant
    admin_user: dict[str, Any]
    admin_account: dict[str, Any]

    def caller(self, kind: str) -> Any:
        return {"user": self.user.api, "dadmin": self.dadmin.api, "root": self.root}[kind]

    def target(self, kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(user, account) of a target kind."""
        if kind == "self-account":
            return self.user2, self.user.account
        if kind == "admin":
            return self.admin_user, self.admin_account
        t: Tenant = getattr(self, kind)
        return t.user, t.account


@pytest.fixture
def world(live_server: Any) -> World:
    return build_world(live_server)


def build_world(live_server: Any) -> World:
    root = client(live_server)
    d1 = make_domain(root, name=unique("d1"))
    d1c = make_domain(root, d1["id"], name=unique("d1c"))
    d2 = make_domain(root, name=unique("d2"))
    user = make_tenant(live_server, root, domainid=d1["id"])
    user2 = root.createUser(account=user.name, domainid=d1["id"], username=unique("user2"), password=PASSWORD,
                            email="u2@example.org", firstname="U", lastname="Two")["user"]
    admin_user = root.listUsers(username="admin", domainid=root.listDomains(level=0)["domain"][0]["id"])["user"][0]
    admin_account = root.listAccounts(id=admin_user["accountid"])["account"][0]
    return World(root, d1, d1c, d2, user, user2, make_tenant(live_server, root, domainid=d1["id"]),
                 make_tenant(live_server, root, domainid=d1["id"], kind="domainadmin"),
                 make_tenant(live_server, root, domainid=d1c["id"]), make_tenant(live_server, root, domainid=d2["id"]),
                 admin_user, admin_account)


# (caller, target) -> may the caller reach the target's user and account? For a
# user, "self-account" is another user of its own account: it may see and read
# it, but change only itself.
TARGETS = ("user", "self-account", "peer", "dadmin", "child", "stranger", "admin")
REACH = {
    "user": {"user", "self-account"},
    "dadmin": {"user", "self-account", "peer", "dadmin", "child"},
    "root": set(TARGETS),
}
MATRIX = [(c, t) for c in REACH for t in TARGETS]


@pytest.mark.parametrize(("caller", "target"), MATRIX)
def test_list_read_change(world: World, caller: str, target: str) -> None:
    api, (user, account) = world.caller(caller), world.target(target)
    reach = target in REACH[caller]

    listed = api.listUsers(id=user["id"])
    assert listed.get("user", [{}])[0].get("id") == (user["id"] if reach else None)
    if reach:
        assert api.listAccounts(id=account["id"])["account"][0]["id"] == account["id"]
        assert "apikey" in api.getUserKeys(id=user["id"])["userkeys"] or target == "self-account"
    else:
        fails(432, api.listAccounts, id=account["id"])
        fails(432, api.getUserKeys, id=user["id"])

    may_change = reach and not (caller == "user" and target == "self-account")
    if may_change:
        assert api.updateUser(id=user["id"], timezone="UTC")["user"]["timezone"] == "UTC"
    else:
        fails(432, api.updateUser, id=user["id"], timezone="UTC")


@pytest.mark.parametrize("target", ("peer", "child", "stranger"))
def test_domain_admin_manages_its_subtree_only(world: World, target: str) -> None:
    api = world.dadmin.api
    t: Tenant = getattr(world, target)
    if target == "stranger":
        fails(432, api.updateAccount, id=t.account["id"], newname=unique("x"))
        fails(432, api.lockUser, id=t.user["id"])
        fails(432, api.disableUser, id=t.user["id"])
        fails(432, api.disableAccount, id=t.account["id"], lock=True)
        fails(432, api.deleteAccount, id=t.account["id"])
        fails(432, api.createUser, account=t.name, domainid=t.domainid, username=unique("u"), password="p",
              email="e", firstname="f", lastname="l")
        fails(432, api.createAccount, domainid=t.domainid, username=unique("u"), password="p", email="e",
              firstname="f", lastname="l", accounttype=0)
        return
    assert api.lockUser(id=t.user["id"])["user"]["state"] == "locked"
    assert api.enableUser(id=t.user["id"])["user"]["state"] == "enabled"
    assert job(api, "disableAccount", id=t.account["id"], lock=False)["account"]["state"] == "disabled"
    assert api.enableAccount(id=t.account["id"])["account"]["state"] == "enabled"
    made = api.createUser(account=t.name, domainid=t.domainid, username=unique("u"), password="p",
                          email="e", firstname="f", lastname="l")["user"]
    assert job(api, "disableUser", id=made["id"])["user"]["state"] == "disabled"
    assert api.deleteUser(id=made["id"]) == {"success": True}
    assert job(api, "deleteAccount", id=t.account["id"]) == {"success": True}


def test_domain_admin_cannot_reach_above_or_beside(world: World) -> None:
    api, root_id = world.dadmin.api, world.root.listDomains(level=0)["domain"][0]["id"]
    fails(432, api.createDomain, name=unique("top"))  # no parent: ROOT
    fails(432, api.createDomain, name=unique("x"), parentdomainid=world.d2["id"])
    assert api.createDomain(name=unique("mine"), parentdomainid=world.d1c["id"])["domain"]["level"] == 3
    fails(432, api.updateDomain, id=world.d2["id"], networkdomain="x.example")
    fails(432, api.updateDomain, id=root_id, networkdomain="x.example")
    fails(432, api.deleteDomain, id=world.d2["id"])
    fails(432, api.deleteDomain, id=world.d1["id"])  # its own domain
    assert api.updateDomain(id=world.d1c["id"], networkdomain="c.example")["domain"]["networkdomain"] == "c.example"
    fails(432, api.listDomains, id=world.d2["id"])
    fails(432, api.listDomainChildren, id=root_id)
    assert {d["id"] for d in api.listDomainChildren()["domain"]} == {world.d1c["id"]}
    # Nor may it act on a root admin, or make one.
    fails(432, api.lockUser, id=world.admin_user["id"])
    fails(432, api.createAccount, username=unique("x"), password="p", email="e", firstname="f", lastname="l",
          accounttype=1)
    # Up to its own privilege it may grant.
    assert api.createAccount(username=unique("da"), password="p", email="e", firstname="f", lastname="l",
                             accounttype=2, domainid=world.d1c["id"])["account"]["roletype"] == "DomainAdmin"


def _users(api: Any, **params: Any) -> set[str]:
    return {u["id"] for u in api.listUsers(**params).get("user", [])}


def _accounts(api: Any, **params: Any) -> set[str]:
    return {a["id"] for a in api.listAccounts(**params).get("account", [])}


def test_user_list_semantics(world: World) -> None:
    api, w = world.user.api, world
    mine = {w.user.user["id"], w.user2["id"]}
    assert _users(api) == _users(api, listall=True) == _users(api, domainid=w.d1["id"]) == mine
    assert _users(api, account=w.user.name) == mine
    assert _accounts(api) == _accounts(api, listall=True) == {w.user.account["id"]}
    fails(432, api.listUsers, domainid=w.d2["id"])
    fails(432, api.listUsers, account=w.peer.name)
    fails(432, api.listAccounts, domainid=w.d1c["id"])
    assert [d["id"] for d in api.listDomains()["domain"]] == [w.d1["id"]]
    # As in CloudStack, listall shows a user the names of the domains below its own.
    assert {d["id"] for d in api.listDomains(listall=True)["domain"]} == {w.d1["id"], w.d1c["id"]}
    fails(432, api.listDomains, id=w.d1c["id"])
    for command in ("listDomainChildren", "createAccount", "createUser", "disableUser", "deleteAccount",
                    "createDomain", "listRoles"):
        fails(432, getattr(api, command))


def test_domain_admin_list_semantics(world: World) -> None:
    api, w = world.dadmin.api, world
    d1_users = {t.user["id"] for t in (w.user, w.peer, w.dadmin)} | {w.user2["id"]}
    assert _users(api) == {w.dadmin.user["id"]}  # without listall: its own account
    assert _users(api, listall=True) == d1_users | {w.child.user["id"]}
    assert _users(api, domainid=w.d1["id"]) == d1_users
    assert _users(api, domainid=w.d1["id"], isrecursive=True) == d1_users | {w.child.user["id"]}
    assert _users(api, domainid=w.d1c["id"]) == {w.child.user["id"]}
    assert _users(api, account=w.child.name, domainid=w.d1c["id"]) == {w.child.user["id"]}
    fails(432, api.listUsers, domainid=w.d2["id"])
    fails(432, api.listUsers, account=w.stranger.name, domainid=w.d2["id"])
    fails(432, api.listUsers, domainid=w.root.listDomains(level=0)["domain"][0]["id"])
    d1_accounts = {t.account["id"] for t in (w.user, w.peer, w.dadmin)}
    assert _accounts(api) == {w.dadmin.account["id"]}
    assert _accounts(api, listall=True) == d1_accounts | {w.child.account["id"]}
    assert _accounts(api, domainid=w.d1["id"]) == d1_accounts
    assert _accounts(api, domainid=w.d1["id"], isrecursive=True) == d1_accounts | {w.child.account["id"]}
    fails(432, api.listAccounts, domainid=w.d2["id"])
    assert {d["id"] for d in api.listDomains()["domain"]} == {w.d1["id"]}
    assert {d["id"] for d in api.listDomains(listall=True)["domain"]} == {w.d1["id"], w.d1c["id"]}


def test_root_sees_everything(world: World) -> None:
    root, w = world.root, world
    everyone = {t.user["id"] for t in (w.user, w.peer, w.dadmin, w.child, w.stranger)} | {w.user2["id"]}
    assert _users(root) == _users(root, account="admin") >= {w.admin_user["id"]}
    assert everyone <= {u["id"] for u in root.listUsers(listall=True, fetch_list=True)}
    assert _users(root, domainid=w.d2["id"]) == {w.stranger.user["id"]}
    assert _users(root, domainid=w.d1["id"], account=w.peer.name) == {w.peer.user["id"]}
    assert w.child.user["id"] not in _users(root, domainid=w.d1["id"])
    assert w.child.user["id"] in _users(root, domainid=w.d1["id"], isrecursive=True)
    assert _accounts(root, domainid=w.d1c["id"]) == {w.child.account["id"]}
    assert {w.d1["id"], w.d1c["id"], w.d2["id"]} <= {d["id"] for d in root.listDomains(fetch_list=True)}
    for t in (w.user, w.child, w.stranger):
        assert root.listUsers(id=t.user["id"])["user"][0]["id"] == t.user["id"]


@pytest.mark.parametrize("how", ("disable-user", "lock-user", "disable-account", "lock-account"))
def test_disabled_or_locked_cannot_authenticate(world: World, how: str) -> None:
    root, t = world.root, world.peer
    assert t.api.listUsers()["count"] == 1
    if how == "disable-user":
        job(root, "disableUser", id=t.user["id"])
    elif how == "lock-user":
        root.lockUser(id=t.user["id"])
    elif how == "disable-account":
        job(root, "disableAccount", id=t.account["id"], lock=False)
    else:
        root.lockAccount(account=t.name, domainid=t.domainid)
    err = fails(401, t.api.listUsers)
    assert err["errortext"] == "unable to verify user credentials and/or request signature"
    if how.endswith("user"):
        root.enableUser(id=t.user["id"])
    else:
        root.enableAccount(id=t.account["id"])
    assert t.api.listUsers()["count"] == 1


def test_jobs_of_others_are_out_of_reach(world: World) -> None:
    accepted = world.dadmin.api.disableUser(id=world.peer.user["id"])
    fails(432, world.stranger.api.queryAsyncJobResult, jobid=accepted["jobid"])
    fails(432, world.user.api.queryAsyncJobResult, jobid=accepted["jobid"])


def test_like_wildcards_in_domain_names_do_not_widen_a_subtree(live_server: Any) -> None:
    root, tag = client(live_server), unique("w").split("-")[1]
    mine, other = make_domain(root, name=f"a_{tag}"), make_domain(root, name=f"ab{tag}")
    dadmin = make_tenant(live_server, root, domainid=mine["id"], kind="domainadmin")
    outsider = make_tenant(live_server, root, domainid=other["id"])
    assert outsider.user["id"] not in _users(dadmin.api, listall=True)
