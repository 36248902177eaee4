"""Volumes and snapshots through Apache Libcloud's CloudStack driver, unchanged."""

from __future__ import annotations

from typing import Any

import cs
import pytest
from libcloud.compute.types import StorageVolumeState

from tests.storage.conftest import GiB, deploy, pools_match_volumes
from tests.vms.conftest import Cloud, libcloud_driver, unique

pytestmark = pytest.mark.ray


def test_volumes_and_snapshots_through_libcloud(live_server: Any, root: cs.CloudStack, cloud: Cloud) -> None:
    drv = libcloud_driver(live_server)
    location = next(loc for loc in drv.list_locations() if loc.id == cloud.zone)
    vm = deploy(root, cloud)
    name = unique("lcvol")
    # a customizable offering takes the size asked for (camelCase diskOfferingId, zoneId)
    vol = drv.create_volume(size=3, name=name, location=location)
    assert vol.name == name and vol.state == StorageVolumeState.AVAILABLE  # Allocated: libcloud maps it so
    assert root.listVolumes(id=vol.id)["volume"][0]["size"] == 3 * GiB

    vms = drv._sync_request("listVirtualMachines", params={"id": vm["id"]})["virtualmachine"]
    node = drv._to_node(data=vms[0])
    assert drv.attach_volume(node, vol)
    mine = {v.id: v for v in drv.list_volumes(node=node)}
    assert mine[vol.id].state == StorageVolumeState.INUSE and len(mine) == 2  # ROOT and the data disk
    assert vol.id in {v.id for v in drv.list_volumes()}

    snap = drv.create_volume_snapshot(vol)
    assert snap.extra["volume_id"] == vol.id
    assert snap.id in {s.id for s in drv.list_snapshots()}
    os_type = root.listOsTypes()["ostype"][0]["id"]
    image = drv.ex_create_snapshot_template(snap, unique("lctpl"), os_type)
    assert image.id and image.extra["hypervisor"]
    assert drv.destroy_volume_snapshot(snap)
    assert snap.id not in {s["id"] for s in root.listSnapshots(listall=True).get("snapshot", [])}

    assert drv.detach_volume(vol)
    assert "virtualmachineid" not in root.listVolumes(id=vol.id)["volume"][0]
    assert drv.destroy_volume(vol)
    assert root.listVolumes(id=vol.id) == {}
    pools_match_volumes(live_server)
