"""Roles and role permissions: round trips, and rules deciding what a caller may call."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_identity_kit import client, fails, make_domain, make_tenant, unique

pytestmark = pytest.mark.ray


def _defaults(root: Any) -> dict[str, dict[str, Any]]:
    return {r["type"]: r for r in root.listRoles()["role"] if r["isdefault"]}


def _rules(root: Any, roleid: str) -> list[tuple[str, str]]:
    return [(p["rule"], p["permission"]) for p in root.listRolePermissions(roleid=roleid).get("rolepermission", [])]


def test_role_round_trip(live_server: Any) -> None:
    root = client(live_server)
    assert set(_defaults(root)) == {"Admin", "ResourceAdmin", "DomainAdmin", "User"}
    name = unique("role")
    role = root.createRole(name=name, type="User", description="a test role")["role"]
    assert (role["name"], role["type"], role["description"], role["isdefault"]) == (name, "User", "a test role", False)
    assert root.listRoles(id=role["id"])["role"] == [role]
    assert root.listRoles(name=name)["count"] == 1
    assert all(r["type"] == "User" for r in root.listRoles(type="User")["role"])
    fails(431, root.createRole, name=name, type="User")

    upd = root.updateRole(id=role["id"], name=name + "x", description="renamed", type="DomainAdmin")["role"]
    assert (upd["name"], upd["description"], upd["type"]) == (name + "x", "renamed", "DomainAdmin")

    p1 = root.createRolePermission(roleid=role["id"], rule="listUsers", permission="deny",
                                   description="no users")["rolepermission"]
    assert (p1["rule"], p1["permission"], p1["roleid"], p1["rolename"]) == ("listUsers", "deny", role["id"], name + "x")
    p2 = root.createRolePermission(roleid=role["id"], rule="list*", permission="allow")["rolepermission"]
    fails(432, root.createRolePermission, roleid=role["id"], rule="list*", permission="deny")
    assert _rules(root, role["id"]) == [("listUsers", "deny"), ("list*", "allow")]

    assert root.updateRolePermission(roleid=role["id"], ruleid=p1["id"], permission="allow") == {"success": True}
    assert root.updateRolePermission(roleid=role["id"], ruleorder=[p2["id"], p1["id"]]) == {"success": True}
    assert _rules(root, role["id"]) == [("list*", "allow"), ("listUsers", "allow")]
    fails(431, root.updateRolePermission, roleid=role["id"], ruleorder=[p2["id"]])  # every rule, once
    fails(431, root.updateRolePermission, roleid=role["id"], ruleorder=[p2["id"]], permission="deny")

    assert root.deleteRolePermission(id=p1["id"]) == {"success": True}
    assert _rules(root, role["id"]) == [("list*", "allow")]
    fails(431, root.deleteRolePermission, id=p1["id"])
    assert root.deleteRole(id=role["id"]) == {"success": True}
    assert root.listRoles(id=role["id"]) == {}
    fails(431, root.updateRole, id=role["id"], name="gone")


def test_clone_and_import(live_server: Any) -> None:
    root = client(live_server)
    user_role = _defaults(root)["User"]
    clone = root.createRole(name=unique("clone"), roleid=user_role["id"])["role"]
    assert clone["type"] == "User" and _rules(root, clone["id"]) == _rules(root, user_role["id"]) == [("*", "allow")]
    fails(431, root.createRole, name=unique("both"), roleid=user_role["id"], type="User")
    fails(431, root.createRole, name=unique("neither"))

    name = unique("imported")
    rules = [{"rule": "listUsers", "permission": "deny", "description": "x"}, {"rule": "*", "permission": "allow"}]
    imported = root.importRole(name=name, type="User", rules=rules, description="imp")["role"]
    assert imported["description"] == "imp" and _rules(root, imported["id"]) == [("listUsers", "deny"), ("*", "allow")]
    fails(431, root.importRole, name=name, type="User", rules=rules)
    again = root.importRole(name=name, type="User", rules=[{"rule": "list*", "permission": "allow"}], forced=True,
                            description="again")["role"]
    assert again["id"] == imported["id"] and again["description"] == "again"
    assert _rules(root, imported["id"]) == [("list*", "allow")]
    for bad_rule in ("list Users", "a" * 300):
        err = fails(431, root.importRole, name=unique("bad"), type="User",
                    rules=[{"rule": bad_rule, "permission": "allow"}])
        assert "rules[0].rule" in err["errortext"]
    err = fails(431, root.importRole, name=unique("bad"), type="User",
                rules=[{"rule": "*", "permission": "allow"}, {"rule": "listUsers", "permission": "maybe"}])
    assert "rules[1].permission" in err["errortext"]
    fails(431, root.importRole, name=unique("bad"), type="Nobody", rules=rules)


def test_default_roles_and_roles_in_use_are_protected(live_server: Any) -> None:
    root = client(live_server)
    user_role = _defaults(root)["User"]
    fails(432, root.updateRole, id=user_role["id"], description="mine now")
    fails(432, root.deleteRole, id=user_role["id"])
    fails(432, root.createRolePermission, roleid=user_role["id"], rule="listUsers", permission="deny")
    star = root.listRolePermissions(roleid=user_role["id"])["rolepermission"][0]
    fails(432, root.deleteRolePermission, id=star["id"])
    fails(432, root.importRole, name=user_role["name"], type="User", rules=[{"rule": "*", "permission": "deny"}],
          forced=True)

    role = root.createRole(name=unique("inuse"), roleid=user_role["id"])["role"]
    make_tenant(live_server, root, roleid=role["id"])
    fails(432, root.deleteRole, id=role["id"])
    fails(432, root.updateRole, id=role["id"], type="DomainAdmin")


def test_deny_rule_and_its_order(live_server: Any) -> None:
    root = client(live_server)
    role = root.importRole(name=unique("nousers"), type="User", rules=[
        {"rule": "listUsers", "permission": "deny"}, {"rule": "*", "permission": "allow"}])["role"]
    t = make_tenant(live_server, root, roleid=role["id"])
    err = fails(432, t.api.listUsers)
    assert "listUsers" in err["errortext"]
    assert t.api.listAccounts()["account"][0]["id"] == t.account["id"]

    # Rules are tried in order: with `*` first, the deny rule is never reached.
    deny, star = root.listRolePermissions(roleid=role["id"])["rolepermission"]
    root.updateRolePermission(roleid=role["id"], ruleorder=[star["id"], deny["id"]])
    assert t.api.listUsers()["user"][0]["id"] == t.user["id"]
    root.updateRolePermission(roleid=role["id"], ruleorder=[deny["id"], star["id"]])
    fails(432, t.api.listUsers)
    root.updateRolePermission(roleid=role["id"], ruleid=deny["id"], permission="allow")
    assert t.api.listUsers()["count"] == 1


def test_wildcard_rules(live_server: Any) -> None:
    root = client(live_server)
    role = root.importRole(name=unique("lister"), type="User", rules=[{"rule": "list*", "permission": "allow"}])["role"]
    t = make_tenant(live_server, root, roleid=role["id"])
    assert t.api.listUsers()["count"] == 1
    assert t.api.listDomains()["count"] == 1
    fails(432, t.api.getUserKeys, id=t.user["id"])  # no rule matches: denied
    fails(432, t.api.updateUser, id=t.user["id"], firstname="x")
    # A rule added later takes effect at once.
    root.createRolePermission(roleid=role["id"], rule="getUser*", permission="allow")
    assert t.api.getUserKeys(id=t.user["id"])["userkeys"]["apikey"] == t.key


def test_changing_an_accounts_role_takes_effect(live_server: Any) -> None:
    root = client(live_server)
    deny_all = root.importRole(name=unique("nothing"), type="User", rules=[{"rule": "*", "permission": "deny"}])["role"]
    t = make_tenant(live_server, root)
    assert t.api.listUsers()["count"] == 1
    root.updateAccount(id=t.account["id"], roleid=deny_all["id"])
    fails(432, t.api.listUsers)


def test_only_root_admins_manage_roles(live_server: Any) -> None:
    root = client(live_server)
    dom = make_domain(root)
    da = make_tenant(live_server, root, domainid=dom["id"], kind="domainadmin")
    user = make_tenant(live_server, root, domainid=dom["id"])
    listed = da.api.listRoles()["role"]
    assert listed and all(r["type"] != "Admin" for r in listed)
    admin_role = _defaults(root)["Admin"]
    assert da.api.listRoles(id=admin_role["id"]) == {}
    for api in (da.api, user.api):
        fails(432, api.createRole, name=unique("nope"), type="User")
        fails(432, api.listRolePermissions)
        fails(432, api.importRole, name=unique("nope"), type="User", rules=[{"rule": "*", "permission": "allow"}])
    fails(432, user.api.listRoles)
    # A domain admin can not hand out the root admin role, nor see it.
    fails(431, da.api.createAccount, username=unique("x"), password="p", email="e", firstname="f", lastname="l",
          roleid=admin_role["id"])
    fails(432, da.api.createAccount, username=unique("x"), password="p", email="e", firstname="f", lastname="l",
          accounttype=1)


BAD_INPUT = [
    ("listRoles", {"type": "Boss"}, "type"),
    ("createRole", {"name": "x", "type": "Boss"}, "type"),
    ("createRole", {"name": "x", "roleid": "00000000-0000-0000-0000-000000000000"}, "roleid"),
    ("updateRole", {"id": "00000000-0000-0000-0000-000000000000"}, "id"),
    ("createRolePermission", {"roleid": "00000000-0000-0000-0000-000000000000", "rule": "x", "permission": "allow"},
     "roleid"),
    ("updateRolePermission", {"roleid": "00000000-0000-0000-0000-000000000000"}, "roleid"),
    ("deleteRolePermission", {"id": "00000000-0000-0000-0000-000000000000"}, "id"),
    ("importRole", {"name": "x", "type": "User"}, "rules"),
    ("listRolePermissions", {"roleid": "bad"}, "roleid"),
]


@pytest.mark.parametrize(("command", "params", "param"), BAD_INPUT)
def test_bad_input_is_431_naming_the_parameter(live_server: Any, command: str, params: dict[str, Any],
                                               param: str) -> None:
    err = fails(431, getattr(client(live_server), command), **params)
    assert param in err["errortext"], err


def test_bad_permission_input(live_server: Any) -> None:
    root = client(live_server)
    role = root.createRole(name=unique("bad"), type="User")["role"]
    err = fails(431, root.createRolePermission, roleid=role["id"], rule="list Users", permission="allow")
    assert "rule" in err["errortext"]
    err = fails(431, root.createRolePermission, roleid=role["id"], rule="listUsers", permission="maybe")
    assert "permission" in err["errortext"]
    err = fails(431, root.updateRolePermission, roleid=role["id"], ruleorder=["nope"])
    assert "ruleorder" in err["errortext"]
    err = fails(431, root.updateRolePermission, roleid=role["id"])
    assert "ruleorder" in err["errortext"]
    err = fails(431, root.updateRolePermission, roleid=role["id"], ruleid="00000000-0000-0000-0000-000000000000",
                permission="allow")
    assert "ruleid" in err["errortext"]
