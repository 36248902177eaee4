"""Resource limits through a live server with `cs`: listing and setting them,
who may, refusals with 532 that leave nothing behind, domain limits capping
their accounts, and updateResourceCount repairing a drifted count."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import cs
import pytest

from tests.vms.conftest import Cloud, Tenant, api_error, unique
from tests.vms.test_lifecycle import rows

pytestmark = pytest.mark.ray


def deploy_for(root: cs.CloudStack, cloud: Cloud, acct: dict[str, Any], **params: Any) -> dict[str, Any]:
    args = {"zoneid": cloud.zone, "templateid": cloud.template, "serviceofferingid": cloud.offering,
            "name": unique("vm"), "account": acct["name"], "domainid": acct["domainid"], **params}
    return dict(root.deployVirtualMachine(**args)["virtualmachine"])


def limits_of(api: cs.CloudStack, **params: Any) -> dict[str, int]:
    return {r["resourcetypename"]: int(r["max"]) for r in api.listResourceLimits(**params)["resourcelimit"]}


def set_limit(root: cs.CloudStack, acct: dict[str, Any], rtype: int, value: int) -> dict[str, Any]:
    return dict(root.updateResourceLimit(account=acct["name"], domainid=acct["domainid"], resourcetype=rtype,
                                         max=value)["resourcelimit"])


def allocated(root: cs.CloudStack, cloud: Cloud) -> list[tuple[int, int]]:
    return [(int(h["cpuallocatedvalue"]), int(h["memoryallocated"]))
            for h in root.listHosts(zoneid=cloud.zone, type="Routing")["host"]]


def test_list_and_update_limits_as_root_admin(root: cs.CloudStack, tenant: Callable[[], Tenant]) -> None:
    acct = tenant().account
    mine = limits_of(root)
    assert len(mine) == 12 and set(mine.values()) == {-1}  # a root admin is never limited
    theirs = limits_of(root, account=acct["name"], domainid=acct["domainid"])
    assert (theirs["user_vm"], theirs["cpu"], theirs["memory"], theirs["primary_storage"]) == (20, 40, 40960, 200)
    got = set_limit(root, acct, 0, 3)
    assert (got["resourcetype"], got["resourcetypename"], got["max"], got["account"]) == ("0", "user_vm", 3,
                                                                                         acct["name"])
    assert limits_of(root, account=acct["name"], domainid=acct["domainid"], resourcetype=0) == {"user_vm": 3}
    assert set_limit(root, acct, 8, -1)["max"] == -1
    assert limits_of(root, account=acct["name"], domainid=acct["domainid"])["cpu"] == -1
    err = api_error(root.updateResourceLimit, domainid=acct["domainid"], resourcetype=0, max=5)
    assert err["errorcode"] == 431 and "ROOT" in err["errortext"], err


def test_a_user_lists_but_cannot_update_limits(root: cs.CloudStack, tenant: Callable[[], Tenant]) -> None:
    t = tenant()
    assert limits_of(t.api)["user_vm"] == 20
    err = api_error(t.api.updateResourceLimit, resourcetype=0, max=100)
    assert err["errorcode"] == 531, err
    assert limits_of(t.api)["user_vm"] == 20


def test_deploy_beyond_the_instance_limit_creates_nothing(root: cs.CloudStack, cloud: Cloud, live_server: Any,
                                                           tenant: Callable[[], Tenant]) -> None:
    acct = tenant().account
    set_limit(root, acct, 0, 1)
    deploy_for(root, cloud, acct)
    vms = rows(live_server, "SELECT count(*) FROM vm_instance")[0][0]
    vols = rows(live_server, "SELECT count(*) FROM volume")[0][0]
    before = allocated(root, cloud)
    err = api_error(deploy_for, root=root, cloud=cloud, acct=acct)
    assert err["errorcode"] == 532 and "user_vm" in err["errortext"], err
    assert rows(live_server, "SELECT count(*) FROM vm_instance")[0][0] == vms  # no VM row, not even removed
    assert rows(live_server, "SELECT count(*) FROM volume")[0][0] == vols
    assert allocated(root, cloud) == before  # no capacity claimed
    assert len(root.listVirtualMachines(account=acct["name"], domainid=acct["domainid"])["virtualmachine"]) == 1


def test_cpu_and_memory_limits(root: cs.CloudStack, cloud: Cloud, tenant: Callable[[], Tenant]) -> None:
    offering = root.listServiceOfferings(id=cloud.offering)["serviceoffering"][0]
    acct = tenant().account
    set_limit(root, acct, 8, int(offering["cpunumber"]))
    deploy_for(root, cloud, acct)
    err = api_error(deploy_for, root=root, cloud=cloud, acct=acct)
    assert err["errorcode"] == 532 and "'cpu'" in err["errortext"], err

    acct = tenant().account
    set_limit(root, acct, 9, int(offering["memory"]) + 1)
    vm = deploy_for(root, cloud, acct, startvm=False)
    err = api_error(deploy_for, root=root, cloud=cloud, acct=acct)
    assert err["errorcode"] == 532 and "'memory'" in err["errortext"], err
    # Scaling past the limit is refused too; the VM keeps its size.
    medium = root.listServiceOfferings(id=cloud.medium)["serviceoffering"][0]
    if int(medium["memory"]) > int(offering["memory"]) + 1:
        err = api_error(root.scaleVirtualMachine, id=vm["id"], serviceofferingid=cloud.medium)
        assert err["errorcode"] == 532, err
        assert root.listVirtualMachines(id=vm["id"])["virtualmachine"][0]["memory"] == int(offering["memory"])


def test_a_domain_limit_caps_its_accounts(root: cs.CloudStack, cloud: Cloud, live_server: Any) -> None:
    dom = root.createDomain(name=unique("limited"))["domain"]
    name = unique("capped")
    acct = root.createAccount(username=name, password="pw-" + name, email=f"{name}@example.org", firstname="L",
                              lastname=name, accounttype=0, domainid=dom["id"])["account"]
    got = root.updateResourceLimit(domainid=dom["id"], resourcetype=0, max=1)["resourcelimit"]
    assert (got["domainid"], got["max"]) == (dom["id"], 1) and "account" not in got
    assert limits_of(root, domainid=dom["id"])["user_vm"] == 1
    assert limits_of(root, account=acct["name"], domainid=dom["id"])["user_vm"] == 20  # its own is the default
    err = api_error(set_limit, root=root, acct=acct, rtype=0, value=5)
    assert err["errorcode"] == 431 and "cannot exceed" in err["errortext"], err

    deploy_for(root, cloud, acct)
    err = api_error(deploy_for, root=root, cloud=cloud, acct=acct)
    assert err["errorcode"] == 532 and f"domain id={dom_id(live_server, dom['id'])}" in err["errortext"], err


def drift(server: Any, account_id: int) -> None:
    conn = sqlite3.connect(server.db_url.split("///", 1)[1], timeout=30)
    with conn:
        conn.execute("UPDATE resource_count SET used = 7 WHERE owner_type = 'account' AND owner_id = ? "
                     "AND resource_type = 'user_vm'", (account_id,))
    conn.close()


def dom_id(server: Any, uuid: str) -> int:
    return int(rows(server, "SELECT id FROM domain WHERE uuid = ?", uuid)[0][0])


def test_update_resource_count_repairs_a_drifted_count(root: cs.CloudStack, cloud: Cloud, live_server: Any,
                                                       tenant: Callable[[], Tenant]) -> None:
    acct = tenant().account
    deploy_for(root, cloud, acct, startvm=False)
    acct_id = rows(live_server, "SELECT id FROM account WHERE uuid = ?", acct["id"])[0][0]
    count_sql = ("SELECT used FROM resource_count WHERE owner_type = 'account' AND owner_id = ? "
                 "AND resource_type = ?")
    assert rows(live_server, count_sql, acct_id, "user_vm") == [(1,)]
    drift(live_server, acct_id)
    assert rows(live_server, count_sql, acct_id, "user_vm") == [(7,)]
    got = root.updateResourceCount(account=acct["name"], domainid=acct["domainid"])["resourcecount"]
    by = {r["resourcetypename"]: r for r in got}
    assert len(got) == 12 and by["user_vm"]["resourcecount"] == 1 and by["user_vm"]["resourcetype"] == "0"
    assert by["volume"]["resourcecount"] == 1 and by["primary_storage"]["resourcecount"] > 0
    assert by["user_vm"]["account"] == acct["name"]
    assert rows(live_server, count_sql, acct_id, "user_vm") == [(1,)]
