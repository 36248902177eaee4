"""The supervision tree is the resource hierarchy: root → zone → cluster → host → ...

Levels are created on demand from a path such as ("root", "zone:7", "cluster:3");
each is a Supervisor nested in its parent, with flags picked by the level's kind
("zone" for "zone:7"). A supervisor is named by its whole path joined with "/",
so decisions name it unambiguously, and it is known to its parent by that name.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from cloudplane.supervisors.spec import ChildSpec, SupFlags
from cloudplane.supervisors.supervisor import Child, Decision, EscalateHook, Supervisor

TreeNode = tuple[str, ...]


def kind_of(node: TreeNode) -> str:
    """The level kind of a node: "zone" for (..., "zone:7"), "root" for ("root",)."""
    return node[-1].split(":", 1)[0]


@dataclass(frozen=True, slots=True)
class LevelPolicy:
    """Supervisor flags per level kind, with a default for kinds not listed."""

    by_kind: Mapping[str, SupFlags] = field(default_factory=dict)
    default: SupFlags = SupFlags()

    def __post_init__(self) -> None:
        self.default.validate()
        for flags in self.by_kind.values():
            flags.validate()
        # Frozen means frozen: a caller's later edits to its dict must not leak in.
        object.__setattr__(self, "by_kind", MappingProxyType(dict(self.by_kind)))

    def flags_for(self, node: TreeNode) -> SupFlags:
        return self.by_kind.get(kind_of(node), self.default)


class SupervisorTree:
    """Nested supervisors keyed by resource path; the owner handles root escalation."""

    def __init__(
        self,
        policy: LevelPolicy | None = None,
        *,
        root: str = "root",
        clock: Callable[[], float] = time.monotonic,
        on_escalate: EscalateHook | None = None,
        prune: bool = True,
    ) -> None:
        self.policy = policy or LevelPolicy()
        self.prune = prune
        self._clock = clock
        root_node: TreeNode = (root,)
        _check_node(root_node, root)
        self._root = root
        top = Supervisor(root, self.policy.flags_for(root_node), clock=clock, on_escalate=on_escalate)
        self._nodes: dict[TreeNode, Supervisor] = {root_node: top}
        self._busy: Counter[TreeNode] = Counter()  # adds in flight; such nodes are never pruned
        self._lock = asyncio.Lock()  # guards creating and pruning levels

    @property
    def root(self) -> Supervisor:
        return self._nodes[(self._root,)]

    def get(self, node: TreeNode) -> Supervisor | None:
        return self._nodes.get(tuple(node))

    def nodes(self) -> tuple[TreeNode, ...]:
        return tuple(self._nodes)

    async def supervisor_for(self, node: TreeNode) -> Supervisor:
        """The supervisor at `node`, creating missing levels top-down."""
        node = tuple(node)
        found = self._nodes.get(node)
        if found is not None:
            return found
        _check_node(node, self._root)
        async with self._lock:
            return await self._ensure(node)

    async def add_child(
        self, node: TreeNode, spec: ChildSpec, child: Child, *, start: bool = True
    ) -> Supervisor:
        """Add a child under the supervisor at `node` (created if missing).

        The child starts outside the tree lock so slow starts do not serialise
        the whole tree; the node is marked busy meanwhile so it is not pruned.
        """
        node = tuple(node)
        _check_node(node, self._root)
        async with self._lock:
            sup = await self._ensure(node)
            self._busy[node] += 1
        try:
            await sup.add_child(spec, child, start=start)
        finally:
            async with self._lock:
                self._busy[node] -= 1
                if self._busy[node] <= 0:
                    del self._busy[node]
                await self._prune_from(node)  # a failed add may leave a fresh level empty
        return sup

    async def remove_child(self, node: TreeNode, id: str, reason: str = "removed") -> Decision:
        """Remove (stop) child `id` at `node`; prune levels left empty if enabled."""
        node = tuple(node)
        sup = self._nodes.get(node)
        if sup is None:
            raise KeyError(f"no supervisor at {'/'.join(node)}")
        decision = await sup.remove_child(id, reason)
        async with self._lock:
            # Removing a level by hand takes its whole subtree out of the map too.
            for gone in [n for n, s in self._nodes.items() if s.name == id or s.name.startswith(id + "/")]:
                del self._nodes[gone]
            await self._prune_from(node)
        return decision

    async def _ensure(self, node: TreeNode) -> Supervisor:
        sup = self._nodes.get(node)
        if sup is not None:
            return sup
        parent = await self._ensure(node[:-1])
        name = "/".join(node)
        sup = Supervisor(name, self.policy.flags_for(node), clock=self._clock)
        await parent.add_child(ChildSpec(id=name, is_supervisor=True), sup)
        self._nodes[node] = sup
        return sup

    async def _prune_from(self, node: TreeNode) -> None:
        """Remove empty, idle levels from `node` upward; the root always stays."""
        while self.prune and len(node) > 1:
            sup = self._nodes.get(node)
            if sup is None or sup.children() or self._busy[node] > 0:
                return
            parent = self._nodes[node[:-1]]
            await parent.remove_child(sup.name, "pruned: no children left")
            del self._nodes[node]
            node = node[:-1]


def _check_node(node: TreeNode, root: str) -> None:
    if not node or node[0] != root:
        raise ValueError(f"tree path must start at {root!r}, got {node!r}")
    for segment in node:
        if not segment or "/" in segment:
            raise ValueError(f"bad tree path segment {segment!r} in {node!r}")
