"""Resource tags through a live server with `cs`: createTags, listTags and
deleteTags on VMs, templates, networks, volumes and addresses; the
`tags[n]` filter of the list commands (keys in any case); ownership."""

from __future__ import annotations

from typing import Any

import cs
import pytest

from tests.vms.conftest import Cloud, api_error, unique
from tests.vms.test_lifecycle import deploy, rows

pytestmark = pytest.mark.ray


def _tags(**kv: str) -> dict[str, Any]:
    return {f"tags[{i}].{f}": v for i, (k, val) in enumerate(kv.items()) for f, v in (("key", k), ("value", val))}


def _root_volume(server: Any, vm: dict[str, Any]) -> str:
    return str(rows(server, "SELECT v.uuid FROM volume v JOIN vm_instance i ON i.id = v.instance_id "
                            "WHERE i.uuid = ? AND v.volume_type = 'ROOT'", vm["id"])[0][0])


def test_vm_tags_filter_and_delete(root: cs.CloudStack, cloud: Cloud, tenant: Any, live_server: Any) -> None:
    user = tenant()
    web, db = deploy(user.api, cloud, startvm=False), deploy(user.api, cloud, startvm=False)
    env = unique("env")
    user.api.createTags(resourcetype="UserVm", resourceids=f"{web['id']},{db['id']}", **_tags(Env=env, tier="x"))
    user.api.createTags(resourcetype="userVM", resourceids=web["id"], **_tags(role="web"))

    listed = user.api.listTags(resourcetype="UserVm", key="ENV")["tag"]
    assert sorted(t["resourceid"] for t in listed) == sorted([web["id"], db["id"]])
    assert {t["key"] for t in listed} == {"Env"} and all(t["account"] == user.account["name"] for t in listed)
    vm = user.api.listVirtualMachines(id=web["id"])["virtualmachine"][0]
    assert {t["key"]: t["value"] for t in vm["tags"]} == {"Env": env, "tier": "x", "role": "web"}
    # The filter: key in any case, value exact; several entries all hold.
    found = user.api.listVirtualMachines(**{"tags[0].key": "env", "tags[0].value": env})["virtualmachine"]
    assert sorted(v["id"] for v in found) == sorted([web["id"], db["id"]])
    found = user.api.listVirtualMachines(**_tags(ENV=env, ROLE="web"))["virtualmachine"]
    assert [v["id"] for v in found] == [web["id"]]
    assert user.api.listVirtualMachines(**_tags(role="WEB")) == {}  # values match exactly
    assert user.api.listVirtualMachines(**_tags(env="other")) == {}

    # A key already there (in any case) refuses the whole job: nothing half-tagged.
    err = api_error(user.api.createTags, resourcetype="UserVm", resourceids=f"{db['id']},{web['id']}",
                    **_tags(owner="me", ROLE="db"))
    assert err["errorcode"] == 431 and "already has a tag" in err["errortext"]
    assert user.api.listTags(key="owner") == {}

    # deleteTags by key+value (no match: refused), by key, then all.
    err = api_error(user.api.deleteTags, resourcetype="UserVm", resourceids=web["id"], **_tags(role="db"))
    assert err["errorcode"] == 431
    user.api.deleteTags(resourcetype="UserVm", resourceids=web["id"], **_tags(role="web"))
    user.api.deleteTags(resourcetype="UserVm", resourceids=web["id"], **{"tags[0].key": "TIER"})
    assert {t["key"] for t in user.api.listTags(resourceid=web["id"])["tag"]} == {"Env"}
    user.api.deleteTags(resourcetype="UserVm", resourceids=f"{web['id']},{db['id']}")
    assert user.api.listTags(resourcetype="UserVm") == {}

    # An expunged VM takes its tags and details with it.
    user.api.createTags(resourcetype="UserVm", resourceids=db["id"], **_tags(gone="soon"))
    user.api.addResourceDetail(resourcetype="UserVm", resourceid=db["id"], **{"details[0].key": "k",
                                                                              "details[0].value": "v"})
    root.destroyVirtualMachine(id=db["id"], expunge=True)
    assert user.api.listTags(key="gone") == {}
    assert rows(live_server, "SELECT count(*) FROM resource_detail d JOIN vm_instance v ON v.id = d.resource_id "
                "WHERE d.resource_type = 'UserVm' AND v.uuid = ?", db["id"])[0][0] == 0


