"""The pure address arithmetic behind pods, ranges, VLANs and pool URLs."""

from __future__ import annotations

import pytest

from cloudplane.actors.kinds import ipranges as ip
from cloudplane.errors import ParamError


def test_pod_checks() -> None:
    net = ip.check_pod("172.16.15.1", "255.255.255.0", "172.16.15.2", "172.16.15.200")
    assert str(net) == "172.16.15.0/24" and ip.pod_range_end(net) == "172.16.15.254"
    for args, text in (
        (("nonsense", "255.255.255.0", "172.16.15.2", None), "The gateway is invalid"),
        (("172.16.15.1", "255.0.255.0", "172.16.15.2", None), "The netmask is invalid"),
        (("10.0.0.1", "255.255.255.0", "172.16.15.2", None),
         "The start address of the IP range is not in the CIDR subnet."),
        (("172.16.15.1", "255.255.255.0", "172.16.15.2", "172.16.16.9"),
         "The end address of the IP range is not in the CIDR subnet."),
        (("172.16.15.1", "255.255.255.0", "172.16.15.9", "172.16.15.2"),
         "The start IP address must have a lower value than the end IP address."),
        (("172.16.15.1", "255.255.255.0", "172.16.15.1", "172.16.15.9"),
         "The gateway shouldn't overlap start/end ip addresses"),
    ):
        with pytest.raises(ParamError) as e:
            ip.check_pod(*args)
        assert e.value.text == text


def test_range_checks() -> None:
    net, end = ip.check_range("192.168.2.1", "255.255.255.0", "192.168.2.2", None)
    assert (str(net), end) == ("192.168.2.0/24", "192.168.2.2")
    with pytest.raises(ParamError, match="valid IP range or valid netmask"):
        ip.check_range("192.168.2.1", "255.255.255.128", "192.168.2.2", "192.168.2.200")
    assert ip.overlaps("10.0.0.5", "10.0.0.9", "10.0.0.9", "10.0.0.20")
    assert not ip.overlaps("10.0.0.5", "10.0.0.8", "10.0.0.9", "10.0.0.20")
    assert ip.size("10.0.0.1", "10.0.1.0") == 256 and len(ip.addresses("10.0.0.250", "10.0.1.4")) == 11


def test_vlans_and_vnets() -> None:
    assert (ip.vlan_uri("50"), ip.vlan_uri("vlan://7"), ip.vlan_uri(None), ip.vlan_uri("Untagged")) == (
        "vlan://50", "vlan://7", "untagged", "untagged")
    with pytest.raises(ParamError):
        ip.vlan_uri("4096")
    assert ip.parse_vnets("100-200,300-400") == [(100, 200), (300, 400)]
    assert ip.vnet_string(ip.vnet_set("300-400;100-200,201-210")) == "100-210,300-400"
    assert ip.vnet_string(set()) is None
    for bad, text in (("200-100", "start range should be lesser"), ("1-9999", "has to be between 0 and 4095"),
                      ("a-b", "comma separated list example"), ("1-2-3", "valid vnet range")):
        with pytest.raises(ParamError, match=text):
            ip.parse_vnets(bad)


def test_pool_urls_and_names() -> None:
    u = ip.parse_pool_url("nfs://10.147.28.6:/export/home/sandbox/primary0")
    assert (u.scheme, u.pool_type, u.host, u.path, u.port) == (
        "nfs", "NetworkFilesystem", "10.147.28.6", "/export/home/sandbox/primary0", 2049)
    assert ip.parse_pool_url("rbd://ceph.example:6790/pool").pool_type == "RBD"
    with pytest.raises(ParamError, match="not supported"):
        ip.parse_pool_url("ftp://x/y")
    # Java's UUID.nameUUIDFromBytes("abc".getBytes()) is this version-3 UUID.
    assert ip.name_uuid("abc") == "90015098-3cd2-3fb0-9696-3f7d28e17f72"
    assert ip.allocation_state(None) is None and ip.allocation_state("Enabled") == "Enabled"
    with pytest.raises(ParamError, match="Unable to resolve Allocation State 'enabled'"):
        ip.allocation_state("enabled")
