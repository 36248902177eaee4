"""VM rows → CloudStack's virtualmachine response.

A page is read in three steps so that it costs the same on page 1 and page
200 of 100k VMs: the filters are conditions on `vm_instance` alone (joined
things become subqueries), so the count and the page's ids come from that one
table; the joined rows are then read for those ids only; NICs, tags and
affinity groups are one query each for the whole page.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, String, bindparam, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.actors.kinds.vmkeys import SSH_NAMES_DETAIL
from cloudplane.api.dates import stored_date
from cloudplane.api.views.tags import page_tags_query, tag_filter, tags_of
from cloudplane.store import prepared
from cloudplane.store.tables.compute import AffinityGroup, AffinityGroupVm, ServiceOffering, VmInstance
from cloudplane.store.tables.identity import Account, Domain, User
from cloudplane.store.tables.images import OsType, Template
from cloudplane.store.tables.infra import Cluster, Host, Pod, Zone
from cloudplane.store.tables.network import Network, Nic
from cloudplane.store.tables.tags import ResourceDetail

VM, Z, H, T, SO, OS = (t.__table__ for t in (VmInstance, Zone, Host, Template, ServiceOffering, OsType))  # type: ignore[attr-defined]
A, D, U, N, NET = (t.__table__ for t in (Account, Domain, User, Nic, Network))  # type: ignore[attr-defined]
AG, AGVM, C, P, DET = (t.__table__ for t in (AffinityGroup, AffinityGroupVm, Cluster, Pod,  # type: ignore[attr-defined]
                                             ResourceDetail))
ISO = T.alias("iso")


# The columns a view reads: not user_data (up to 1 MiB each), and the two dates as
# stored, since a view only prints them (stored_date) and turning 1,000 of them into
# datetimes first cost a tenth of a 500-row page.
_VIEW_COLUMNS = (VM.c.id, VM.c.uuid, VM.c.name, VM.c.display_name, VM.c.instance_name, VM.c.state,
                 VM.c.placement_key, VM.c.ha_enabled, VM.c.cpu_count, VM.c.cpu_speed_mhz, VM.c.ram_mb,
                 VM.c.hypervisor_type, VM.c.display, VM.c.dynamically_scalable, VM.c.group_name, VM.c.boot_mode,
                 VM.c.boot_type, VM.c.password, type_coerce(VM.c.created, String).label("created"),
                 type_coerce(VM.c.updated, String).label("updated"))


def vms_query() -> Any:
    return (select(*_VIEW_COLUMNS, Z.c.uuid.label("zone_uuid"), Z.c.name.label("zone_name"),
                   H.c.uuid.label("host_uuid"), H.c.name.label("host_name"), T.c.uuid.label("tpl_uuid"),
                   T.c.name.label("tpl_name"), T.c.display_text.label("tpl_text"), T.c.password_enabled.label("tpl_pw"),
                   ISO.c.uuid.label("iso_uuid"), ISO.c.name.label("iso_name"), ISO.c.display_text.label("iso_text"),
                   SO.c.uuid.label("so_uuid"), SO.c.name.label("so_name"), A.c.uuid.label("acct_uuid"),
                   A.c.name.label("acct_name"), D.c.uuid.label("dom_uuid"), D.c.name.label("dom_name"),
                   D.c.path.label("dom_path"), U.c.uuid.label("user_uuid"), U.c.username.label("user_name"),
                   OS.c.uuid.label("os_uuid"), OS.c.display_name.label("os_name"))
            .select_from(VM.join(Z, VM.c.zone_id == Z.c.id).outerjoin(H, VM.c.host_id == H.c.id)
                         .outerjoin(T, VM.c.template_id == T.c.id).outerjoin(ISO, VM.c.iso_id == ISO.c.id)
                         .join(SO, VM.c.service_offering_id == SO.c.id)
                         .join(A, VM.c.account_id == A.c.id).join(D, VM.c.domain_id == D.c.id)
                         .outerjoin(U, VM.c.user_id == U.c.id).outerjoin(OS, VM.c.guest_os_id == OS.c.id))
            .where(VM.c.removed.is_(None)))


# Prebuilt statements (bound parameters): building a SELECT costs several times running it.
VM_BY_UUID = vms_query().where(VM.c.uuid == bindparam("u"))
_VMS_BY_IDS = vms_query().where(VM.c.id.in_(bindparam("ids", expanding=True))).order_by(VM.c.id)
_NICS = (select(N.c.instance_id, N.c.uuid, N.c.netmask, N.c.gateway, N.c.ip4_address, N.c.isolation_uri,
                N.c.broadcast_uri, N.c.traffic_type, N.c.is_default, N.c.mac_address, N.c.device_id,
                NET.c.uuid.label("net_uuid"), NET.c.name.label("net_name"), NET.c.guest_type)
         .select_from(N.join(NET, N.c.network_id == NET.c.id))
         .where(N.c.instance_id.in_(bindparam("ids", expanding=True)), N.c.removed.is_(None)).order_by(N.c.device_id))
_KEYPAIRS = select(DET.c.resource_id, DET.c.value).where(
    DET.c.resource_type == "UserVm", DET.c.resource_id.in_(bindparam("ids", expanding=True)),
    DET.c.name == SSH_NAMES_DETAIL)
_GROUPS = (select(AGVM.c.instance_id, AG.c.uuid, AG.c.name, AG.c.description, AG.c.type, A.c.name.label("acct"),
                  D.c.uuid.label("dom_uuid"), D.c.name.label("dom_name"))
           .select_from(AGVM.join(AG, AGVM.c.affinity_group_id == AG.c.id).join(A, AG.c.account_id == A.c.id)
                        .join(D, AG.c.domain_id == D.c.id))
           .where(AGVM.c.instance_id.in_(bindparam("ids", expanding=True)), AG.c.removed.is_(None)))


def _id_of(table: Any, uuid: str) -> Any:
    return select(table.c.id).where(table.c.uuid == uuid).scalar_subquery()


def vm_filters(call: Any, vis: Any, *, hide_destroyed: bool = False) -> list[ColumnElement[bool]]:
    """listVirtualMachines' filters as conditions on vm_instance alone."""
    where: list[Any] = [VM.c.removed.is_(None), VM.c.type == "User", vis.clause(VM.c.account_id, VM.c.domain_id)]
    if hide_destroyed:
        where.append(VM.c.state != "Destroyed")
    for p, col in (("id", VM.c.uuid), ("name", VM.c.name), ("state", VM.c.state), ("haenable", VM.c.ha_enabled),
                   ("displayvm", VM.c.display)):
        if call.get(p) is not None:
            where.append(col == call.get(p))
    for p, col, table in (("zoneid", VM.c.zone_id, Z), ("hostid", VM.c.host_id, H), ("templateid", VM.c.template_id, T),
                          ("isoid", VM.c.iso_id, T), ("serviceofferingid", VM.c.service_offering_id, SO),
                          ("podid", VM.c.pod_id, P)):
        if call.get(p) is not None:
            where.append(col == _id_of(table, call.get(p)))
    if call.get("ids"):
        where.append(VM.c.uuid.in_(call.get("ids")))
    if call.get("keyword"):
        kw = call.get("keyword")
        where.append(VM.c.name.contains(kw, autoescape=True) | VM.c.display_name.contains(kw, autoescape=True)
                     | VM.c.instance_name.contains(kw, autoescape=True))
    if call.get("clusterid"):
        where.append(VM.c.host_id.in_(select(H.c.id).where(H.c.cluster_id == _id_of(C, call.get("clusterid")))))
    if call.get("networkid"):
        where.append(VM.c.id.in_(select(N.c.instance_id).where(
            N.c.network_id == _id_of(NET, call.get("networkid")), N.c.removed.is_(None))))
    if call.get("affinitygroupid"):
        where.append(VM.c.id.in_(select(AGVM.c.instance_id).where(
            AGVM.c.affinity_group_id == _id_of(AG, call.get("affinitygroupid")))))
    where.extend(tag_filter(call, "UserVm", VM.c.id))
    return where


