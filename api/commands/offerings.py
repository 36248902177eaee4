"""Service and disk offerings: create, update, delete (root and domain admins)
and list (everyone, filtered by the domains an offering is limited to).

An offering limited to domains (`domainid`) is visible to accounts of those
domains and their subdomains; one limited to zones (`zoneid`) is listed for
those zones only; one with neither is public. As CloudStack, a domain admin
may only create, change or delete offerings limited to domains of its own
subtree, and a resource admin may not manage offerings at all.

Offerings are few, so list commands filter the domain and size constraints in
Python (as CloudStack does for its detail-based filters) and page the result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from cloudplane.actors.identity import EntityRef
from cloudplane.api.commands.base import ADMINS, ALL, command
from cloudplane.api.context import Call, Caller, JobTarget, ListResult, Success
from cloudplane.api.views.offerings import Scope, disk_offering_view, service_offering_view
from cloudplane.errors import NotAllowed, ParamError
from cloudplane.store.base import new_uuid
from cloudplane.store.tables.compute import DiskOffering, ServiceOffering, VmInstance
from cloudplane.store.tables.identity import Domain
from cloudplane.store.tables.infra import Zone
from cloudplane.store.tables.storage import StoragePool, Volume
from cloudplane.store.tables.tags import ResourceDetail

SO, DO, DET = ServiceOffering.__table__, DiskOffering.__table__, ResourceDetail.__table__  # type: ignore[attr-defined]
D, Z, VM = Domain.__table__, Zone.__table__, VmInstance.__table__  # type: ignore[attr-defined]
VOL, POOL = Volume.__table__, StoragePool.__table__  # type: ignore[attr-defined]

GiB = 2**30
MAX_INT = 2**31 - 1
PLANNERS = ("FirstFitPlanner", "UserDispersingPlanner", "UserConcentratedPodPlanner", "ImplicitDedicationPlanner",
            "BareMetalPlanner", "SkipHeuresticsPlanner")
SYSTEM_VM_TYPES = ("domainrouter", "consoleproxy", "secondarystoragevm", "internalloadbalancervm")
PROVISIONING = ("thin", "sparse", "fat")
STORAGE_TYPES = ("shared", "local")
CACHE_MODES = ("none", "writeback", "writethrough")
SIZE_DETAILS = ("mincpunumber", "maxcpunumber", "minmemory", "maxmemory")


@dataclass(frozen=True)
class Kind:
    """What differs between the two offering kinds, as data."""

    entity: str  # entity kind
    table: Any
    detail_type: str  # resource_detail.resource_type
    noun: str  # in messages
    event: str  # event type prefix
    domain_label: str  # "name" (service offerings) or "path" (disk offerings), as CloudStack's views


SERVICE = Kind("service_offering", SO, "ServiceOffering", "service offering", "SERVICE.OFFERING", "name")
DISK = Kind("disk_offering", DO, "DiskOffering", "disk offering", "DISK.OFFERING", "path")


# -- input helpers ---------------------------------------------------------------------------------


def details_map(entries: Iterable[dict[str, str]] | None) -> dict[str, str]:
    """A `details` map parameter as CloudStack reads it: `details[0].key=k&details[0].value=v`
    pairs, or `details[0].k=v` entries."""
    out: dict[str, str] = {}
    for e in entries or []:
        if e.get("key") and e.get("value") is not None:
            out[e["key"]] = e["value"]
            continue
        out.update({k: v for k, v in e.items() if k not in ("key", "value")})
    for k in out:
        if not k.strip() or len(k) > 255:
            raise ParamError(f"Invalid detail name {k[:40]!r}: 1 to 255 characters")
    return out


def choice(call: Call, param: str, allowed: tuple[str, ...], default: str) -> str:
    value = call.get(param)
    if value is None:
        return default
    if str(value).lower() not in allowed:
        raise ParamError(f"Invalid value {value} for parameter {param}: use one of {', '.join(allowed)}")
    return str(value).lower()


def in_range(call: Call, param: str, low: int, high: int = MAX_INT) -> int | None:
    value = call.get(param)
    if value is not None and not low <= value <= high:
        raise ParamError(f"Failed to create {call.spec.name.removeprefix('create').lower()}: specify the "
                         f"{param} value between {low} and {high}")
    return value  # type: ignore[no-any-return]


def id_list(value: Any) -> list[str]:
    """A list parameter, or a comma-separated string (update commands take those)."""
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(i).strip().lower() for i in items if str(i).strip()]


async def domains_by_uuid(call: Call, uuids: list[str]) -> list[Any]:
    if not uuids:
        return []
    async with call.service.engine.connect() as conn:
        rows = {r.uuid: r for r in (await conn.execute(select(D).where(D.c.uuid.in_(uuids), D.c.removed.is_(None))))}
    for u in uuids:
        if u not in rows:
            raise ParamError(f"Unable to find domain by id {u} (parameter domainid)")
    # CloudStack drops a domain whose ancestor is also named: the ancestor covers it.
    kept = [rows[u] for u in dict.fromkeys(uuids)]
    return [d for d in kept if not any(o.id != d.id and d.path.startswith(o.path) for o in kept)]


async def zones_by_uuid(call: Call, uuids: list[str]) -> list[Any]:
    if not uuids:
        return []
    async with call.service.engine.connect() as conn:
        rows = {r.uuid: r for r in (await conn.execute(select(Z).where(Z.c.uuid.in_(uuids), Z.c.removed.is_(None))))}
    for u in uuids:
        if u not in rows:
            raise ParamError(f"Unable to find zone by id {u} (parameter zoneid)")
    return [rows[u] for u in dict.fromkeys(uuids)]


def ids_text(rows: list[Any]) -> str | None:
    return ",".join(str(r.id) for r in rows) if rows else None


def split_ids(text: str | None) -> list[int]:
    return [int(x) for x in (text or "").split(",") if x.strip()]


# -- who may manage an offering (CloudStack's domain-admin rules) ------------------------------------------


def require_manager(c: Caller, kind: Kind, verb: str, uuid: str | None = None) -> None:
    if c.role_type not in ("Admin", "DomainAdmin"):
        what = f"{kind.noun}: {uuid}" if uuid else kind.noun
        raise ParamError(f"Unable to {verb} {what} by user: {c.user_uuid} because it is not root-admin or "
                         "domain-admin")


def require_subtree(c: Caller, kind: Kind, verb: str, domains: list[Any], uuid: str | None = None) -> None:
    """A domain admin acts only on offerings limited to domains of its subtree (never on public ones)."""
    if c.role_type != "DomainAdmin":
        return
    what = f"{kind.noun}: {uuid}" if uuid else kind.noun
    if not domains:
        raise ParamError(f"Unable to {verb} public {what} by admin: {c.user_uuid} because it is domain-admin")
    for d in domains:
        if not d.path.startswith(c.domain_path):
            raise ParamError(f"Unable to {verb} {what} by domain-admin: {c.user_uuid} with domain {d.uuid} "
                             "which is not a child domain")


# -- reading offerings ---------------------------------------------------------------------------------


@dataclass
class Catalogue:
    """Rows of one offering kind with their details and the names they refer to."""

    rows: list[Any]
    details: dict[int, dict[str, str]]  # offering id -> every detail (hidden ones too)
    domains: dict[int, Any]  # domain id -> row
    zones: dict[int, Any]  # zone id -> row

    def limits(self, r: Any, name: str) -> list[int]:
        return split_ids(self.details.get(r.id, {}).get(name))

    def scope(self, r: Any, kind: Kind) -> Scope:
        doms = [self.domains[i] for i in self.limits(r, "domainid") if i in self.domains]
        zones = [self.zones[i] for i in self.limits(r, "zoneid") if i in self.zones]
        shown = {k: v for k, v in self.details.get(r.id, {}).items() if k not in ("domainid", "zoneid")}
        return Scope([(d.uuid, getattr(d, kind.domain_label)) for d in doms], [(z.uuid, z.name) for z in zones],
                     shown)


async def catalogue(call: Call, kind: Kind, where: list[Any]) -> Catalogue:
    t = kind.table
    async with call.service.engine.connect() as conn:
        rows = list((await conn.execute(select(t).where(t.c.removed.is_(None), t.c.state == "Active", *where)
                                        .order_by(t.c.id))).all())
        details: dict[int, dict[str, str]] = {}
        if rows:
            for d in (await conn.execute(select(DET.c.resource_id, DET.c.name, DET.c.value).where(
                    DET.c.resource_type == kind.detail_type, DET.c.resource_id.in_([r.id for r in rows])))).all():
                details.setdefault(d.resource_id, {})[d.name] = d.value or ""
        wanted_d = {i for m in details.values() for i in split_ids(m.get("domainid"))}
        wanted_z = {i for m in details.values() for i in split_ids(m.get("zoneid"))}
        domains = {r.id: r for r in (await conn.execute(select(D).where(D.c.id.in_(wanted_d))))} if wanted_d else {}
        zones = {r.id: r for r in (await conn.execute(select(Z).where(Z.c.id.in_(wanted_z))))} if wanted_z else {}
    return Catalogue(rows, details, domains, zones)


async def one_offering(call: Call, kind: Kind, uuid: str) -> tuple[Any, Catalogue]:
    cat = await catalogue(call, kind, [kind.table.c.uuid == uuid])
    if not cat.rows:
        raise ParamError(f"Unable to find {kind.noun} {uuid}")
    return cat.rows[0], cat


async def views(call: Call, kind: Kind, rows: list[Any], cat: Catalogue) -> list[dict[str, Any]]:
    if kind is DISK:
        return [disk_offering_view(r, cat.scope(r, kind)) for r in rows]
    linked = {r.disk_offering_id for r in rows if r.disk_offering_id}
    disks: dict[int, Any] = {}
    if linked:
        async with call.service.engine.connect() as conn:
            disks = {d.id: d for d in (await conn.execute(select(DO).where(DO.c.id.in_(linked))))}
    return [service_offering_view(r, cat.scope(r, kind), disks.get(r.disk_offering_id)) for r in rows]


async def answer(call: Call, kind: Kind, uuid: str) -> dict[str, Any]:
    row, cat = await one_offering(call, kind, uuid)
    return (await views(call, kind, [row], cat))[0]


# -- visibility -------------------------------------------------------------------------------------------


async def related_domains(call: Call, recursive: bool) -> set[int]:
    """The caller's domain, its ancestors and (recursive) its descendants."""
    c = call.caller
    parts = [p for p in c.domain_path.strip("/").split("/") if p]
    paths = ["/"] + ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]
    async with call.service.engine.connect() as conn:
        q = D.c.path.in_(paths)
        if recursive:
            q = q | D.c.path.startswith(c.domain_path)
        return {r.id for r in (await conn.execute(select(D.c.id).where(q, D.c.removed.is_(None))))}


