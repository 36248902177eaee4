"""Live-server fixtures for the storage tests: the VM tests' simulated zone
(two clusters, a pool each) and clients, and store reads for checking that
every pool's allocation equals the volumes on it."""

from __future__ import annotations

from typing import Any

import cs

from tests.vms.conftest import Cloud, rows, unique  # noqa: F401  (rows: re-exported)

GiB = 2**30


def pools_match_volumes(server: Any) -> dict[int, int]:
    """Assert each pool's STORAGE_ALLOCATED row equals the sizes of the volumes on it; return them."""
    held = dict(rows(server, "SELECT pool_id, SUM(size_bytes) FROM volume WHERE removed IS NULL AND pool_id IS NOT "
                             "NULL GROUP BY pool_id"))
    used = dict(rows(server, "SELECT owner_id, used FROM capacity WHERE owner_type = 'pool' AND capacity_type = 3"))
    for pool, amount in used.items():
        assert amount == held.get(pool, 0), f"pool {pool}: capacity row says {amount}, its volumes hold {held.get(pool, 0)}"
    return used


def deploy(api: cs.CloudStack, cloud: Cloud, host: dict[str, Any] | None = None, **params: Any) -> dict[str, Any]:
    args = {"zoneid": cloud.zone, "templateid": cloud.template, "serviceofferingid": cloud.offering,
            "name": unique("vm"), **params}
    if host is not None:
        args["hostid"] = host["id"]
    return dict(api.deployVirtualMachine(**args)["virtualmachine"])


def custom_offering(api: cs.CloudStack) -> str:
    return str(next(o["id"] for o in api.listDiskOfferings()["diskoffering"] if o.get("iscustomized")))


def fixed_offering(api: cs.CloudStack) -> dict[str, Any]:
    return dict(next(o for o in api.listDiskOfferings()["diskoffering"] if not o.get("iscustomized")))
