"""What storage operations count, through a live server with `cs`: resizeVolume
moves the account's primary storage count (a growth past the limit is refused
with 532 and changes nothing, a shrink gives back), VM snapshots count against
no limit (as in CloudStack, only `vmsnapshot.max` per VM bounds them), an
expunged VM takes its VM snapshots with it; listVolumes' hostid and
listsystemvms filters."""

from __future__ import annotations

import sqlite3
from uuid import uuid4
from collections.abc import Callable
from typing import Any

import cs
import pytest

from tests.limits.test_limits import deploy_for, set_limit
from tests.storage.conftest import GiB, custom_offering, pools_match_volumes, rows
from tests.vms.conftest import Cloud, Tenant, api_error, unique, wait_for

pytestmark = pytest.mark.ray
PRIMARY_STORAGE, SNAPSHOT = 10, 3


def _used(server: Any, acct: dict[str, Any], rtype: str) -> int:
    got = rows(server, "SELECT c.used FROM resource_count c JOIN account a ON a.id = c.owner_id WHERE "
                       "c.owner_type = 'account' AND a.uuid = ? AND c.resource_type = ?", acct["id"], rtype)
    return int(got[0][0]) if got else 0


def _size(api: cs.CloudStack, vol: dict[str, Any]) -> int:
    return int(api.listVolumes(id=vol["id"])["volume"][0]["size"])


