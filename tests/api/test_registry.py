from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from cloudplane.api.envelope import render
from cloudplane.api.registry import (
    RESPONSE_NAME_OVERRIDES,
    ROLE_TYPES,
    CommandSpec,
    ParamSpec,
    Registry,
    ResponseField,
    listapis_payload,
    load_reference,
    packaged_reference,
    parse_request,
    spec_from_listapis,
)
from cloudplane.errors import NotAllowed, ParamError

RESPONSES = Path("/work/shared/cloudstack/responses")


async def _handler(**_: Any) -> None:
    return None


def _strip_empty(entry: Any) -> Any:
    """The reference without listApis' empty {} response entries, which we do not model."""
    if isinstance(entry, dict):
        return {k: _strip_empty(v) for k, v in entry.items()}
    if isinstance(entry, list):
        return [_strip_empty(x) for x in entry if x != {}]
    return entry


def test_lookup_is_case_insensitive() -> None:
    reg = Registry()
    spec = reg.register(CommandSpec("listZones", object_name="zone", handler=_handler))
    assert reg.get("listzones") is spec and reg.get("LISTZONES") is spec and reg.get("listHosts") is None
    assert "ListZones" in reg and len(reg) == 1 and reg.names() == ["listZones"]
    assert reg.require("LISTzones") is spec
    with pytest.raises(NotAllowed) as info:
        reg.require("nope")
    assert info.value.code == 432
    with pytest.raises(ValueError):
        reg.register(CommandSpec("LISTZONES"))


def test_response_names() -> None:
    assert CommandSpec("listZones").response_name == "listzonesresponse"
    assert CommandSpec("login").response_name == "loginresponse"
    assert CommandSpec("listApis").response_name == "listapisresponse"
    assert CommandSpec("deployVirtualMachine").response_name == "deployvirtualmachineresponse"
    assert CommandSpec("activateProject").response_name == "activaterojectresponse"
    assert CommandSpec("restoreVirtualMachine").response_name == "restorevmresponse"
    assert CommandSpec("enableStorageMaintenance").response_name == "prepareprimarystorageformaintenanceresponse"
    assert CommandSpec("listZones", response_name="custom").response_name == "custom"
    assert CommandSpec("listZones").error_name == "listzones"


@pytest.mark.skipif(not RESPONSES.is_dir(), reason="recorded responses not available")
def test_overrides_agree_with_recorded_answers() -> None:
    ref = packaged_reference()
    assert ref is not None
    checked = 0
    for path in RESPONSES.glob("*.json"):
        for command, answer in json.loads(path.read_text()).items():
            (key,) = answer
            if command.lower() in RESPONSE_NAME_OVERRIDES:
                assert CommandSpec(command).response_name == key
                checked += 1
    assert checked >= 3  # activateProject, resetSSHKeyForVirtualMachine, the storage maintenance pair
    assert all(name in ref for name in RESPONSE_NAME_OVERRIDES)


def test_spec_validation() -> None:
    with pytest.raises(ValueError):
        CommandSpec("x", allowed_roles={"Root"})
    with pytest.raises(ValueError):
        CommandSpec("x", params=[ParamSpec("id", "uuid"), ParamSpec("ID", "string")])
    # Redeclared with the same type, as CloudStack's listApis shows for updateRole.
    twice = CommandSpec("x", params=[ParamSpec("name", "string", description="a"), ParamSpec("name", "string")])
    assert twice.param("name") is twice.params[0]
    spec = CommandSpec("x", params=[ParamSpec("zoneId", "uuid")], allowed_roles={"Admin"},
                       response_fields=[("id", "the id", "string")])
    assert isinstance(spec.params, tuple) and spec.allowed_roles == frozenset({"Admin"})
    assert spec.param("ZONEID") is spec.params[0]
    assert spec.response_fields == (ResponseField("id", "the id", "string"),)
    assert CommandSpec("y").allowed_roles == ROLE_TYPES


