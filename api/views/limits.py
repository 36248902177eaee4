"""The resource limit fields of listAccounts and listDomains, as CloudStack prints
them: `<prefix>limit` and `<prefix>available` are strings ("Unlimited" for -1),
`<prefix>total` a number; memory in MiB, primary and secondary storage in GiB.

A page of accounts or domains gets its limits and counts in a few queries in
all (store/limits.py `page_in_force`, `page_counts`), never one per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.store import limits
from cloudplane.store.tables.limits import UNLIMITED

# CloudStack's response prefix for each resource type.
PREFIX = {"user_vm": "vm", "public_ip": "ip", "volume": "volume", "snapshot": "snapshot", "template": "template",
          "project": "project", "network": "network", "vpc": "vpc", "cpu": "cpu", "memory": "memory",
          "primary_storage": "primarystorage", "secondary_storage": "secondarystorage"}


def limit_fields(in_force: dict[str, int], used: dict[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in limits.KINDS:
        prefix, limit = PREFIX[k.name], in_force[k.name]
        total = used.get(k.name, 0) // k.unit  # storage is counted in bytes, limited in GiB
        out[f"{prefix}limit"] = "Unlimited" if limit == UNLIMITED else str(limit)
        out[f"{prefix}total"] = total
        out[f"{prefix}available"] = "Unlimited" if limit == UNLIMITED else str(max(limit - total, 0))
    return out


async def owners_limit_fields(conn: AsyncConnection, *, accounts: Sequence[tuple[int, int]] = (),
                              domains: Sequence[tuple[int, str]] = ()) -> dict[limits.Owner, dict[str, Any]]:
    """The fields for accounts ((id, account_type)) and domains ((id, path)), by owner."""
    if not accounts and not domains:
        return {}
    defaults = await limits.stored_defaults(conn)
    in_force = await limits.page_in_force(conn, accounts, domains, defaults)
    used = await limits.page_counts(conn, [a for a, _ in accounts], [d for d, _ in domains])
    return {owner: limit_fields(lim, used.get(owner, {})) for owner, lim in in_force.items()}
