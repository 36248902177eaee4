"""Going past each remaining limit through a live server with `cs`: a guest network,
a public IP address, a template, a volume and a snapshot beyond the account's
limit fail with 532 and leave no row behind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cs
import pytest

from tests.limits.test_limits import deploy_for, set_limit
from tests.storage.conftest import custom_offering, rows
from tests.vms.conftest import Cloud, Tenant, api_error, unique

pytestmark = pytest.mark.ray
ISOLATED = "DefaultIsolatedNetworkOfferingWithSourceNatService"
PUBLIC_IP, VOLUME, SNAPSHOT, TEMPLATE, NETWORK = 1, 2, 3, 4, 6


def _count(server: Any, table: str, acct: dict[str, Any]) -> int:
    return int(rows(server, f"SELECT count(*) FROM {table} t JOIN account a ON a.id = t.account_id WHERE a.uuid = ?",
                    acct["id"])[0][0])


def _refused(fn: Callable[..., Any], rtype: str, **params: Any) -> None:
    err = api_error(fn, **params)
    assert err["errorcode"] == 532 and f"'{rtype}'" in err["errortext"], err


def _network(t: Tenant, cloud: Cloud) -> dict[str, Any]:
    off = t.api.listNetworkOfferings(name=ISOLATED)["networkoffering"][0]["id"]
    name = unique("lnet")
    return dict(t.api.createNetwork(zoneid=cloud.zone, name=name, displaytext=name, networkofferingid=off)["network"])


def test_network_limit(live_server: Any, root: cs.CloudStack, cloud: Cloud, tenant: Callable[[], Tenant]) -> None:
    t = tenant()
    set_limit(root, t.account, NETWORK, 1)
    _network(t, cloud)
    before = _count(live_server, "network", t.account)
    _refused(_network, "network", t=t, cloud=cloud)
    assert _count(live_server, "network", t.account) == before == 1


def test_public_ip_limit(live_server: Any, root: cs.CloudStack, cloud: Cloud, tenant: Callable[[], Tenant]) -> None:
    t = tenant()
    net = _network(t, cloud)
    set_limit(root, t.account, PUBLIC_IP, 1)
    t.api.associateIpAddress(networkid=net["id"])
    held = rows(live_server, "SELECT count(*) FROM ip_address WHERE removed IS NULL AND state != 'Free'")[0][0]
    _refused(t.api.associateIpAddress, "public_ip", networkid=net["id"])
    assert rows(live_server, "SELECT count(*) FROM ip_address WHERE removed IS NULL AND state != 'Free'")[0][0] == held
    assert len(t.api.listPublicIpAddresses(associatednetworkid=net["id"])["publicipaddress"]) == 1


def test_template_limit(live_server: Any, root: cs.CloudStack, cloud: Cloud, tenant: Callable[[], Tenant]) -> None:
    t = tenant()
    set_limit(root, t.account, TEMPLATE, 0)
    os_type = t.api.listOsTypes()["ostype"][0]["id"]
    _refused(t.api.registerTemplate, "template", name=unique("ltpl"), displaytext="t", format="VHD",
             url="http://dl.example.org/l.vhd", hypervisor="Simulator", ostypeid=os_type, zoneid=cloud.zone)
    assert _count(live_server, "template", t.account) == 0


def test_volume_limit(live_server: Any, root: cs.CloudStack, cloud: Cloud, tenant: Callable[[], Tenant]) -> None:
    t = tenant()
    set_limit(root, t.account, VOLUME, 1)
    offering = custom_offering(t.api)
    t.api.createVolume(name=unique("lvol"), zoneid=cloud.zone, diskofferingid=offering, size=1)
    _refused(t.api.createVolume, "volume", name=unique("lvol"), zoneid=cloud.zone, diskofferingid=offering, size=1)
    assert _count(live_server, "volume", t.account) == 1


def test_snapshot_limit(live_server: Any, root: cs.CloudStack, cloud: Cloud, tenant: Callable[[], Tenant]) -> None:
    t = tenant()
    vm = deploy_for(root, cloud, t.account)
    vol = t.api.listVolumes(virtualmachineid=vm["id"])["volume"][0]
    set_limit(root, t.account, SNAPSHOT, 1)
    t.api.createSnapshot(volumeid=vol["id"])
    _refused(t.api.createSnapshot, "snapshot", volumeid=vol["id"])
    assert _count(live_server, "snapshot", t.account) == 1
    assert len(t.api.listSnapshots(volumeid=vol["id"])["snapshot"]) == 1
