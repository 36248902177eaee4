"""Templates: register, list, update, delete, copy, create from a volume or a
snapshot, permissions and extraction. ISOs are templates whose format is ISO;
their commands (isos.py) run the same code with `ISO` for `TEMPLATE`.

Who sees what (listTemplates' `templatefilter`, listIsos' `isofilter`) is
CloudStack's QueryManagerImpl.searchForTemplatesInternal, in short:
- featured: public and featured; community: public and not featured;
- self: owned by the permitted accounts; selfexecutable: the same, ready;
- sharedexecutable: shared with them through launch permissions;
- executable: public or theirs; all: everything (root admin), or public and
  the caller's domain subtree (other admins), never for users.
Featured, selfexecutable, sharedexecutable and community list ready copies
only (executable too when an admin names an account). The permitted accounts
are the caller's, unless `listall` (or `all`) lets admins see every account, or
`account`+`domainid` name one (CloudStack's buildACLSearchParameters).

Using a template: public ones are everyone's; a private one is its owner's,
a root admin's and its launch-permitted accounts'. Changing or deleting one:
its owner's and a root admin's. (CloudStack also lets launch-permitted
accounts change a private template; we do not.)
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import and_, exists, false, or_, select

from cloudplane.actors.kinds.templates import (
    DOWNLOAD_SECONDS,
    LAUNCH,
    Download,
    clamp_seconds,
    template_ref,
)
from cloudplane.api import scope
from cloudplane.api.commands.base import ALL, command, page
from cloudplane.api.commands.identity import Ev, accept_logged, check_not_blank, require_domain, success_view
from cloudplane.api.commands.offerings import details_map
from cloudplane.api.context import Accepted, Call, Caller, JobTarget, ListResult, Success
from cloudplane.api.registry import ParamSpec, spec_from_listapis
from cloudplane.api.service import ApiService
from cloudplane.api.views.tags import tag_filter
from cloudplane.api.views.templates import (
    Viewer,
    extract_view,
    iso_view,
    permissions_view,
    tag_view,
    template_view,
    update_view,
)
from cloudplane.errors import NotAllowed, ParamError
from cloudplane.store.base import new_uuid
from cloudplane.store.tables.compute import VmInstance
from cloudplane.store.tables.identity import Account, Domain, Role
from cloudplane.store.tables.images import ISO_FORMAT, OsType, Template, TemplateZone
from cloudplane.store.tables.infra import Zone
from cloudplane.store.tables.storage import ImageStore, Snapshot, StoragePool, Volume
from cloudplane.store.tables.tags import ResourceDetail, ResourceTag

T, TZ, Z, OS = Template.__table__, TemplateZone.__table__, Zone.__table__, OsType.__table__  # type: ignore[attr-defined]
A, D, R, IS = Account.__table__, Domain.__table__, Role.__table__, ImageStore.__table__  # type: ignore[attr-defined]
DET, TAG, VM = ResourceDetail.__table__, ResourceTag.__table__, VmInstance.__table__  # type: ignore[attr-defined]
VOL, SNAP, POOL = Volume.__table__, Snapshot.__table__, StoragePool.__table__  # type: ignore[attr-defined]
SRC, TA, TD = T.alias("src"), A.alias("tag_account"), D.alias("tag_domain")

HYPERVISORS = {h.lower(): h for h in ("KVM", "Simulator", "XenServer", "VMware", "Hyperv", "LXC", "Ovm3",
                                      "BareMetal")}
# Image formats and the file endings CloudStack accepts for each (UriUtils.checkFormat).
FORMATS = {"QCOW2": ("qcow2",), "RAW": ("raw", "img"), "VHD": ("vhd",), "VHDX": ("vhdx",), "OVA": ("ova",),
           "TAR": ("tar",), "VMDK": ("vmdk",), ISO_FORMAT: ("iso",)}
COMPRESSED = ("", ".zip", ".bz2", ".gz", ".xz")
FILTERS = ("featured", "self", "selfexecutable", "sharedexecutable", "executable", "community", "all")
EXTRACT_MODES = ("HTTP_DOWNLOAD", "FTP_UPLOAD")


@dataclass(frozen=True)
class Kind:
    """What differs between templates and ISOs, as data."""

    iso: bool
    noun: str  # in messages
    object_name: str  # the answer's object key
    resource_type: str  # tags, details, events
    job_type: str  # jobinstancetype


TEMPLATE = Kind(False, "template", "template", "Template", "Template")
ISO = Kind(True, "ISO", "iso", "ISO", "Iso")


# -- reading -----------------------------------------------------------------------------------------


def images_q(*, removed: bool = False) -> Any:
    """(template, zone) rows with everything the views show (labels: api/views/templates.py)."""
    on_tz = TZ.c.template_id == T.c.id if removed else and_(TZ.c.template_id == T.c.id, TZ.c.removed.is_(None))
    return (select(T, TZ.c.download_state.label("tz_state"), TZ.c.download_pct.label("tz_pct"),
                   TZ.c.error_text.label("tz_error"), TZ.c.size_bytes.label("tz_size"),
                   TZ.c.physical_size_bytes.label("tz_physical"), TZ.c.created.label("tz_created"),
                   TZ.c.zone_id.label("tz_zone"), Z.c.uuid.label("z_uuid"), Z.c.name.label("z_name"),
                   IS.c.name.label("store_name"), A.c.uuid.label("a_uuid"), A.c.name.label("a_name"),
                   D.c.uuid.label("d_uuid"), D.c.name.label("d_name"), D.c.path.label("d_path"),
                   OS.c.uuid.label("os_uuid"), OS.c.display_name.label("os_name"), SRC.c.uuid.label("src_uuid"))
            .select_from(T.join(A, T.c.account_id == A.c.id).join(D, A.c.domain_id == D.c.id)
                         .outerjoin(TZ, on_tz).outerjoin(Z, TZ.c.zone_id == Z.c.id)
                         .outerjoin(IS, TZ.c.image_store_id == IS.c.id).outerjoin(OS, T.c.os_type_id == OS.c.id)
                         .outerjoin(SRC, T.c.source_template_id == SRC.c.id)))


def viewer(c: Caller) -> Viewer:
    return Viewer(c.account_id, c.is_root_admin, c.role_type != "User")


async def extras(svc: ApiService, kind: Kind, ids: list[int]) -> tuple[dict[int, dict[str, str]],
                                                                    dict[int, list[dict[str, Any]]]]:
    """Shown details and tags of images, by template id."""
    det: dict[int, dict[str, str]] = {}
    tags: dict[int, list[dict[str, Any]]] = {}
    if not ids:
        return det, tags
    async with svc.engine.connect() as conn:
        for d in (await conn.execute(select(DET.c.resource_id, DET.c.name, DET.c.value).where(
                DET.c.resource_type == kind.resource_type, DET.c.resource_id.in_(ids),
                DET.c.display.is_(True)))).all():
            det.setdefault(d.resource_id, {})[d.name] = d.value or ""
        for t in (await conn.execute(
                select(TAG, TA.c.name.label("a_name"), TD.c.uuid.label("d_uuid"), TD.c.name.label("d_name"))
                .select_from(TAG.outerjoin(TA, TAG.c.account_id == TA.c.id).outerjoin(TD, TAG.c.domain_id == TD.c.id))
                .where(TAG.c.resource_type == kind.resource_type, TAG.c.resource_id.in_(ids)))).all():
            tags.setdefault(t.resource_id, []).append(tag_view(t, kind.resource_type))
    return det, tags


async def render(svc: ApiService, caller: Caller, kind: Kind, rows: list[Any], *,
                 details: bool = True) -> list[dict[str, Any]]:
    det, tags = await extras(svc, kind, list({r.id for r in rows}))
    v = viewer(caller)
    if kind.iso:
        return [iso_view(r, v, tags=tags.get(r.id, [])) for r in rows]
    return [template_view(r, v, details=det.get(r.id, {}) if details else None, tags=tags.get(r.id, []))
            for r in rows]


async def rows_of(svc: ApiService, uuid: str, zones: list[int] | None = None, *, removed: bool = False) -> list[Any]:
    q = images_q(removed=removed).where(T.c.uuid == uuid)
    if zones:
        q = q.where(TZ.c.zone_id.in_(zones))
    async with svc.engine.connect() as conn:
        return list((await conn.execute(q.order_by(TZ.c.zone_id))).all())


async def answer(svc: ApiService, caller: Caller, kind: Kind, uuid: str,
                 zones: list[int] | None = None) -> list[dict[str, Any]]:
    return await render(svc, caller, kind, await rows_of(svc, uuid, zones, removed=True))


def job_view(kind: Kind, *, extracted: bool = False) -> Any:
    """queryAsyncJobResult's `jobresult`: the image in the (first) zone it went to (copy, create),
    or the URL it can be fetched from (extract)."""
    async def view(svc: ApiService, caller: Caller, result: dict[str, Any]) -> dict[str, Any]:
        if extracted:
            rows = await rows_of(svc, result["id"], [result["zone_id"]], removed=True)
            return {kind.object_name: extract_view(rows[0], url=result["url"], mode=result["mode"])} if rows else {}
        items = await answer(svc, caller, kind, result["id"], result.get("zones", [])[:1] or None)
        return {kind.object_name: items[0]} if items else {"success": True}

    return view


# -- finding things and access ------------------------------------------------------------------------------


async def find_image(call: Call, kind: Kind, uuid: str, *, what: str | None = None) -> Any:
    """The live template (or ISO) `uuid` (one row, zone columns of any copy); 431 when absent or
    of the other kind."""
    async with call.service.engine.connect() as conn:
        row = (await conn.execute(images_q().where(T.c.uuid == uuid, T.c.removed.is_(None)).limit(1))).first()
    if row is None:
        raise ParamError(f"Unable to find {what or kind.noun} with id {uuid}")
    if (row.format == ISO_FORMAT) != kind.iso:
        raise ParamError(f"Please specify a valid {'iso' if kind.iso else 'template'}.")
    return row


async def launch_permitted(svc: ApiService, template_id: int, account_id: int) -> bool:
    async with svc.engine.connect() as conn:
        return (await conn.execute(select(DET.c.id).where(
            DET.c.resource_type == LAUNCH, DET.c.resource_id == template_id,
            DET.c.name == str(account_id)))).first() is not None


async def require_use(call: Call, t: Any) -> None:
    c = call.caller
    if t.is_public or c.is_root_admin or t.account_id == c.account_id:
        return
    if not await launch_permitted(call.service, t.id, c.account_id):
        raise NotAllowed(f"Account {c.account_name} does not have permission to launch instances from "
                         f"{t.uuid}")


def require_operate(c: Caller, t: Any) -> None:
    if c.is_root_admin or t.account_id == c.account_id:
        return
    if t.is_public:
        raise NotAllowed("Domain Admin and regular users can modify only their own Public templates")
    raise NotAllowed(f"Account {c.account_name} does not have permission to operate on {t.uuid}")


async def zones_of(call: Call, uuids: list[str], *, param: str = "zoneid", usable: bool = True) -> list[Any]:
    """Zones by uuid (431 for an unknown one); `usable`: a disabled zone is for root admins only."""
    async with call.service.engine.connect() as conn:
        found = {z.uuid: z for z in (await conn.execute(select(Z).where(Z.c.uuid.in_(uuids),
                                                                        Z.c.removed.is_(None)))).all()}
    for u in uuids:
        if u not in found:
            raise ParamError(f"Please specify a valid zone: unable to find zone {u} (parameter {param})")
        if usable and found[u].allocation_state == "Disabled" and not call.caller.is_root_admin:
            raise NotAllowed(f"Cannot perform this operation, Zone {u} is currently disabled")
    return [found[u] for u in dict.fromkeys(uuids)]


async def os_type(call: Call, uuid: str | None) -> int | None:
    if uuid is None:
        return None
    async with call.service.engine.connect() as conn:
        found = (await conn.execute(select(OS.c.id).where(OS.c.uuid == uuid, OS.c.removed.is_(None)))).scalar()
    if found is None:
        raise ParamError(f"Please specify a valid guest OS ID: unable to find OS type {uuid}")
    return int(found)


async def owner_role(call: Call, account_id: int) -> str:
    async with call.service.engine.connect() as conn:
        r = (await conn.execute(select(A.c.account_type, R.c.role_type).select_from(
            A.outerjoin(R, A.c.role_id == R.c.id)).where(A.c.id == account_id))).one()
    return str(r.role_type or {1: "Admin", 2: "DomainAdmin", 3: "ResourceAdmin"}.get(r.account_type, "User"))


async def may_publish(call: Call, account_id: int, owner_is_admin: bool) -> bool:
    """CloudStack's allow.public.user.templates, read for the template's owner."""
    if owner_is_admin:
        return True
    async with call.service.engine.connect() as conn:
        domain_id = (await conn.execute(select(A.c.domain_id).where(A.c.id == account_id))).scalar_one()
    value = await call.service.config("allow.public.user.templates",
                                      [("account", account_id), ("domain", int(domain_id))])
    return value.lower() == "true"


def image_format(value: Any, kind: Kind) -> str:
    """A format of this kind (a template never turns into an ISO, nor an ISO into a template)."""
    fmt = str(value).upper()
    if fmt not in FORMATS or (fmt == ISO_FORMAT) != kind.iso:
        allowed = ", ".join(f for f in FORMATS if (f == ISO_FORMAT) == kind.iso)
        raise ParamError(f"Image format: {value} is incorrect. Supported formats are {allowed}")
    return fmt


def check_url(url: str, fmt: str) -> None:
    """CloudStack's UriUtils.validateUrl, without the DNS lookup: a template URL is only data."""
    if "file://" in url.lower():
        raise ParamError("File:// type urls are currently unsupported")
    try:
        u = urlsplit(url)
        port = u.port
    except ValueError:
        raise ParamError(f"Invalid URL: {url}") from None
    if u.scheme.lower() not in ("http", "https"):
        raise ParamError(f"Unsupported scheme for url: {url}")
    if not u.hostname:
        raise ParamError(f"Invalid URL: {url}")
    if port not in (None, 80, 8080, 443):
        raise ParamError("Only ports 80, 8080 and 443 are allowed")
    try:
        ip = ipaddress.ip_address(u.hostname)
        illegal = ip.is_unspecified or ip.is_loopback or ip.is_link_local or ip.is_multicast
    except ValueError:
        illegal = u.hostname.lower() == "localhost"
    if illegal:
        raise ParamError("Illegal host specified in url")
    path = u.path.lower()
    if not any(path.endswith(f".{e}{c}") for e in FORMATS[fmt] for c in COMPRESSED):
        raise ParamError(f"Please specify a valid URL. URL:{url} is an invalid for the format {fmt.lower()}")


