from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import orjson
import pytest

from cloudplane.api.envelope import (
    CLOUDSTACK_VERSION,
    JSON_CONTENT_TYPE,
    XML_CONTENT_TYPE,
    async_response,
    error_response,
    list_response,
    object_response,
    render,
    render_xml,
    response_format,
    success_body,
    success_response,
)
from cloudplane.errors import AuthError, NotAllowed, ParamError

RESPONSES = Path("/work/shared/cloudstack/responses")

ZONE = {"id": "04ccc336-d730-42fe-8ff6-5ae36e141e81", "name": "Sim & <Zone>", "securitygroupsenabled": False,
        "tags": [], "dns1": None, "resourcedetails": {"cpuOvercommitRatio": "1.0"}}


def test_list_shape() -> None:
    payload = list_response("listzonesresponse", "zone", [ZONE], count=7)
    assert list(payload["listzonesresponse"]) == ["count", "zone"]
    assert payload == {"listzonesresponse": {"count": 7, "zone": [ZONE]}}
    assert list_response("listzonesresponse", "zone", [ZONE]) == {"listzonesresponse": {"count": 1, "zone": [ZONE]}}


def test_empty_list_has_no_count() -> None:
    assert list_response("listzonesresponse", "zone", []) == {"listzonesresponse": {}}
    assert list_response("listzonesresponse", "zone", [], count=0) == {"listzonesresponse": {}}
    body, ctype = render(list_response("listzonesresponse", "zone", []), "json")
    assert body == b'{"listzonesresponse":{}}' and ctype == JSON_CONTENT_TYPE
    # A page past the end still reports the total, as CloudStack does.
    assert list_response("listzonesresponse", "zone", [], count=3) == {"listzonesresponse": {"count": 3}}


def test_object_async_success_shapes() -> None:
    assert object_response("createzoneresponse", "zone", {"id": "z"}) == {"createzoneresponse": {"zone": {"id": "z"}}}
    assert async_response("deployvirtualmachineresponse", "j", "v") == {
        "deployvirtualmachineresponse": {"id": "v", "jobid": "j"}}
    assert async_response("stopvirtualmachineresponse", "j") == {"stopvirtualmachineresponse": {"jobid": "j"}}
    assert success_response("deleteclusterresponse") == {"deleteclusterresponse": {"success": True}}
    assert success_body("done") == {"success": True, "displaytext": "done"}


@pytest.mark.skipif(not RESPONSES.is_dir(), reason="recorded responses not available")
def test_success_matches_recorded_answers() -> None:
    recorded = json.loads((RESPONSES / "ClusterService.json").read_text())["deleteCluster"]
    assert success_response("deleteclusterresponse") == recorded
    job = json.loads((RESPONSES / "NetworkService.json").read_text())["deleteNetwork"]
    assert job["deletenetworkresponse"]["jobresult"] == success_body()


def test_error_shape() -> None:
    err = ParamError("Unable to execute API command listzones due to missing parameter id")
    payload = error_response("listzonesresponse", err)
    body = payload["listzonesresponse"]
    assert list(body) == ["uuidList", "errorcode", "cserrorcode", "errortext"]
    assert body["uuidList"] == [] and body["errorcode"] == 431 and body["cserrorcode"] == 4350
    assert error_response(None, NotAllowed("The given command does not exist or it is not available for user")) == {
        "errorresponse": {"uuidList": [], "errorcode": 432, "cserrorcode": 4365,
                          "errortext": "The given command does not exist or it is not available for user"}}
    assert error_response("x", AuthError("no"))["x"]["errorcode"] == 401


def test_json_rendering() -> None:
    payload = list_response("listzonesresponse", "zone", [ZONE])
    body, ctype = render(payload, "json")
    assert ctype == "application/json; charset=UTF-8"
    assert orjson.loads(body) == payload
    assert render({"x": {"name": "é"}}, "json")[0] == '{"x":{"name":"é"}}'.encode()


def test_xml_list_rendering() -> None:
    zones = [ZONE, {**ZONE, "id": "second", "tags": [{"key": "k", "value": "v"}, {"key": "k2", "value": "v2"}]}]
    body, ctype = render(list_response("listzonesresponse", "zone", zones), "xml")
    assert ctype == XML_CONTENT_TYPE == "text/xml; charset=UTF-8"
    text = body.decode()
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?><listzonesresponse cloud-stack-version="4.18.0.0">'
                           "<count>2</count><zone><id>04ccc336")
    root = ET.fromstring(body)
    assert root.tag == "listzonesresponse" and root.get("cloud-stack-version") == CLOUDSTACK_VERSION
    assert root.findtext("count") == "2"
    found = root.findall("zone")
    assert [z.findtext("id") for z in found] == [ZONE["id"], "second"]
    assert found[0].findtext("name") == "Sim & <Zone>"  # escaped, then parsed back
    assert found[0].findtext("securitygroupsenabled") == "false"
    assert found[0].find("dns1") is None and found[0].find("tags") is None  # None and [] leave nothing
    assert found[0].findtext("resourcedetails/cpuOvercommitRatio") == "1.0"
    assert [t.findtext("key") for t in found[1].findall("tags")] == ["k", "k2"]


def test_xml_empty_list_error_and_async() -> None:
    assert render_xml({"listzonesresponse": {}}) == (
        '<?xml version="1.0" encoding="UTF-8"?><listzonesresponse cloud-stack-version="4.18.0.0"></listzonesresponse>')
    err = ET.fromstring(render(error_response("listzonesresponse", ParamError("bad <thing> & more")), "xml")[0])
    assert err.findtext("errorcode") == "431" and err.findtext("errortext") == "bad <thing> & more"
    assert err.find("uuidList") is None
    job = ET.fromstring(render(async_response("deployvirtualmachineresponse", "j", "v"), "xml")[0])
    assert [(c.tag, c.text) for c in job] == [("id", "v"), ("jobid", "j")]


def test_xml_survives_hostile_keys_and_text() -> None:
    payload = {"r": {"details": {"1bad key": "\x00ctl\x1f", "ok.name": "]]>", "a:b": "'\""}, "list": ["a", "b"]}}
    root = ET.fromstring(render(payload, "xml")[0])
    details = root.find("details")
    assert details is not None
    assert [c.tag for c in details] == ["_1bad_key", "ok.name", "a_b"]
    assert details.findtext("ok.name") == "]]>"
    assert [e.text for e in root.findall("list")] == ["a", "b"]


def test_response_format() -> None:
    assert response_format({"response": "json"}) == "json"
    assert response_format({"Response": "JSON"}) == "json"
    assert response_format({"response": "xml"}) == "xml"
    assert response_format({}) == "xml"
    assert response_format({"response": "yaml"}) == "xml"
