"""Physical networks through `cs`: the async create with CloudStack's default
providers, traffic types and their labels, providers' states and elements,
guest VLAN ranges."""

from __future__ import annotations

from typing import Any

import cs
import pytest

from tests.infra.conftest import api_error, recorded, shape, unique

pytestmark = pytest.mark.ray


def test_create_physical_network_is_async_with_default_providers(api: cs.CloudStack, zone: dict[str, Any]) -> None:
    name = unique("pnet")
    raw = api.createPhysicalNetwork(zoneid=zone["id"], name=name, isolationmethods="VLAN", vlan="100-200",
                                    broadcastdomainrange="Zone", fetch_result=False)
    assert set(raw) == {"id", "jobid"}
    job = api.queryAsyncJobResult(jobid=raw["jobid"], fetch_result=False)
    assert job["jobstatus"] == 1 and job["jobinstancetype"] == "PhysicalNetwork"
    pn = job["jobresult"]["physicalnetwork"]
    shape(recorded("NetworkService", "createPhysicalNetwork", "physicalnetwork"), pn)
    assert (pn["id"], pn["name"], pn["zoneid"], pn["zonename"]) == (raw["id"], name, zone["id"], zone["name"])
    assert (pn["state"], pn["broadcastdomainrange"], pn["isolationmethods"], pn["vlan"]) == (
        "Disabled", "ZONE", "VLAN", "100-200")
    assert api.listPhysicalNetworks(id=pn["id"])["physicalnetwork"][0] == pn
    assert api.listPhysicalNetworks(zoneid=zone["id"], name=name)["count"] == 1
    nsps = {p["name"]: p for p in api.listNetworkServiceProviders(physicalnetworkid=pn["id"])["networkserviceprovider"]}
    assert {"VirtualRouter", "VpcVirtualRouter", "InternalLbVm", "SecurityGroupProvider"} <= set(nsps)
    for name_ in ("VirtualRouter", "VpcVirtualRouter", "InternalLbVm", "SecurityGroupProvider"):
        assert nsps[name_]["state"] == "Disabled" and nsps[name_]["physicalnetworkid"] == pn["id"]
    assert "SourceNat" in nsps["VirtualRouter"]["servicelist"] and nsps["InternalLbVm"]["servicelist"] == ["Lb"]
    disabled = api.listNetworkServiceProviders(physicalnetworkid=pn["id"], name="VirtualRouter", state="Disabled")
    assert disabled["count"] == 1


def test_traffic_types(api: cs.CloudStack, zone: dict[str, Any]) -> None:
    pn = api.createPhysicalNetwork(zoneid=zone["id"], name=unique("pnet"))["physicalnetwork"]
    tt = api.addTrafficType(physicalnetworkid=pn["id"], traffictype="Guest", kvmnetworklabel="cloudbr1",
                            xennetworklabel="GUEST")["traffictype"]
    assert (tt["traffictype"], tt["physicalnetworkid"], tt["kvmnetworklabel"], tt["xennetworklabel"]) == (
        "Guest", pn["id"], "cloudbr1", "GUEST")
    err = api_error(api.addTrafficType, physicalnetworkid=pn["id"], traffictype="Guest")
    assert err["errorcode"] == 530
    assert err["errortext"] == "This physical network already supports the traffic type: Guest"
    api.addTrafficType(physicalnetworkid=pn["id"], traffictype="Management")
    other = api.createPhysicalNetwork(zoneid=zone["id"], name=unique("pnet"))["physicalnetwork"]
    err = api_error(api.addTrafficType, physicalnetworkid=other["id"], traffictype="Management")
    assert err["errortext"] == ("Fail to add the traffic type to physical network because Zone already has a "
                                "physical network with this traffic type: Management")
    err = api_error(api.addTrafficType, physicalnetworkid=pn["id"], traffictype="Cargo")
    assert err["errorcode"] == 431 and err["errortext"] == "Unable to resolve trafficType 'Cargo' to a supported value"
    listed = api.listTrafficTypes(physicalnetworkid=pn["id"])
    assert listed["count"] == 2 and {t["traffictype"] for t in listed["traffictype"]} == {"Guest", "Management"}
    tt = api.updateTrafficType(id=tt["id"], kvmnetworklabel="cloudbr9", vmwarenetworklabel="vSwitch1")["traffictype"]
    assert (tt["kvmnetworklabel"], tt["vmwarenetworklabel"], tt["xennetworklabel"]) == ("cloudbr9", "vSwitch1", "GUEST")
    assert api.deleteTrafficType(id=tt["id"]) == {"success": True}
    assert api.listTrafficTypes(physicalnetworkid=pn["id"])["count"] == 1


