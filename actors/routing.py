"""Placement policies: which shard hosts an entity.

`grouped` (default) hashes the placement key over a fixed set of shards, so a
cluster's hosts and VMs (which share the cluster's key) live together and talk
without crossing a process boundary. `dedicated` gives each entity a Ray actor
of its own: isolation at ~80 MiB per entity, for a few special entities or for
proving that nothing depends on co-location.
"""

from __future__ import annotations

from typing import Protocol

from cloudplane.actors.identity import EntityRef, stable_hash


class PlacementPolicy(Protocol):
    name: str

    def shard_for(self, ref: EntityRef) -> str: ...

    def fixed_shards(self) -> list[str]:
        """Shards that exist from the start (others are created on demand)."""
        ...


class GroupedPlacement:
    name = "grouped"

    def __init__(self, shards: int, prefix: str = "shard") -> None:
        if shards < 1:
            raise ValueError("need at least one shard")
        self.shards = shards
        self.prefix = prefix

    def shard_for(self, ref: EntityRef) -> str:
        return f"{self.prefix}-{stable_hash(ref.placement_key) % self.shards}"

    def fixed_shards(self) -> list[str]:
        return [f"{self.prefix}-{i}" for i in range(self.shards)]


class DedicatedPlacement:
    name = "dedicated"

    def shard_for(self, ref: EntityRef) -> str:
        return f"ent-{ref.kind}-{ref.id}"

    def fixed_shards(self) -> list[str]:
        return []


def make_policy(name: str, shards: int) -> PlacementPolicy:
    if name == "grouped":
        return GroupedPlacement(shards)
    if name == "dedicated":
        return DedicatedPlacement()
    raise ValueError(f"unknown placement policy {name!r} (grouped, dedicated)")
