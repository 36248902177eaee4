"""The VM's side of placement: what it asks the planner for, and the claim
that turns a planned host into a committed one.

A claim is one unit of work in the shard's group-commit writer, in this
order, each step undoing the earlier ones before it refuses: the host is
still Up and Enabled; the VM's affinity groups still allow the host (their
rows locked first, so two members cannot both take the last allowed host);
CPU and memory claimed by conditional UPDATE; unplaced volumes put on a pool
whose allocation is claimed the same way; the VM row written with its
version check. Either all of it commits or none of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, and_, bindparam, case, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.errors import Insufficient, StaleVersion
from cloudplane.store import capacity, prepared
from cloudplane.store.tables.capacity import Capacity, CapacityType
from cloudplane.store.tables.compute import AffinityGroup, AffinityGroupVm, VmInstance
from cloudplane.store.tables.infra import Host
from cloudplane.store.tables.storage import Volume
from cloudplane.supervisors.placement import Affinity, HostView, Snapshot

T_VM: Table = VmInstance.__table__  # type: ignore[attr-defined]
T_HOST: Table = Host.__table__  # type: ignore[attr-defined]
T_AG: Table = AffinityGroup.__table__  # type: ignore[attr-defined]
T_AGVM: Table = AffinityGroupVm.__table__  # type: ignore[attr-defined]
T_VOL: Table = Volume.__table__  # type: ignore[attr-defined]
T_CAP: Table = Capacity.__table__  # type: ignore[attr-defined]
ANTI, AFFINITY = "host anti-affinity", "host affinity"
BUSY = ("Running", "Starting", "Stopping", "Migrating")


@dataclass(frozen=True)
class Groups:
    """The VM's affinity groups by kind (ids), and their names for messages."""

    anti: tuple[int, ...] = ()
    affinity: tuple[int, ...] = ()
    names: tuple[str, ...] = ()

    @property
    def ids(self) -> tuple[int, ...]:
        return self.anti + self.affinity


async def vm_groups(conn: AsyncConnection, vm_id: int) -> Groups:
    rows = (await conn.execute(select(T_AG.c.id, T_AG.c.name, T_AG.c.type).select_from(
        T_AGVM.join(T_AG, T_AGVM.c.affinity_group_id == T_AG.c.id)).where(
        T_AGVM.c.instance_id == vm_id, T_AG.c.removed.is_(None)))).all()
    return Groups(tuple(r.id for r in rows if r.type == ANTI), tuple(r.id for r in rows if r.type == AFFINITY),
                  tuple(r.name for r in rows))


async def _member_hosts(conn: AsyncConnection, vm_id: int, group_ids: tuple[int, ...]) -> list[Any]:
    """(group id, host id) of the other members that hold a host."""
    return list((await conn.execute(select(T_AGVM.c.affinity_group_id, T_VM.c.host_id).select_from(
        T_AGVM.join(T_VM, T_AGVM.c.instance_id == T_VM.c.id)).where(
        T_AGVM.c.affinity_group_id.in_(group_ids), T_VM.c.id != vm_id, T_VM.c.host_id.is_not(None),
        T_VM.c.removed.is_(None), T_VM.c.state.in_(BUSY)))).all())


async def affinity_of(conn: AsyncConnection, vm_id: int, g: Groups) -> Affinity:
    """What the groups say about hosts right now (for the planner)."""
    if not g.ids:
        return Affinity()
    rows = await _member_hosts(conn, vm_id, g.ids)
    forbidden = frozenset(r.host_id for r in rows if r.affinity_group_id in g.anti)
    together = {r.host_id for r in rows if r.affinity_group_id in g.affinity}
    return Affinity(frozenset(together) if together else None, forbidden, g.names)


async def account_hosts(conn: AsyncConnection, account_id: int) -> dict[int, int]:
    """How many of the account's VMs hold each host (the dispersing planners' input)."""
    rows = (await conn.execute(select(T_VM.c.host_id, func.count()).where(
        T_VM.c.account_id == account_id, T_VM.c.host_id.is_not(None), T_VM.c.removed.is_(None),
        T_VM.c.state.in_(BUSY)).group_by(T_VM.c.host_id))).all()
    return {int(h): int(n) for h, n in rows}


