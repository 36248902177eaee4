"""`ha.tag` through the API with `cs`: a host carrying the tag takes no ordinary
deploy (not even when the allocator would pick it first), and a crashed host's
HA VMs are restarted on it; the crashed host's other VMs are Stopped.

The allocator is firstfit and the HA host is the one firstfit picks first, so
a broken filter or HA planner would show at once rather than by chance."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.ha.conftest import PING_INTERVAL, PING_TIMEOUT, HaCloud, until

pytestmark = [pytest.mark.ray, pytest.mark.slow]
SLACK_S = 60.0  # crash → Down → restarts, on a machine shared with much else
# Shards re-read settings every 2 s and placement snapshots live up to vm.placement.cache.seconds (2):
# a change is in force for every deploy after this long.
SETTINGS_IN_FORCE_S = 2.5


def _deploy(c: HaCloud, cluster: str, offering: str) -> dict[str, Any]:
    return dict(c.api.deployVirtualMachine(zoneid=c.zone, templateid=c.template, serviceofferingid=offering,
                                           clusterid=cluster, name=f"t-{uuid.uuid4().hex[:8]}")["virtualmachine"])


def test_ha_restarts_use_ha_tag_hosts_and_deploys_never_do(ha_cloud: HaCloud) -> None:
    c, api = ha_cloud, ha_cloud.api
    cluster = c.clusters[1]
    tag = f"ha-{uuid.uuid4().hex[:6]}"
    api.updateConfiguration(name="vm.allocation.algorithm", value="firstfit")
    try:
        time.sleep(SETTINGS_IN_FORCE_S)
        # The host firstfit picks first becomes the HA host.
        probe = _deploy(c, cluster["id"], c.plain_offering)
        ha_host = probe["hostid"]
        api.destroyVirtualMachine(id=probe["id"], expunge=True)
        api.updateConfiguration(name="ha.tag", value=tag)
        api.updateHost(id=ha_host, hosttags=tag)
        listed = {h["id"]: h for h in api.listHosts(clusterid=cluster["id"])["host"]}
        assert [h for h, v in listed.items() if v["hahost"]] == [ha_host]
        time.sleep(SETTINGS_IN_FORCE_S)

        ha_vms = [_deploy(c, cluster["id"], c.ha_offering) for _ in range(3)]
        plain = [_deploy(c, cluster["id"], c.plain_offering) for _ in range(2)]
        placed = {v["hostid"] for v in ha_vms + plain}
        assert ha_host not in placed
        (victim,) = placed  # firstfit: the next host by id took them all
        survivors = [h for h in cluster["hosts"] if h not in (victim, ha_host)]

        api.injectSimulatorFault(hostid=victim, fault="crash")

        def settled() -> dict[str, dict[str, Any]] | None:
            vms = {v["id"]: v for v in api.listVirtualMachines(listall=True, zoneid=c.zone).get("virtualmachine", [])}
            ok = (all(vms[v["id"]]["state"] == "Running" and vms[v["id"]].get("hostid") != victim for v in ha_vms)
                  and all(vms[v["id"]]["state"] == "Stopped" for v in plain))
            return vms if ok else None

        vms = until(settled, PING_INTERVAL * PING_TIMEOUT + SLACK_S)
        assert vms, [(v["state"], v.get("hostid")) for v in api.listVirtualMachines(
            listall=True, zoneid=c.zone)["virtualmachine"]]
        assert api.listHosts(id=victim)["host"][0]["state"] == "Down"
        assert {vms[v["id"]]["hostid"] for v in ha_vms} == {ha_host}  # HA restarts went to the HA host
        assert all("hostid" not in vms[v["id"]] for v in plain)
        # Every step is an event of the VM's owner: a restart for each HA VM, a stop for the others.
        events = api.listEvents(listall=True).get("event", [])
        # (System VMs on the crashed host are restarted too: their events are the system account's.)
        restarted = [e for e in events if e["type"] == "VM.HA.RESTART" and e.get("account") == "admin"]
        assert len(restarted) >= len(ha_vms), events
        assert len([e for e in events if e["type"] == "VM.STOP" and "not HA-enabled" in e["description"]]) >= len(
            plain), events

        # Ordinary deploys still never land there, even with firstfit putting it first.
        later = [_deploy(c, cluster["id"], c.ha_offering) for _ in range(2)]
        assert {v["hostid"] for v in later} <= set(survivors)
    finally:
        api.updateConfiguration(name="ha.tag", value="")
        api.updateConfiguration(name="vm.allocation.algorithm", value="random")