async def check_listing_domain(call: Call) -> Any:
    """`domainid` on a list: any domain for root admins; for others the caller's domain or an ancestor."""
    uuid = call.get("domainid")
    if uuid is None:
        return None
    (dom,) = await domains_by_uuid(call, [uuid])
    c = call.caller
    if not c.is_root_admin and not c.domain_path.startswith(dom.path):
        raise NotAllowed(f"The account:{c.account_name} does not fall in the same domain hierarchy as the "
                         f"{call.spec.name.removeprefix('list').removesuffix('s').lower()}")
    return dom


async def visible(call: Call, kind: Kind, cat: Catalogue, dom: Any) -> list[Any]:
    """The rows the caller may list, with the domain and zone filters applied."""
    c = call.caller
    rows = cat.rows
    if call.get("isrecursive") and c.role_type == "User":
        raise ParamError(f"Only ROOT admins and Domain admins can list {kind.noun}s with isrecursive=true")
    if dom is not None and c.is_root_admin:
        rows = [r for r in rows if dom.id in cat.limits(r, "domainid")]
    if not c.is_root_admin:
        mine = await related_domains(call, bool(call.get("isrecursive")))
        rows = [r for r in rows if not cat.limits(r, "domainid") or mine & set(cat.limits(r, "domainid"))]
    if call.get("zoneid"):
        (zone,) = await zones_by_uuid(call, [call.get("zoneid")])
        rows = [r for r in rows if not cat.limits(r, "zoneid") or zone.id in cat.limits(r, "zoneid")]
    return rows