@dataclass(frozen=True)
class Claim:
    """Everything one claim needs, computed before it joins a transaction."""

    vm_id: int
    version: int
    changes: dict[str, Any]
    host: HostView
    cpu: int
    mem: int
    cpu_factor: float
    mem_factor: float
    groups: Groups = Groups()
    storage: int = 0  # bytes of unplaced volumes
    pools: tuple[tuple[int, float], ...] = ()  # candidate pools, best first, with their allocation ratio


def claim_for(snap: Snapshot, host: HostView, vm_id: int, version: int, changes: dict[str, Any], cpu: int,
              mem: int, groups: Groups, storage: int, storage_tags: tuple[str, ...]) -> Claim:
    c = snap.clusters[host.cluster_id]
    pools = tuple((p.id, p.ratio) for p in snap.pools_near(host.cluster_id, storage_tags)) if storage else ()
    return Claim(vm_id, version, changes, host, cpu, mem, c.cpu_factor, c.mem_factor, groups, storage, pools)


# Prebuilt statements: the claim is the deploy path's hot spot, and building an UPDATE
# costs several times its execution. Same rule as store/capacity.py: a conditional
# UPDATE that only matches while the row has room (and, for CPU, while the host is
# Up and Enabled), so a claim that loses a race changes nothing.
def _host_row(ctype: CapacityType) -> Any:
    return and_(T_CAP.c.owner_type == "host", T_CAP.c.owner_id == bindparam("h"), T_CAP.c.capacity_type == int(ctype))


_HOST_USABLE = exists(select(T_HOST.c.id).where(
    T_HOST.c.id == bindparam("h"), T_HOST.c.status == "Up", T_HOST.c.resource_state == "Enabled",
    T_HOST.c.removed.is_(None)))
_CLAIM_CPU = update(T_CAP).where(
    _host_row(CapacityType.CPU), T_CAP.c.enabled.is_(True),
    T_CAP.c.used + bindparam("a") <= T_CAP.c.total * bindparam("f"), _HOST_USABLE).values(
    used=T_CAP.c.used + bindparam("a2"))
_CLAIM_MEM = update(T_CAP).where(
    _host_row(CapacityType.MEMORY), T_CAP.c.enabled.is_(True),
    T_CAP.c.used + bindparam("a") <= T_CAP.c.total * bindparam("f")).values(used=T_CAP.c.used + bindparam("a2"))
_POOL_ROW = and_(T_CAP.c.owner_type == "pool", T_CAP.c.owner_id == bindparam("p"),
                 T_CAP.c.capacity_type == int(CapacityType.STORAGE_ALLOCATED))
_CLAIM_POOL = update(T_CAP).where(
    _POOL_ROW, T_CAP.c.enabled.is_(True), T_CAP.c.used + bindparam("a") <= T_CAP.c.total * bindparam("f")).values(
    used=T_CAP.c.used + bindparam("a2"))
_RELEASE_POOL = update(T_CAP).where(_POOL_ROW).values(
    used=case((T_CAP.c.used >= bindparam("a"), T_CAP.c.used - bindparam("a2")), else_=0))
_HOST_STATE = select(T_HOST.c.status, T_HOST.c.resource_state, T_HOST.c.removed).where(T_HOST.c.id == bindparam("h"))
_PLACE_VOLUMES = update(T_VOL).where(T_VOL.c.instance_id == bindparam("v"), T_VOL.c.pool_id.is_(None),
                                     T_VOL.c.removed.is_(None)).values(
    pool_id=bindparam("p"), pod_id=bindparam("pod"), state="Ready", path=T_VOL.c.uuid, version=T_VOL.c.version + 1)
_UNPLACE_VOLUMES = update(T_VOL).where(T_VOL.c.instance_id == bindparam("v"), T_VOL.c.pool_id == bindparam("p"),
                                       T_VOL.c.removed.is_(None)).values(
    pool_id=None, pod_id=None, state="Allocated", version=T_VOL.c.version + 1)
_VERSIONED: dict[tuple[str, ...], Any] = {}


def versioned_stmt(cols: tuple[str, ...]) -> Any:
    """UPDATE vm_instance SET cols..., version WHERE id AND version: one per column set."""
    stmt = _VERSIONED.get(cols)
    if stmt is None:
        stmt = _VERSIONED[cols] = update(T_VM).where(
            T_VM.c.id == bindparam("_id"), T_VM.c.version == bindparam("_v")).values(
            {**{c: bindparam(f"_c_{c}") for c in cols}, "version": bindparam("_nv")})
    return stmt


