"""Rows → CloudStack response objects for the physical layer: zones, pods,
clusters, storage, physical networks and their parts, IP ranges, capacity,
OS types and alerts. Rows come from the commands' joined queries; the names
of their extra columns (`zone_uuid`, `pod_name`, ...) are the contract."""

from __future__ import annotations

from typing import Any

from cloudplane.actors.kinds.ipranges import cidr_of
from cloudplane.api.dates import format_date

CAPACITY_NAMES = {0: "MEMORY", 1: "CPU", 2: "STORAGE", 3: "STORAGE_ALLOCATED", 4: "VIRTUAL_NETWORK_PUBLIC_IP",
                  5: "PRIVATE_IP", 6: "SECONDARY_STORAGE", 7: "VLAN", 8: "DIRECT_ATTACHED_PUBLIC_IP",
                  9: "LOCAL_STORAGE", 19: "GPU", 90: "CPU_CORE"}


def _clean(out: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in out.items() if v is not None}


def _ratio(x: float | None) -> str:
    return str(float(x if x is not None else 1.0))


def zone_view(z: Any, *, full: bool, capacity: list[dict[str, Any]] | None = None,
              domain: tuple[str, str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": z.uuid, "name": z.name, "description": z.description, "dns1": z.dns1, "dns2": z.dns2,
        "ip6dns1": z.ip6_dns1, "ip6dns2": z.ip6_dns2, "networktype": z.network_type,
        "securitygroupsenabled": bool(z.security_groups_enabled), "localstorageenabled": bool(z.local_storage_enabled),
        "type": "Edge" if z.is_edge else "Core", "tags": [], "hasannotations": False,
        "allowuserspecifyvrmtu": False, "routerprivateinterfacemaxmtu": 1500, "routerpublicinterfacemaxmtu": 1500,
    }
    if full:
        out.update(internaldns1=z.internal_dns1, internaldns2=z.internal_dns2, guestcidraddress=z.guest_cidr,
                   allocationstate=z.allocation_state, zonetoken=z.zone_token, dhcpprovider=z.dhcp_provider,
                   domain=z.network_domain)
    if domain is not None:  # a zone dedicated to a domain: (uuid, name)
        out.update(domainid=domain[0], domainname=domain[1])
    if capacity is not None:
        out["capacity"] = capacity
    return _clean(out)


def pod_view(p: Any, ranges: list[Any], *, capacity: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    ipranges = [_clean({"startip": r.start_ip, "endip": r.end_ip, "forsystemvms": "1" if r.for_system_vms else "0",
                        "vlanid": r.vlan_tag or "untagged", "gateway": p.gateway, "cidr": _cidr(p.gateway, p.netmask)})
                for r in ranges]
    out: dict[str, Any] = {
        "id": p.uuid, "name": p.name, "zoneid": p.zone_uuid, "zonename": p.zone_name, "gateway": p.gateway,
        "netmask": p.netmask, "startip": [r["startip"] for r in ipranges], "endip": [r["endip"] for r in ipranges],
        "forsystemvms": [r["forsystemvms"] for r in ipranges], "vlanid": [r["vlanid"] for r in ipranges],
        "ipranges": ipranges, "allocationstate": p.allocation_state, "hasannotations": False,
    }
    if capacity is not None:
        out["capacity"] = capacity
    return _clean(out)


def cluster_view(c: Any, *, capacity: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    cpu, mem = _ratio(c.cpu_overcommit_ratio), _ratio(c.memory_overcommit_ratio)
    out: dict[str, Any] = {
        "id": c.uuid, "name": c.name, "podid": c.pod_uuid, "podname": c.pod_name, "zoneid": c.zone_uuid,
        "zonename": c.zone_name, "hypervisortype": c.hypervisor_type, "clustertype": c.cluster_type,
        "allocationstate": c.allocation_state, "managedstate": c.managed_state, "cpuovercommitratio": cpu,
        "memoryovercommitratio": mem, "resourcedetails": {"cpuOvercommitRatio": cpu, "memoryOvercommitRatio": mem},
        "hasannotations": False,
    }
    if capacity is not None:
        out["capacity"] = capacity
    return _clean(out)


def pool_view(p: Any, *, tags: list[str], allocated: int, factor: float) -> dict[str, Any]:
    return _clean({
        "id": p.uuid, "name": p.name, "zoneid": p.zone_uuid, "zonename": p.zone_name, "podid": p.pod_uuid,
        "podname": p.pod_name, "clusterid": p.cluster_uuid, "clustername": p.cluster_name,
        "ipaddress": p.host_address, "path": p.path, "created": format_date(p.created), "type": p.pool_type,
        "disksizetotal": p.capacity_bytes, "disksizeallocated": allocated, "disksizeused": p.used_bytes,
        "capacityiops": p.capacity_iops, "state": p.status, "scope": p.scope, "hypervisor": p.hypervisor,
        "overprovisionfactor": str(float(factor)), "provider": p.provider, "tags": ",".join(tags) or None,
        "storagecapabilities": {"VOLUME_SNAPSHOT_QUIESCEVM": "false"}, "hasannotations": False,
    })


def image_store_view(s: Any) -> dict[str, Any]:
    return _clean({
        "id": s.uuid, "zoneid": s.zone_uuid, "zonename": s.zone_name, "name": s.name, "url": s.url,
        "protocol": s.protocol, "providername": s.provider, "scope": s.scope, "readonly": bool(s.readonly),
        "disksizetotal": s.total_bytes, "disksizeused": s.used_bytes, "hasannotations": False,
    })


def physnet_view(n: Any) -> dict[str, Any]:
    return _clean({
        "id": n.uuid, "name": n.name, "broadcastdomainrange": n.broadcast_domain_range, "zoneid": n.zone_uuid,
        "zonename": n.zone_name, "state": n.state, "vlan": n.vlan, "isolationmethods": n.isolation_methods or "",
        "networkspeed": n.speed, "tags": n.tags, "domainid": n.domain_uuid,
    })


def traffic_type_view(t: Any, labels: dict[str, str]) -> dict[str, Any]:
    return _clean({"id": t.uuid, "traffictype": t.traffic_type, "physicalnetworkid": t.pn_uuid,
                   "kvmnetworklabel": t.kvm_network_label, "vlan": t.vlan, **labels})


def provider_view(p: Any) -> dict[str, Any]:
    return _clean({
        "id": p.uuid, "name": p.provider_name, "physicalnetworkid": p.pn_uuid, "state": p.state,
        "destinationphysicalnetworkid": p.dest_uuid or "0",
        "servicelist": [s for s in (p.service_list or "").split(",") if s],
        "canenableindividualservice": bool(p.can_enable_individual_services),
    })


def element_view(e: Any, *, router: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"id": e.uuid, "nspid": e.nsp_uuid, "enabled": bool(e.enabled)}
    if router:
        out.update(account="system", domainid=e.domain_uuid, domain="ROOT")
    return _clean(out)


def vlan_view(r: Any) -> dict[str, Any]:
    return _clean({
        "id": r.uuid, "forvirtualnetwork": bool(r.for_virtual_network), "zoneid": r.zone_uuid,
        "vlan": r.vlan_tag, "gateway": r.gateway, "netmask": r.netmask, "cidr": _cidr(r.gateway, r.netmask),
        "startip": r.start_ip, "endip": r.end_ip, "ip6gateway": r.ip6_gateway, "ip6cidr": r.ip6_cidr,
        "startipv6": r.start_ipv6, "endipv6": r.end_ipv6, "networkid": r.network_uuid,
        "physicalnetworkid": r.pn_uuid, "podid": r.pod_uuid, "podname": r.pod_name,
        "forsystemvms": bool(r.for_system_vms), "description": r.description,
        "account": r.account_name, "domainid": r.domain_uuid, "domain": r.domain_name,
    })


def capacity_view(ctype: int, total: float, used: int, *, zone: Any = None, pod: Any = None,
                  cluster: Any = None, allocated: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": ctype, "name": CAPACITY_NAMES.get(ctype, str(ctype)),
                           "capacitytotal": int(total), "capacityused": int(used),
                           "percentused": f"{(100.0 * used / total) if total else 0:.2f}"}
    if allocated is not None:
        out["capacityallocated"] = int(allocated)
    for prefix, obj in (("zone", zone), ("pod", pod), ("cluster", cluster)):
        if obj is not None:
            out[f"{prefix}id"], out[f"{prefix}name"] = obj
    return out


def os_type_view(t: Any) -> dict[str, Any]:
    return {"id": t.uuid, "description": t.display_name, "oscategoryid": t.cat_uuid, "oscategoryname": t.cat_name,
            "isuserdefined": bool(t.is_user_defined)}


def alert_view(a: Any) -> dict[str, Any]:
    return _clean({"id": a.uuid, "type": a.alert_type, "name": a.name, "description": a.subject,
                   "sent": format_date(a.last_sent or a.created)})


def _cidr(gateway: str | None, netmask: str | None) -> str | None:
    if not gateway or not netmask:
        return None
    return str(cidr_of(gateway, netmask))
