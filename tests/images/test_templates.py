"""Templates through `cs`: registration with a simulated download, CloudStack's
response shapes, update, copy, create from a volume or snapshot, extract,
delete, and refusals that leave nothing behind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import cs
import pytest

from tests.images.conftest import api_error, make_snapshot, make_volume, unique, wait_for

pytestmark = pytest.mark.ray

RECORDED = json.loads(Path("/work/shared/cloudstack/responses/TemplateService.json").read_text())
URL = "http://dl.example.org/images/tiny.qcow2.bz2"


def register(api: cs.CloudStack, zones: list[dict[str, Any]], **params: Any) -> list[dict[str, Any]]:
    args = {"name": unique("tpl"), "displaytext": "a template", "format": "QCOW2", "hypervisor": "Simulator",
            "url": URL, **params}
    if "zoneids" not in args and "zoneid" not in args:
        args["zoneid"] = zones[0]["id"]
    return list(api.registerTemplate(**args)["template"])


def ready(api: cs.CloudStack, tid: str, zone: str, flt: str = "self") -> dict[str, Any]:
    def check() -> Any:
        got = api.listTemplates(templatefilter=flt, id=tid, zoneid=zone).get("template", [])
        return got[0] if got and got[0]["isready"] else None

    return dict(wait_for(check))


def test_register_downloads_until_ready(root: cs.CloudStack, zones: list[dict[str, Any]], os_type: str) -> None:
    (t,) = register(root, zones, ostypeid=os_type, details={"keyboard": "us"}, checksum="abc", ispublic=True)
    want = RECORDED["registerTemplate"]["registertemplateresponse"]["template"][0]
    assert set(want) - {"physicalsize", "size"} <= set(t), set(want) - set(t)
    assert t["isready"] is False and t["status"] != "Download Complete"
    assert (t["zoneid"], t["zonename"]) == (zones[0]["id"], zones[0]["name"])
    assert (t["ostypeid"], t["account"], t["domain"], t["format"]) == (os_type, "admin", "ROOT", "QCOW2")
    assert t["details"] == {"keyboard": "us"} and t["ispublic"] is True and t["templatetype"] == "USER"
    assert t["url"] == URL and t["checksum"] == "abc" and t["hypervisor"] == "Simulator"
    seen = set()

    def progressed() -> Any:
        cur = root.listTemplates(templatefilter="self", id=t["id"])["template"][0]
        seen.add(cur["status"])
        return cur if cur["isready"] else None

    done = wait_for(progressed)
    assert done["status"] == "Download Complete" and done["size"] == done["physicalsize"] > 0
    assert done["downloaddetails"][0]["downloadState"] == "DOWNLOADED"
    assert done["downloaddetails"][0]["downloadPercent"] == "100"
    assert any(s.endswith("% Downloaded") for s in seen), seen


def test_register_in_several_zones_lists_a_row_per_zone(root: cs.CloudStack, zones: list[dict[str, Any]]) -> None:
    rows = register(root, zones, zoneids=[z["id"] for z in zones])
    assert [r["zoneid"] for r in rows] == [z["id"] for z in zones] and len({r["id"] for r in rows}) == 1
    tid = rows[0]["id"]
    listed = root.listTemplates(templatefilter="self", id=tid)
    assert listed["count"] == 2
    assert root.listTemplates(templatefilter="self", id=tid, zoneid=zones[1]["id"])["count"] == 1
    for z in zones:
        ready(root, tid, z["id"])
    # Deleting from one zone keeps the other; from the last one removes the template.
    assert root.deleteTemplate(id=tid, zoneid=zones[0]["id"]) == {"success": True}
    left = root.listTemplates(templatefilter="self", id=tid)
    assert left["count"] == 1 and left["template"][0]["zoneid"] == zones[1]["id"]
    assert root.deleteTemplate(id=tid) == {"success": True}
    assert root.listTemplates(templatefilter="self", id=tid) == {}
    assert root.listTemplates(templatefilter="self", id=tid, showremoved=True)["count"] == 2
    assert api_error(root.deleteTemplate, id=tid)["errorcode"] == 431


def test_register_in_all_zones(root: cs.CloudStack, new_tenant: Any, zones: list[dict[str, Any]]) -> None:
    enabled = {z["id"] for z in root.listZones()["zone"] if z.get("allocationstate") == "Enabled"}
    rows = register(root, zones, zoneids=["-1"])
    assert {r["zoneid"] for r in rows} == enabled and all(r["crossZones"] for r in rows)
    # Only a root admin's template may be everywhere.
    user = new_tenant("everywhere")
    err = api_error(user.api.registerTemplate, name=unique("all"), displaytext="x", format="QCOW2",
                    hypervisor="KVM", url=URL, zoneids=["-1"])
    assert err["errorcode"] == 431 and "All zones" in err["errortext"]
    assert api_error(root.registerTemplate, name="x", displaytext="x", format="QCOW2", hypervisor="KVM", url=URL,
                     zoneids=["not-a-uuid"])["errorcode"] == 431
    root.deleteTemplate(id=rows[0]["id"])


def test_update_template(root: cs.CloudStack, zones: list[dict[str, Any]], os_type: str) -> None:
    (t,) = register(root, zones, details={"a": "1"})
    up = root.updateTemplate(id=t["id"], name="renamed", displaytext="new text", passwordenabled=True,
                             ostypeid=os_type, details={"b": "2"})["template"]
    assert (up["id"], up["name"], up["displaytext"], up["ostypeid"]) == (t["id"], "renamed", "new text", os_type)
    assert up["details"] == {"a": "1", "b": "2"}
    cur = root.listTemplates(templatefilter="self", id=t["id"])["template"][0]
    assert cur["passwordenabled"] is True and cur["name"] == "renamed"
    cleaned = root.updateTemplate(id=t["id"], cleanupdetails=True)["template"]
    assert "details" not in cleaned
    assert api_error(root.updateTemplate, id=t["id"], format="ZIP")["errorcode"] == 431
    assert api_error(root.updateTemplate, id=t["id"], ostypeid=t["id"])["errorcode"] == 431


def test_copy_template_between_zones(root: cs.CloudStack, zones: list[dict[str, Any]],
                                     download_seconds: Any) -> None:
    (t,) = register(root, zones)
    err = api_error(root.copyTemplate, id=t["id"], destzoneid=zones[1]["id"])
    assert err["errorcode"] == 431 and "ready" in err["errortext"]  # not downloaded yet
    ready(root, t["id"], zones[0]["id"])
    download_seconds(0.6)
    copied = root.copyTemplate(id=t["id"], sourcezoneid=zones[0]["id"], destzoneid=zones[1]["id"])["template"]
    assert (copied["id"], copied["zoneid"], copied["isready"]) == (t["id"], zones[1]["id"], True)
    assert root.listTemplates(templatefilter="self", id=t["id"])["count"] == 2
    # Copying where it already is: nothing to do.
    again = root.copyTemplate(id=t["id"], destzoneids=[zones[1]["id"]])["template"]
    assert again["isready"] is True
    same = api_error(root.copyTemplate, id=t["id"], sourcezoneid=zones[0]["id"], destzoneid=zones[0]["id"])
    assert same["errorcode"] == 431
    assert api_error(root.copyTemplate, id=t["id"])["errorcode"] == 431


def test_create_template_from_volume_and_snapshot(live_server: Any, root: cs.CloudStack, new_tenant: Any,
                                                  zones: list[dict[str, Any]], os_type: str) -> None:
    user = new_tenant("maker")
    vol = make_volume(live_server, user.account, zones[1])
    made = user.api.createTemplate(volumeid=vol, name=unique("fromvol"), displaytext="from a volume",
                                   ostypeid=os_type)["template"]
    want = RECORDED["createTemplate"]["createtemplateresponse"]["jobresult"]["template"]
    assert set(want) - {"physicalsize"} <= set(made), set(want) - set(made)
    assert made["isready"] is True and made["zoneid"] == zones[1]["id"] and made["size"] == 20 * 2**30
    assert made["account"] == user.name and made["format"] == "QCOW2"
    snap = make_snapshot(live_server, vol)
    from_snap = user.api.createTemplate(snapshotid=snap, name=unique("fromsnap"), displaytext="snap",
                                        ostypeid=os_type)["template"]
    assert from_snap["isready"] is True and from_snap["zoneid"] == zones[1]["id"]
    # Bad sources fail before anything is made.
    creating = make_snapshot(live_server, vol, state="Creating")
    allocated = make_volume(live_server, user.account, zones[1], state="Allocated")
    other = new_tenant("notmine")
    for params, code in (({"snapshotid": creating}, 431), ({"volumeid": allocated}, 431),
                         ({"volumeid": vol, "snapshotid": snap}, 431), ({}, 431),
                         ({"volumeid": "00000000-0000-4000-8000-000000000000"}, 431)):
        err = api_error(user.api.createTemplate, name="never", displaytext="x", ostypeid=os_type, **params)
        assert err["errorcode"] == code, params
    assert api_error(other.api.createTemplate, volumeid=vol, name="never", displaytext="x",
                     ostypeid=os_type)["errorcode"] == 432
    assert user.api.listTemplates(templatefilter="self", name="never") == {}


def test_extract_template(live_server: Any, root: cs.CloudStack, new_tenant: Any,
                          zones: list[dict[str, Any]]) -> None:
    user = new_tenant("extractor")
    (t,) = register(user.api, zones)
    err = api_error(user.api.extractTemplate, id=t["id"], mode="HTTP_DOWNLOAD")
    assert err["errorcode"] == 431 and "extractable" in err["errortext"]
    ready(user.api, t["id"], zones[0]["id"])
    got = root.extractTemplate(id=t["id"], mode="HTTP_DOWNLOAD", zoneid=zones[0]["id"])["template"]
    want = RECORDED["extractTemplate"]["extracttemplateresponse"]["jobresult"]["template"]
    assert set(want) <= set(got)
    assert got["state"] == "DOWNLOAD_URL_CREATED" and got["extractMode"] == "HTTP_DOWNLOAD"
    url = urlsplit(got["url"])
    assert url.scheme == "http" and url.hostname == "127.0.0.1" and url.path.endswith(".qcow2")
    assert f":{url.port}" in live_server.base
    assert api_error(root.extractTemplate, id=t["id"], mode="CARRIER_PIGEON")["errorcode"] == 431
    (slow,) = register(root, zones, isextractable=True)
    assert api_error(root.extractTemplate, id=slow["id"], mode="HTTP_DOWNLOAD")["errorcode"] == 431


@pytest.mark.parametrize("params,text", [
    ({"url": "ftp://dl.example.org/x.qcow2"}, "Unsupported scheme"),
    ({"url": "file:///etc/x.qcow2"}, "File://"),
    ({"url": "http://dl.example.org/x.vhd"}, "invalid for the format"),
    ({"url": "http://127.0.0.1/x.qcow2"}, "Illegal host"),
    ({"url": "http://dl.example.org:22/x.qcow2"}, "ports"),
    ({"format": "FLOPPY"}, "Image format"),
    ({"format": "ISO", "url": "http://dl.example.org/x.iso"}, "Image format"),
    ({"hypervisor": "Toaster"}, "Hypervisor"),
    ({"zoneid": "00000000-0000-4000-8000-000000000000"}, "zone"),
])
def test_bad_registrations_create_nothing(root: cs.CloudStack, zones: list[dict[str, Any]],
                                          params: dict[str, Any], text: str) -> None:
    name = unique("bad")
    err = api_error(root.registerTemplate, **{"name": name, "displaytext": "x", "format": "QCOW2",
                                              "hypervisor": "Simulator", "url": URL, "zoneid": zones[0]["id"],
                                              **params})
    assert err["errorcode"] == 431 and text in err["errortext"], err
    assert root.listTemplates(templatefilter="all", name=name) == {}


def test_user_rules_on_register(root: cs.CloudStack, new_tenant: Any, zones: list[dict[str, Any]]) -> None:
    user = new_tenant("reg")
    # As CloudStack: a template that a root admin does not own is never featured.
    (t,) = register(user.api, zones, isfeatured=True, ispublic=True)
    assert t["isfeatured"] is False and t["ispublic"] is True and t["account"] == user.name
    assert api_error(user.api.registerTemplate, name="x", displaytext="x", format="QCOW2", hypervisor="KVM",
                     url=URL, zoneid=zones[0]["id"], zoneids=[zones[1]["id"]])["errorcode"] == 431
    root.updateConfiguration(name="allow.public.user.templates", value="false")
    try:
        err = api_error(user.api.registerTemplate, name=unique("pub"), displaytext="x", format="QCOW2",
                        hypervisor="KVM", url=URL, zoneid=zones[0]["id"], ispublic=True)
        assert err["errorcode"] == 431 and "private" in err["errortext"]
    finally:
        root.resetConfiguration(name="allow.public.user.templates")
    # Another user's template: not to be changed, deleted or copied.
    other = new_tenant("other")
    for fn, params in ((other.api.updateTemplate, {"name": "mine"}), (other.api.deleteTemplate, {}),
                       (other.api.copyTemplate, {"destzoneid": zones[1]["id"]})):
        assert api_error(fn, id=t["id"], **params)["errorcode"] == 432, fn
