"""Annotations: addAnnotation, removeAnnotation, listAnnotations,
updateAnnotationVisibility.

Admins annotate anything CloudStack lets them; users annotate their own
VMs, volumes, snapshots, networks, templates, ISOs, addresses and key pairs,
and only visibly to everyone (`adminsonly` is an admin's choice). Users see
the annotations on their own resources that are not admins-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, false, or_, select

from cloudplane.actors.identity import EntityRef
from cloudplane.api.commands.base import ALL, command, equalities, page
from cloudplane.api.context import Call, JobTarget, ListResult
from cloudplane.api.dates import format_date
from cloudplane.errors import NotAllowed, ParamError
from cloudplane.store.base import new_uuid
from cloudplane.store.tables.compute import DiskOffering, ServiceOffering, VmInstance
from cloudplane.store.tables.identity import Account, Domain, User
from cloudplane.store.tables.images import Template
from cloudplane.store.tables.infra import Cluster, Host, Pod, Zone
from cloudplane.store.tables.keys import SshKeyPair
from cloudplane.store.tables.network import IpAddress, Network, NetworkOffering
from cloudplane.store.tables.storage import ImageStore, Snapshot, StoragePool, Volume, VmSnapshot
from cloudplane.store.tables.tags import Annotation

AN, U, A, D = (t.__table__ for t in (Annotation, User, Account, Domain))  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Annotated:
    table: Table
    name_col: str = "name"
    user_owned: bool = True  # users may annotate their own (else admins only)
    only: tuple[tuple[str, Any], ...] = ()

    def where(self) -> list[Any]:
        out = [self.table.c[c] == v for c, v in self.only]
        return out + ([self.table.c.removed.is_(None)] if "removed" in self.table.c else [])


def _t(model: Any) -> Table:
    return model.__table__  # type: ignore[no-any-return]


ENTITY_TYPES: dict[str, Annotated] = {
    "VM": Annotated(_t(VmInstance), only=(("type", "User"),)),
    "VOLUME": Annotated(_t(Volume)),
    "SNAPSHOT": Annotated(_t(Snapshot)),
    "VM_SNAPSHOT": Annotated(_t(VmSnapshot)),
    "SSH_KEYPAIR": Annotated(_t(SshKeyPair)),
    "NETWORK": Annotated(_t(Network)),
    "PUBLIC_IP_ADDRESS": Annotated(_t(IpAddress), name_col="public_ip"),
    "TEMPLATE": Annotated(_t(Template)),
    "ISO": Annotated(_t(Template), only=(("format", "ISO"),)),
    "SERVICE_OFFERING": Annotated(_t(ServiceOffering), user_owned=False),
    "DISK_OFFERING": Annotated(_t(DiskOffering), user_owned=False),
    "NETWORK_OFFERING": Annotated(_t(NetworkOffering), user_owned=False),
    "ZONE": Annotated(_t(Zone), user_owned=False),
    "POD": Annotated(_t(Pod), user_owned=False),
    "CLUSTER": Annotated(_t(Cluster), user_owned=False),
    "HOST": Annotated(_t(Host), user_owned=False),
    "DOMAIN": Annotated(_t(Domain), user_owned=False),
    "PRIMARY_STORAGE": Annotated(_t(StoragePool), user_owned=False),
    "SECONDARY_STORAGE": Annotated(_t(ImageStore), user_owned=False),
    "SYSTEM_VM": Annotated(_t(VmInstance), user_owned=False, only=(("type", "SecondaryStorageVm"),)),
    "VR": Annotated(_t(VmInstance), user_owned=False, only=(("type", "DomainRouter"),)),
}


def _entity_type(name: str | None) -> tuple[str, Annotated]:
    key = (name or "").upper()
    if key not in ENTITY_TYPES:
        raise ParamError(f"Invalid entity type {name}; use one of {sorted(ENTITY_TYPES)}")
    return key, ENTITY_TYPES[key]


async def _entity(call: Call, etype: str, at: Annotated, uuid: str) -> Any:
    t = at.table
    cols = [t.c.id, t.c.uuid, t.c[at.name_col].label("ename")]
    if "account_id" in t.c:
        cols.append(t.c.account_id)
    async with call.service.engine.connect() as conn:
        row = (await conn.execute(select(*cols).where(t.c.uuid == uuid, *at.where()))).first()
    if row is None:
        raise ParamError(f"Unable to find {etype} with id {uuid}")
    c = call.caller
    if c.role_type == "User" and (not at.user_owned or getattr(row, "account_id", None) != c.account_id):
        raise NotAllowed(f"User {c.username} may not annotate {etype} {uuid}")
    return row


def _query() -> Any:
    return (select(AN, U.c.uuid.label("user_uuid"), U.c.username).select_from(
        AN.outerjoin(U, AN.c.user_id == U.c.id)))


def _view(r: Any, names: dict[str, str]) -> dict[str, Any]:
    out = {"id": r.uuid, "entitytype": r.entity_type, "entityid": r.entity_uuid,
           "entityname": names.get(r.entity_uuid), "annotation": r.annotation, "userid": r.user_uuid,
           "username": r.username, "adminsonly": bool(r.admins_only), "created": format_date(r.created),
           "removed": format_date(r.removed) if r.removed is not None else None}
    return {k: v for k, v in out.items() if v is not None}


async def _names(conn: Any, rows: list[Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    by_type: dict[str, list[str]] = {}
    for r in rows:
        by_type.setdefault(r.entity_type, []).append(r.entity_uuid)
    for etype, uuids in by_type.items():
        at = ENTITY_TYPES.get(etype)
        if at is not None:
            t = at.table
            out.update({u: str(n) for u, n in (await conn.execute(select(t.c.uuid, t.c[at.name_col]).where(
                t.c.uuid.in_(uuids)))).all()})
    return out


async def _one_view(call: Call, uuid: str) -> dict[str, Any]:
    async with call.service.engine.connect() as conn:
        rows = list((await conn.execute(_query().where(AN.c.uuid == uuid))).all())
        return _view(rows[0], await _names(conn, rows))


@command("addAnnotation", object_name="annotation", roles=ALL)
async def add_annotation(call: Call) -> dict[str, Any]:
    etype, at = _entity_type(call.get("entitytype"))
    if not call.get("entityid") or not (call.get("annotation") or "").strip():
        raise ParamError("addAnnotation needs entityid and a non-empty annotation")
    admins_only = call.get("adminsonly")
    if call.caller.role_type == "User":
        if admins_only:
            raise NotAllowed("Only administrators may add admins-only annotations")
        admins_only = False
    row = await _entity(call, etype, at, call.get("entityid"))
    uuid = new_uuid()
    values = {"entity_type": etype, "entity_id": row.id, "entity_uuid": row.uuid,
              "annotation": call.get("annotation"), "user_id": call.caller.user_id,
              "admins_only": bool(admins_only) if admins_only is not None else True}
    await call.service.run(call, JobTarget(EntityRef("annotation", uuid), "create", {"values": values}, "Annotation"))
    await call.service.event(call.caller, "ANNOTATION.CREATE", f"Annotation on {etype} {row.uuid}",
                             resource_type="Annotation", resource_uuid=uuid)
    return await _one_view(call, uuid)


async def _own_annotation(call: Call) -> Any:
    async with call.service.engine.connect() as conn:
        row = (await conn.execute(select(AN).where(AN.c.uuid == call.get("id"), AN.c.removed.is_(None)))).first()
    if row is None:
        raise ParamError(f"Unable to find annotation with id {call.get('id')}")
    c = call.caller
    if not c.is_root_admin and row.user_id != c.user_id:
        raise NotAllowed("Only root admins may change others' annotations")
    return row


@command("removeAnnotation", object_name="annotation", roles=ALL)
async def remove_annotation(call: Call) -> dict[str, Any]:
    row = await _own_annotation(call)
    await call.service.run(call, JobTarget(EntityRef("annotation", row.uuid), "remove", {}, "Annotation"))
    await call.service.event(call.caller, "ANNOTATION.REMOVE", f"Removed annotation {row.uuid}",
                             resource_type="Annotation", resource_uuid=row.uuid)
    return await _one_view(call, row.uuid)


@command("updateAnnotationVisibility", object_name="annotation", roles=ALL)
async def update_annotation_visibility(call: Call) -> dict[str, Any]:
    if call.caller.role_type == "User":
        raise NotAllowed("Only administrators may change an annotation's visibility")
    row = await _own_annotation(call)
    await call.service.run(call, JobTarget(EntityRef("annotation", row.uuid), "set_visibility",
                                           {"admins_only": bool(call.get("adminsonly"))}, "Annotation"))
    return await _one_view(call, row.uuid)


def _users_own(call: Call) -> Any:
    """Annotations on the calling user's own resources."""
    c = call.caller
    conds = [AN.c.entity_uuid.in_(select(at.table.c.uuid).where(at.table.c.account_id == c.account_id))
             for at in ENTITY_TYPES.values() if at.user_owned]
    return or_(false(), *conds)


@command("listAnnotations", object_name="annotation", roles=ALL)
async def list_annotations(call: Call) -> ListResult:
    c = call.caller
    q = _query().where(AN.c.removed.is_(None))
    if c.role_type == "User":
        q = q.where(AN.c.admins_only.is_(False), _users_own(call))
    if call.get("entitytype"):
        q = q.where(AN.c.entity_type == _entity_type(call.get("entitytype"))[0])
    q = q.where(*equalities(call, (("id", AN.c.uuid), ("entityid", AN.c.entity_uuid), ("userid", U.c.uuid))))
    flt = (call.get("annotationfilter") or "all").lower()
    if flt not in ("all", "self"):
        raise ParamError(f"Invalid annotationfilter {flt}: use all or self")
    if flt == "self":
        q = q.where(AN.c.user_id == c.user_id)
    if call.get("keyword"):
        q = q.where(AN.c.annotation.contains(call.get("keyword"), autoescape=True))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, AN.c.id)
        names = await _names(conn, rows)
    return ListResult([_view(r, names) for r in rows], total)
