"""ISOs: templates whose format is ISO. Every command runs the template code
(api/commands/templates.py) with `ISO`: ISOs have no hypervisor and no
details, may be unbootable (then their OS type is "None"), list by `isofilter`
(default selfexecutable) with `bootable` and `isready`, and answer under `iso`.
attachIso and detachIso belong to the VM commands.
"""

from __future__ import annotations

from typing import Any

from cloudplane.api.commands.base import ALL, command
from cloudplane.api.commands.identity import success_view
from cloudplane.api.commands.templates import (
    ISO,
    copy,
    delete,
    extract,
    job_view,
    list_permissions,
    register,
    search,
    update,
    update_permissions,
)
from cloudplane.api.context import Accepted, Call, ListResult, Success


@command("registerIso", object_name="iso", roles=ALL, entity_type="Iso")
async def register_iso(call: Call) -> ListResult:
    return await register(call, ISO)


@command("listIsos", object_name="iso", roles=ALL)
async def list_isos(call: Call) -> ListResult:
    return await search(call, ISO, call.get("isofilter") or "selfexecutable")


@command("updateIso", object_name="iso", roles=ALL, entity_type="Iso")
async def update_iso(call: Call) -> dict[str, Any]:
    return await update(call, ISO)


@command("deleteIso", roles=ALL, entity_type="Iso", job_view=success_view)
async def delete_iso(call: Call) -> Accepted:
    return await delete(call, ISO)


@command("copyIso", object_name="iso", roles=ALL, entity_type="Iso", job_view=job_view(ISO))
async def copy_iso(call: Call) -> Accepted:
    return await copy(call, ISO)


@command("updateIsoPermissions", roles=ALL, entity_type="Iso")
async def update_iso_permissions(call: Call) -> Success:
    return await update_permissions(call, ISO)


@command("listIsoPermissions", object_name="templatepermission", roles=ALL)
async def list_iso_permissions(call: Call) -> dict[str, Any]:
    return await list_permissions(call, ISO)


@command("extractIso", object_name="iso", roles=ALL, entity_type="Iso", job_view=job_view(ISO, extracted=True))
async def extract_iso(call: Call) -> Accepted:
    return await extract(call, ISO)