def paged(call: Call, items: list[Any], max_size: int) -> list[Any]:
    size, pg = call.get("pagesize"), call.get("page") or 1
    if size is None or size <= 0 or size > max_size:
        size = max_size
    start = (pg - 1) * size if pg > 1 else 0
    return items[start: start + size]


def keyword_match(call: Call) -> Callable[[Any], bool]:
    kw = (call.get("keyword") or "").lower()
    return lambda r: not kw or kw in (r.name or "").lower() or kw in (r.display_text or "").lower()


Filter = Callable[[Catalogue], Callable[[Any], bool]]


async def listed(call: Call, kind: Kind, where: list[Any], keep: Filter | None = None) -> ListResult:
    t = kind.table
    for param, col in (("id", t.c.uuid), ("name", t.c.name)):
        if call.get(param) is not None:
            where.append(col == call.get(param))
    dom = await check_listing_domain(call)
    cat = await catalogue(call, kind, where)
    match, extra = keyword_match(call), (keep(cat) if keep else (lambda r: True))
    rows = [r for r in await visible(call, kind, cat, dom) if match(r) and extra(r)]
    page = paged(call, rows, await call.service.config_int("default.page.size") or 500)
    return ListResult(await views(call, kind, page, cat), len(rows))


# -- service offerings --------------------------------------------------------------------------------------


