"""ISOs through `cs`: templates whose format is ISO, with their own command names,
answers under `iso`, `isofilter` (selfexecutable by default), bootable and isready."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cs
import pytest

from tests.images.conftest import api_error, unique, wait_for

pytestmark = pytest.mark.ray

RECORDED = json.loads(Path("/work/shared/cloudstack/responses/ISOService.json").read_text())
URL = "http://dl.example.org/isos/tiny.iso"


def register_iso(api: cs.CloudStack, zone: dict[str, Any], os_type: str | None, **params: Any) -> dict[str, Any]:
    args = {"name": unique("iso"), "displaytext": "an ISO", "url": URL, "zoneid": zone["id"], **params}
    if os_type is not None:
        args.setdefault("ostypeid", os_type)
    (iso,) = api.registerIso(**args)["iso"]
    return dict(iso)


def ready_iso(api: cs.CloudStack, iso_id: str) -> dict[str, Any]:
    def check() -> Any:
        got = api.listIsos(id=iso_id, isofilter="self").get("iso", [])
        return got[0] if got and got[0]["isready"] else None

    return dict(wait_for(check))


def test_register_and_list_iso(root: cs.CloudStack, new_tenant: Any, zones: list[dict[str, Any]],
                               os_type: str) -> None:
    user = new_tenant("isouser")
    iso = register_iso(user.api, zones[0], os_type)
    want = RECORDED["registerIso"]["registerisoresponse"]["iso"][0]
    assert set(want) - {"size", "status"} <= set(iso), set(want) - set(iso)  # both come with the download
    assert iso["isready"] is False and iso["bootable"] is True and iso["account"] == user.name
    assert "format" not in iso and "hypervisor" not in iso
    # The default isofilter, selfexecutable, lists ready ISOs only.
    assert user.api.listIsos(id=iso["id"]) == {}
    assert user.api.listIsos(id=iso["id"], isofilter="self")["count"] == 1
    done = ready_iso(user.api, iso["id"])
    assert done["status"] == "Successfully Installed" and done["size"] > 0
    assert user.api.listIsos(id=iso["id"])["count"] == 1
    # ISOs and templates are told apart.
    assert user.api.listTemplates(templatefilter="self", keyword=iso["name"]) == {}
    assert api_error(user.api.listTemplates, templatefilter="self", id=iso["id"])["errorcode"] == 431
    assert api_error(user.api.updateTemplate, id=iso["id"], name="x")["errorcode"] == 431


def test_bootable_and_isready_filters(root: cs.CloudStack, zones: list[dict[str, Any]], os_type: str) -> None:
    boot = register_iso(root, zones[0], os_type)
    data = register_iso(root, zones[0], None, bootable=False)
    assert data["bootable"] is False
    tag_ids = {boot["id"], data["id"]}
    ready_iso(root, boot["id"])
    ready_iso(root, data["id"])
    listed = {i["id"] for i in root.listIsos(isofilter="self", bootable=False).get("iso", [])}
    assert data["id"] in listed and boot["id"] not in listed
    assert {i["id"] for i in root.listIsos(isofilter="self", isready=True).get("iso", [])} >= tag_ids
    # A bootable ISO needs an OS type.
    assert api_error(root.registerIso, name="x", displaytext="x", url=URL, zoneid=zones[0]["id"])["errorcode"] == 431


def test_update_copy_delete_iso(root: cs.CloudStack, zones: list[dict[str, Any]], os_type: str,
                                download_seconds: Any) -> None:
    download_seconds(0.5)
    iso = register_iso(root, zones[0], os_type)
    up = root.updateIso(id=iso["id"], displaytext="renamed", bootable=False)["iso"]
    assert up["displaytext"] == "renamed" and up["bootable"] is False
    ready_iso(root, iso["id"])
    copied = root.copyIso(id=iso["id"], destzoneid=zones[1]["id"])["iso"]
    assert copied["zoneid"] == zones[1]["id"] and copied["isready"] is True
    assert root.listIsos(id=iso["id"], isofilter="self")["count"] == 2
    assert root.deleteIso(id=iso["id"], zoneid=zones[0]["id"]) == {"success": True}
    assert [i["zoneid"] for i in root.listIsos(id=iso["id"], isofilter="self")["iso"]] == [zones[1]["id"]]
    assert root.deleteIso(id=iso["id"]) == {"success": True}
    assert root.listIsos(id=iso["id"], isofilter="self") == {}
    assert api_error(root.deleteIso, id=iso["id"])["errorcode"] == 431


def test_iso_permissions_and_extract(root: cs.CloudStack, new_tenant: Any, zones: list[dict[str, Any]],
                                     os_type: str) -> None:
    owner, friend = new_tenant("isoown"), new_tenant("isofriend")
    iso = register_iso(owner.api, zones[0], os_type, isextractable=True)
    ready_iso(owner.api, iso["id"])
    assert friend.api.listIsos(isofilter="executable", keyword=iso["name"]) == {}
    owner.api.updateIsoPermissions(id=iso["id"], accounts=[friend.name], op="add")
    assert friend.api.listIsos(isofilter="sharedexecutable", id=iso["id"])["count"] == 1
    perms = owner.api.listIsoPermissions(id=iso["id"])["templatepermission"]
    assert set(perms["account"]) == {owner.name, friend.name}
    owner.api.updateIsoPermissions(id=iso["id"], ispublic=True)
    assert friend.api.listIsos(isofilter="community", id=iso["id"])["count"] == 1
    got = owner.api.extractIso(id=iso["id"], mode="HTTP_DOWNLOAD")["iso"]
    assert got["state"] == "DOWNLOAD_URL_CREATED" and got["url"].endswith(".iso")
    assert api_error(root.updateIsoPermissions, id=iso["id"], accounts=["x"], op="add")["errorcode"] == 431
    t_err = api_error(owner.api.updateTemplatePermissions, id=iso["id"], ispublic=False)
    assert t_err["errorcode"] == 431 and "valid template" in t_err["errortext"]


def test_users_cannot_register_isos_for_all_zones_or_bad_urls(new_tenant: Any, zones: list[dict[str, Any]],
                                                              os_type: str) -> None:
    user = new_tenant("isobad")
    for url in ("http://dl.example.org/x.qcow2", "ftp://dl.example.org/x.iso", "file:///x.iso"):
        err = api_error(user.api.registerIso, name=unique("bad"), displaytext="x", url=url, zoneid=zones[0]["id"],
                        ostypeid=os_type)
        assert err["errorcode"] == 431, url
    assert user.api.listIsos(isofilter="self") == {}
