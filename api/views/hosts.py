"""Host rows → CloudStack's host response."""

from __future__ import annotations

from typing import Any

from cloudplane.api.dates import format_date

EVENTS = ("AgentConnected; AgentDisconnected; HostDown; ManagementServerDown; Ping; PingTimeout; Remove; "
          "ShutdownRequested; StartAgentRebalance")


def _pct(used: int, total: float) -> str:
    return f"{(100.0 * used / total) if total else 0:.2f}%"


def hostha_of(ha: Any | None) -> dict[str, Any]:
    """The host's Host-HA configuration (configureHAForHost), as listHosts nests it."""
    if ha is None:
        return {"haenable": False, "hastate": "Disabled"}
    out = {"haenable": bool(ha.enabled), "hastate": ha.ha_state}
    if ha.provider:
        out["haprovider"] = ha.provider
    return out


def host_view(r: Any, *, tags: list[str], ha_tag: str, cpu_used: int, mem_used: int, cpu_factor: float,
              mem_factor: float, ha: Any | None = None) -> dict[str, Any]:
    cpu_total = r.cpus * r.cpu_speed_mhz
    out: dict[str, Any] = {
        "id": r.uuid, "name": r.name, "state": r.status, "resourcestate": r.resource_state, "type": r.type,
        "zoneid": r.zone_uuid, "zonename": r.zone_name, "podid": r.pod_uuid, "podname": r.pod_name,
        "clusterid": r.cluster_uuid, "clustername": r.cluster_name, "clustertype": r.cluster_type or "CloudManaged",
        "hypervisor": r.hypervisor_type, "hypervisorversion": r.hypervisor_version, "version": r.agent_version,
        "ipaddress": r.private_ip or "", "cpunumber": r.cpus, "cpuspeed": r.cpu_speed_mhz,
        "cpusockets": r.cpu_sockets, "cpuwithoverprovisioning": str(int(cpu_total * cpu_factor)),
        "cpuallocated": _pct(cpu_used, cpu_total * cpu_factor), "cpuallocatedvalue": cpu_used,
        "cpuallocatedpercentage": _pct(cpu_used, cpu_total * cpu_factor),
        "cpuallocatedwithoverprovisioning": _pct(cpu_used, cpu_total * cpu_factor),
        "memorytotal": r.memory_bytes, "memorywithoverprovisioning": str(int(r.memory_bytes * mem_factor)),
        "memoryallocated": mem_used, "memoryallocatedbytes": mem_used,
        "memoryallocatedpercentage": _pct(mem_used, r.memory_bytes * mem_factor),
        "created": format_date(r.created), "events": EVENTS, "hahost": bool(ha_tag and ha_tag in tags),
        "hasannotations": False, "islocalstorageactive": False, "capabilities": r.capabilities or "hvm",
        "managementserverid": r.mgmt_server_id, "outofbandmanagement": {"enabled": False, "powerstate": "Disabled"},
        "hostha": hostha_of(ha),
    }
    if r.last_pinged is not None:
        out["lastpinged"] = format_date(r.last_pinged)
    if r.disconnected is not None:
        out["disconnected"] = format_date(r.disconnected)
    if tags:
        out["hosttags"] = ",".join(tags)
    return {k: v for k, v in out.items() if v is not None}