def so_ref(uuid: str) -> EntityRef:
    return EntityRef(SERVICE.entity, uuid)


def do_ref(uuid: str) -> EntityRef:
    return EntityRef(DISK.entity, uuid)


def _size_spec(call: Call) -> tuple[bool, dict[str, str]]:
    """(customized, min/max details), with CloudStack's rules for fixed and custom offerings."""
    cpus, speed, mem = in_range(call, "cpunumber", 1), in_range(call, "cpuspeed", 0), in_range(call, "memory", 32)
    customized = call.get("customized")
    if customized is None:
        customized = cpus is None and mem is None
    if not customized:
        if cpus is None or speed is None or mem is None:
            raise ParamError("For creating a fixed compute offering cpunumber, cpuspeed and memory should all be "
                             "specified (or set customized=true)")
        return False, {}
    if cpus is not None or mem is not None:
        raise ParamError("For creating a custom compute offering cpunumber and memory should be null")
    bounds = {p: in_range(call, p, 32 if "memory" in p else 1) for p in SIZE_DETAILS}
    given = [v for v in bounds.values() if v is not None]
    if not given:
        return True, {}
    if len(given) != len(SIZE_DETAILS) or speed is None:
        raise ParamError("For creating a custom compute offering min/max cpu and min/max memory/cpu speed should "
                         "all be null or all specified")
    if bounds["mincpunumber"] > bounds["maxcpunumber"]:  # type: ignore[operator]
        raise ParamError("mincpunumber should be less than or equal to maxcpunumber")
    if bounds["minmemory"] > bounds["maxmemory"]:  # type: ignore[operator]
        raise ParamError("minmemory should be less than or equal to maxmemory")
    return True, {k: str(v) for k, v in bounds.items()}