async def download_seconds(call: Call) -> float:
    return clamp_seconds(float(await call.service.config(DOWNLOAD_SECONDS) or 0))  # a checked Float


def event(kind: Kind, verb: str, description: str, uuid: str) -> Ev:
    return Ev(f"{kind.resource_type.upper()}.{verb}", description, kind.resource_type, uuid)


# -- register ----------------------------------------------------------------------------------------------


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII | re.IGNORECASE)


def all_zones_allowed(command_name: str, param: str) -> tuple[ParamSpec, ...]:
    """The command's parameters, with the uuid list `param` read as strings: CloudStack takes
    `-1` (all zones) in any uuid parameter, so the handler checks the uuids itself. (What
    listApis says of the parameter is unchanged.)"""
    return tuple(dataclasses.replace(p, collection_type=None) if p.name == param else p
                 for p in spec_from_listapis(command_name).params)


def _zone_params(call: Call) -> list[str] | None:
    """The zones named by zoneid/zoneids; None for all zones (-1)."""
    one, many = call.get("zoneid"), call.get("zoneids")
    if one is not None and many:
        raise ParamError("Both zoneid and zoneids cannot be specified at the same time")
    if one is None and not many:
        raise ParamError("Either zoneid or zoneids is required. Could not find any zone id in the request")
    ids = [one] if one is not None else [str(z).lower() for z in many]
    if "-1" in ids:
        return None
    for z in ids:
        if not _UUID.fullmatch(z):
            raise ParamError(f"Unable to execute API command {call.spec.error_name} due to invalid value. Invalid "
                             f"parameter zoneids value={z} due to incorrect long value format, or entity does not "
                             "exist or due to incorrect parameter annotation for the field in api cmd class.")
    return ids


