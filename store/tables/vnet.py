"""Guest VLAN (vnet) claims: which VLAN of a physical network's range a guest
network holds (CloudStack's `op_dc_vnet_alloc`).

A claim is a row; the unique key on (physical network, vnet) makes taking a
VLAN atomic across processes (two networks implemented at once cannot both
get VLAN 100), and releasing it deletes the row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from cloudplane.store.base import utcnow
from cloudplane.store.tables._common import ref


class GuestVnet(SQLModel, table=True):
    __tablename__ = "guest_vnet"
    __table_args__ = (UniqueConstraint("physical_network_id", "vnet", name="uq_guest_vnet_pn_vnet"),)

    id: int | None = Field(default=None, primary_key=True)
    physical_network_id: int = ref("physical_network", index=False)  # led by the unique key
    vnet: int = Field()
    network_id: int = ref("network")
    # A VLAN the network was created with (createNetwork vlan=...) stays until the network
    # is deleted; a dynamically allocated one goes back when the network is shut down.
    explicit: bool = Field(default=False)
    taken: datetime = Field(default_factory=utcnow, nullable=False)