@command("createServiceOffering", object_name="serviceoffering", roles=ADMINS, entity_type="ServiceOffering")
async def create_service_offering(call: Call) -> dict[str, Any]:
    c = call.caller
    require_manager(c, SERVICE, "create")
    customized, size_details = _size_spec(call)
    domains = await domains_by_uuid(call, id_list(call.get("domainid")))
    zones = await zones_by_uuid(call, id_list(call.get("zoneid")))
    require_subtree(c, SERVICE, "create", domains)
    if c.role_type == "DomainAdmin" and (call.get("tags") or call.get("hosttags")):
        raise ParamError(f"Unable to create service offering with storage tags or host tags by admin: {c.user_uuid} "
                         "because it is domain-admin")
    vm_type = None
    if call.get("issystem"):
        vm_type = choice(call, "systemvmtype", SYSTEM_VM_TYPES, "domainrouter")
    if call.get("networkrate") is not None and vm_type not in (None, "domainrouter"):
        raise ParamError('Network rate can be specified only for non-System offering and system offerings having '
                         '"domainrouter" systemvmtype')
    planner = call.get("deploymentplanner")
    if planner is not None and planner not in PLANNERS:
        raise ParamError(f"Invalid name for Deployment Planner specified: {planner}")
    disk_id = None
    if call.get("diskofferingid"):
        disk, _ = await one_offering(call, DISK, call.get("diskofferingid"))
        disk_id = disk.id
    root_gb = call.get("rootdisksize")
    if root_gb is not None and not 0 < root_gb < 2**32:
        raise ParamError("The Root disk size must be greater than 0 GB (and below 2^32 GB)")
    values = {
        "name": call.get("name"), "display_text": call.get("displaytext") or call.get("name"),
        "cpu_count": call.get("cpunumber"), "cpu_speed_mhz": call.get("cpuspeed"), "ram_mb": call.get("memory"),
        "customized": customized, "offer_ha": bool(call.get("offerha", False)),
        "limit_cpu_use": bool(call.get("limitcpuuse", False)), "is_volatile": bool(call.get("isvolatile", False)),
        "dynamic_scaling_enabled": bool(call.get("dynamicscalingenabled", True)),
        "host_tags": call.get("hosttags") or None, "storage_tags": call.get("tags") or None,
        "storage_type": choice(call, "storagetype", STORAGE_TYPES, "shared"),
        "provisioning_type": choice(call, "provisioningtype", PROVISIONING, "thin"),
        "root_disk_size_bytes": root_gb * GiB if root_gb else None, "disk_offering_id": disk_id,
        "is_system": bool(call.get("issystem", False)), "system_vm_type": vm_type, "default_use": False,
        "network_rate_mbps": call.get("networkrate"), "deployment_planner": planner, "state": "Active",
    }
    details: dict[str, str | None] = {**details_map(call.get("serviceofferingdetails")), **size_details,
                                      "domainid": ids_text(domains), "zoneid": ids_text(zones)}
    uuid = new_uuid()
    await call.service.run(call, JobTarget(so_ref(uuid), "create", {"values": values, "details": details}))
    await call.service.event(c, "SERVICE.OFFERING.CREATE", f"Created service offering {values['name']}",
                             resource_type="ServiceOffering", resource_uuid=uuid)
    return await answer(call, SERVICE, uuid)