async def register(call: Call, kind: Kind) -> ListResult:
    c = call.caller
    check_not_blank(call, "name", "displaytext", "url")
    fmt = ISO_FORMAT if kind.iso else image_format(call.get("format"), kind)
    hypervisor = None
    if not kind.iso:
        hypervisor = HYPERVISORS.get(str(call.get("hypervisor")).lower())
        if hypervisor is None:
            raise ParamError(f"Hypervisor Type: {call.get('hypervisor')} is invalid. Supported Hypervisor types are "
                             f"{', '.join(HYPERVISORS.values())}")
    check_url(call.get("url"), fmt)
    account_id, _ = await scope.target_account(call)
    owner_type = await owner_role(call, account_id)
    named = _zone_params(call)
    cross_zones = named is None
    if cross_zones and owner_type != "Admin":
        raise ParamError("Template registered for 'All zones' can only be owned a Root Admin account. "
                         "Please select specific zone(s).")
    if named is None:  # every zone that is not disabled (CloudStack skips those)
        async with call.service.engine.connect() as conn:
            named = list((await conn.execute(select(Z.c.uuid).where(
                Z.c.removed.is_(None), Z.c.allocation_state != "Disabled").order_by(Z.c.id))).scalars())
    zones = await zones_of(call, named)
    if not zones:
        raise ParamError("Please specify a valid zone: there is no zone to register in")
    public = bool(call.get("ispublic", False))
    if public and not await may_publish(call, account_id, owner_type != "User"):
        raise ParamError("Only private templates/ISO can be created.")
    os_id = await os_type(call, call.get("ostypeid"))
    bootable = bool(call.get("bootable", True)) if kind.iso else True
    if kind.iso and bootable and os_id is None:
        raise ParamError("Please pass a valid GuestOS Id")
    if kind.iso and not bootable:
        async with call.service.engine.connect() as conn:
            os_id = (await conn.execute(select(OS.c.id).where(OS.c.display_name == "None").limit(1))).scalar()
    if call.get("isrouting") and not c.is_root_admin:
        raise NotAllowed("Parameter isrouting can only be specified by a Root Admin, permission denied")
    async with call.service.engine.connect() as conn:
        reserved = (await conn.execute(select(T.c.id).where(
            T.c.template_type == "SYSTEM", T.c.removed.is_(None),
            or_(T.c.name == call.get("name"), T.c.display_text == call.get("displaytext"))).limit(1))).first()
    if reserved is not None:
        raise ParamError("Cannot use reserved names for templates")
    values = {
        "name": call.get("name"), "display_text": call.get("displaytext"), "format": fmt,
        "template_type": "ROUTING" if call.get("isrouting") else "USER", "state": "Active",
        "hypervisor_type": hypervisor, "account_id": account_id, "os_type_id": os_id, "url": call.get("url"),
        "checksum": call.get("checksum"), "bits": call.get("bits") or 64, "is_public": public,
        # CloudStack quietly drops `isfeatured` for templates not owned by a root admin.
        "is_featured": bool(call.get("isfeatured", False)) and owner_type == "Admin",
        "is_extractable": bool(call.get("isextractable", False)), "bootable": bootable,
        "requires_hvm": bool(call.get("requireshvm", True)), "password_enabled": bool(call.get("passwordenabled", False)),
        "ssh_key_enabled": bool(call.get("sshkeyenabled", False)),
        "dynamically_scalable": bool(call.get("isdynamicallyscalable", False)), "cross_zones": cross_zones,
        "direct_download": bool(call.get("directdownload", False)),
        "deploy_as_is": bool(call.get("deployasis", False)) and hypervisor == "VMware",
        "template_tag": call.get("templatetag"),
    }
    uuid = new_uuid()
    await call.service.run(call, JobTarget(template_ref(uuid), "create", {
        "values": values, "zones": [z.id for z in zones], "details": details_map(call.get("details")),
        "seconds": await download_seconds(call)}, kind.job_type))
    await call.service.event(c, f"{kind.resource_type.upper()}.CREATE", f"Registered {kind.noun} {values['name']}",
                             resource_type=kind.resource_type, resource_uuid=uuid)
    items = await answer(call.service, c, kind, uuid)
    return ListResult(items, len(items))


