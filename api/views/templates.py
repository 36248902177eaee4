"""Template and ISO rows → CloudStack's responses.

A row is one (template, zone) pair, as CloudStack's template_view has them,
from the joined query in api/commands/templates.py: the template's columns as
they are, its zone copy's as `tz_*` (None when the template is in no zone),
the zone's as `z_uuid`/`z_name`, the image store's name as `store_name`, the
owner's as `a_uuid`/`a_name` and `d_uuid`/`d_name`, the OS type's as
`os_uuid`/`os_name`, and the source template's uuid as `src_uuid`.

What a caller sees depends on who it is (`Viewer`): the download status and
the URL of a template only for root admins and its owner, of an ISO for any
admin and its owner (CloudStack's Full and Restricted views).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cloudplane.actors.kinds.templates import Download
from cloudplane.api.dates import format_date


@dataclass(frozen=True)
class Viewer:
    account_id: int
    root_admin: bool
    admin: bool  # any admin role


def _compact(out: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in out.items() if v is not None}


def _positive(n: int | None) -> int | None:
    return n if n else None


def template_status(r: Any) -> str | None:
    if r.tz_state == Download.DOWNLOADED:
        return "Download Complete"
    if r.tz_state == Download.IN_PROGRESS:
        return "Installing Template" if r.tz_pct == 100 else f"{r.tz_pct}% Downloaded"
    return str(r.tz_error or r.state)


def iso_status(r: Any) -> str | None:
    if r.tz_state == Download.DOWNLOADED:
        return "Successfully Installed"
    if r.tz_state == Download.IN_PROGRESS:
        return "Installing ISO" if r.tz_pct == 100 else f"{r.tz_pct}% Downloaded"
    return str(r.tz_error) if r.tz_error else None  # CloudStack shows the error text, or nothing


def _owner(r: Any) -> dict[str, Any]:
    return {"account": r.a_name, "accountid": r.a_uuid, "domain": r.d_name, "domainid": r.d_uuid}


def _zone(r: Any) -> dict[str, Any]:
    return {"zoneid": r.z_uuid, "zonename": r.z_name}


def _created(r: Any) -> str:
    return format_date(r.tz_created or r.created)


def download_details(r: Any) -> list[dict[str, str]]:
    if r.tz_state is None:
        return []
    entry = {"downloadPercent": str(r.tz_pct), "downloadState": r.tz_state}
    if r.store_name:
        entry["datastore"] = r.store_name
    return [entry]


def template_view(r: Any, v: Viewer, *, details: dict[str, str] | None, tags: list[dict[str, Any]]) -> dict[str, Any]:
    """listTemplates' shape (also registerTemplate's, copyTemplate's and createTemplate's)."""
    sees_status = v.root_admin or r.account_id == v.account_id
    out: dict[str, Any] = {
        "id": r.uuid, "name": r.name, "displaytext": r.display_text, "ispublic": bool(r.is_public),
        "created": _created(r), "isready": r.tz_state == Download.DOWNLOADED,
        "passwordenabled": bool(r.password_enabled), "format": r.format, "isfeatured": bool(r.is_featured),
        "crossZones": bool(r.cross_zones), "ostypeid": r.os_uuid, "ostypename": r.os_name, **_owner(r), **_zone(r),
        "status": template_status(r) if sees_status else None, "size": _positive(r.tz_size),
        "physicalsize": _positive(r.tz_physical), "templatetype": r.template_type, "hypervisor": r.hypervisor_type,
        "isextractable": bool(r.is_extractable) and r.template_type != "SYSTEM", "checksum": r.checksum or None,
        "sourcetemplateid": r.src_uuid, "templatetag": r.template_tag, "details": details,
        "downloaddetails": download_details(r), "bits": r.bits, "sshkeyenabled": bool(r.ssh_key_enabled),
        "isdynamicallyscalable": bool(r.dynamically_scalable), "directdownload": bool(r.direct_download),
        "deployasis": bool(r.deploy_as_is), "requireshvm": bool(r.requires_hvm),
        "url": r.url if sees_status else None, "tags": tags, "hasannotations": False,
        "removed": format_date(r.removed) if r.removed is not None else None,
    }
    return _compact(out)


def iso_view(r: Any, v: Viewer, *, tags: list[dict[str, Any]]) -> dict[str, Any]:
    """listIsos' shape (also registerIso's and copyIso's)."""
    sees_status = v.admin or r.account_id == v.account_id
    out: dict[str, Any] = {
        "id": r.uuid, "name": r.name, "displaytext": r.display_text, "ispublic": bool(r.is_public),
        "created": _created(r), "isready": r.tz_state == Download.DOWNLOADED,
        "passwordenabled": bool(r.password_enabled), "bootable": bool(r.bootable), "isfeatured": bool(r.is_featured),
        "crossZones": bool(r.cross_zones), "ostypeid": r.os_uuid, "ostypename": r.os_name, **_owner(r), **_zone(r),
        "status": iso_status(r) if sees_status else None, "size": _positive(r.tz_size),
        "isextractable": bool(r.is_extractable) and r.template_type != "PERHOST", "checksum": r.checksum or None,
        "bits": r.bits, "isdynamicallyscalable": bool(r.dynamically_scalable),
        "directdownload": bool(r.direct_download), "url": r.url if sees_status else None, "tags": tags,
        "hasannotations": False, "removed": format_date(r.removed) if r.removed is not None else None,
    }
    return _compact(out)


def update_view(r: Any, *, details: dict[str, str] | None, tags: list[dict[str, Any]]) -> dict[str, Any]:
    """updateTemplate's and updateIso's shorter answer (CloudStack's createTemplateUpdateResponse)."""
    out: dict[str, Any] = {
        "id": r.uuid, "name": r.name, "displaytext": r.display_text, "ispublic": bool(r.is_public),
        "created": format_date(r.created), "format": r.format, "ostypeid": r.os_uuid, "ostypename": r.os_name,
        "bootable": bool(r.bootable), "hypervisor": r.hypervisor_type,
        "isdynamicallyscalable": bool(r.dynamically_scalable), **_owner(r), "details": details or None,
        "tags": tags,
    }
    return _compact(out)


def extract_view(r: Any, *, url: str, mode: str) -> dict[str, Any]:
    """extractTemplate's and extractIso's job result: a URL the image can be fetched from."""
    return _compact({"id": r.uuid, "name": r.name, "accountid": r.a_uuid, "state": "DOWNLOAD_URL_CREATED",
                     "status": "DOWNLOAD_URL_CREATED", "uploadpercentage": 100, **_zone(r), "extractMode": mode,
                     "url": url, "created": format_date(r.tz_created or r.created)})


def permissions_view(r: Any, accounts: list[str]) -> dict[str, Any]:
    return {"id": r.uuid, "ispublic": bool(r.is_public), "domainid": r.d_uuid, "account": accounts}


def tag_view(t: Any, resource_type: str) -> dict[str, Any]:
    return _compact({"key": t.name, "value": t.value, "resourcetype": resource_type, "resourceid": t.resource_uuid,
                     "account": t.a_name, "domainid": t.d_uuid, "domain": t.d_name, "customer": t.customer})
