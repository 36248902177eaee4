"""Names of host bridges and devices, and the traffic-label configuration. Pure.

A guest network isolated by VLAN gets bridge `brvlan<vid>` with the sub-interface
`<physdev>.<vid>` as its uplink; one isolated by VXLAN gets bridge `brvx<vni>` with the
device `vxlan<vni>`. A NIC without isolation sits directly on its traffic label's bridge.
A VLAN id therefore maps to one bridge per host, whatever physical network carries it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from cloudplane.hostagent.spec import NicSpec

IFNAME_MAX = 15  # IFNAMSIZ (16) minus the terminating NUL


class TrafficType(StrEnum):
    MANAGEMENT = "Management"
    PUBLIC = "Public"
    GUEST = "Guest"
    STORAGE = "Storage"


def _ifname(name: str) -> str:
    if not name or len(name) > IFNAME_MAX or "/" in name or name.strip() != name:
        raise ValueError(f"{name!r} is not a valid interface name (at most {IFNAME_MAX} characters)")
    return name


def vlan_bridge(vid: int) -> str:
    return f"brvlan{vid}"


def vlan_device(physdev: str, vid: int) -> str:
    return _ifname(f"{physdev}.{vid}")


def vxlan_bridge(vni: int) -> str:
    return f"brvx{vni}"


def vxlan_device(vni: int) -> str:
    return f"vxlan{vni}"


def nic_bridge(nic: NicSpec) -> str:
    """The bridge a NIC's tap is plugged into."""
    if nic.vlan is not None:
        return vlan_bridge(nic.vlan)
    if nic.vni is not None:
        return vxlan_bridge(nic.vni)
    return nic.bridge


@dataclass(frozen=True, slots=True)
class TrafficLabels:
    """Which host bridge carries each traffic type (CloudStack's KVM traffic labels).

    The defaults are CloudStack's: public traffic on cloudbr0, guest and
    management/private traffic on cloudbr1.
    """

    public: str = "cloudbr0"
    guest: str = "cloudbr1"
    management: str = "cloudbr1"
    storage: str = "cloudbr1"

    def __post_init__(self) -> None:
        for name in (self.public, self.guest, self.management, self.storage):
            _ifname(name)

    def bridge_for(self, traffic: TrafficType) -> str:
        return {
            TrafficType.PUBLIC: self.public,
            TrafficType.GUEST: self.guest,
            TrafficType.MANAGEMENT: self.management,
            TrafficType.STORAGE: self.storage,
        }[traffic]

    @classmethod
    def from_properties(cls, props: Mapping[str, str]) -> TrafficLabels:
        """Read agent.properties-style keys; missing keys keep the defaults."""
        default = cls()
        return cls(
            public=props.get("public.network.device", default.public),
            guest=props.get("guest.network.device", default.guest),
            management=props.get("private.network.device", default.management),
            storage=props.get("storage.network.device", default.storage),
        )