# -- list -------------------------------------------------------------------------------------------------


async def permitted_accounts(call: Call, listall: bool) -> list[int]:
    """CloudStack's buildACLSearchParameters for images: whose images `self` and friends mean."""
    c = call.caller
    dom = await scope.domain_by_uuid(call, call.get("domainid")) if call.get("domainid") else None
    if dom is not None:
        require_domain(c, dom.path, dom.uuid)
    if call.get("account"):
        acct = await scope.account_in(call, call.get("account"), dom.id if dom is not None else c.domain_id)
        async with call.service.engine.connect() as conn:
            path = (await conn.execute(select(D.c.path).where(D.c.id == acct.domain_id))).scalar_one()
        if (c.role_type == "User" and acct.id != c.account_id) or not path.startswith(c.domain_path):
            raise NotAllowed(f"Account {c.account_name} does not have permission to operate on account {acct.uuid}")
        return [int(acct.id)]
    if c.role_type == "User":
        return [c.account_id]
    if dom is None and not listall and call.get("id") is None:
        return [c.account_id]
    return []


def _shared_with(accounts: list[int]) -> Any:
    if not accounts:
        return false()
    return exists(select(DET.c.id).where(DET.c.resource_type == LAUNCH, DET.c.resource_id == T.c.id,
                                         DET.c.name.in_([str(a) for a in accounts])))


async def _check_listed_id(call: Call, kind: Kind, uuid: str) -> None:
    """`id`: the image must exist, be of this kind and be visible to the caller."""
    async with call.service.engine.connect() as conn:
        t = (await conn.execute(images_q(removed=True).where(T.c.uuid == uuid).limit(1))).first()
    if t is None:
        raise ParamError(f"Please specify a valid {kind.noun} ID.")
    if kind.iso and t.format != ISO_FORMAT:
        raise ParamError("Specified Template Id is not an ISO")
    if not kind.iso and t.format == ISO_FORMAT:
        raise ParamError(f"Incorrect format {t.format} of the specified template id")
    c = call.caller
    if not t.is_public and c.role_type in ("DomainAdmin", "ResourceAdmin"):
        require_domain(c, t.d_path, t.d_uuid)
    elif not t.is_public and c.role_type == "User":
        await require_use(call, t)


