"""VM rows → CloudStack's virtualmachine response (one joined query per page,
plus one query for the page's NICs)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.api.dates import format_date
from cloudplane.store.tables.compute import ServiceOffering, VmInstance
from cloudplane.store.tables.identity import Account, Domain, User
from cloudplane.store.tables.images import Template
from cloudplane.store.tables.infra import Host, Zone
from cloudplane.store.tables.network import Network, Nic
from cloudplane.store.tables.tags import ResourceTag

VM, Z, H, T, SO = (t.__table__ for t in (VmInstance, Zone, Host, Template, ServiceOffering))  # type: ignore[attr-defined]
A, D, U, N, NET, TAG = (t.__table__ for t in (Account, Domain, User, Nic, Network, ResourceTag))  # type: ignore[attr-defined]


def vms_query() -> Any:
    return (select(VM, Z.c.uuid.label("zone_uuid"), Z.c.name.label("zone_name"), H.c.uuid.label("host_uuid"),
                   H.c.name.label("host_name"), T.c.uuid.label("tpl_uuid"), T.c.name.label("tpl_name"),
                   T.c.display_text.label("tpl_text"), T.c.password_enabled.label("tpl_pw"),
                   SO.c.uuid.label("so_uuid"), SO.c.name.label("so_name"), A.c.uuid.label("acct_uuid"),
                   A.c.name.label("acct_name"), D.c.uuid.label("dom_uuid"), D.c.name.label("dom_name"),
                   D.c.path.label("dom_path"), U.c.uuid.label("user_uuid"), U.c.username.label("user_name"))
            .select_from(VM.join(Z, VM.c.zone_id == Z.c.id).outerjoin(H, VM.c.host_id == H.c.id)
                         .outerjoin(T, VM.c.template_id == T.c.id).join(SO, VM.c.service_offering_id == SO.c.id)
                         .join(A, VM.c.account_id == A.c.id).join(D, VM.c.domain_id == D.c.id)
                         .outerjoin(U, VM.c.user_id == U.c.id))
            .where(VM.c.removed.is_(None)))


async def vms_out(conn: AsyncConnection, rows: list[Any], *, admin: bool) -> list[dict[str, Any]]:
    if not rows:
        return []
    ids = [r.id for r in rows]
    nics: dict[int, list[dict[str, Any]]] = {}
    q = (select(N, NET.c.uuid.label("net_uuid"), NET.c.name.label("net_name"), NET.c.guest_type)
         .select_from(N.join(NET, N.c.network_id == NET.c.id))
         .where(N.c.instance_id.in_(ids), N.c.removed.is_(None)).order_by(N.c.device_id))
    for n in (await conn.execute(q)).all():
        nic = {"id": n.uuid, "networkid": n.net_uuid, "networkname": n.net_name, "netmask": n.netmask,
               "gateway": n.gateway, "ipaddress": n.ip4_address, "isolationuri": n.isolation_uri,
               "broadcasturi": n.broadcast_uri, "traffictype": n.traffic_type, "type": n.guest_type,
               "isdefault": bool(n.is_default), "macaddress": n.mac_address, "deviceid": str(n.device_id),
               "secondaryip": [], "extradhcpoption": []}
        nics.setdefault(n.instance_id, []).append({k: v for k, v in nic.items() if v is not None})
    tags: dict[str, list[dict[str, Any]]] = {}
    for t in (await conn.execute(select(TAG).where(TAG.c.resource_type == "UserVm", TAG.c.resource_id.in_(ids),
                                                   TAG.c.removed.is_(None)))).all():
        tags.setdefault(t.resource_uuid, []).append({"key": t.name, "value": t.value, "resourcetype": "UserVm",
                                                     "resourceid": t.resource_uuid})
    return [vm_view(r, nics.get(r.id, []), tags.get(r.uuid, []), admin=admin) for r in rows]


def vm_view(r: Any, nics: list[dict[str, Any]], tags: list[dict[str, Any]], *, admin: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": r.uuid, "name": r.name, "displayname": r.display_name or r.name, "account": r.acct_name,
        "accountid": r.acct_uuid, "userid": r.user_uuid, "username": r.user_name, "domainid": r.dom_uuid,
        "domain": r.dom_name, "created": format_date(r.created), "state": r.state, "haenable": bool(r.ha_enabled),
        "zoneid": r.zone_uuid, "zonename": r.zone_name, "templateid": r.tpl_uuid, "templatename": r.tpl_name,
        "templatedisplaytext": r.tpl_text, "passwordenabled": bool(r.tpl_pw), "serviceofferingid": r.so_uuid,
        "serviceofferingname": r.so_name, "cpunumber": r.cpu_count, "cpuspeed": r.cpu_speed_mhz,
        "memory": r.ram_mb, "rootdeviceid": 0, "rootdevicetype": "ROOT", "securitygroup": [], "nic": nics,
        "hypervisor": r.hypervisor_type, "details": {}, "affinitygroup": [], "displayvm": bool(r.display),
        "isdynamicallyscalable": bool(r.dynamically_scalable), "tags": tags, "group": r.group_name,
        "bootmode": (r.boot_mode or "legacy").lower(), "boottype": r.boot_type or "Bios",
    }
    if r.state == "Running" and r.host_uuid:
        out["hostid"] = r.host_uuid
        if admin:
            out["hostname"] = r.host_name
    if admin:
        out["instancename"] = r.instance_name
    return {k: v for k, v in out.items() if v is not None}
