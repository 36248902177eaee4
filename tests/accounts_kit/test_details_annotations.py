"""Resource details and annotations through a live server with `cs`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cs
import pytest

from tests.vms.conftest import Cloud, api_error
from tests.vms.test_lifecycle import deploy, rows

pytestmark = pytest.mark.ray
ANNOTATIONS = json.loads(Path("/work/shared/cloudstack/responses/AnnotationService.json").read_text())


def _details(**kv: str) -> dict[str, str]:
    return {f"details[{i}].{f}": v for i, (k, val) in enumerate(kv.items()) for f, v in (("key", k), ("value", val))}


def test_details_round_trip(root: cs.CloudStack, cloud: Cloud, tenant: Any, live_server: Any) -> None:
    user = tenant()
    vm = deploy(user.api, cloud, startvm=False)
    user.api.addResourceDetail(resourcetype="UserVm", resourceid=vm["id"], **_details(rack="r1", owner="ops"))
    user.api.addResourceDetail(resourcetype="UserVm", resourceid=vm["id"], fordisplay=False, **_details(hidden="1"))
    mine = user.api.listResourceDetails(resourcetype="UserVm", resourceid=vm["id"])["resourcedetail"]
    assert {d["key"]: d["value"] for d in mine} == {"rack": "r1", "owner": "ops"}  # users see displayed ones
    seen = root.listResourceDetails(resourcetype="UserVm", resourceid=vm["id"])["resourcedetail"]
    assert {d["key"] for d in seen} == {"rack", "owner", "hidden"}
    assert {d["key"] for d in root.listResourceDetails(resourcetype="UserVm", resourceid=vm["id"],
                                                         fordisplay=False)["resourcedetail"]} == {"hidden"}
    # A key set again takes the new value.
    user.api.addResourceDetail(resourcetype="UserVm", resourceid=vm["id"], **_details(rack="r2"))
    assert user.api.listResourceDetails(resourcetype="UserVm", key="rack")["resourcedetail"][0]["value"] == "r2"

    user.api.removeResourceDetail(resourcetype="UserVm", resourceid=vm["id"], key="owner")
    assert api_error(user.api.removeResourceDetail, resourcetype="UserVm", resourceid=vm["id"],
                     key="owner")["errorcode"] == 431
    assert [d["key"] for d in user.api.listResourceDetails(resourcetype="UserVm",
                                                           resourceid=vm["id"])["resourcedetail"]] == ["rack"]
    user.api.removeResourceDetail(resourcetype="UserVm", resourceid=vm["id"])
    assert root.listResourceDetails(resourcetype="UserVm", resourceid=vm["id"]) == {}

    # Refusals: someone else's VM, a type without details or unknown, the VM's SSH keys, no details.
    before = rows(live_server, "SELECT count(*) FROM resource_detail")[0][0]
    other = tenant()
    assert api_error(other.api.addResourceDetail, resourcetype="UserVm", resourceid=vm["id"],
                     **_details(a="b"))["errorcode"] == 432
    assert other.api.listResourceDetails(resourcetype="UserVm", resourceid=vm["id"]) == {}
    assert api_error(user.api.addResourceDetail, resourcetype="ISO", resourceid=vm["id"],
                     **_details(a="b"))["errorcode"] == 431
    assert api_error(user.api.addResourceDetail, resourcetype="LoadBalancer", resourceid=vm["id"],
                     **_details(a="b"))["errortext"] == "resource type LoadBalancer is not supported"
    assert api_error(user.api.addResourceDetail, resourcetype="UserVm", resourceid=vm["id"],
                     **_details(**{"SSH.PublicKey": "ssh-rsa AAAA"}))["errorcode"] == 431
    assert api_error(user.api.addResourceDetail, resourcetype="UserVm", resourceid=vm["id"],
                     **{"details[0].key": "x"})["errorcode"] == 431
    assert rows(live_server, "SELECT count(*) FROM resource_detail")[0][0] == before
    # Offerings' details are an admin's.
    assert api_error(user.api.addResourceDetail, resourcetype="ServiceOffering", resourceid=cloud.offering,
                     **_details(a="b"))["errorcode"] == 432


def test_annotations_round_trip(root: cs.CloudStack, cloud: Cloud, tenant: Any) -> None:
    host = cloud.hosts[0]["id"]
    note = root.addAnnotation(entitytype="HOST", entityid=host, annotation="disk 3 flaky")["annotation"]
    want = ANNOTATIONS["addAnnotation"]["addannotationresponse"]["annotation"]
    assert set(want) <= set(note), set(want) - set(note)
    assert note["adminsonly"] is True and note["entityname"] == cloud.hosts[0]["name"] and note["username"] == "admin"
    listed = root.listAnnotations(entityid=host)["annotation"]
    assert [a["id"] for a in listed] == [note["id"]]
    hosts = {h["id"]: h["hasannotations"] for h in root.listHosts(zoneid=cloud.zone, type="Routing")["host"]}
    assert hosts[host] is True and not any(v for h, v in hosts.items() if h != host)
    assert root.updateAnnotationVisibility(id=note["id"], adminsonly=False)["annotation"]["adminsonly"] is False

    user = tenant()
    vm = deploy(user.api, cloud, startvm=False)
    mine = user.api.addAnnotation(entitytype="VM", entityid=vm["id"], annotation="mine")["annotation"]
    assert mine["adminsonly"] is False
    admin_note = root.addAnnotation(entitytype="VM", entityid=vm["id"], annotation="watch", adminsonly=True)
    assert [a["id"] for a in user.api.listAnnotations(entityid=vm["id"])["annotation"]] == [mine["id"]]
    assert root.listAnnotations(entityid=vm["id"])["count"] == 2
    assert user.api.listAnnotations(entitytype="HOST") == {}  # not the user's to see

    # Refusals: users may not annotate hosts or others' VMs, nor set admins-only or visibility.
    assert api_error(user.api.addAnnotation, entitytype="HOST", entityid=host, annotation="x")["errorcode"] == 432
    assert api_error(tenant().api.addAnnotation, entitytype="VM", entityid=vm["id"],
                     annotation="x")["errorcode"] == 432
    assert api_error(user.api.addAnnotation, entitytype="VM", entityid=vm["id"], annotation="x",
                     adminsonly=True)["errorcode"] == 432
    assert api_error(user.api.updateAnnotationVisibility, id=mine["id"], adminsonly=True)["errorcode"] == 432
    assert api_error(root.addAnnotation, entitytype="SPACESHIP", entityid=vm["id"], annotation="x")["errorcode"] == 431
    assert api_error(root.addAnnotation, entitytype="VM", entityid=host, annotation="x")["errorcode"] == 431
    assert api_error(user.api.removeAnnotation, id=admin_note["annotation"]["id"])["errorcode"] == 432

    removed = user.api.removeAnnotation(id=mine["id"])["annotation"]
    assert removed["id"] == mine["id"] and "removed" in removed
    assert user.api.listAnnotations(entityid=vm["id"]) == {}
    root.removeAnnotation(id=note["id"])
    assert root.listAnnotations(entityid=host) == {}
    assert root.listHosts(id=host)["host"][0]["hasannotations"] is False


def test_tag_detail_and_annotation_changes_are_events(cloud: Cloud, tenant: Any) -> None:
    user = tenant()
    vm = deploy(user.api, cloud, startvm=False)
    user.api.createTags(resourcetype="UserVm", resourceids=vm["id"], **{"tags[0].key": "a", "tags[0].value": "b"})
    user.api.deleteTags(resourcetype="UserVm", resourceids=vm["id"])
    user.api.addResourceDetail(resourcetype="UserVm", resourceid=vm["id"], **_details(k="v"))
    user.api.removeResourceDetail(resourcetype="UserVm", resourceid=vm["id"], key="k")
    note = user.api.addAnnotation(entitytype="VM", entityid=vm["id"], annotation="n")["annotation"]
    user.api.removeAnnotation(id=note["id"])
    events = user.api.listEvents(pagesize=200, page=1).get("event", [])
    by_type = {e["type"]: e for e in events}
    for t in ("CREATE_TAGS", "DELETE_TAGS", "CREATE_RESOURCE_DETAILS", "DELETE_RESOURCE_DETAILS",
              "ANNOTATION.CREATE", "ANNOTATION.REMOVE"):
        assert t in by_type, (t, sorted(by_type))
    assert by_type["CREATE_TAGS"]["account"] == user.account["name"]