async def search(call: Call, kind: Kind, flt: str) -> ListResult:
    c = call.caller
    flt = str(flt).lower()
    if flt not in FILTERS:
        raise ParamError(f"Invalid {'isofilter' if kind.iso else 'templatefilter'} {flt}: use one of "
                         f"{', '.join(FILTERS)}")
    if flt == "all" and c.role_type == "User":
        raise ParamError("Filter all can be specified by admin only")
    permitted = await permitted_accounts(call, flt == "all" or bool(call.get("listall")))
    show_removed = bool(call.get("showremoved", False))
    where: list[Any] = [T.c.format == ISO_FORMAT if kind.iso else T.c.format != ISO_FORMAT]
    if call.get("id"):
        await _check_listed_id(call, kind, call.get("id"))
        where.append(T.c.uuid == call.get("id"))
    else:
        if call.get("ids"):
            where.append(T.c.uuid.in_(call.get("ids")))
        if flt in ("self", "selfexecutable") and c.role_type in ("DomainAdmin", "ResourceAdmin"):
            # CloudStack takes ROOT when no account is named (listall): every domain. We keep
            # a domain admin to its own subtree.
            async with call.service.engine.connect() as conn:
                base = (await conn.execute(select(D.c.path).join(A, A.c.domain_id == D.c.id).where(
                    A.c.id == permitted[0]))).scalar_one() if permitted else c.domain_path
            where.append(D.c.path.startswith(base))
        if flt in ("featured", "community"):
            where += [T.c.is_public.is_(True), T.c.is_featured.is_(flt == "featured")]
        elif flt in ("self", "selfexecutable") and permitted:
            where.append(T.c.account_id.in_(permitted))
        elif flt == "sharedexecutable":
            where.append(_shared_with(permitted))
        elif flt == "executable":
            where.append(or_(T.c.is_public.is_(True), T.c.account_id.in_(permitted)) if permitted
                         else T.c.is_public.is_(True))
        elif flt == "all" and not c.is_root_admin:
            where.append(or_(T.c.is_public.is_(True), D.c.path.startswith(c.domain_path)))
    # CloudStack's templateChecks, with or without `id`.
    if call.get("keyword"):
        where.append(T.c.name.contains(call.get("keyword"), autoescape=True))
    elif call.get("name"):
        where.append(T.c.name == call.get("name"))
    where.extend(tag_filter(call, kind.resource_type, T.c.id))
    if str(call.get("hypervisor") or "").lower() in HYPERVISORS:  # an unknown one filters nothing, as CloudStack
        where.append(T.c.hypervisor_type == HYPERVISORS[str(call.get("hypervisor")).lower()])
    if kind.iso and call.get("bootable") is not None:
        where.append(T.c.bootable.is_(bool(call.get("bootable"))))
    account_specific = c.role_type != "User" and bool(call.get("account")) and bool(call.get("domainid"))
    only_ready = flt in ("featured", "selfexecutable", "sharedexecutable", "community") or (
        flt == "executable" and account_specific)
    if kind.iso and not only_ready and call.get("isready") is not None:
        only_ready = bool(call.get("isready"))
    if only_ready:
        where.append(TZ.c.download_state == Download.DOWNLOADED)
    if not kind.iso and flt in ("selfexecutable", "featured"):
        where.append(T.c.template_type != "SYSTEM")
    if call.get("zoneid"):
        zone = (await zones_of(call, [call.get("zoneid")], usable=False))[0]
        where.append(TZ.c.zone_id == zone.id)
    if not show_removed:
        where += [T.c.removed.is_(None), T.c.state == "Active"]
    details = "min" not in [str(d).lower() for d in (call.get("details") or [])]
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, images_q(removed=show_removed).where(*where).order_by(T.c.id),
                                 TZ.c.zone_id)
    return ListResult(await render(call.service, c, kind, rows, details=details), total)


# -- update and permissions ----------------------------------------------------------------------------


async def update(call: Call, kind: Kind) -> dict[str, Any]:
    c = call.caller
    t = await find_image(call, kind, call.get("id"), what="template/iso")
    require_operate(c, t)
    check_not_blank(call, "name", "displaytext")
    changes: dict[str, Any] = {}
    for param, col in (("name", "name"), ("displaytext", "display_text"), ("passwordenabled", "password_enabled"),
                       ("sshkeyenabled", "ssh_key_enabled"), ("requireshvm", "requires_hvm"),
                       ("isdynamicallyscalable", "dynamically_scalable"), ("bootable", "bootable")):
        if call.get(param) is not None:
            changes[col] = call.get(param)
    if call.get("format") is not None:
        changes["format"] = image_format(call.get("format"), kind)
    if call.get("ostypeid") is not None:
        changes["os_type_id"] = await os_type(call, call.get("ostypeid"))
    for param in ("isrouting", "templatetype"):
        if call.get(param) is not None and not c.is_root_admin:
            raise NotAllowed(f"Parameter {param} can only be specified by a Root Admin, permission denied")
    if call.get("isrouting") is not None:
        changes["template_type"] = "ROUTING" if call.get("isrouting") else "USER"
    if call.get("templatetype") is not None:
        ttype = str(call.get("templatetype")).upper()
        if ttype not in ("USER", "BUILTIN", "SYSTEM", "ROUTING", "PERHOST"):
            raise ParamError(f"Invalid template type {call.get('templatetype')}")
        changes["template_type"] = ttype
    details = details_map(call.get("details"))
    cleanup = bool(call.get("cleanupdetails", False))
    if changes or details or cleanup:
        await call.service.run(call, JobTarget(template_ref(t.uuid), "update", {
            "changes": changes, "details": details or None, "cleanup_details": cleanup}, kind.job_type))
        await call.service.event(c, f"{kind.resource_type.upper()}.UPDATE", f"Updated {kind.noun} {t.uuid}",
                                 resource_type=kind.resource_type, resource_uuid=t.uuid)
    rows = await rows_of(call.service, t.uuid)
    det, tags = await extras(call.service, kind, [t.id])
    return update_view(rows[0], details=det.get(t.id), tags=tags.get(t.id, []))


