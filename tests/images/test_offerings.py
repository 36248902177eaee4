"""Service and disk offerings through `cs`: CloudStack's shapes, its size rules,
and who sees and manages which offering."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cs
import pytest

from tests.images.conftest import Tenant, api_error, unique

pytestmark = pytest.mark.ray

RECORDED = Path("/work/shared/cloudstack/responses")


def recorded(service: str, command: str, key: str) -> dict[str, Any]:
    body = json.loads((RECORDED / f"{service}.json").read_text())[command]
    inner = next(iter(body.values()))[key]
    return dict(inner[0] if isinstance(inner, list) else inner)


def test_fixed_service_offering_round_trip(root: cs.CloudStack, new_tenant: Any) -> None:
    name = unique("so")
    so = root.createServiceOffering(name=name, displaytext="fixed", cpunumber=2, cpuspeed=1000, memory=2048,
                                    offerha=True, hosttags="fast", tags="ssd", limitcpuuse=True,
                                    deploymentplanner="FirstFitPlanner")["serviceoffering"]
    want = recorded("ServiceOfferingService", "createServiceOffering", "serviceoffering")
    assert set(want) <= set(so), set(want) - set(so)
    assert (so["name"], so["cpunumber"], so["cpuspeed"], so["memory"]) == (name, 2, 1000, 2048)
    assert so["offerha"] is True and so["iscustomized"] is False and so["issystem"] is False
    assert (so["hosttags"], so["storagetags"], so["deploymentplanner"]) == ("fast", "ssd", "FirstFitPlanner")
    assert so["storagetype"] == "shared" and so["provisioningtype"] == "thin" and "domainid" not in so

    user = new_tenant("souser")
    listed = user.api.listServiceOfferings(id=so["id"])
    assert listed["count"] == 1 and listed["serviceoffering"][0] == so

    up = root.updateServiceOffering(id=so["id"], name=name + "-x", displaytext="renamed", hosttags="")
    assert up["serviceoffering"]["name"] == name + "-x" and "hosttags" not in up["serviceoffering"]
    assert root.listServiceOfferings(name=name + "-x")["serviceoffering"][0]["displaytext"] == "renamed"

    assert root.deleteServiceOffering(id=so["id"]) == {"success": True}
    assert root.listServiceOfferings(id=so["id"]) == {}
    assert api_error(root.deleteServiceOffering, id=so["id"])["errorcode"] == 431


def test_customized_offerings(root: cs.CloudStack) -> None:
    free = root.createServiceOffering(name=unique("custom"), displaytext="custom")["serviceoffering"]
    assert free["iscustomized"] is True and "cpunumber" not in free and "memory" not in free
    bounded = root.createServiceOffering(name=unique("bounded"), displaytext="b", customized=True, cpuspeed=1500,
                                         mincpunumber=1, maxcpunumber=4, minmemory=512,
                                         maxmemory=4096)["serviceoffering"]
    assert bounded["iscustomized"] is True and bounded["cpuspeed"] == 1500
    assert bounded["serviceofferingdetails"] == {"mincpunumber": "1", "maxcpunumber": "4", "minmemory": "512",
                                                 "maxmemory": "4096"}
    # cpunumber filter: the bounded offering takes 1-4 CPUs.
    ids = {o["id"] for o in root.listServiceOfferings(cpunumber=3, keyword="bounded")["serviceoffering"]}
    assert bounded["id"] in ids
    assert root.listServiceOfferings(id=bounded["id"], cpunumber=8) == {}
    for bad in ({"cpunumber": 2}, {"mincpunumber": 1, "maxcpunumber": 2}, {"cpuspeed": 100, "mincpunumber": 4,
                "maxcpunumber": 2, "minmemory": 64, "maxmemory": 128}):
        err = api_error(root.createServiceOffering, name=unique("bad"), displaytext="x", customized=True, **bad)
        assert err["errorcode"] == 431, bad
    err = api_error(root.createServiceOffering, name=unique("bad"), displaytext="x", cpunumber=1, memory=512)
    assert err["errorcode"] == 431 and "cpuspeed" in err["errortext"]
    assert api_error(root.createServiceOffering, name=unique("bad"), displaytext="x", cpunumber=1, cpuspeed=1,
                     memory=16)["errorcode"] == 431


def test_system_offerings_and_planners(root: cs.CloudStack, new_tenant: Any) -> None:
    so = root.createServiceOffering(name=unique("sys"), displaytext="sys", cpunumber=1, cpuspeed=500, memory=256,
                                    issystem=True, systemvmtype="consoleproxy")["serviceoffering"]
    assert so["issystem"] is True and so["systemvmtype"] == "consoleproxy"
    assert root.listServiceOfferings(id=so["id"]) == {}  # issystem defaults to false
    assert root.listServiceOfferings(id=so["id"], issystem=True)["count"] == 1
    assert root.listServiceOfferings(issystem=True, systemvmtype="consoleproxy")["count"] >= 1
    user = new_tenant("sysuser")
    assert api_error(user.api.listServiceOfferings, issystem=True)["errorcode"] == 431
    for bad in ({"issystem": True, "systemvmtype": "toaster"}, {"deploymentplanner": "NoSuchPlanner"},
                {"provisioningtype": "thick"}, {"storagetype": "remote"},
                {"issystem": True, "systemvmtype": "consoleproxy", "networkrate": 10}):
        err = api_error(root.createServiceOffering, name=unique("bad"), displaytext="x", cpunumber=1, cpuspeed=1,
                        memory=64, **bad)
        assert err["errorcode"] == 431, bad


def test_domain_limited_offerings(root: cs.CloudStack, new_tenant: Any, zones: list[dict[str, Any]]) -> None:
    parent = root.createDomain(name=unique("d"))["domain"]
    child = root.createDomain(name=unique("c"), parentdomainid=parent["id"])["domain"]
    other = root.createDomain(name=unique("o"))["domain"]
    so = root.createServiceOffering(name=unique("limited"), displaytext="l", cpunumber=1, cpuspeed=100, memory=64,
                                    domainid=[parent["id"]], zoneid=[zones[0]["id"]])["serviceoffering"]
    assert (so["domainid"], so["domain"]) == (parent["id"], parent["name"])
    assert (so["zoneid"], so["zone"]) == (zones[0]["id"], zones[0]["name"])
    in_child, outside = new_tenant("kid", domainid=child["id"]), new_tenant("out", domainid=other["id"])
    assert in_child.api.listServiceOfferings(id=so["id"])["count"] == 1  # a subdomain sees its parent's
    assert outside.api.listServiceOfferings(id=so["id"]) == {}
    assert root.listServiceOfferings(id=so["id"], zoneid=zones[1]["id"]) == {}
    assert root.listServiceOfferings(id=so["id"], zoneid=zones[0]["id"])["count"] == 1
    assert root.listServiceOfferings(domainid=parent["id"], id=so["id"])["count"] == 1
    assert api_error(outside.api.listServiceOfferings, domainid=parent["id"])["errorcode"] == 432

    # A domain admin manages offerings of its own subtree only, never public ones.
    dadmin = new_tenant("dadm", accounttype=2, domainid=parent["id"])
    mine = dadmin.api.createServiceOffering(name=unique("da"), displaytext="da", cpunumber=1, cpuspeed=100,
                                            memory=64, domainid=[child["id"]])["serviceoffering"]
    assert mine["domainid"] == child["id"]
    for params in ({}, {"domainid": [other["id"]]}, {"domainid": [child["id"]], "hosttags": "x"}):
        err = api_error(dadmin.api.createServiceOffering, name=unique("da"), displaytext="da", cpunumber=1,
                        cpuspeed=100, memory=64, **params)
        assert err["errorcode"] == 431, params
    public = root.createServiceOffering(name=unique("pub"), displaytext="p", cpunumber=1, cpuspeed=1,
                                        memory=64)["serviceoffering"]
    assert api_error(dadmin.api.deleteServiceOffering, id=public["id"])["errorcode"] == 431
    assert api_error(dadmin.api.updateServiceOffering, id=mine["id"], domainid="public")["errorcode"] == 431
    assert dadmin.api.updateServiceOffering(id=mine["id"], name="renamed")["serviceoffering"]["name"] == "renamed"
    assert dadmin.api.deleteServiceOffering(id=mine["id"]) == {"success": True}
    # Users may not call the admin commands at all.
    assert api_error(in_child.api.createServiceOffering, name="x", displaytext="x")["errorcode"] == 432


def test_disk_offering_round_trip(root: cs.CloudStack, new_tenant: Any) -> None:
    name = unique("do")
    do = root.createDiskOffering(name=name, displaytext="ten", disksize=10, tags="ssd",
                                 provisioningtype="fat")["diskoffering"]
    want = recorded("DiskOfferingService", "createDiskOffering", "diskoffering")
    assert set(want) <= set(do), set(want) - set(do)
    assert (do["disksize"], do["iscustomized"], do["tags"], do["provisioningtype"]) == (10, False, "ssd", "fat")
    custom = root.createDiskOffering(name=unique("do"), displaytext="any", customized=True)["diskoffering"]
    assert custom["iscustomized"] is True and custom["disksize"] == 0

    user = new_tenant("douser")
    listed = user.api.listDiskOfferings(id=do["id"])
    assert listed["count"] == 1 and listed["diskoffering"][0] == do
    assert user.api.listDiskOfferings(keyword=name)["count"] == 1

    up = root.updateDiskOffering(id=do["id"], displaytext="renamed", displayoffering=False)["diskoffering"]
    assert up["displaytext"] == "renamed" and up["displayoffering"] is False
    assert root.deleteDiskOffering(id=do["id"]) == {"success": True}
    assert root.listDiskOfferings(id=do["id"]) == {}
    for bad in ({}, {"disksize": 5, "customized": True}, {"disksize": 0}, {"disksize": 5, "provisioningtype": "x"}):
        assert api_error(root.createDiskOffering, name=unique("bad"), displaytext="x", **bad)["errorcode"] == 431
    assert api_error(user.api.createDiskOffering, name="x", displaytext="x", disksize=1)["errorcode"] == 432
    assert api_error(user.api.listDiskOfferings, isrecursive=True)["errorcode"] == 431


def test_unknown_ids_are_431(root: cs.CloudStack, zones: list[dict[str, Any]]) -> None:
    nobody = "00000000-0000-4000-8000-000000000000"
    for fn in (root.updateServiceOffering, root.deleteServiceOffering, root.updateDiskOffering,
               root.deleteDiskOffering):
        assert api_error(fn, id=nobody)["errorcode"] == 431
    assert api_error(root.createServiceOffering, name="x", displaytext="x", cpunumber=1, cpuspeed=1, memory=64,
                     domainid=[nobody])["errorcode"] == 431
    assert api_error(root.createDiskOffering, name="x", displaytext="x", disksize=1,
                     zoneid=[nobody])["errorcode"] == 431
    assert api_error(root.listServiceOfferings, virtualmachineid=nobody)["errorcode"] == 431
    assert api_error(root.listDiskOfferings, volumeid=nobody)["errorcode"] == 431


def test_offerings_of_a_user_are_filtered_by_domain(root: cs.CloudStack, new_tenant: Any) -> None:
    dom = root.createDomain(name=unique("sep"))["domain"]
    do = root.createDiskOffering(name=unique("dodom"), displaytext="d", disksize=1,
                                 domainid=[dom["id"]])["diskoffering"]
    assert do["domainid"] == dom["id"] and do["domain"].endswith(f"{dom['name']}/")  # disk offerings show paths
    inside: Tenant = new_tenant("in", domainid=dom["id"])
    outside: Tenant = new_tenant("out")
    assert inside.api.listDiskOfferings(id=do["id"])["count"] == 1
    assert outside.api.listDiskOfferings(id=do["id"]) == {}
