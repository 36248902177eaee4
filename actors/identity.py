"""Who an entity is, and which shard is its home.

Identity is kept apart from placement and activation (Akka sharding, Orleans):
an `EntityRef` names an entity; a placement policy (actors/routing.py) maps it
to a shard; the shard activates it from the store on first message.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EntityRef:
    kind: str  # entity kind, e.g. "vm", "host", "probe"
    id: str  # the public uuid
    key: str | None = None  # placement group, e.g. the cluster a host belongs to

    @property
    def placement_key(self) -> str:
        return self.key or f"{self.kind}:{self.id}"

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"


def stable_hash(text: str) -> int:
    """Same value in every process and every run (unlike the salted `hash()`)."""
    return zlib.crc32(text.encode())
