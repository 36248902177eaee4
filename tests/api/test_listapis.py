"""listApis: exactly the implemented commands, each described as CloudStack 4.18
describes it, filtered by the caller's role; what cloudmonkey `sync` reads."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import httpx
import pytest

from cloudplane.api.commands.base import build_registry
from cloudplane.api.registry import Registry, load_reference
from tests.api.signed import Api, admin, new_tenant

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def registry() -> Registry:
    return build_registry()


def _described(rs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """listApis dumps carry empty {} for fields CloudStack cannot describe; they say nothing."""
    return [{k: (_described(v) if k == "response" else v) for k, v in r.items()} for r in rs if r]


def _apis(api: Api, **params: Any) -> dict[str, dict[str, Any]]:
    body = api("listApis", **params)
    assert body["count"] == len(body["api"])
    return {a["name"]: a for a in body["api"]}


def test_admin_sees_exactly_the_implemented_commands(live_server: Any, registry: Registry) -> None:
    apis = _apis(admin(live_server))
    assert sorted(apis) == registry.names()
    for required in ("listEvents", "listConfigurations", "updateConfiguration", "queryAsyncJobResult", "listApis"):
        assert required in apis


def test_each_entry_is_cloudstacks(live_server: Any, reference_path: Any) -> None:
    reference = load_reference(reference_path)
    apis = _apis(admin(live_server))
    compared = 0
    for name, entry in apis.items():
        ref = reference.get(name.lower())
        if ref is None:  # a cloudplane-only command (the simulator's): at least the same keys
            assert {"name", "description", "isasync", "params", "response"} <= set(entry)
            continue
        want = {**ref, "response": _described(ref.get("response", []))}
        assert entry == want, name
        compared += 1
    assert compared >= 20


def test_filtered_by_role(live_server: Any, registry: Registry) -> None:
    root = admin(live_server)
    for accounttype, role in ((0, "User"), (2, "DomainAdmin")):
        t = new_tenant(root, prefix=f"apis{accounttype}", accounttype=accounttype)
        seen = set(_apis(t.api))
        assert seen == {s.name for s in registry if role in s.allowed_roles}, role
        assert "listConfigurations" not in seen and "listEvents" in seen
        if role == "User":
            assert "createAccount" not in seen


def test_one_by_name(live_server: Any) -> None:
    root = admin(live_server)
    body = root("listApis", name="listevents")  # names match case-insensitively
    assert body["count"] == 1 and body["api"][0]["name"] == "listEvents"
    assert root("listApis", name="noSuchApi") == {}
    user = new_tenant(root, prefix="apisname")
    assert user.api("listApis", name="updateConfiguration") == {}  # not callable by a user: not listed


def test_cloudmonkey_sync_parses(live_server: Any) -> None:
    """What cloudmonkey's `sync` does with the answer: every api splits into a
    verb and a noun, every param has a name/type/required/length/description."""
    root = admin(live_server)
    q = root.signed("listApis", listall="true")
    body = httpx.get(live_server.url, params=q).json()["listapisresponse"]
    assert body["count"] == len(body["api"])
    verbs = set()
    for api in body["api"]:
        m = re.fullmatch(r"([a-z]+)([A-Z].*)?", api["name"])  # login, logout: a verb alone
        assert m, api["name"]
        verbs.add(m.group(1))
        assert isinstance(api["isasync"], bool) and isinstance(api["description"], str)
        for p in api["params"]:
            assert isinstance(p["name"], str) and isinstance(p["required"], bool)
            assert isinstance(p["length"], int) and p["type"] and "description" in p
            for related in p.get("related", "").split(","):
                assert related == "" or re.fullmatch(r"[a-z][A-Za-z0-9]+", related)
        for f in api["response"]:
            assert f["name"] and "type" in f
    assert {"list", "create", "update", "delete", "query"} <= verbs


def test_xml_listapis_parses(live_server: Any) -> None:
    root = admin(live_server)
    q = root.signed("listApis", response=None, name="listEvents")
    r = httpx.get(live_server.url, params=q)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml")
    doc = ET.fromstring(r.content)
    assert doc.tag == "listapisresponse" and doc.findtext("count") == "1"
    assert doc.find("api/name").text == "listEvents"  # type: ignore[union-attr]
    assert {p.findtext("name") for p in doc.findall("api/params")} >= {"type", "level", "startdate"}