async def _limits_update(call: Call, kind: Kind, row: Any, cat: Catalogue) -> dict[str, str | None]:
    """`domainid` ("public" or uuids) and `zoneid` ("all" or uuids) of an update, under the domain-admin rules."""
    c = call.caller
    old_domains = [cat.domains[i] for i in cat.limits(row, "domainid") if i in cat.domains]
    old_zones = cat.limits(row, "zoneid")
    raw_d, raw_z = call.get("domainid"), call.get("zoneid")
    domains = old_domains if raw_d is None else (
        [] if str(raw_d).strip().lower() == "public" else await domains_by_uuid(call, id_list(raw_d)))
    zone_ids = old_zones if raw_z is None else (
        [] if str(raw_z).strip().lower() == "all" else [z.id for z in await zones_by_uuid(call, id_list(raw_z))])
    if c.role_type == "DomainAdmin":
        if sorted(zone_ids) != sorted(old_zones):
            raise ParamError(f"Unable to update zone(s) for {kind.noun}: {row.uuid} by admin: {c.user_uuid} as it "
                             "is domain-admin")
        if not old_domains:
            raise ParamError(f"Unable to update public {kind.noun}: {row.uuid} by user: {c.user_uuid} because it is "
                             "domain-admin")
        if not domains:
            raise ParamError(f"Unable to update {kind.noun}: {row.uuid} to a public offering by user: {c.user_uuid} "
                             "because it is domain-admin")
        foreign = [d for d in old_domains if not d.path.startswith(c.domain_path)]
        if foreign and (call.get("name") is not None or call.get("displaytext") is not None):
            raise ParamError(f"Unable to update {kind.noun}: {row.uuid} as it has linked domain(s) which are not "
                             f"child domain for domain-admin: {c.user_uuid}")
        require_subtree(c, kind, "update", domains, row.uuid)
        domains = domains + [d for d in foreign if d not in domains]  # kept: not the caller's to remove
    return {"domainid": ids_text(domains), "zoneid": ",".join(map(str, zone_ids)) or None}


async def _update(call: Call, kind: Kind, extra: dict[str, Any]) -> dict[str, Any]:
    c = call.caller
    require_manager(c, kind, "update", call.get("id"))
    row, cat = await one_offering(call, kind, call.get("id"))
    details = await _limits_update(call, kind, row, cat)
    for p in ("name", "displaytext"):
        if call.get(p) is not None and not str(call.get(p)).strip():
            raise ParamError(f"Unable to execute API command {call.spec.error_name} due to empty value for "
                             f"parameter {p}")
    changes = {k: v for k, v in {"name": call.get("name"), "display_text": call.get("displaytext")}.items()
               if v is not None} | extra  # `extra` may clear a column with None
    ref = so_ref(row.uuid) if kind is SERVICE else do_ref(row.uuid)
    await call.service.run(call, JobTarget(ref, "update", {"changes": changes, "details": details}))
    await call.service.event(c, f"{kind.event}.EDIT", f"Updated {kind.noun} {row.uuid}",
                             resource_type=kind.detail_type, resource_uuid=row.uuid)
    return await answer(call, kind, row.uuid)


async def _delete(call: Call, kind: Kind) -> Success:
    c = call.caller
    require_manager(c, kind, "delete", call.get("id"))
    row, cat = await one_offering(call, kind, call.get("id"))
    if kind is SERVICE and row.default_use:
        raise ParamError("Default service offerings cannot be deleted")
    require_subtree(c, kind, "delete", [cat.domains[i] for i in cat.limits(row, "domainid") if i in cat.domains],
                    row.uuid)
    ref = so_ref(row.uuid) if kind is SERVICE else do_ref(row.uuid)
    await call.service.run(call, JobTarget(ref, "delete", {}))
    await call.service.event(c, f"{kind.event}.DELETE", f"Deleted {kind.noun} {row.uuid}",
                             resource_type=kind.detail_type, resource_uuid=row.uuid)
    return Success()


@command("updateServiceOffering", object_name="serviceoffering", roles=ADMINS, entity_type="ServiceOffering")
async def update_service_offering(call: Call) -> dict[str, Any]:
    # An empty value clears the tags.
    tags = {col: call.get(p) or None for p, col in (("hosttags", "host_tags"), ("storagetags", "storage_tags"))
            if call.get(p) is not None}
    if tags and call.caller.role_type == "DomainAdmin":
        raise ParamError(f"Unable to update storage tags or host tags of service offering {call.get('id')} by "
                         f"admin: {call.caller.user_uuid} because it is domain-admin")
    return await _update(call, SERVICE, tags)