async def vm_page(call: Any, conn: AsyncConnection, where: list[Any]) -> tuple[list[Any], int]:
    """One page (CloudStack's page/pagesize, at most default.page.size) and the total."""
    max_size = await call.service.config_int("default.page.size") or 500
    size, pg = call.get("pagesize"), call.get("page")
    if size is None or size <= 0 or size > max_size:
        size = max_size
    total = int((await conn.execute(select(func.count()).select_from(VM).where(*where))).scalar_one())
    if not total:
        return [], 0
    ids = select(VM.c.id).where(*where).order_by(VM.c.id).limit(size)
    if pg and pg > 1:
        ids = ids.offset((pg - 1) * size)
    page_ids = [r[0] for r in (await conn.execute(ids)).all()]
    if not page_ids:
        return [], total
    rows = (await prepared.execute(conn, _VMS_BY_IDS, {"ids": page_ids})).all()
    return list(rows), total


async def vms_out(conn: AsyncConnection, rows: list[Any], *, admin: bool) -> list[dict[str, Any]]:
    if not rows:
        return []
    ids = {"ids": [r.id for r in rows]}
    nic_rows, tag_rows, group_rows, keypair_rows = await prepared.execute_all(conn, [
        (_NICS, ids), page_tags_query("UserVm", ids["ids"]), (_GROUPS, ids), (_KEYPAIRS, ids)])
    nics: dict[int, list[dict[str, Any]]] = {}
    for n in nic_rows.all():
        nic = {"id": n.uuid, "networkid": n.net_uuid, "networkname": n.net_name, "netmask": n.netmask,
               "gateway": n.gateway, "ipaddress": n.ip4_address, "isolationuri": n.isolation_uri,
               "broadcasturi": n.broadcast_uri, "traffictype": n.traffic_type, "type": n.guest_type,
               "isdefault": bool(n.is_default), "macaddress": n.mac_address, "deviceid": str(n.device_id),
               "secondaryip": [], "extradhcpoption": []}
        nics.setdefault(n.instance_id, []).append({k: v for k, v in nic.items() if v is not None})
    tags = tags_of(tag_rows.all())
    groups: dict[int, list[dict[str, Any]]] = {}
    for g in group_rows.all():
        groups.setdefault(g.instance_id, []).append({k: v for k, v in {
            "id": g.uuid, "name": g.name, "description": g.description, "type": g.type, "account": g.acct,
            "domainid": g.dom_uuid, "domain": g.dom_name}.items() if v is not None})
    keypairs = dict(keypair_rows.all())
    return [{**vm_view(r, nics.get(r.id, []), tags.get(r.id, []), groups.get(r.id, []), admin=admin),
             **({"keypairs": keypairs[r.id], "keypair": keypairs[r.id]} if keypairs.get(r.id) else {})}
            for r in rows]