def test_tags_on_templates_networks_volumes_addresses(root: cs.CloudStack, cloud: Cloud, tenant: Any,
                                                      live_server: Any) -> None:
    user = tenant()
    vm = deploy(user.api, cloud)
    net = vm["nic"][0]["networkid"]
    mark = unique("m")
    user.api.createTags(resourcetype="Network", resourceids=net, **_tags(Project=mark))
    found = user.api.listNetworks(**_tags(project=mark))["network"]
    assert [n["id"] for n in found] == [net] and found[0]["tags"][0]["value"] == mark
    assert user.api.listNetworks(**_tags(project="nope")) == {}

    vol = _root_volume(live_server, vm)
    user.api.createTags(resourcetype="Volume", resourceids=vol, **_tags(Backup="daily"))
    assert [t["resourceid"] for t in user.api.listTags(resourcetype="Volume", key="backup")["tag"]] == [vol]
    found = user.api.listVolumes(**_tags(BACKUP="daily"))["volume"]
    assert [v["id"] for v in found] == [vol] and found[0]["tags"][0]["key"] == "Backup"
    assert user.api.listVolumes(**_tags(backup="weekly")) == {}
    other = tenant()
    assert api_error(other.api.createTags, resourcetype="Volume", resourceids=vol, **_tags(x="y"))["errorcode"] == 432
    assert other.api.listTags(resourcetype="Volume", resourceid=vol) == {}

    ip = user.api.listPublicIpAddresses(associatednetworkid=net)["publicipaddress"][0]
    user.api.createTags(resourcetype="PublicIpAddress", resourceids=ip["id"], **_tags(dns=mark))
    found = user.api.listPublicIpAddresses(**_tags(DNS=mark))["publicipaddress"]
    assert [a["id"] for a in found] == [ip["id"]] and found[0]["tags"][0]["key"] == "dns"

    # The template is admin's (public, featured): a user cannot tag it, the admin can.
    err = api_error(user.api.createTags, resourcetype="Template", resourceids=cloud.template, **_tags(os="x"))
    assert err["errorcode"] == 432
    root.createTags(resourcetype="Template", resourceids=cloud.template, **_tags(OS=mark))
    found = root.listTemplates(templatefilter="featured", **_tags(os=mark))["template"]
    assert {t["id"] for t in found} == {cloud.template}
    assert any(t["key"] == "OS" for t in found[0]["tags"])
    assert root.listTemplates(templatefilter="featured", **_tags(os="other")) == {}
    assert root.listIsos(isofilter="featured", **_tags(os=mark)) == {}  # the ISO list filters ISOs only
    root.deleteTags(resourcetype="Template", resourceids=cloud.template)


def test_refusals(root: cs.CloudStack, cloud: Cloud, tenant: Any, live_server: Any) -> None:
    owner, other = tenant(), tenant()
    vm = deploy(owner.api, cloud, startvm=False)
    before = rows(live_server, "SELECT count(*) FROM resource_tag")[0][0]
    err = api_error(other.api.createTags, resourcetype="UserVm", resourceids=vm["id"], **_tags(a="b"))
    assert err["errorcode"] == 432
    assert other.api.listTags(resourceid=vm["id"]) == {}
    for bad, code, text in (
            ({"resourcetype": "LoadBalancer"}, 431, "resource type LoadBalancer is not supported"),
            ({"resourcetype": "Vpc"}, 431, "resource type Vpc is not supported"),
            ({"resourcetype": "Spaceship"}, 431, "Invalid resource type"),
            ({"resourcetype": "Zone"}, 431, "does not support tags"),
            ({"resourcetype": "UserVm", "resourceids": "not-a-vm"}, 431, "Unable to find resource")):
        params = {"resourceids": vm["id"], **_tags(a="b"), **bad}
        err = api_error(owner.api.createTags, **params)
        assert err["errorcode"] == code and text in err["errortext"], (bad, err)
    err = api_error(owner.api.createTags, resourcetype="UserVm", resourceids=vm["id"], **{"tags[0].value": "v"})
    assert err["errorcode"] == 431
    assert rows(live_server, "SELECT count(*) FROM resource_tag")[0][0] == before  # nothing half-created
    # An admin tags the user's VM; the tag is listed as the owner's.
    root.createTags(resourcetype="UserVm", resourceids=vm["id"], **_tags(audited="yes"))
    assert owner.api.listTags(resourceid=vm["id"])["tag"][0]["account"] == owner.account["name"]
    assert root.listTags(resourceid=vm["id"], listall=True)["count"] == 1