@command("deleteServiceOffering", roles=ADMINS, entity_type="ServiceOffering")
async def delete_service_offering(call: Call) -> Success:
    return await _delete(call, SERVICE)


def _fits(call: Call) -> Filter:
    """cpunumber/memory/cpuspeed: CloudStack's rule over an offering's bounds (min = max = the
    size of a fixed offering; none for an unconstrained custom one): no lower bound, the wanted
    size within the bounds, or a lower bound at least the wanted size."""
    def with_catalogue(cat: Catalogue) -> Callable[[Any], bool]:
        def bound(r: Any, name: str, fixed: int | None) -> int | None:
            v = cat.details.get(r.id, {}).get(name)
            return int(v) if v else fixed

        def ok(r: Any) -> bool:
            for param, lo_name, hi_name, fixed in (("cpunumber", "mincpunumber", "maxcpunumber", r.cpu_count),
                                                   ("memory", "minmemory", "maxmemory", r.ram_mb)):
                want, lo, hi = call.get(param), bound(r, lo_name, fixed), bound(r, hi_name, fixed)
                if want is not None and lo is not None and not (lo <= want <= (hi if hi is not None else lo)
                                                                 or lo >= want):
                    return False
            speed = call.get("cpuspeed")
            return speed is None or r.cpu_speed_mhz is None or r.cpu_speed_mhz >= speed

        return ok

    return with_catalogue


async def _current_offering(call: Call) -> int | None:
    """`virtualmachineid`: the VM's fixed offering, left out of the list (a resize target must differ)."""
    vm_uuid = call.get("virtualmachineid")
    if vm_uuid is None:
        return None
    async with call.service.engine.connect() as conn:
        vm = (await conn.execute(select(VM.c.account_id, VM.c.domain_id, VM.c.service_offering_id, D.c.path)
                                 .join(D, VM.c.domain_id == D.c.id)
                                 .where(VM.c.uuid == vm_uuid, VM.c.removed.is_(None)))).first()
        if vm is None:
            raise ParamError("unable to find a virtual machine with specified id")
        c = call.caller
        if (c.role_type == "User" and vm.account_id != c.account_id) or not vm.path.startswith(c.domain_path):
            raise NotAllowed(f"Account {c.account_name} does not have permission to operate on VM {vm_uuid}")
        fixed = (await conn.execute(select(SO.c.customized).where(SO.c.id == vm.service_offering_id))).scalar()
    return None if fixed else int(vm.service_offering_id)


@command("listServiceOfferings", object_name="serviceoffering", roles=ALL)
async def list_service_offerings(call: Call) -> ListResult:
    c = call.caller
    system = bool(call.get("issystem", False))
    if system and not c.is_root_admin:
        raise ParamError("Only ROOT admins can access system's offering")
    where = [SO.c.is_system.is_(system)]
    if call.get("systemvmtype") is not None:
        where.append(SO.c.system_vm_type == call.get("systemvmtype"))
    current = await _current_offering(call)
    if current is not None:
        where.append(SO.c.id != current)
    return await listed(call, SERVICE, where, _fits(call))


# -- disk offerings -----------------------------------------------------------------------------------------