async def update_permissions(call: Call, kind: Kind) -> Success:
    c = call.caller
    noun = kind.object_name
    async with call.service.engine.connect() as conn:
        t = (await conn.execute(images_q(removed=True).where(T.c.uuid == call.get("id")).limit(1))).first()
    if t is None:
        raise ParamError(f"unable to find {noun} with id {call.get('id')}")
    if (t.format == ISO_FORMAT) != kind.iso:
        raise ParamError(f"Please provide a valid {noun}")
    if call.get("projectids"):
        raise ParamError(f"Unable to find project by id {call.get('projectids')[0]}")
    if not t.is_public and not c.is_root_admin and t.account_id != c.account_id:
        await require_use(call, t)
    elif t.is_public:
        require_operate(c, t)
    if t.removed is not None:
        raise ParamError(f"unable to update permissions for {noun} with id {t.uuid} as it is removed")
    admin = c.role_type != "User"
    public, featured, extractable = call.get("ispublic"), call.get("isfeatured"), call.get("isextractable")
    owner_admin = await owner_role(call, t.account_id) != "User"
    if public and not admin and not await may_publish(call, t.account_id, owner_admin):
        raise ParamError(f"Only private {noun}s can be created.")
    accounts, op = call.get("accounts"), (call.get("op") or "").lower()
    if accounts is not None and op not in ("add", "remove", "reset"):
        raise ParamError("Invalid operation on accounts, the operation must be either 'add' or 'remove' in order to "
                         f"modify launch permissions.  Given operation is: '{call.get('op')}'")
    if t.account_id != c.account_id and not admin:
        raise ParamError(f"Unable to grant permission to account {c.account_name} as it is neither admin nor owner "
                         "or the template")
    if op in ("add", "remove") and accounts is None:
        raise ParamError(f"Operation {op} requires accounts or projectIds to be passed in")
    changes = {col: bool(v) for col, v in (("is_public", public), ("is_featured", featured),
                                            ("is_extractable", extractable)) if v is not None}
    add: list[int] = []
    remove: list[int] = []
    async with call.service.engine.connect() as conn:
        owner_domain = (await conn.execute(select(A.c.domain_id).where(A.c.id == t.account_id))).scalar_one()
        for name in accounts or []:
            acct = (await conn.execute(select(A.c.id).where(A.c.name == name, A.c.domain_id == owner_domain,
                                                            A.c.removed.is_(None)))).scalar()
            if op == "add" and acct is None:
                raise ParamError(f"Unable to grant a launch permission to account {name} in domain id={t.d_uuid}, "
                                 "account not found.  No permissions updated, please verify the account names and "
                                 "retry.")
            if acct is not None and not (op == "add" and acct == c.account_id):  # owners need no permission
                (add if op == "add" else remove).append(int(acct))
    await call.service.run(call, JobTarget(template_ref(t.uuid), "permissions", {
        "changes": changes, "add": add, "remove": remove, "reset": op == "reset"}, kind.job_type))
    await call.service.event(c, f"{kind.resource_type.upper()}.UPDATE", f"Updated permissions of {kind.noun} "
                             f"{t.uuid}", resource_type=kind.resource_type, resource_uuid=t.uuid)
    return Success()


async def list_permissions(call: Call, kind: Kind) -> dict[str, Any]:
    noun = kind.object_name
    async with call.service.engine.connect() as conn:
        t = (await conn.execute(images_q().where(T.c.uuid == call.get("id"), T.c.removed.is_(None))
                                .limit(1))).first()
    if t is None:
        raise ParamError(f"unable to find {noun} with id {call.get('id')}")
    if (t.format == ISO_FORMAT) != kind.iso:
        raise ParamError(f"Please provide a valid {noun}")
    if not t.is_public:
        await require_use(call, t)
    async with call.service.engine.connect() as conn:
        ids = [int(n) for n in (await conn.execute(select(DET.c.name).where(
            DET.c.resource_type == LAUNCH, DET.c.resource_id == t.id))).scalars()]
        names = list((await conn.execute(select(A.c.name).where(A.c.id.in_(ids)).order_by(A.c.id))).scalars()) \
            if ids else []
    if not t.is_public:
        names.append(t.a_name)
    out = permissions_view(t, names)
    if not call.caller.is_root_admin:
        out.pop("domainid")
    return out


# -- delete, copy, extract (async) --------------------------------------------------------------------------


