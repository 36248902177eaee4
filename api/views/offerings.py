"""Service and disk offering rows → CloudStack's responses.

`Scope` carries what the offering rows reference by detail: the domains and
zones it is limited to (uuid and name, or path for a disk offering's domains,
as CloudStack's disk_offering_view groups them). An offering with neither is
public, and those keys are absent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cloudplane.api.dates import format_date

GiB = 2**30


@dataclass(frozen=True)
class Scope:
    domains: list[tuple[str, str]] = field(default_factory=list)  # (uuid, name or path)
    zones: list[tuple[str, str]] = field(default_factory=list)  # (uuid, name)
    details: dict[str, str] = field(default_factory=dict)  # shown details only


def _joined(pairs: list[tuple[str, str]], i: int) -> str | None:
    return ",".join(p[i] for p in pairs) if pairs else None


def _scope_fields(s: Scope) -> dict[str, Any]:
    return {"domainid": _joined(s.domains, 0), "domain": _joined(s.domains, 1),
            "zoneid": _joined(s.zones, 0), "zone": _joined(s.zones, 1)}


def _compact(out: dict[str, Any]) -> dict[str, Any]:
    """CloudStack's serializer leaves out null fields."""
    return {k: v for k, v in out.items() if v is not None}


def service_offering_view(r: Any, s: Scope, disk: Any = None) -> dict[str, Any]:
    """A service_offering row; `disk` is its linked disk offering row, if any."""
    out: dict[str, Any] = {
        "id": r.uuid, "name": r.name, "displaytext": r.display_text, "cpunumber": r.cpu_count,
        "cpuspeed": r.cpu_speed_mhz, "memory": r.ram_mb, "created": format_date(r.created),
        "storagetype": r.storage_type, "provisioningtype": r.provisioning_type, "offerha": bool(r.offer_ha),
        "limitcpuuse": bool(r.limit_cpu_use), "isvolatile": bool(r.is_volatile), "issystem": bool(r.is_system),
        "defaultuse": bool(r.default_use), "iscustomized": bool(r.customized), "cacheMode": "none",
        "rootdisksize": (r.root_disk_size_bytes or 0) // GiB, "hosttags": r.host_tags,
        "storagetags": r.storage_tags, "systemvmtype": r.system_vm_type,
        "deploymentplanner": r.deployment_planner, "networkrate": r.network_rate_mbps,
        **_scope_fields(s), "dynamicscalingenabled": bool(r.dynamic_scaling_enabled),
        "diskofferingstrictness": False, "encryptroot": False, "hasannotations": False,
    }
    if s.details:
        out["serviceofferingdetails"] = dict(s.details)
    if disk is not None:
        out.update(diskofferingid=disk.uuid, diskofferingname=disk.name, diskofferingdisplaytext=disk.display_text)
    return _compact(out)


def disk_offering_view(r: Any, s: Scope) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": r.uuid, "name": r.name, "displaytext": r.display_text, "disksize": (r.disk_size_bytes or 0) // GiB,
        "created": format_date(r.created), "iscustomized": bool(r.customized),
        "iscustomizediops": bool(r.customized_iops), "miniops": r.min_iops, "maxiops": r.max_iops,
        "storagetype": r.storage_type, "provisioningtype": r.provisioning_type, "cacheMode": r.cache_mode or "none",
        "displayoffering": bool(r.display), "tags": r.tags, **_scope_fields(s), "encrypt": bool(r.encrypt),
        "disksizestrictness": False, "hasannotations": False,
    }
    if s.details:
        out["details"] = dict(s.details)
    return _compact(out)
