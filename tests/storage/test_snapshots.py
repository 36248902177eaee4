"""Volume snapshots, snapshot policies and VM snapshots through a live
server with `cs`: taken, listed, reverted, made into a template, deleted;
what CloudStack refuses is refused."""

from __future__ import annotations

from typing import Any

import cs
import pytest

from tests.storage.conftest import GiB, custom_offering, deploy, pools_match_volumes
from tests.vms.conftest import Cloud, api_error, unique

pytestmark = pytest.mark.ray


def _data_volume(root: cs.CloudStack, cloud: Cloud, vm: dict[str, Any], gb: int = 2) -> dict[str, Any]:
    return dict(root.createVolume(name=unique("data"), zoneid=cloud.zone, diskofferingid=custom_offering(root),
                                  size=gb, virtualmachineid=vm["id"])["volume"])


def test_snapshot_revert_template_delete(live_server: Any, root: cs.CloudStack, cloud: Cloud) -> None:
    vm = deploy(root, cloud)
    vol = _data_volume(root, cloud, vm)
    snap = root.createSnapshot(volumeid=vol["id"], name="before")["snapshot"]
    assert snap["state"] == "BackedUp" and snap["volumeid"] == vol["id"] and snap["snapshottype"] == "MANUAL"
    assert snap["virtualsize"] == 2 * GiB and snap["revertable"] is True and snap["name"] == "before"
    assert [s["id"] for s in root.listSnapshots(volumeid=vol["id"])["snapshot"]] == [snap["id"]]
    assert root.listSnapshots(id=snap["id"], snapshottype="MANUAL")["count"] == 1

    root.resizeVolume(id=vol["id"], size=4)
    err = api_error(root.revertSnapshot, id=snap["id"])  # the VM runs
    assert err["errorcode"] == 431 and "stop" in err["errortext"]
    root.stopVirtualMachine(id=vm["id"])
    root.revertSnapshot(id=snap["id"])
    assert root.listVolumes(id=vol["id"])["volume"][0]["size"] == 2 * GiB
    pools_match_volumes(live_server)

    os_type = root.listOsTypes()["ostype"][0]["id"]
    tpl = root.createTemplate(snapshotid=snap["id"], name=unique("fromsnap"), displaytext="from a snapshot",
                              ostypeid=os_type)["template"]
    assert tpl["size"] == 2 * GiB

    root.deleteSnapshot(id=snap["id"])
    assert root.listSnapshots(volumeid=vol["id"]) == {}
    # a snapshot of an unplaced volume: refused
    loose = root.createVolume(name=unique("loose"), zoneid=cloud.zone, diskofferingid=custom_offering(root),
                              size=1)["volume"]
    err = api_error(root.createSnapshot, volumeid=loose["id"])
    assert err["errorcode"] == 431 and "Ready" in err["errortext"]


def test_snapshot_policies(root: cs.CloudStack, cloud: Cloud) -> None:
    vm = deploy(root, cloud)
    vol = root.listVolumes(virtualmachineid=vm["id"], type="ROOT")["volume"][0]
    pol = root.createSnapshotPolicy(volumeid=vol["id"], intervaltype="DAILY", schedule="30:02", maxsnaps=3,
                                    timezone="Europe/Paris")["snapshotpolicy"]
    assert pol["intervaltype"] == 1 and pol["schedule"] == "30:02" and pol["maxsnaps"] == 3
    assert pol["timezone"] == "Europe/Paris" and pol["volumeid"] == vol["id"]
    # the same interval again updates that policy
    again = root.createSnapshotPolicy(volumeid=vol["id"], intervaltype="daily", schedule="00:04", maxsnaps=5,
                                      timezone="UTC")["snapshotpolicy"]
    assert again["id"] == pol["id"] and again["maxsnaps"] == 5 and again["schedule"] == "00:04"
    hourly = root.createSnapshotPolicy(volumeid=vol["id"], intervaltype="HOURLY", schedule="15", maxsnaps=2,
                                       timezone="UTC")["snapshotpolicy"]
    listed = root.listSnapshotPolicies(volumeid=vol["id"])
    assert listed["count"] == 2 and {p["id"] for p in listed["snapshotpolicy"]} == {pol["id"], hourly["id"]}
    assert root.updateSnapshotPolicy(id=hourly["id"], fordisplay=False)["snapshotpolicy"]["fordisplay"] is False
    for bad in ({"schedule": "99:02"}, {"schedule": "30"}, {"timezone": "Mars/Olympus"}, {"maxsnaps": 0},
                {"intervaltype": "YEARLY"}):
        args = {"volumeid": vol["id"], "intervaltype": "DAILY", "schedule": "30:02", "maxsnaps": 1,
                "timezone": "UTC", **bad}
        assert api_error(root.createSnapshotPolicy, **args)["errorcode"] == 431, bad
    root.deleteSnapshotPolicies(ids=[pol["id"], hourly["id"]])
    assert root.listSnapshotPolicies(volumeid=vol["id"]) == {}


def test_vm_snapshots(root: cs.CloudStack, cloud: Cloud) -> None:
    vm = deploy(root, cloud)
    first = root.createVMSnapshot(virtualmachineid=vm["id"], name="one", description="first")["vmsnapshot"]
    assert first["state"] == "Ready" and first["current"] is True and first["type"] == "Disk"
    second = root.createVMSnapshot(virtualmachineid=vm["id"], snapshotmemory=True)["vmsnapshot"]
    assert second["type"] == "DiskAndMemory" and second["parent"] == first["id"]
    listed = root.listVMSnapshot(virtualmachineid=vm["id"])["vmSnapshot"]
    assert {s["id"]: s["current"] for s in listed} == {first["id"]: False, second["id"]: True}
    # data disks stay as they are while VM snapshots exist
    vol = root.createVolume(name=unique("d"), zoneid=cloud.zone, diskofferingid=custom_offering(root), size=1)
    err = api_error(root.attachVolume, id=vol["volume"]["id"], virtualmachineid=vm["id"])
    assert err["errorcode"] == 431 and "VM snapshots" in err["errortext"]

    err = api_error(root.revertToVMSnapshot, vmsnapshotid=first["id"])  # disk-only: the VM must be stopped
    assert err["errorcode"] == 431
    root.stopVirtualMachine(id=vm["id"])
    assert root.revertToVMSnapshot(vmsnapshotid=first["id"])["virtualmachine"]["state"] == "Stopped"
    assert root.revertToVMSnapshot(vmsnapshotid=second["id"])["virtualmachine"]["state"] == "Running"
    root.deleteVMSnapshot(vmsnapshotid=second["id"])
    root.deleteVMSnapshot(vmsnapshotid=first["id"])
    assert root.listVMSnapshot(virtualmachineid=vm["id"]) == {}
    root.attachVolume(id=vol["volume"]["id"], virtualmachineid=vm["id"])
