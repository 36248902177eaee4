"""Zones: createZone, updateZone, deleteZone, listZones. A zone's own entity
actor creates it (with its system networks) and owns its row; listing reads
the store."""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import or_, select

from cloudplane.actors.kinds.infra import zone_ref
from cloudplane.actors.kinds.ipranges import allocation_state, ip4
from cloudplane.api.commands.base import ALL, ROOT, command, page
from cloudplane.api.commands.capacity import summarize
from cloudplane.api.commands.infrautil import find
from cloudplane.api.context import Call, JobTarget, ListResult, Success
from cloudplane.api.views.infra import zone_view
from cloudplane.errors import ParamError
from cloudplane.store.base import new_uuid
from cloudplane.store.tables.identity import Domain
from cloudplane.store.tables.infra import Zone

Z, D = Zone.__table__, Domain.__table__  # type: ignore[attr-defined]
NETWORK_TYPES = {"basic": "Basic", "advanced": "Advanced"}
DEFAULT_GUEST_CIDR = "10.1.1.0/24"

# parameter → (column, what CloudStack calls it in its "valid IP" message)
DNS_FIELDS = {"dns1": ("dns1", "DNS1"), "dns2": ("dns2", "DNS2"), "internaldns1": ("internal_dns1", "internal DNS1"),
              "internaldns2": ("internal_dns2", "internal DNS2")}
DNS6_FIELDS = {"ip6dns1": ("ip6_dns1", "IP6 DNS1"), "ip6dns2": ("ip6_dns2", "IP6 DNS2")}


def _addresses(call: Call) -> dict[str, Any]:
    """DNS parameters, checked as CloudStack checks them; an empty string clears."""
    out: dict[str, Any] = {}
    for param, (col, label) in DNS_FIELDS.items():
        v = call.get(param)
        if v is None:
            continue
        if v != "" and ip4(v) is None:
            raise ParamError(f"Please enter a valid IP address for {label}")
        out[col] = v or None
    for param, (col, label) in DNS6_FIELDS.items():
        v = call.get(param)
        if v is None:
            continue
        try:
            if v:
                ipaddress.IPv6Address(v)
        except ValueError:
            raise ParamError(f"Please enter a valid IPv6 address for {label}") from None
        out[col] = v or None
    cidr = call.get("guestcidraddress")
    if cidr is not None:
        try:
            net = ipaddress.IPv4Network(cidr, strict=False)
        except ValueError:
            raise ParamError("Please enter a valid guest cidr") from None
        if not net.is_private:
            raise ParamError("Please enter a valid guest cidr")
        out["guest_cidr"] = cidr
    return out


async def load_zone(call: Call, uuid: str) -> dict[str, Any]:
    async with call.service.engine.connect() as conn:
        row = (await conn.execute(_zones_q().where(Z.c.uuid == uuid))).first()
        items = await _zones_out(call, conn, [row] if row is not None else [])
    if not items:
        raise ParamError(f"Unable to find zone by id {uuid}")
    return items[0]


def _zones_q() -> Any:
    return (select(Z, D.c.uuid.label("domain_uuid"), D.c.name.label("domain_name"), D.c.path.label("domain_path"))
            .select_from(Z.outerjoin(D, Z.c.domain_id == D.c.id)).where(Z.c.removed.is_(None)))


async def _zones_out(call: Call, conn: Any, rows: list[Any], capacities: bool = False) -> list[dict[str, Any]]:
    caps = await summarize(call, conn, "zone", [r.id for r in rows]) if capacities else {}
    full = call.caller.is_root_admin
    out = []
    for r in rows:
        dom = (r.domain_uuid, r.domain_name) if r.domain_uuid else None
        out.append(zone_view(r, full=full, domain=dom, capacity=caps.get(r.id, []) if capacities else None))
    return out


