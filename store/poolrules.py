"""How full a primary storage pool may get, at the scopes CloudStack reads it.

A pool takes a volume while `allocated + size ≤ total × factor × threshold`:
`storage.overprovisioning.factor` may be set per pool (CloudStack's StoragePool
scope) and `pool.storage.capacity.disablethreshold` per zone (its Zone scope);
each falls back to its global value, then to its default. Every claim of pool
space reads its ratio here: a volume operation (actors/kinds/volumework.py),
a VM's deploy or storage move (actors/kinds/vmplace.py, vmdisks.py) and the
planner's pool view (supervisors/placement/snapshot.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.store.configdefs import BY_NAME
from cloudplane.store.tables.config import Configuration

FACTOR, THRESHOLD = "storage.overprovisioning.factor", "pool.storage.capacity.disablethreshold"
T_CONF: Table = Configuration.__table__  # type: ignore[attr-defined]


def _num(value: Any, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True)
class PoolRules:
    """The global values and the scoped overrides of the two settings."""

    factor: float = _num(BY_NAME[FACTOR].default, 2.0)
    threshold: float = _num(BY_NAME[THRESHOLD].default, 0.85)
    pool_factor: Mapping[int, float] = field(default_factory=dict)  # pool id → factor
    zone_threshold: Mapping[int, float] = field(default_factory=dict)  # zone id → threshold

    def factor_of(self, pool_id: int) -> float:
        return self.pool_factor.get(pool_id, self.factor)

    def threshold_of(self, zone_id: int) -> float:
        return self.zone_threshold.get(zone_id, self.threshold)

    def ratio(self, pool_id: int, zone_id: int) -> float:
        """How many times its raw capacity a pool of `zone_id` may have allocated."""
        return self.factor_of(pool_id) * self.threshold_of(zone_id)


def rules_from(rows: Iterable[Any]) -> PoolRules:
    """From configuration rows (name, scope, scope_id, value) of the two settings."""
    glob: dict[str, float] = {}
    pool: dict[int, float] = {}
    zone: dict[int, float] = {}
    for r in rows:
        if r.value is None or r.value == "":
            continue
        if r.scope == "global":
            glob[r.name] = _num(r.value, _num(BY_NAME[r.name].default, 1.0))
        elif r.name == FACTOR and r.scope == "storagepool":
            pool[int(r.scope_id)] = _num(r.value, glob.get(FACTOR, 2.0))
        elif r.name == THRESHOLD and r.scope == "zone":
            zone[int(r.scope_id)] = _num(r.value, glob.get(THRESHOLD, 0.85))
    base = PoolRules()
    return PoolRules(glob.get(FACTOR, base.factor), glob.get(THRESHOLD, base.threshold), pool, zone)


RULES_QUERY = select(T_CONF.c.name, T_CONF.c.scope, T_CONF.c.scope_id, T_CONF.c.value).where(
    T_CONF.c.name.in_((FACTOR, THRESHOLD)))


async def load_rules(conn: AsyncConnection) -> PoolRules:
    """One query; what it reads is a handful of rows however many pools there are."""
    return rules_from((await conn.execute(RULES_QUERY)).all())
