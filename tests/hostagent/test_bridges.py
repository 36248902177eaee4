from __future__ import annotations

import pytest

from cloudplane.hostagent.bridges import (
    TrafficLabels,
    TrafficType,
    nic_bridge,
    vlan_bridge,
    vlan_device,
    vxlan_bridge,
    vxlan_device,
)
from cloudplane.hostagent.spec import NicSpec


def test_bridge_names() -> None:
    assert (vlan_bridge(100), vlan_device("eth1", 100)) == ("brvlan100", "eth1.100")
    assert (vxlan_bridge(5000), vxlan_device(5000)) == ("brvx5000", "vxlan5000")
    assert len(vxlan_device(2**24 - 1)) <= 15
    with pytest.raises(ValueError, match="interface name"):
        vlan_device("enp129s0f1np1", 4094)
    assert nic_bridge(NicSpec("02:00:00:00:00:01", "cloudbr1", 0)) == "cloudbr1"
    assert nic_bridge(NicSpec("02:00:00:00:00:01", "cloudbr1", 0, vlan=7)) == "brvlan7"
    assert nic_bridge(NicSpec("02:00:00:00:00:01", "cloudbr1", 0, vni=7)) == "brvx7"


def test_traffic_labels() -> None:
    labels = TrafficLabels()
    assert labels.bridge_for(TrafficType.PUBLIC) == "cloudbr0"
    assert labels.bridge_for(TrafficType.GUEST) == "cloudbr1"
    assert labels.bridge_for(TrafficType.MANAGEMENT) == "cloudbr1"
    custom = TrafficLabels.from_properties({"public.network.device": "pubbr0", "guest.network.device": "gbr"})
    assert (custom.public, custom.guest, custom.management) == ("pubbr0", "gbr", "cloudbr1")
    with pytest.raises(ValueError):
        TrafficLabels(public="a-name-that-is-too-long")