@command("createZone", object_name="zone", roles=ROOT, entity_type="Zone")
async def create_zone(call: Call) -> dict[str, Any]:
    ntype = NETWORK_TYPES.get(str(call.get("networktype")).lower())
    if ntype is None:
        raise ParamError(f"Invalid network type {call.get('networktype')}; valid values are Basic and Advanced")
    values: dict[str, Any] = {"name": call.get("name"), "network_type": ntype, **_addresses(call)}
    if not values.get("dns1") or not values.get("internal_dns1"):
        raise ParamError("Please enter a valid IP address for DNS1" if not values.get("dns1")
                         else "Please enter a valid IP address for internal DNS1")
    sg = bool(call.get("securitygroupenabled", ntype == "Basic"))
    if ntype == "Advanced" and not sg:
        values.setdefault("guest_cidr", DEFAULT_GUEST_CIDR)
    elif ntype == "Basic":
        values["guest_cidr"] = None
    if call.get("domainid"):
        values["domain_id"] = (await find(call, D, "domainid")).id
    values.update(allocation_state=allocation_state(call.get("allocationstate")) or "Disabled",
                  security_groups_enabled=sg, local_storage_enabled=bool(call.get("localstorageenabled", False)),
                  is_edge=bool(call.get("isedge", False)), network_domain=call.get("domain"),
                  dhcp_provider="VirtualRouter", zone_token=new_uuid())
    uuid = new_uuid()
    await call.service.run(call, JobTarget(zone_ref(uuid), "create", {"values": values}))
    await call.service.event(call.caller, "ZONE.CREATE",
                             f"Successfully completed creating Zone. Name: {values['name']}",
                             resource_type="Zone", resource_uuid=uuid)
    return await load_zone(call, uuid)


@command("updateZone", object_name="zone", roles=ROOT, entity_type="Zone")
async def update_zone(call: Call) -> dict[str, Any]:
    zone = await find(call, Z, "id")
    changes: dict[str, Any] = _addresses(call)
    for param, col in (("name", "name"), ("dhcpprovider", "dhcp_provider")):
        if call.get(param):
            changes[col] = call.get(param)
    if call.get("domain") is not None:
        changes["network_domain"] = call.get("domain") or None
    if call.get("localstorageenabled") is not None:
        changes["local_storage_enabled"] = bool(call.get("localstorageenabled"))
    if call.get("ispublic"):
        changes["domain_id"] = None
    state = allocation_state(call.get("allocationstate"))
    if state is not None:
        changes["allocation_state"] = state
    await call.service.run(call, JobTarget(zone_ref(zone.uuid), "update", {"changes": changes}))
    await call.service.event(call.caller, "ZONE.EDIT", f"Successfully completed editing zone. Zone Id: {zone.uuid}",
                             resource_type="Zone", resource_uuid=zone.uuid)
    return await load_zone(call, zone.uuid)


@command("deleteZone", roles=ROOT, entity_type="Zone")
async def delete_zone(call: Call) -> Success:
    zone = await find(call, Z, "id")
    await call.service.run(call, JobTarget(zone_ref(zone.uuid), "delete", {}))
    await call.service.event(call.caller, "ZONE.DELETE", f"Successfully completed deleting zone. Zone Id: {zone.uuid}",
                             resource_type="Zone", resource_uuid=zone.uuid)
    return Success()


@command("listZones", object_name="zone", roles=ALL)
async def list_zones(call: Call) -> ListResult:
    c = call.caller
    q = _zones_q()
    if not c.is_root_admin:
        # Users see enabled zones that are public or dedicated along their domain's line.
        q = q.where(Z.c.allocation_state == "Enabled")
        q = q.where(or_(Z.c.domain_id.is_(None), D.c.path.startswith(c.domain_path),
                        D.c.id.in_(select(D.c.id).where(D.c.path.in_(_ancestors(c.domain_path))))))
    for param, col in (("id", Z.c.uuid), ("name", Z.c.name)):
        if call.get(param) is not None:
            q = q.where(col == call.get(param))
    if call.get("networktype"):
        ntype = str(call.get("networktype"))
        q = q.where(Z.c.network_type == NETWORK_TYPES.get(ntype.lower(), ntype))
    if call.get("domainid"):
        q = q.where(D.c.uuid == call.get("domainid"))
    if call.get("keyword"):
        q = q.where(Z.c.name.contains(call.get("keyword")))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, Z.c.id)
        items = await _zones_out(call, conn, rows, bool(call.get("showcapacities")) and c.is_root_admin)
    return ListResult(items, total)


def _ancestors(path: str) -> list[str]:
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[:i]) + ("/" if i else "") for i in range(len(parts) + 1)]
