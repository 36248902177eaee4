"""The VM commands beyond the lifecycle, through a live server with `cs`:
affinity groups, scaling, migration, passwords, restore, ISOs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cs
import pytest

from tests.vms.conftest import Cloud, api_error, unique, wait_for
from tests.vms.test_lifecycle import deploy, rows

pytestmark = pytest.mark.ray
AFFINITY = json.loads(Path("/work/shared/cloudstack/responses/AffinityGroupService.json").read_text())
SCALE = json.loads(Path("/work/shared/cloudstack/responses/VirtualMachineService.json").read_text())


def _template(root: cs.CloudStack, cloud: Cloud, **flags: Any) -> str:
    """A ready template of our own, with `flags` (passwordenabled, isdynamicallyscalable...)."""
    os_type = root.listOsTypes()["ostype"][0]["id"]
    (tpl,) = root.registerTemplate(name=unique("tpl"), displaytext="tpl", url="http://dl.example.org/t.vhd",
                                   format="VHD", hypervisor="Simulator", ostypeid=os_type, zoneid=cloud.zone,
                                   ispublic=True, **flags)["template"]
    wait_for(lambda: root.listTemplates(templatefilter="self", id=tpl["id"])["template"][0]["isready"])
    return str(tpl["id"])


def test_affinity_groups(root: cs.CloudStack, cloud: Cloud, tenant: Any) -> None:
    types = root.listAffinityGroupTypes()
    assert {t["type"] for t in types["affinityGroupType"]} == {"host affinity", "host anti-affinity"}
    name = unique("spread")
    g = root.createAffinityGroup(name=name, type="host anti-affinity", description="apart")["affinitygroup"]
    want = AFFINITY["createAffinityGroup"]["createaffinitygroupresponse"]["jobresult"]["affinitygroup"]
    assert set(want) <= set(g) and g["type"] == "host anti-affinity" and g["account"] == "admin"
    err = api_error(root.createAffinityGroup, name=name, type="host anti-affinity")
    assert err["errorcode"] == 431 and "already exists" in err["errortext"]
    assert api_error(root.createAffinityGroup, name=unique("x"), type="cpu affinity")["errorcode"] == 431

    # Anti-affinity across the zone's four hosts: each VM on its own host.
    vms = [deploy(root, cloud, affinitygroupids=g["id"]) for _ in range(3)]
    assert len({v["hostid"] for v in vms}) == 3
    assert all(v["affinitygroup"][0]["id"] == g["id"] for v in vms)
    listed = root.listAffinityGroups(id=g["id"])["affinitygroup"][0]
    assert sorted(listed["virtualmachineIds"]) == sorted(v["id"] for v in vms)
    by_vm = root.listAffinityGroups(virtualmachineid=vms[0]["id"])["affinitygroup"]
    assert [x["id"] for x in by_vm] == [g["id"]]

    # updateVMAffinityGroup: only while Stopped; by names as well as ids.
    err = api_error(root.updateVMAffinityGroup, id=vms[0]["id"], affinitygroupids=g["id"])
    assert err["errorcode"] == 431 and "Stopped" in err["errortext"]
    root.stopVirtualMachine(id=vms[0]["id"])
    pack = root.createAffinityGroup(name=unique("pack"), type="host affinity")["affinitygroup"]
    moved = root.updateVMAffinityGroup(id=vms[0]["id"], affinitygroupnames=pack["name"])["virtualmachine"]
    assert [x["name"] for x in moved["affinitygroup"]] == [pack["name"]]
    # Another account's VM cannot join admin's group.
    user = tenant()
    theirs = deploy(user.api, cloud, startvm=False)
    assert api_error(root.updateVMAffinityGroup, id=theirs["id"], affinitygroupids=g["id"])["errorcode"] == 432

    # Deleting a group leaves its VMs, out of the group.
    root.deleteAffinityGroup(id=g["id"])
    assert root.listAffinityGroups(id=g["id"]).get("affinitygroup", []) == []
    assert root.listVirtualMachines(id=vms[1]["id"])["virtualmachine"][0]["affinitygroup"] == []
    root.deleteAffinityGroup(name=pack["name"])
    for v in vms + [theirs]:
        root.destroyVirtualMachine(id=v["id"], expunge=True)


def test_scaling(root: cs.CloudStack, cloud: Cloud, live_server: Any) -> None:
    vm = deploy(root, cloud)
    # Running, no dynamic scaling: refused with the reason.
    err = api_error(root.scaleVirtualMachine, id=vm["id"], serviceofferingid=cloud.medium)
    assert err["errorcode"] == 431 and "dynamic scaling is disabled" in err["errortext"], err
    err = api_error(root.changeServiceForVirtualMachine, id=vm["id"], serviceofferingid=cloud.medium)
    assert err["errorcode"] == 431
    # Stopped: changeServiceForVirtualMachine takes the new offering.
    root.stopVirtualMachine(id=vm["id"])
    got = root.changeServiceForVirtualMachine(id=vm["id"], serviceofferingid=cloud.medium)["virtualmachine"]
    assert got["serviceofferingid"] == cloud.medium and got["memory"] == 1024
    assert root.startVirtualMachine(id=vm["id"])["virtualmachine"]["memory"] == 1024
    root.destroyVirtualMachine(id=vm["id"], expunge=True)

    # Dynamic scaling of a Running VM: its host's capacity grows with it.
    tpl = _template(root, cloud, isdynamicallyscalable=True)
    root.updateConfiguration(name="enable.dynamic.scale.vm", value="true")
    try:
        vm = deploy(root, cloud, templateid=tpl)
        assert vm["isdynamicallyscalable"] is True
        scaled = root.scaleVirtualMachine(id=vm["id"], serviceofferingid=cloud.medium)["virtualmachine"]
        want = SCALE["scaleVirtualMachine"]["scalevirtualmachineresponse"]["jobresult"]["virtualmachine"]
        assert set(want) - set(scaled) <= {"backupofferingid", "backupofferingname", "hasannotations", "pooltype",
                                           "receivedbytes", "sentbytes", "isoid", "isoname", "isodisplaytext"}
        assert scaled["state"] == "Running" and scaled["memory"] == 1024
        (used,) = rows(live_server, "SELECT c.used FROM capacity c JOIN host h ON h.id = c.owner_id "
                                    "WHERE c.owner_type = 'host' AND c.capacity_type = 0 AND h.uuid = ?",
                       vm["hostid"])
        held = rows(live_server, "SELECT sum(ram_mb) FROM vm_instance m JOIN host h ON h.id = m.host_id "
                                 "WHERE h.uuid = ? AND m.removed IS NULL", vm["hostid"])[0][0]
        assert used[0] == held * 2**20
        err = api_error(root.scaleVirtualMachine, id=vm["id"], serviceofferingid=cloud.offering)
        assert "Only scaling up" in err["errortext"]
        root.destroyVirtualMachine(id=vm["id"], expunge=True)
    finally:
        root.updateConfiguration(name="enable.dynamic.scale.vm", value="false")


def test_migration(root: cs.CloudStack, cloud: Cloud) -> None:
    vm = deploy(root, cloud)
    src = next(h for h in cloud.hosts if h["id"] == vm["hostid"])
    same = next(h for h in cloud.hosts if h["clusterid"] == src["clusterid"] and h["id"] != src["id"])
    other = next(h for h in cloud.hosts if h["clusterid"] != src["clusterid"])
    found = root.findHostsForMigration(virtualmachineid=vm["id"])
    by_id = {h["id"]: h for h in found["host"]}
    assert vm["hostid"] not in by_id and by_id[same["id"]]["suitableformigration"] is True
    assert by_id[same["id"]]["requiresStorageMotion"] is False and by_id[other["id"]]["requiresStorageMotion"] is True

    moved = root.migrateVirtualMachine(virtualmachineid=vm["id"], hostid=same["id"])["virtualmachine"]
    assert moved["hostid"] == same["id"] and moved["state"] == "Running"
    err = api_error(root.migrateVirtualMachine, virtualmachineid=vm["id"], hostid=other["id"])
    assert err["errorcode"] == 431 and "migrateVirtualMachineWithVolume" in err["errortext"], err
    auto = root.migrateVirtualMachine(virtualmachineid=vm["id"])["virtualmachine"]
    assert auto["hostid"] != same["id"]
    # With its volumes, to the other cluster: the ROOT volume moves to a pool there.
    across = root.migrateVirtualMachineWithVolume(virtualmachineid=vm["id"], hostid=other["id"])["virtualmachine"]
    assert across["hostid"] == other["id"]
    # A Stopped VM's storage, to another pool.
    root.stopVirtualMachine(id=vm["id"])
    pool = cloud.pools[0]
    root.migrateVirtualMachine(virtualmachineid=vm["id"], storageid=pool)
    assert root.startVirtualMachine(id=vm["id"])["virtualmachine"]["state"] == "Running"
    root.destroyVirtualMachine(id=vm["id"], expunge=True)


def test_password_reset_and_retrieval(root: cs.CloudStack, cloud: Cloud, live_server: Any) -> None:
    plain = deploy(root, cloud)
    err = api_error(root.resetPasswordForVirtualMachine, id=plain["id"])
    assert "not password enabled" in err["errortext"]
    tpl = _template(root, cloud, passwordenabled=True)
    vm = deploy(root, cloud, templateid=tpl)
    assert vm["passwordenabled"] is True and len(vm["password"]) >= 6
    err = api_error(root.resetPasswordForVirtualMachine, id=vm["id"])
    assert "should be stopped" in err["errortext"]
    root.stopVirtualMachine(id=vm["id"])
    reset = root.resetPasswordForVirtualMachine(id=vm["id"])["virtualmachine"]
    assert reset["password"] != vm["password"]
    got = root.getVMPassword(id=vm["id"])["password"]["encryptedpassword"]
    assert got == reset["password"]
    (stored,) = rows(live_server, "SELECT password FROM vm_instance WHERE uuid = ?", vm["id"])
    assert stored[0].startswith("enc1:") and reset["password"] not in stored[0]
    for v in (plain, vm):
        root.destroyVirtualMachine(id=v["id"], expunge=True)


def test_restore_and_isos(root: cs.CloudStack, cloud: Cloud, live_server: Any) -> None:
    vm = deploy(root, cloud)
    old = rows(live_server, "SELECT v.uuid FROM volume v JOIN vm_instance m ON v.instance_id = m.id "
                            "WHERE m.uuid = ? AND v.volume_type = 'ROOT' AND v.removed IS NULL", vm["id"])
    restored = root.restoreVirtualMachine(virtualmachineid=vm["id"])["virtualmachine"]
    assert restored["state"] == "Running" and restored["templateid"] == cloud.template
    new = rows(live_server, "SELECT v.uuid, v.state FROM volume v JOIN vm_instance m ON v.instance_id = m.id "
                            "WHERE m.uuid = ? AND v.volume_type = 'ROOT' AND v.removed IS NULL", vm["id"])
    assert len(new) == 1 and new[0][0] != old[0][0] and new[0][1] == "Ready"

    os_type = root.listOsTypes()["ostype"][0]["id"]
    (iso,) = root.registerIso(name=unique("iso"), displaytext="iso", url="http://dl.example.org/i.iso",
                              zoneid=cloud.zone, ostypeid=os_type, ispublic=True)["iso"]
    wait_for(lambda: root.listIsos(id=iso["id"], isofilter="self")["iso"][0]["isready"])
    attached = root.attachIso(id=iso["id"], virtualmachineid=vm["id"])["virtualmachine"]
    assert attached["isoid"] == iso["id"] and attached["isoname"] == iso["name"]
    err = api_error(root.attachIso, id=iso["id"], virtualmachineid=vm["id"])
    assert err["errorcode"] == 431 and "already attached" in err["errortext"]
    assert "isoid" not in root.detachIso(virtualmachineid=vm["id"])["virtualmachine"]
    err = api_error(root.detachIso, virtualmachineid=vm["id"])
    assert err["errorcode"] == 431 and "no ISO attached" in err["errortext"]
    root.destroyVirtualMachine(id=vm["id"], expunge=True)


def test_expunge_delay(root: cs.CloudStack, cloud: Cloud) -> None:
    root.updateConfiguration(name="expunge.delay", value="1")
    root.updateConfiguration(name="expunge.interval", value="1")
    try:
        vm = deploy(root, cloud)
        root.destroyVirtualMachine(id=vm["id"])
        assert root.listVirtualMachines(id=vm["id"])["virtualmachine"][0]["state"] == "Destroyed"
        wait_for(lambda: not root.listVirtualMachines(id=vm["id"]).get("virtualmachine"), timeout=30)
    finally:
        root.updateConfiguration(name="expunge.delay", value="86400")
        root.updateConfiguration(name="expunge.interval", value="86400")