def test_resize_moves_the_primary_storage_count(live_server: Any, root: cs.CloudStack, cloud: Cloud,
                                                tenant: Callable[[], Tenant]) -> None:
    t = tenant()
    vm = deploy_for(root, cloud, t.account)
    vol = t.api.createVolume(name=unique("acc"), zoneid=cloud.zone, diskofferingid=custom_offering(t.api), size=2,
                             virtualmachineid=vm["id"])["volume"]
    held = _used(live_server, t.account, "primary_storage")
    set_limit(root, t.account, PRIMARY_STORAGE, held // GiB + 1)  # room for 1 GiB more, not 2

    err = api_error(t.api.resizeVolume, id=vol["id"], size=4)
    assert err["errorcode"] == 532 and "'primary_storage'" in err["errortext"], err
    assert _size(t.api, vol) == 2 * GiB and _used(live_server, t.account, "primary_storage") == held
    pools_match_volumes(live_server)  # no pool space claimed either

    t.api.resizeVolume(id=vol["id"], size=3)
    assert _used(live_server, t.account, "primary_storage") == held + GiB
    t.api.resizeVolume(id=vol["id"], size=1, shrinkok=True)
    assert _used(live_server, t.account, "primary_storage") == held - GiB
    t.api.detachVolume(id=vol["id"])  # a detached volume's own mailbox counts the same way
    err = api_error(t.api.resizeVolume, id=vol["id"], size=4)
    assert err["errorcode"] == 532, err
    t.api.resizeVolume(id=vol["id"], size=3)
    assert _used(live_server, t.account, "primary_storage") == held + GiB
    got = root.updateResourceCount(account=t.account["name"], domainid=t.account["domainid"], resourcetype=10)
    assert got["resourcecount"][0]["resourcecount"] == held + GiB  # the count is what exists
    pools_match_volumes(live_server)


def test_vm_snapshots_count_against_no_limit(live_server: Any, root: cs.CloudStack, cloud: Cloud,
                                             tenant: Callable[[], Tenant]) -> None:
    t = tenant()
    vm = deploy_for(root, cloud, t.account)
    set_limit(root, t.account, SNAPSHOT, 0)
    before = {k: _used(live_server, t.account, k) for k in ("snapshot", "secondary_storage", "primary_storage")}
    t.api.createVMSnapshot(virtualmachineid=vm["id"])
    assert {k: _used(live_server, t.account, k) for k in before} == before


def test_expunging_a_vm_removes_its_vm_snapshots(live_server: Any, root: cs.CloudStack, cloud: Cloud,
                                                 tenant: Callable[[], Tenant]) -> None:
    t = tenant()
    vm = deploy_for(root, cloud, t.account)
    snaps = [t.api.createVMSnapshot(virtualmachineid=vm["id"], name=n)["vmsnapshot"]["id"] for n in ("a", "b")]
    vm_id = rows(live_server, "SELECT id FROM vm_instance WHERE uuid = ?", vm["id"])[0][0]
    root.destroyVirtualMachine(id=vm["id"], expunge=True)
    left = rows(live_server, "SELECT uuid, state FROM vm_snapshot WHERE instance_id = ? AND removed IS NULL", vm_id)
    assert left == []
    assert {r[0] for r in rows(live_server, "SELECT uuid FROM vm_snapshot WHERE instance_id = ?", vm_id)} == set(snaps)
    assert t.api.listVMSnapshot() == {} and root.listVMSnapshot(vmsnapshotid=snaps[0], listall=True) == {}
    # what the account holds is what exists: a recount changes nothing
    counted = {k: _used(live_server, t.account, k) for k in ("user_vm", "volume", "primary_storage", "snapshot")}
    root.updateResourceCount(account=t.account["name"], domainid=t.account["domainid"])
    assert {k: _used(live_server, t.account, k) for k in counted} == counted == {
        "user_vm": 0, "volume": 0, "primary_storage": 0, "snapshot": 0}


def test_list_volumes_by_host(root: cs.CloudStack, cloud: Cloud) -> None:
    h1, h2 = cloud.hosts[0], cloud.hosts[-1]
    vm = deploy_for(root, cloud, root.listAccounts(name="admin")["account"][0], hostid=h1["id"])
    mine = root.listVolumes(virtualmachineid=vm["id"])["volume"][0]["id"]
    assert mine in {v["id"] for v in root.listVolumes(hostid=h1["id"], listall=True)["volume"]}
    assert mine not in {v["id"] for v in root.listVolumes(hostid=h2["id"], listall=True).get("volume", [])}
    root.stopVirtualMachine(id=vm["id"])  # a stopped VM is on no host
    assert mine not in {v["id"] for v in root.listVolumes(hostid=h1["id"], listall=True).get("volume", [])}


def _system_vm_volume(server: Any, source: str) -> str:
    """A disk for the zone's secondary storage VM (cloudplane's system VMs have none of their own yet),
    copied from the row of the user volume `source`, on no pool (so pool allocations still equal their volumes)."""
    vm_id, acct, dom = wait_for(lambda: next(iter(rows(
        server, "SELECT id, account_id, domain_id FROM vm_instance WHERE type = 'SecondaryStorageVm' "
                "AND removed IS NULL")), None))
    uuid = str(uuid4())
    conn = sqlite3.connect(server.db_url.split("///", 1)[1], timeout=30)
    try:
        cols = [c[1] for c in conn.execute("PRAGMA table_info(volume)") if c[1] != "id"]
        fixed = {"uuid": "?", "instance_id": "?", "account_id": "?", "domain_id": "?", "name": "?"}
        picked = ", ".join(fixed.get(c, "NULL" if c in ("pool_id", "pod_id") else c) for c in cols)
        with conn:
            done = conn.execute(f"INSERT INTO volume ({', '.join(cols)}) SELECT {picked} FROM volume WHERE uuid = ?",
                                [*({"uuid": uuid, "instance_id": vm_id, "account_id": acct, "domain_id": dom,
                                    "name": unique("sysvol")}[c] for c in cols if c in fixed), source])
            assert done.rowcount == 1
    finally:
        conn.close()
    return uuid


def test_list_volumes_hides_system_vm_volumes_unless_asked(live_server: Any, root: cs.CloudStack, cloud: Cloud,
                                                           tenant: Callable[[], Tenant]) -> None:
    t = tenant()
    vm = deploy_for(root, cloud, t.account, startvm=False)
    uuid = _system_vm_volume(live_server, t.api.listVolumes(virtualmachineid=vm["id"])["volume"][0]["id"])
    assert root.listVolumes(id=uuid, listall=True) == {}
    assert [v["id"] for v in root.listVolumes(id=uuid, listall=True, listsystemvms=True)["volume"]] == [uuid]
    everything = {v["id"] for v in root.listVolumes(listall=True, listsystemvms=True)["volume"]}
    assert uuid in everything
    # only a root admin may ask
    assert t.api.listVolumes(id=uuid, listall=True, listsystemvms=True) == {}