def vm_view(row: Any, nics: list[dict[str, Any]], tags: list[dict[str, Any]], groups: list[dict[str, Any]], *,
            admin: bool) -> dict[str, Any]:
    r = row._asdict()  # a plain dict: ~45 reads per VM cost a third of reading the Row's attributes
    out: dict[str, Any] = {
        "id": r["uuid"], "name": r["name"], "displayname": r["display_name"] or r["name"],
        "account": r["acct_name"], "accountid": r["acct_uuid"], "userid": r["user_uuid"], "username": r["user_name"],
        "domainid": r["dom_uuid"], "domain": r["dom_name"], "created": stored_date(r["created"]), "state": r["state"],
        "haenable": bool(r["ha_enabled"]), "zoneid": r["zone_uuid"], "zonename": r["zone_name"],
        "templateid": r["tpl_uuid"], "templatename": r["tpl_name"],
        "templatedisplaytext": r["tpl_text"], "passwordenabled": bool(r["tpl_pw"]), "isoid": r["iso_uuid"],
        "isoname": r["iso_name"], "isodisplaytext": r["iso_text"], "serviceofferingid": r["so_uuid"],
        "serviceofferingname": r["so_name"], "cpunumber": r["cpu_count"], "cpuspeed": r["cpu_speed_mhz"],
        "memory": r["ram_mb"], "guestosid": r["os_uuid"], "ostypeid": r["os_uuid"], "osdisplayname": r["os_name"],
        "rootdeviceid": 0, "rootdevicetype": "ROOT", "securitygroup": [], "nic": nics,
        "hypervisor": r["hypervisor_type"], "details": {}, "affinitygroup": groups, "displayvm": bool(r["display"]),
        "isdynamicallyscalable": bool(r["dynamically_scalable"]), "tags": tags, "group": r["group_name"],
        "bootmode": (r["boot_mode"] or "legacy").lower(), "boottype": r["boot_type"] or "Bios",
        "lastupdated": stored_date(r["updated"]) if r["updated"] is not None else None,
    }
    if r["state"] in ("Running", "Starting", "Migrating", "Stopping") and r["host_uuid"]:
        out["hostid"] = r["host_uuid"]
        if admin:
            out["hostname"] = r["host_name"]
    if admin:
        out["instancename"] = r["instance_name"]
    return {k: v for k, v in out.items() if v is not None}