async def delete(call: Call, kind: Kind) -> Accepted:
    c = call.caller
    t = await find_image(call, kind, call.get("id"))
    require_operate(c, t)
    zone = (await zones_of(call, [call.get("zoneid")]))[0] if call.get("zoneid") else None
    async with call.service.engine.connect() as conn:
        if zone is not None and (await conn.execute(select(TZ.c.id).where(
                TZ.c.template_id == t.id, TZ.c.zone_id == zone.id, TZ.c.removed.is_(None)))).first() is None:
            raise ParamError(f"The {kind.noun} {t.uuid} is not in zone {zone.uuid}")
        col = VM.c.iso_id if kind.iso else VM.c.template_id
        q = select(VM.c.uuid).where(col == t.id, VM.c.removed.is_(None), VM.c.state != "Expunging")
        if zone is not None:
            q = q.where(VM.c.zone_id == zone.id)
        users = list((await conn.execute(q.limit(20))).scalars())
    if users and kind.iso:
        raise ParamError("Unable to delete iso, as it's used by other vms")
    if users and not call.get("forced"):
        raise ParamError(f"Unable to delete template with id: {t.uuid} because VM instances: [{', '.join(users)}] "
                         "are using it.")
    target = JobTarget(template_ref(t.uuid), "delete", {"zone_id": zone.id if zone else None}, kind.job_type)
    return await accept_logged(call, target, event(kind, "DELETE", f"Deleting {kind.noun} {t.uuid}", t.uuid))


async def copy(call: Call, kind: Kind) -> Accepted:
    c = call.caller
    one, many = call.get("destzoneid"), call.get("destzoneids")
    if one is not None and many:
        raise ParamError("Both destzoneid and destzoneids cannot be specified at the same time")
    if one is None and not many:
        raise ParamError("Either destzoneid or destzoneids parameters have to be specified.")
    dest = [one] if one is not None else list(many)
    if call.get("sourcezoneid") is not None and call.get("sourcezoneid") in dest:
        raise ParamError("Please specify different source and destination zones.")
    t = await find_image(call, kind, call.get("id"))
    require_operate(c, t)
    zones = await zones_of(call, dest, param="destzoneid")
    q = select(TZ.c.id).where(TZ.c.template_id == t.id, TZ.c.removed.is_(None),
                              TZ.c.download_state == Download.DOWNLOADED)
    if call.get("sourcezoneid") is not None:
        src = (await zones_of(call, [call.get("sourcezoneid")], param="sourcezoneid"))[0]
        q = q.where(TZ.c.zone_id == src.id)
    async with call.service.engine.connect() as conn:
        if (await conn.execute(q.limit(1))).first() is None:
            raise ParamError(f"There is no {kind.noun} {t.uuid} ready on image store"
                             + (f" in zone {call.get('sourcezoneid')}" if call.get("sourcezoneid") else "") + ".")
    target = JobTarget(template_ref(t.uuid), "copy", {"zones": [z.id for z in zones],
                                                      "seconds": await download_seconds(call)}, kind.job_type)
    return await accept_logged(call, target, event(kind, "COPY", f"Copying {kind.noun} {t.uuid} to zone(s) "
                                                   f"{', '.join(z.uuid for z in zones)}", t.uuid))


async def extract(call: Call, kind: Kind) -> Accepted:
    c = call.caller
    mode = str(call.get("mode")).upper()
    if mode not in EXTRACT_MODES:
        raise ParamError(f"Please specify a valid extract Mode. Supported modes: {', '.join(EXTRACT_MODES)}")
    if not c.is_root_admin and (await call.service.config("disable.extraction")).lower() == "true":
        raise NotAllowed("Extraction has been disabled by admin")
    t = await find_image(call, kind, call.get("id"))
    if t.template_type in ("SYSTEM", "PERHOST"):
        raise ParamError(f"Unable to extract the {kind.noun} {t.name} as it is a default System template")
    zone = (await zones_of(call, [call.get("zoneid")]))[0] if call.get("zoneid") else None
    if not c.is_root_admin and not t.is_extractable:
        raise ParamError(f"Unable to extract {kind.noun} id={t.uuid} as it's not extractable")
    require_operate(c, t)
    q = select(TZ.c.zone_id).where(TZ.c.template_id == t.id, TZ.c.removed.is_(None),
                                   TZ.c.download_state == Download.DOWNLOADED)
    if zone is not None:
        q = q.where(TZ.c.zone_id == zone.id)
    async with call.service.engine.connect() as conn:
        ready = (await conn.execute(q.order_by(TZ.c.zone_id).limit(1))).scalar()
    if ready is None:
        raise ParamError(f"The {kind.noun} has not been downloaded ")
    settings = call.service.node.settings
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    url = f"http://{host}:{settings.port}/userdata/{new_uuid()}.{t.format.lower()}"
    result = {"id": t.uuid, "zone_id": int(ready), "url": url, "mode": mode}
    target = JobTarget(template_ref(t.uuid), "extract", result, kind.job_type)
    return await accept_logged(call, target, event(kind, "EXTRACT", f"Extracting {kind.noun} {t.uuid}", t.uuid))


# -- template commands ------------------------------------------------------------------------------------


@command("registerTemplate", object_name="template", roles=ALL, entity_type="Template",
         params=all_zones_allowed("registerTemplate", "zoneids"))
async def register_template(call: Call) -> ListResult:
    return await register(call, TEMPLATE)


@command("listTemplates", object_name="template", roles=ALL)
async def list_templates(call: Call) -> ListResult:
    return await search(call, TEMPLATE, call.get("templatefilter"))


@command("updateTemplate", object_name="template", roles=ALL, entity_type="Template")
async def update_template(call: Call) -> dict[str, Any]:
    return await update(call, TEMPLATE)


@command("deleteTemplate", roles=ALL, entity_type="Template", job_view=success_view)
async def delete_template(call: Call) -> Accepted:
    return await delete(call, TEMPLATE)


@command("copyTemplate", object_name="template", roles=ALL, entity_type="Template", job_view=job_view(TEMPLATE))
async def copy_template(call: Call) -> Accepted:
    return await copy(call, TEMPLATE)


