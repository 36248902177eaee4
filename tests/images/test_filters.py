"""listTemplates' templatefilter for (root admin, user A, user B, a domain admin)
× (featured, public, private, shared, not yet ready) templates: exactly what
CloudStack's QueryManagerImpl answers. Then permission changes, and who may
see a template by id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cs
import pytest

from tests.images.conftest import Tenant, api_error, unique, wait_for
from tests.images.test_templates import register

pytestmark = pytest.mark.ray


@dataclass
class World:
    tag: str  # every name starts with it; `keyword` narrows each list to this test's templates
    ids: dict[str, str]  # label -> template id
    a: Tenant
    b: Tenant
    dadmin: Tenant


@pytest.fixture(scope="module")
def world(root: cs.CloudStack, new_tenant: Any, zones: list[dict[str, Any]]) -> World:
    tag = unique("flt")
    dom = root.createDomain(name=unique("fltdom"))["domain"]
    # A and B share a domain (launch permissions stay within the owner's domain); C and its
    # domain admin live in another.
    a, b, c = new_tenant("usera"), new_tenant("userb"), new_tenant("userc", domainid=dom["id"])
    dadmin = new_tenant("dadmin", accounttype=2, domainid=dom["id"])
    made: dict[str, str] = {}

    def reg(label: str, api: cs.CloudStack, **params: Any) -> None:
        made[label] = register(api, zones, name=f"{tag}-{label}", **params)[0]["id"]

    reg("featured", root, ispublic=True, isfeatured=True)
    reg("adminpublic", root, ispublic=True)
    reg("adminprivate", root)
    reg("apublic", a.api, ispublic=True)
    reg("aprivate", a.api)
    reg("ashared", a.api)
    reg("bprivate", b.api)
    reg("cprivate", c.api)
    a.api.updateTemplatePermissions(id=made["ashared"], accounts=[b.name], op="add")

    def all_ready() -> bool:
        rows = root.listTemplates(templatefilter="all", keyword=tag).get("template", [])
        return len(rows) == len(made) and all(r["isready"] for r in rows)

    wait_for(all_ready)
    root.updateConfiguration(name="simulator.template.download.seconds", value="300")
    try:  # one template that stays downloading for the rest of the module
        reg("featuredslow", root, ispublic=True, isfeatured=True)
        reg("aslow", a.api)
    finally:
        root.resetConfiguration(name="simulator.template.download.seconds")
    return World(tag, made, a, b, dadmin)


def seen(api: cs.CloudStack, w: World, flt: str, **params: Any) -> set[str]:
    rows = api.listTemplates(templatefilter=flt, keyword=w.tag, **params).get("template", [])
    by_id = {v: k for k, v in w.ids.items()}
    return {by_id[r["id"]] for r in rows}


PUBLIC_READY = {"featured", "adminpublic", "apublic"}
ADMIN_OWN = {"featured", "adminpublic", "adminprivate", "featuredslow"}
A_OWN = {"apublic", "aprivate", "ashared", "aslow"}
EVERYTHING = ADMIN_OWN | A_OWN | {"bprivate", "cprivate"}

MATRIX = {
    # filter: (root admin, user A, user B, domain admin of C's domain)
    "featured": ({"featured"},) * 4,
    "community": ({"adminpublic", "apublic"},) * 4,
    "self": (ADMIN_OWN, A_OWN, {"bprivate"}, set()),
    "selfexecutable": (ADMIN_OWN - {"featuredslow"}, A_OWN - {"aslow"}, {"bprivate"}, set()),
    "sharedexecutable": (set(), set(), {"ashared"}, set()),
    # executable: public (ready or not) or one's own; ready or not, as no account is named.
    "executable": (PUBLIC_READY | ADMIN_OWN, PUBLIC_READY | {"featuredslow"} | A_OWN,
                   PUBLIC_READY | {"featuredslow", "bprivate"}, PUBLIC_READY | {"featuredslow"}),
}


@pytest.mark.parametrize("flt", sorted(MATRIX))
def test_filter_matrix(root: cs.CloudStack, world: World, flt: str) -> None:
    want_root, want_a, want_b, want_dadmin = MATRIX[flt]
    assert seen(root, world, flt) == want_root
    assert seen(world.a.api, world, flt) == want_a
    assert seen(world.b.api, world, flt) == want_b
    assert seen(world.dadmin.api, world, flt) == want_dadmin


def test_all_is_for_admins(root: cs.CloudStack, world: World) -> None:
    assert seen(root, world, "all") == EVERYTHING
    # A domain admin: public templates and those of its subtree.
    assert seen(world.dadmin.api, world, "all") == PUBLIC_READY | {"featuredslow", "cprivate"}
    for user in (world.a, world.b):
        err = api_error(user.api.listTemplates, templatefilter="all")
        assert err["errorcode"] == 431 and "admin only" in err["errortext"]


def test_listall_and_account_widen_self(root: cs.CloudStack, world: World) -> None:
    assert seen(root, world, "self", listall=True) == EVERYTHING
    assert seen(world.dadmin.api, world, "self", listall=True) == {"cprivate"}
    assert seen(root, world, "self", account=world.a.name, domainid=world.a.account["domainid"]) == A_OWN
    # An admin naming an account lists its executable templates ready only.
    assert seen(root, world, "executable", account=world.a.name,
                domainid=world.a.account["domainid"]) == PUBLIC_READY | (A_OWN - {"aslow"})
    assert api_error(world.a.api.listTemplates, templatefilter="self", account=world.b.name,
                     domainid=world.b.account["domainid"])["errorcode"] == 432
    assert api_error(root.listTemplates, templatefilter="nonsense")["errorcode"] == 431


def test_by_id(root: cs.CloudStack, world: World) -> None:
    ids = world.ids
    # Another user's private template: refused; a public one: listed whatever the filter.
    assert api_error(world.b.api.listTemplates, templatefilter="self", id=ids["aprivate"])["errorcode"] == 432
    assert world.b.api.listTemplates(templatefilter="self", id=ids["apublic"])["count"] == 1
    assert world.b.api.listTemplates(templatefilter="self", id=ids["ashared"])["count"] == 1  # shared with B
    # The filter's readiness still applies.
    assert world.a.api.listTemplates(templatefilter="featured", id=ids["featuredslow"]) == {}
    assert world.a.api.listTemplates(templatefilter="executable", id=ids["featuredslow"])["count"] == 1
    assert api_error(root.listTemplates, templatefilter="self",
                     id="00000000-0000-4000-8000-000000000000")["errorcode"] == 431


def test_status_and_url_only_for_owner_and_root(root: cs.CloudStack, world: World) -> None:
    mine = world.a.api.listTemplates(templatefilter="self", id=world.ids["apublic"])["template"][0]
    theirs = world.b.api.listTemplates(templatefilter="community", id=world.ids["apublic"])["template"][0]
    admins = root.listTemplates(templatefilter="community", id=world.ids["apublic"])["template"][0]
    assert "status" in mine and "url" in mine and "status" in admins and "url" in admins
    assert "status" not in theirs and "url" not in theirs


def test_permission_changes_take_effect(root: cs.CloudStack, new_tenant: Any, zones: list[dict[str, Any]]) -> None:
    owner, friend = new_tenant("owner"), new_tenant("friend")
    (t,) = register(owner.api, zones, name=unique("perm"))
    wait_for(lambda: owner.api.listTemplates(templatefilter="selfexecutable", id=t["id"]).get("template"))
    perms = owner.api.listTemplatePermissions(id=t["id"])["templatepermission"]
    assert perms["id"] == t["id"] and perms["ispublic"] is False and perms["account"] == [owner.name]

    assert owner.api.updateTemplatePermissions(id=t["id"], accounts=[friend.name], op="add") == {"success": True}
    assert friend.api.listTemplates(templatefilter="sharedexecutable", id=t["id"])["count"] == 1
    assert set(owner.api.listTemplatePermissions(id=t["id"])["templatepermission"]["account"]) == \
        {owner.name, friend.name}
    assert friend.api.listTemplatePermissions(id=t["id"])["templatepermission"]["id"] == t["id"]

    owner.api.updateTemplatePermissions(id=t["id"], accounts=[friend.name], op="remove")
    assert friend.api.listTemplates(templatefilter="sharedexecutable", keyword=t["name"]) == {}
    assert api_error(friend.api.listTemplatePermissions, id=t["id"])["errorcode"] == 432

    owner.api.updateTemplatePermissions(id=t["id"], ispublic=True)
    assert friend.api.listTemplates(templatefilter="community", id=t["id"])["count"] == 1
    assert friend.api.listTemplates(templatefilter="executable", keyword=t["name"])["count"] == 1
    root.updateTemplatePermissions(id=t["id"], isfeatured=True)
    assert friend.api.listTemplates(templatefilter="featured", keyword=t["name"])["count"] == 1

    owner.api.updateTemplatePermissions(id=t["id"], accounts=[friend.name], op="add")
    owner.api.updateTemplatePermissions(id=t["id"], op="reset", accounts=[])
    cur = owner.api.listTemplates(templatefilter="self", id=t["id"])["template"][0]
    assert cur["ispublic"] is False and cur["isfeatured"] is False
    assert friend.api.listTemplates(templatefilter="executable", keyword=t["name"]) == {}


def test_bad_permission_updates(root: cs.CloudStack, new_tenant: Any, zones: list[dict[str, Any]]) -> None:
    owner, stranger = new_tenant("owner2"), new_tenant("stranger")
    (t,) = register(owner.api, zones, name=unique("perm2"))
    for params in ({"accounts": ["nosuchaccount"], "op": "add"}, {"accounts": [stranger.name], "op": "twist"},
                   {"op": "add"}):
        assert api_error(owner.api.updateTemplatePermissions, id=t["id"], **params)["errorcode"] == 431, params
    assert api_error(stranger.api.updateTemplatePermissions, id=t["id"], ispublic=True)["errorcode"] == 432
    assert api_error(owner.api.updateTemplatePermissions, id="00000000-0000-4000-8000-000000000000",
                     ispublic=True)["errorcode"] == 431
    # Nothing changed.
    perms = owner.api.listTemplatePermissions(id=t["id"])["templatepermission"]
    assert perms["account"] == [owner.name] and perms["ispublic"] is False