async def versioned_vm(conn: AsyncConnection, vm_id: int, expected: int, changes: dict[str, Any]) -> int:
    cols = tuple(sorted(changes))
    res = await prepared.execute(conn, versioned_stmt(cols), {"_id": vm_id, "_v": expected, "_nv": expected + 1,
                                                              **{f"_c_{c}": changes[c] for c in cols}})
    if res.rowcount != 1:
        raise StaleVersion("vm_instance", vm_id, expected)
    return expected + 1


async def claim_host(conn: AsyncConnection, host: HostView, cpu: int, mem: int, cpu_f: float, mem_f: float) -> None:
    """CPU and memory of a host that is Up and Enabled, or Insufficient and nothing changed."""
    if (await prepared.execute(conn, _CLAIM_CPU, {"h": host.id, "a": cpu, "a2": cpu, "f": cpu_f})).rowcount != 1:
        r = (await prepared.execute(conn, _HOST_STATE, {"h": host.id})).first()
        if r is None or r.removed is not None:
            raise Insufficient(f"host {host.name} is gone")
        if r.status != "Up" or r.resource_state != "Enabled":
            raise Insufficient(f"host {host.name} is {r.status}/{r.resource_state}")
        raise Insufficient(f"host {host.name} has not {cpu} MHz of CPU left")
    if (await prepared.execute(conn, _CLAIM_MEM, {"h": host.id, "a": mem, "a2": mem, "f": mem_f})).rowcount != 1:
        await release_host(conn, host.id, cpu, 0)
        raise Insufficient(f"host {host.name} has not {mem // 2**20} MiB of memory left")


async def release_host(conn: AsyncConnection, host_id: int, cpu: int, mem: int) -> None:
    await capacity.release(conn, host_id, cpu, mem)


async def claim_pool(conn: AsyncConnection, pool_id: int, size: int, ratio: float) -> bool:
    """`size` bytes of a pool whose allocation may reach `ratio` × its capacity (store/poolrules.py)."""
    res = await prepared.execute(conn, _CLAIM_POOL, {"p": pool_id, "a": size, "a2": size, "f": ratio})
    return res.rowcount == 1


async def release_pool(conn: AsyncConnection, pool_id: int, size: int) -> None:
    if size:
        await prepared.execute(conn, _RELEASE_POOL, {"p": pool_id, "a": size, "a2": size})


async def _check_groups(conn: AsyncConnection, c: Claim) -> None:
    g = c.groups
    if not g.ids:
        return
    # Lock the groups' rows (MySQL/MariaDB; SQLite serialises writers anyway) so that
    # two members cannot both pass this check and take hosts that exclude each other.
    await conn.execute(select(T_AG.c.id).where(T_AG.c.id.in_(g.ids)).with_for_update())
    for r in await _member_hosts(conn, c.vm_id, g.ids):
        if r.affinity_group_id in g.anti and r.host_id == c.host.id:
            raise Insufficient(f"host {c.host.name} now runs a member of anti-affinity group(s) {list(g.names)}")
        if r.affinity_group_id in g.affinity and r.host_id != c.host.id:
            raise Insufficient(f"host-affinity group(s) {list(g.names)} now run on another host")


async def commit_claim(conn: AsyncConnection, c: Claim) -> tuple[int, int | None]:
    """The claim transaction's work; returns (the VM's new version, the pool used)."""
    await _check_groups(conn, c)
    await claim_host(conn, c.host, c.cpu, c.mem, c.cpu_factor, c.mem_factor)
    pool = None
    if c.storage:
        for p, ratio in c.pools:
            if await claim_pool(conn, p, c.storage, ratio):
                pool = p
                break
        else:
            await release_host(conn, c.host.id, c.cpu, c.mem)
            raise Insufficient(f"no primary storage near host {c.host.name} has {c.storage / 2**30:.1f} GiB left")
        await prepared.execute(conn, _PLACE_VOLUMES, {"v": c.vm_id, "p": pool, "pod": c.host.pod_id})
    try:
        version = await versioned_vm(conn, c.vm_id, c.version, c.changes)
    except StaleVersion:
        await release_host(conn, c.host.id, c.cpu, c.mem)
        if pool is not None:
            await release_pool(conn, pool, c.storage)
            await prepared.execute(conn, _UNPLACE_VOLUMES, {"v": c.vm_id, "p": pool})
        raise
    return version, pool
