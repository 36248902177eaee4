"""Clusters through `cs`: addCluster answers a list as CloudStack's does,
updateCluster moves allocation and managed states, deleteCluster refuses while
the cluster holds storage, listClusters filters."""

from __future__ import annotations

from typing import Any

import cs
import pytest

from tests.infra.conftest import api_error, db, nfs_url, recorded, shape, unique

pytestmark = pytest.mark.ray


def test_add_cluster_round_trip(api: cs.CloudStack, zone: dict[str, Any], pod: dict[str, Any]) -> None:
    name = unique("cluster")
    resp = api.addCluster(zoneid=zone["id"], podid=pod["id"], clustername=name, hypervisor="simulator",
                          clustertype="CloudManaged")
    assert resp["count"] == 1 and len(resp["cluster"]) == 1  # a list, as Marvin reads it ([0].id)
    c = resp["cluster"][0]
    shape(recorded("ClusterService", "listClusters", "cluster"), c)
    assert (c["name"], c["podid"], c["podname"], c["zoneid"], c["zonename"]) == (
        name, pod["id"], pod["name"], zone["id"], zone["name"])
    assert (c["hypervisortype"], c["clustertype"], c["allocationstate"], c["managedstate"]) == (
        "Simulator", "CloudManaged", "Enabled", "Managed")
    assert (c["cpuovercommitratio"], c["memoryovercommitratio"]) == ("1.0", "1.0")
    assert api.listClusters(id=c["id"])["cluster"][0] == c
    assert api.listClusters(podid=pod["id"], hypervisor="Simulator")["count"] == 1
    assert api.listClusters(zoneid=zone["id"], name=name, clustertype="CloudManaged")["cluster"][0]["id"] == c["id"]
    assert api.listClusters(zoneid=zone["id"], hypervisor="KVM") == {}


def test_update_cluster_states(api: cs.CloudStack, cluster: dict[str, Any]) -> None:
    c = api.updateCluster(id=cluster["id"], allocationstate="Disabled")["cluster"]
    shape(recorded("ClusterService", "updateCluster", "cluster"), c)
    assert c["allocationstate"] == "Disabled"
    c = api.updateCluster(id=cluster["id"], managedstate="Unmanaged", clustername=cluster["name"] + "-x")["cluster"]
    assert (c["managedstate"], c["name"]) == ("Unmanaged", cluster["name"] + "-x")
    assert api.listClusters(id=cluster["id"], managedstate="Unmanaged")["count"] == 1
    err = api_error(api.updateCluster, id=cluster["id"], managedstate="Sideways")
    assert err["errorcode"] == 431


def test_cluster_in_a_missing_pod(api: cs.CloudStack, live_server: Any, zone: dict[str, Any]) -> None:
    name = unique("cluster")
    missing = "deadbeef-0000-4000-8000-000000000000"
    err = api_error(api.addCluster, zoneid=zone["id"], podid=missing, clustername=name, hypervisor="Simulator",
                    clustertype="CloudManaged")
    assert err["errorcode"] == 431 and f"podid value={missing}" in err["errortext"]
    with db(live_server) as conn:
        assert conn.execute("SELECT count(*) FROM cluster WHERE name = ?", (name,)).fetchone()[0] == 0


def test_cluster_pod_of_another_zone_and_bad_hypervisor(api: cs.CloudStack, zone: dict[str, Any],
                                                        pod: dict[str, Any]) -> None:
    other = api.createZone(name=unique("zone"), dns1="8.8.8.8", internaldns1="8.8.8.8", networktype="Advanced")["zone"]
    err = api_error(api.addCluster, zoneid=other["id"], podid=pod["id"], clustername=unique("c"),
                    hypervisor="Simulator", clustertype="CloudManaged")
    assert err["errorcode"] == 431 and "doesn't belong to the zone" in err["errortext"]
    err = api_error(api.addCluster, zoneid=zone["id"], podid=pod["id"], clustername=unique("c"),
                    hypervisor="Abacus", clustertype="CloudManaged")
    assert err["errorcode"] == 431 and "Abacus" in err["errortext"]


def test_delete_cluster_refused_while_it_has_pools(api: cs.CloudStack, zone: dict[str, Any], pod: dict[str, Any],
                                                   cluster: dict[str, Any]) -> None:
    sp = api.createStoragePool(zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"], name=unique("ps"),
                               url=nfs_url())["storagepool"]
    err = api_error(api.deleteCluster, id=cluster["id"])
    assert err["errorcode"] == 530
    assert err["errortext"] == f"Cluster: {cluster['id']} cannot be removed. Cluster still has storage pools"
    api.deleteStoragePool(id=sp["id"])
    assert api.deleteCluster(id=cluster["id"]) == {"success": True}
    assert api.listClusters(id=cluster["id"]) == {}