@command("createDiskOffering", object_name="diskoffering", roles=ADMINS, entity_type="DiskOffering")
async def create_disk_offering(call: Call) -> dict[str, Any]:
    c = call.caller
    require_manager(c, DISK, "create")
    customized = bool(call.get("customized", False))
    size = call.get("disksize")
    if not customized and size is None:
        raise ParamError("Disksize is required for a non-customized disk offering")
    if customized and size is not None:
        raise ParamError("Disksize is not allowed for a customized disk offering")
    if size is not None and not 1 <= size <= 2000:
        raise ParamError("Please specify a disk size of at least 1 GB and at most 2000 GB")
    domains = await domains_by_uuid(call, id_list(call.get("domainid")))
    zones = await zones_by_uuid(call, id_list(call.get("zoneid")))
    require_subtree(c, DISK, "create", domains)
    if c.role_type == "DomainAdmin" and call.get("tags"):
        raise ParamError(f"Unable to create disk offering with storage tags by admin: {c.user_uuid} because it is "
                         "domain-admin")
    miniops, maxiops = call.get("miniops"), call.get("maxiops")
    if miniops is not None and maxiops is not None and miniops > maxiops:
        raise ParamError("The min IOPS must be less than or equal to the max IOPS")
    values = {
        "name": call.get("name"), "display_text": call.get("displaytext") or call.get("name"),
        "disk_size_bytes": (size or 0) * GiB, "customized": customized,
        "customized_iops": bool(call.get("customizediops", False)), "min_iops": miniops, "max_iops": maxiops,
        "storage_type": choice(call, "storagetype", STORAGE_TYPES, "shared"),
        "provisioning_type": choice(call, "provisioningtype", PROVISIONING, "thin"),
        "tags": call.get("tags") or None, "cache_mode": choice(call, "cachemode", CACHE_MODES, "none"),
        "encrypt": bool(call.get("encrypt", False)), "display": bool(call.get("displayoffering", True)),
        "state": "Active",
    }
    details: dict[str, str | None] = {**details_map(call.get("details")), "domainid": ids_text(domains),
                                      "zoneid": ids_text(zones)}
    uuid = new_uuid()
    await call.service.run(call, JobTarget(do_ref(uuid), "create", {"values": values, "details": details}))
    await call.service.event(c, "DISK.OFFERING.CREATE", f"Created disk offering {values['name']}",
                             resource_type="DiskOffering", resource_uuid=uuid)
    return await answer(call, DISK, uuid)


@command("updateDiskOffering", object_name="diskoffering", roles=ADMINS, entity_type="DiskOffering")
async def update_disk_offering(call: Call) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if call.get("displayoffering") is not None:
        extra["display"] = bool(call.get("displayoffering"))
    if call.get("tags") is not None:
        if call.caller.role_type == "DomainAdmin":
            raise ParamError(f"Unable to update storage tags of disk offering {call.get('id')} by admin: "
                             f"{call.caller.user_uuid} because it is domain-admin")
        extra["tags"] = call.get("tags") or None
    if call.get("cachemode") is not None:
        extra["cache_mode"] = choice(call, "cachemode", CACHE_MODES, "none")
    return await _update(call, DISK, extra)


@command("deleteDiskOffering", roles=ADMINS, entity_type="DiskOffering")
async def delete_disk_offering(call: Call) -> Success:
    return await _delete(call, DISK)


@command("listDiskOfferings", object_name="diskoffering", roles=ALL)
async def list_disk_offerings(call: Call) -> ListResult:
    where: list[Any] = []
    if call.get("volumeid") and call.get("storageid"):
        raise ParamError("Both volume ID and storage pool ID are not allowed at the same time")
    async with call.service.engine.connect() as conn:
        if call.get("volumeid"):
            vol = (await conn.execute(select(VOL.c.disk_offering_id).where(
                VOL.c.uuid == call.get("volumeid"), VOL.c.removed.is_(None)))).first()
            if vol is None:
                raise ParamError(f"Unable to find a volume with specified id {call.get('volumeid')}")
            if vol.disk_offering_id is not None:
                where.append(DO.c.id != vol.disk_offering_id)
        if call.get("storageid"):
            if (await conn.execute(select(POOL.c.id).where(POOL.c.uuid == call.get("storageid")))).first() is None:
                raise ParamError(f"Unable to find a storage pool with specified id {call.get('storageid')}")
    if call.get("encrypt") is not None:
        where.append(DO.c.encrypt.is_(bool(call.get("encrypt"))))
    if call.get("domainid") and not call.caller.is_root_admin:
        where.append(DO.c.display.is_(True))
    return await listed(call, DISK, where)
