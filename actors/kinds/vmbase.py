"""What every VM operation builds on: the VM's size, its host, agent
commands, versioned writes that carry related writes (capacity) in the same
transaction, and the shard's placement snapshot cache.

The VM entity is assembled from layers, one concern per module:
vmbase (this) → vmstart (placement and start) → vmmove (migration) →
vmchange (scaling, restore, ISO, password, affinity) → vmvolumes (data disks, volume
and VM snapshots) → vm (the lifecycle and
the entity kind itself).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from sqlalchemy import Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.actors.entity import Entity
from cloudplane.actors.kinds.host import host_ref
from cloudplane.actors.kinds.vmplace import release_host, versioned_vm
from cloudplane.actors.kinds.vmspec import load_start_spec
from cloudplane.actors.kinds.vmstate import TRANSITIONAL
from cloudplane.agentproto import command_timeout
from cloudplane.errors import ApiError
from cloudplane.store import prepared
from cloudplane.store.base import utcnow
from cloudplane.store.tables.compute import VmInstance
from cloudplane.store.tables.infra import Cluster, Host
from cloudplane.supervisors.placement import SnapshotCache

T_VM: Table = VmInstance.__table__  # type: ignore[attr-defined]
T_HOST: Table = Host.__table__  # type: ignore[attr-defined]
T_CLUSTER: Table = Cluster.__table__  # type: ignore[attr-defined]

# Read on every start: built once (a fresh expression per call costs more Python than running it).
_HOST_UUIDS = select(T_HOST.c.uuid, T_CLUSTER.c.uuid.label("c")).select_from(
    T_HOST.outerjoin(T_CLUSTER, T_HOST.c.cluster_id == T_CLUSTER.c.id)).where(T_HOST.c.id == bindparam("b_host"))
Work = Callable[[AsyncConnection], Awaitable[Any]]


def placement_cache(host: Any) -> SnapshotCache:
    """The shard's snapshot cache (one per shard process)."""
    cache = host.kind_state.get("placement")
    if cache is None:
        cache = host.kind_state["placement"] = SnapshotCache(host.engine)
    return cache  # type: ignore[no-any-return]


class VmBase(Entity):
    table: ClassVar[Table] = T_VM
    transitional = frozenset(TRANSITIONAL)

    def supervision_path(self) -> tuple[str, ...]:
        return (f"group:{self.ref.key}",) if self.ref.key else ()

    @property
    def instance_name(self) -> str:
        return str(self.row.get("instance_name") or self.row.get("name"))

    @property
    def demand(self) -> tuple[int, int]:
        """(CPU MHz, memory bytes) as the capacity rows count them."""
        return int(self.row["cpu_count"]) * int(self.row["cpu_speed_mhz"]), int(self.row["ram_mb"]) * 2**20

    def _summary(self) -> dict[str, Any]:
        return {"id": self.ref.id, "state": self.state, "host_id": self.row.get("host_id")}

    async def save(self, **changes: Any) -> None:
        if "state" in changes:
            changes.setdefault("updated", utcnow())
        await super().save(**changes)

    async def _save_with(self, changes: dict[str, Any], extra: Work) -> None:
        """A versioned write plus related writes that cannot refuse (releases), as one
        item of the shard's group commit: the version check runs first, so a stale
        write leaves nothing behind."""
        if "state" in changes:
            changes.setdefault("updated", utcnow())
        row_id, expected = self.row["id"], self.version

        async def work(conn: AsyncConnection) -> int:
            v = await versioned_vm(conn, row_id, expected, changes)
            await extra(conn)
            return v

        new_version = await self.host.writer.submit(work)
        self.row.update(changes)
        self.row["version"] = new_version

    async def _transact(self, changes: dict[str, Any], work: Work) -> Any:
        """`work` (which may refuse, and then must have undone itself) and the versioned
        write, in a transaction of their own: a refusal rolls everything back."""
        if "state" in changes:
            changes.setdefault("updated", utcnow())
        async with self.host.engine.begin() as conn:
            result = await work(conn)
            new_version = await versioned_vm(conn, self.row["id"], self.version, changes)
        self.row.update(changes)
        self.row["version"] = new_version
        return result

    async def _release_to(self, changes: dict[str, Any], host_id: int | None) -> None:
        """Leave `host_id` (its CPU and memory given back) with `changes`."""
        if host_id is None:
            await self.save(**changes)
            return
        cpu, mem = self.demand
        await self._save_with(changes, lambda conn: release_host(conn, host_id, cpu, mem))
        snap = placement_cache(self.host).peek(self.row["zone_id"])
        if snap is not None:
            snap.adjust(host_id, -cpu, -mem)

    async def _host_uuid(self, host_id: int) -> tuple[str, str | None]:
        async with self.host.engine.connect() as conn:
            r = (await conn.execute(_HOST_UUIDS, {"b_host": host_id})).one()
        return r.uuid, r.c

    async def _agent(self, host_uuid: str, cluster_uuid: str | None, name: str, args: dict[str, Any],
                     timeout: float | None = None) -> tuple[bool, str, dict[str, Any]]:
        """One agent command to a host: (ok, error text, result). The timeout defaults to
        the command's own (agentproto.command_timeout: a real host needs longer for some)."""
        msg: dict[str, Any] = {"name": name, "args": args,
                               "timeout": timeout if timeout is not None else command_timeout(name)}
        try:
            ans = await self.host.call_entity(host_ref(host_uuid, cluster_uuid), "command", msg)
        except ApiError as e:
            return False, e.text, {}
        return bool(ans["ok"]), str(ans.get("error") or ""), dict(ans.get("result") or {})

    async def _agent_here(self, name: str, args: dict[str, Any]) -> tuple[bool, str, dict[str, Any]]:
        """An agent command to the VM's current host (ok when it has none)."""
        host_id = self.row.get("host_id")
        if host_id is None:
            return True, "", {}
        h, c = await self._host_uuid(host_id)
        return await self._agent(h, c, name, args)

    async def _start_spec(self) -> dict[str, Any]:
        """StartCommand's `vm`: the whole VM, disks and NICs included (vmspec.py)."""
        async with prepared.reading(self.host.engine) as conn:
            return await load_start_spec(conn, self.row, self.ref.id, self.instance_name)

    def _vm_spec(self) -> dict[str, Any]:
        """The compute shape alone (ScaleVmCommand)."""
        r = self.row
        return {"name": self.instance_name, "uuid": self.ref.id, "cpus": r["cpu_count"], "mhz": r["cpu_speed_mhz"],
                "ram_mb": r["ram_mb"], "type": r.get("type"), "ha": bool(r.get("ha_enabled")),
                "user_data": r.get("user_data")}