def test_providers_and_elements(api: cs.CloudStack, zone: dict[str, Any], physnet: dict[str, Any]) -> None:
    nsps = {p["name"]: p for p in api.listNetworkServiceProviders(physicalnetworkid=physnet["id"])[
        "networkserviceprovider"]}
    vr = nsps["VirtualRouter"]
    err = api_error(api.updateNetworkServiceProvider, id=vr["id"], state="Enabled")
    assert err["errorcode"] == 530
    assert err["errortext"] == ("Provider is not ready, cannot Enable the provider, please configure the provider "
                                "first")
    elements = api.listVirtualRouterElements(nspid=vr["id"])
    assert elements["count"] == 1 and elements["virtualrouterelement"][0]["enabled"] is False
    el = api.configureVirtualRouterElement(id=elements["virtualrouterelement"][0]["id"],
                                           enabled=True)["virtualrouterelement"]
    assert (el["enabled"], el["nspid"]) == (True, vr["id"])
    assert api.listVirtualRouterElements(nspid=vr["id"], enabled=True)["count"] == 1
    got = api.updateNetworkServiceProvider(id=vr["id"], state="Enabled")["networkserviceprovider"]
    assert (got["state"], got["name"]) == ("Enabled", "VirtualRouter")
    ilb = nsps["InternalLbVm"]
    ilb_el = api.listInternalLoadBalancerElements(nspid=ilb["id"])["internalloadbalancerelement"][0]
    assert set(ilb_el) == {"id", "nspid", "enabled"}
    assert api.configureInternalLoadBalancerElement(id=ilb_el["id"], enabled=True)[
        "internalloadbalancerelement"]["enabled"] is True
    assert api.updateNetworkServiceProvider(id=ilb["id"], state="Enabled")["networkserviceprovider"]["state"] == \
        "Enabled"
    err = api_error(api.updateNetworkServiceProvider, id=ilb["id"], state="Shutdown")
    assert err["errortext"] == "Updating the provider state to 'Shutdown' is not supported"
    assert api.updateNetworkServiceProvider(id=ilb["id"], state="Disabled")["networkserviceprovider"]["state"] == \
        "Disabled"
    # The security group provider needs no element.
    sg = nsps["SecurityGroupProvider"]
    assert api.updateNetworkServiceProvider(id=sg["id"], state="Enabled")["networkserviceprovider"]["state"] == \
        "Enabled"


def test_add_and_delete_provider(api: cs.CloudStack, physnet: dict[str, Any]) -> None:
    err = api_error(api.addNetworkServiceProvider, physicalnetworkid=physnet["id"], name="VirtualRouter")
    assert err["errorcode"] == 530 and "provider already exists on physical network" in err["errortext"]
    err = api_error(api.addNetworkServiceProvider, physicalnetworkid=physnet["id"], name="Carrier Pigeon")
    assert err["errortext"] == "Invalid Network Service Provider=Carrier Pigeon"
    raw = api.addNetworkServiceProvider(physicalnetworkid=physnet["id"], name="Netscaler", fetch_result=False)
    assert set(raw) == {"id", "jobid"}
    nsp = api.listNetworkServiceProviders(physicalnetworkid=physnet["id"], name="Netscaler")["networkserviceprovider"]
    assert nsp[0]["id"] == raw["id"] and nsp[0]["state"] == "Disabled"
    err = api_error(api.updateNetworkServiceProvider, id=raw["id"], state="Enabled")
    assert "Provider is not ready" in err["errortext"]  # it needs its device first
    assert api.deleteNetworkServiceProvider(id=raw["id"]) == {"success": True}
    assert api.listNetworkServiceProviders(physicalnetworkid=physnet["id"], name="Netscaler") == {}


def test_update_physical_network(api: cs.CloudStack, physnet: dict[str, Any]) -> None:
    pn = api.updatePhysicalNetwork(id=physnet["id"], vlan="100-200,300-400", state="Enabled",
                                   tags="fast")["physicalnetwork"]
    assert (pn["vlan"], pn["state"], pn["tags"]) == ("100-200,300-400", "Enabled", "fast")
    pn = api.updatePhysicalNetwork(id=physnet["id"], vlan="100-150,151-160")["physicalnetwork"]
    assert pn["vlan"] == "100-160"
    err = api_error(api.updatePhysicalNetwork, id=physnet["id"], vlan="300-200")
    assert err["errorcode"] == 431 and "start range should be lesser than or equal to stop range" in err["errortext"]
    err = api_error(api.updatePhysicalNetwork, id=physnet["id"], vlan="1-5000")
    assert err["errortext"] == "Vnet range has to be between 0 and 4095"
    err = api_error(api.updatePhysicalNetwork, id=physnet["id"], state="Sleeping")
    assert err["errortext"] == "Unable to resolve state 'Sleeping' to a supported value {Enabled or Disabled}"
    assert api.listPhysicalNetworks(id=physnet["id"])["physicalnetwork"][0]["vlan"] == "100-160"


def test_bad_physical_network_input(api: cs.CloudStack, zone: dict[str, Any]) -> None:
    err = api_error(api.createPhysicalNetwork, zoneid=zone["id"], name=unique("pn"), isolationmethods="VLAN,GRE")
    assert err["errortext"] == "Only one isolationMethod can be specified for a physical network at this time"
    err = api_error(api.createPhysicalNetwork, zoneid=zone["id"], name=unique("pn"), broadcastdomainrange="Pod")
    assert err["errortext"] == "Advance zone can have broadcast domain type of value ZONE only"
    err = api_error(api.createPhysicalNetwork, zoneid="11111111-2222-4333-8444-555555555555", name=unique("pn"))
    assert err["errorcode"] == 431 and "zoneid value=11111111-2222-4333-8444-555555555555" in err["errortext"]
    assert api.listPhysicalNetworks(zoneid=zone["id"]) == {}


def test_delete_physical_network(api: cs.CloudStack, zone: dict[str, Any], physnet: dict[str, Any]) -> None:
    r = api.createVlanIpRange(zoneid=zone["id"], vlan="60", gateway="192.168.60.1", netmask="255.255.255.0",
                              startip="192.168.60.2", endip="192.168.60.20")["vlan"]
    assert api.deletePhysicalNetwork(id=physnet["id"]) == {"success": True}
    assert api.listPhysicalNetworks(id=physnet["id"]) == {}
    assert api.listVlanIpRanges(id=r["id"]) == {}  # its public ranges went with it
    caps = {c["type"]: c for c in api.listCapacity(zoneid=zone["id"]).get("capacity", [])}
    assert caps.get(4, {}).get("capacitytotal", 0) == 0