def test_spec_from_packaged_listapis() -> None:
    spec = spec_from_listapis("deployvirtualmachine", object_name="virtualmachine", entity_type="VirtualMachine",
                              handler=_handler)
    assert spec.name == "deployVirtualMachine" and spec.is_async
    assert spec.response_name == "deployvirtualmachineresponse"
    zoneid = spec.param("zoneid")
    assert zoneid is not None and zoneid.required and zoneid.type == "uuid"
    assert spec.param("networkids").collection_type == "uuid"  # type: ignore[union-attr]
    assert spec.param("keypairs").collection_type is None  # type: ignore[union-attr]
    assert any(f.name == "nic" and f.fields for f in spec.response_fields)
    with pytest.raises(KeyError):
        spec_from_listapis("noSuchCommand")


def test_packaged_reference_is_complete() -> None:
    ref = packaged_reference()
    assert ref is not None and len(ref) == 705
    assert packaged_reference() is ref  # loaded once


def test_parse_request_with_a_real_spec() -> None:
    spec = spec_from_listapis("listZones", object_name="zone")
    raw = {"command": "listZones", "response": "json", "apiKey": "k", "signature": "s",
           "ID": "04CCC336-D730-42FE-8FF6-5AE36E141E81", "showCapacities": "TRUE", "tags[0].key": "a",
           "tags[0].value": "b", "page": "2", "pagesize": "50", "whatever": "x"}
    assert parse_request(spec, raw) == {
        "id": "04ccc336-d730-42fe-8ff6-5ae36e141e81", "showcapacities": True,
        "tags": [{"key": "a", "value": "b"}], "page": 2, "pagesize": 50,
    }
    page_error = "^Unable to execute API command listzones due to invalid value x for parameter page$"
    with pytest.raises(ParamError, match=page_error):
        parse_request(spec, {"page": "x"})
    create = spec_from_listapis("createZone")
    with pytest.raises(ParamError, match="^Unable to execute API command createzone due to missing parameter "):
        parse_request(create, {"command": "createZone"})


def test_parse_request_errors_use_the_irregular_response_name() -> None:
    spec = spec_from_listapis("activateProject")
    with pytest.raises(ParamError, match="API command activateroject due to missing parameter id"):
        parse_request(spec, {})


@pytest.mark.parametrize("name", ["listZones", "deployVirtualMachine", "login", "listResourceIcon", "createTags"])
def test_listapis_payload_matches_reference(name: str, reference_path: Path) -> None:
    reference = load_reference(reference_path)
    reg = Registry([spec_from_listapis(name, reference=reference)])
    payload = listapis_payload(reg)
    assert list(payload) == ["listapisresponse"]
    body = payload["listapisresponse"]
    assert body["count"] == 1
    (entry,) = body["api"]
    assert entry == _strip_empty(reference[name.lower()])
    assert json.dumps(entry)  # plain JSON types only


def test_listapis_payload_roles_and_name_filter() -> None:
    reg = Registry([
        spec_from_listapis("listZones", allowed_roles={"Admin", "User"}),
        spec_from_listapis("createZone", allowed_roles={"Admin"}),
    ])
    assert [e["name"] for e in listapis_payload(reg)["listapisresponse"]["api"]] == ["createZone", "listZones"]
    assert [e["name"] for e in listapis_payload(reg, role="User")["listapisresponse"]["api"]] == ["listZones"]
    assert [e["name"] for e in listapis_payload(reg, name="CREATEZONE")["listapisresponse"]["api"]] == ["createZone"]
    assert listapis_payload(reg, name="nothing") == {"listapisresponse": {}}
    # cloudmonkey asks for JSON; XML clients get nested <params>/<response> elements.
    root = ET.fromstring(render(listapis_payload(reg), "xml")[0])
    assert [a.findtext("name") for a in root.findall("api")] == ["createZone", "listZones"]
    assert root.find("api/params/name") is not None


def test_all_packaged_commands_build_and_render() -> None:
    ref = packaged_reference()
    assert ref is not None
    reg = Registry(spec_from_listapis(name) for name in ref)
    entries = listapis_payload(reg)["listapisresponse"]["api"]
    assert len(entries) == 705
    by_name = {e["name"].lower(): e for e in entries}
    assert all(by_name[n] == _strip_empty(dict(ref[n])) for n in ref)