@command("updateTemplatePermissions", roles=ALL, entity_type="Template")
async def update_template_permissions(call: Call) -> Success:
    return await update_permissions(call, TEMPLATE)


@command("listTemplatePermissions", object_name="templatepermission", roles=ALL)
async def list_template_permissions(call: Call) -> dict[str, Any]:
    return await list_permissions(call, TEMPLATE)


@command("extractTemplate", object_name="template", roles=ALL, entity_type="Template",
         job_view=job_view(TEMPLATE, extracted=True))
async def extract_template(call: Call) -> Accepted:
    return await extract(call, TEMPLATE)


async def _template_source(call: Call) -> dict[str, Any]:
    """createTemplate's volume or snapshot: its zone, size, hypervisor, format and source template."""
    c = call.caller
    vol_id, snap_id = call.get("volumeid"), call.get("snapshotid")
    if vol_id and snap_id:
        raise ParamError("Failed to create private template record, please specify only one of volumeId and "
                         "snapshotId")
    if not vol_id and not snap_id:
        raise ParamError("Failed to create private template record, need to specify either volumeId or snapshotId")
    base = (select(VOL, VM.c.state.label("vm_state"), VM.c.uuid.label("vm_uuid"),
                   VM.c.hypervisor_type.label("vm_hv"), POOL.c.hypervisor.label("pool_hv"), D.c.path.label("d_path"))
            .select_from(VOL.outerjoin(VM, VOL.c.instance_id == VM.c.id).outerjoin(POOL, VOL.c.pool_id == POOL.c.id)
                         .join(D, VOL.c.domain_id == D.c.id)))
    vol: Any = None
    snap: Any = None
    async with call.service.engine.connect() as conn:
        if snap_id:
            snap = (await conn.execute(select(SNAP, D.c.path.label("d_path")).join(D, SNAP.c.domain_id == D.c.id)
                                       .where(SNAP.c.uuid == snap_id, SNAP.c.removed.is_(None)))).first()
            if snap is None:
                raise ParamError(f"Failed to create private template record, unable to find snapshot {snap_id}")
            vol = (await conn.execute(base.where(VOL.c.id == snap.volume_id))).one()  # a snapshot keeps its volume
        else:
            vol = (await conn.execute(base.where(VOL.c.uuid == vol_id, VOL.c.removed.is_(None)))).first()
            if vol is None:
                raise ParamError(f"Failed to create private template record, unable to find volume {vol_id}")
    owner, path = (snap.account_id, snap.d_path) if snap is not None else (vol.account_id, vol.d_path)
    if not c.is_root_admin and ((c.role_type == "User" and owner != c.account_id)
                                or not path.startswith(c.domain_path)):
        raise NotAllowed(f"Account {c.account_name} does not have permission to use {snap_id or vol_id}")
    if snap is not None:
        if snap.state != "BackedUp":
            raise ParamError(f"Snapshot id={snap_id} is not in BackedUp state yet and can't be used for template "
                             "creation")
        hv = snap.hypervisor or vol.vm_hv or vol.pool_hv
        zone_id, size = snap.zone_id, snap.size_bytes
    else:
        if vol.state != "Ready":
            raise ParamError(f"Volume {vol_id} is not in Ready state (it is {vol.state}): a template can only be "
                             "made from a Ready volume")
        if vol.vm_state is not None and vol.vm_state != "Stopped":
            raise ParamError(f"Volume {vol_id} is attached to VM {vol.vm_uuid}, which is {vol.vm_state}: stop the "
                             "VM before creating a template from its volume")
        hv, zone_id, size = vol.vm_hv or vol.pool_hv, vol.zone_id, vol.size_bytes
    hv = hv or "Simulator"
    fmt = vol.format or ("QCOW2" if hv == "KVM" else "RAW")
    return {"zone_id": zone_id, "size": size or None, "hypervisor": hv, "format": fmt.upper(),
            "source": vol.template_id}


@command("createTemplate", object_name="template", roles=ALL, entity_type="Template", job_view=job_view(TEMPLATE))
async def create_template(call: Call) -> Accepted:
    c = call.caller
    check_not_blank(call, "name", "displaytext")
    os_id = await os_type(call, call.get("ostypeid"))
    src = await _template_source(call)
    admin = c.role_type != "User"
    public = bool(call.get("ispublic", False))
    if public and not await may_publish(call, c.account_id, admin):
        raise ParamError("Only private templates can be created.")
    values = {
        "name": call.get("name"), "display_text": call.get("displaytext"), "format": src["format"],
        "template_type": "USER", "state": "Active", "hypervisor_type": src["hypervisor"], "account_id": c.account_id,
        "os_type_id": os_id, "source_template_id": src["source"], "url": None, "bits": call.get("bits") or 64,
        "is_public": public, "is_featured": bool(call.get("isfeatured", False)) and admin,
        "is_extractable": False, "bootable": True, "requires_hvm": bool(call.get("requireshvm", True)),
        "password_enabled": bool(call.get("passwordenabled", False)),
        "ssh_key_enabled": bool(call.get("sshkeyenabled", False)),
        "dynamically_scalable": bool(call.get("isdynamicallyscalable", False)), "size_bytes": src["size"],
        "template_tag": call.get("templatetag"),
    }
    uuid = new_uuid()
    target = JobTarget(template_ref(uuid), "create", {
        "values": values, "zones": [src["zone_id"]], "details": details_map(call.get("details")), "ready": True,
        "size": src["size"]}, TEMPLATE.job_type)
    accepted = await accept_logged(call, target, event(TEMPLATE, "CREATE", f"Creating template {values['name']}",
                                                       uuid))
    return Accepted(accepted.jobid, uuid)
