"""Entities as children in their shard's supervision tree.

The tree follows the resource hierarchy (root → zone → cluster → host → ...),
from each entity's `supervision_path()`. Restarting an entity means reading its
state again from the store and settling any transitional state; its mailbox and
queued jobs survive (they are durable anyway). When the root gives up, the
shard process restarts (Ray brings it back; it recovers from the store).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from cloudplane.actors.entity import Entity
from cloudplane.supervisors.spec import ChildSpec, Restart, Strategy, SupFlags
from cloudplane.supervisors.supervisor import Supervisor
from cloudplane.supervisors.tree import LevelPolicy, SupervisorTree

if TYPE_CHECKING:
    from cloudplane.actors.shard import ShardCore

# Policy as data: (strategy, intensity, period_s) per level kind. Intensities
# multiply down the tree, so the lower levels stay small.
DEFAULT_LEVELS: dict[str, tuple[str, int, float]] = {
    "root": ("one_for_one", 50, 10.0),
    "zone": ("one_for_one", 10, 10.0),
    "cluster": ("one_for_one", 10, 10.0),
    "host": ("one_for_one", 5, 10.0),
    "group": ("one_for_one", 5, 10.0),
}


def level_policy(levels: Mapping[str, tuple[str, int, float]]) -> LevelPolicy:
    merged = {**DEFAULT_LEVELS, **levels}
    return LevelPolicy(
        by_kind={k: SupFlags(Strategy(s), i, p) for k, (s, i, p) in merged.items()},
        default=SupFlags(Strategy.ONE_FOR_ONE, 5, 10.0),
    )


class EntityChild:
    __slots__ = ("core", "ent", "fresh")

    def __init__(self, core: ShardCore, ent: Entity) -> None:
        self.core, self.ent = core, ent
        self.fresh = True  # just activated from the store: the first start has nothing to do

    async def start(self) -> None:
        if self.fresh:
            self.fresh = False
            return
        await self.core.restart_entity(self.ent)

    async def stop(self, reason: str) -> None:
        """Nothing to tear down: the next start re-reads the store."""


def _node(ent: Entity) -> tuple[str, ...]:
    return ("root", *ent.supervision_path())


class EntitySupervision:
    def __init__(
        self,
        core: ShardCore,
        levels: Mapping[str, tuple[str, int, float]] | None = None,
        *,
        on_root_escalate: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.core = core
        self._on_root_escalate = on_root_escalate
        self.tree = SupervisorTree(level_policy(levels or {}), on_escalate=self._escalated)
        self.escalations: list[str] = []

    async def _escalated(self, sup: Supervisor, reason: str) -> None:
        self.escalations.append(f"{sup.name}: {reason}")
        if self._on_root_escalate is not None:
            await self._on_root_escalate(reason)
        else:
            # No process to restart (plain tests): start the root again, i.e. re-read everything.
            await sup.start()

    async def register(self, ent: Entity) -> None:
        await self.tree.add_child(_node(ent), ChildSpec(str(ent.ref), Restart.PERMANENT),
                                  EntityChild(self.core, ent))

    async def unregister(self, ent: Entity) -> None:
        node = _node(ent)
        sup = self.tree.get(node)
        if sup is not None and sup.has_child(str(ent.ref)):
            await self.tree.remove_child(node, str(ent.ref), "passivated")

    async def crashed(self, ent: Entity, reason: str) -> None:
        if ent.unborn:
            return  # its creating operation crashed before any row existed: nothing to restart
        sup = self.tree.get(_node(ent))
        if sup is not None and sup.has_child(str(ent.ref)):
            await sup.child_exited(str(ent.ref), reason)
        else:
            await self.core.restart_entity(ent)

    def supervisor_of(self, ent: Entity) -> Supervisor | None:
        return self.tree.get(_node(ent))
