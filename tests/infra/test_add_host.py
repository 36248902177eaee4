"""addHost's answer: built from one query for a host just created, it must say
what listHosts says about the same host (tags, capacity, zone/pod/cluster names)."""

from __future__ import annotations

from typing import Any

import cs
import pytest

from tests.infra.conftest import recorded, shape, unique

pytestmark = pytest.mark.ray

# Fields that move on their own once the agent connects (Connecting -> Up, its first ping).
MOVING = ("state", "lastpinged", "managementserverid", "cpunumber", "cpuspeed", "memorytotal",
          "cpuwithoverprovisioning", "memorywithoverprovisioning", "hypervisorversion", "version", "cpusockets")


def test_add_host_answers_as_list_hosts_does(api: cs.CloudStack, zone: dict[str, Any], pod: dict[str, Any],
                                            cluster: dict[str, Any]) -> None:
    resp = api.addHost(zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"], hypervisor="Simulator",
                       url=f"http://sim/{unique('c')}/h1", username="root", password="x", hosttags="gpu, ssd,gpu")
    assert resp["count"] == 1
    added = resp["host"][0]
    shape(recorded("HostService", "listHosts", "host"), added, ignore=("hypervisorversion", "version",
                                                                        "lastpinged", "disconnected"))
    assert added["hosttags"] == "gpu,ssd" and added["state"] in ("Connecting", "Up")
    assert (added["zonename"], added["podname"], added["clustername"]) == (zone["name"], pod["name"],
                                                                         cluster["name"])
    assert (added["cpuallocatedvalue"], added["memoryallocated"]) == (0, 0)
    listed = api.listHosts(id=added["id"])["host"][0]
    assert {k: v for k, v in added.items() if k not in MOVING} == \
        {k: v for k, v in listed.items() if k not in MOVING}
