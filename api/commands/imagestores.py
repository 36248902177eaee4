"""Secondary storage: addImageStore (its zone creates it and the built-in
templates become ready there), addSecondaryStorage, listImageStores,
deleteImageStore, and the staging stores (createSecondaryStagingStore,
listSecondaryStagingStores, deleteSecondaryStagingStore)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from cloudplane.actors.identity import EntityRef
from cloudplane.actors.kinds.infra import zone_ref
from cloudplane.actors.kinds.ipranges import image_store_protocol
from cloudplane.actors.kinds.storage import STORE_PROVIDERS
from cloudplane.api.commands.base import ROOT, command, page
from cloudplane.api.commands.infrautil import find
from cloudplane.api.context import Call, JobTarget, ListResult, Success
from cloudplane.api.views.infra import image_store_view
from cloudplane.errors import ParamError
from cloudplane.store.base import new_uuid
from cloudplane.store.tables.infra import Zone
from cloudplane.store.tables.storage import ImageStore

S, Z = ImageStore.__table__, Zone.__table__  # type: ignore[attr-defined]
IMAGE, CACHE = "Image", "ImageCache"
ZONE_PROVIDERS = ("NFS", "Simulator", "SMB")


def stores_q(role: str) -> Any:
    return (select(S, Z.c.uuid.label("zone_uuid"), Z.c.name.label("zone_name"))
            .select_from(S.outerjoin(Z, S.c.zone_id == Z.c.id))
            .where(S.c.removed.is_(None), S.c.role == role))


async def load_store(call: Call, uuid: str, role: str = IMAGE) -> dict[str, Any]:
    async with call.service.engine.connect() as conn:
        row = (await conn.execute(stores_q(role).where(S.c.uuid == uuid))).first()
    if row is None:
        raise ParamError(f"Unable to find image store by id {uuid}")
    return image_store_view(row)


def _provider(name: str | None) -> str:
    p = STORE_PROVIDERS.get(str(name or "NFS").lower())
    if p is None:
        raise ParamError(f"can't find image store provider by name {name}")
    return p


async def _add(call: Call, role: str, provider_name: str | None, url: str | None) -> dict[str, Any]:
    provider = _provider(provider_name)
    zone = await find(call, Z, "zoneid", required=False)
    if zone is None:
        raise ParamError(f"Zone id is required for a {provider} image store (region-wide stores are not supported)")
    if provider in ZONE_PROVIDERS:
        if not url:
            raise ParamError(f"url is required for a {provider} image store")
        parts = urlsplit(url)
        if not parts.scheme or not (parts.netloc or parts.path):
            raise ParamError(f"{url} is not a valid uri")
    values = {"name": call.get("name") or url or provider, "provider": provider, "role": role, "url": url,
              "protocol": image_store_protocol(url, provider), "scope": "ZONE", "readonly": False}
    uuid = new_uuid()
    await call.service.run(call, JobTarget(zone_ref(zone.uuid), "add_image_store", {"uuid": uuid, "values": values}))
    return await load_store(call, uuid, role)


@command("addImageStore", object_name="imagestore", roles=ROOT, entity_type="ImageStore")
async def add_image_store(call: Call) -> dict[str, Any]:
    return await _add(call, IMAGE, call.get("provider"), call.get("url"))


@command("addSecondaryStorage", object_name="secondarystorage", roles=ROOT, entity_type="ImageStore")
async def add_secondary_storage(call: Call) -> dict[str, Any]:
    return await _add(call, IMAGE, "NFS", call.get("url"))


@command("createSecondaryStagingStore", object_name="secondarystorage", roles=ROOT, entity_type="ImageStore")
async def create_secondary_staging_store(call: Call) -> dict[str, Any]:
    if call.get("scope") and str(call.get("scope")).lower() != "zone":
        raise ParamError("Only zone-wide cache store is supported")
    return await _add(call, CACHE, call.get("provider"), call.get("url"))


async def _list(call: Call, role: str) -> ListResult:
    q = stores_q(role)
    for param, col in (("id", S.c.uuid), ("name", S.c.name), ("zoneid", Z.c.uuid), ("protocol", S.c.protocol)):
        if call.get(param) is not None:
            q = q.where(col == call.get(param))
    if call.get("provider"):
        q = q.where(S.c.provider == _provider(call.get("provider")))
    if call.get("readonly") is not None:
        q = q.where(S.c.readonly.is_(bool(call.get("readonly"))))
    if call.get("keyword"):
        q = q.where(S.c.name.contains(call.get("keyword")))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, S.c.id)
    return ListResult([image_store_view(r) for r in rows], total)


@command("listImageStores", object_name="imagestore", roles=ROOT)
async def list_image_stores(call: Call) -> ListResult:
    return await _list(call, IMAGE)


@command("listSecondaryStagingStores", object_name="imagestore", roles=ROOT)
async def list_secondary_staging_stores(call: Call) -> ListResult:
    return await _list(call, CACHE)


async def _delete(call: Call, role: str) -> Success:
    store = await find(call, S, "id")
    if store.role != role:
        raise ParamError(f"Unable to find {'image' if role == IMAGE else 'staging'} store by id {store.uuid}")
    await call.service.run(call, JobTarget(EntityRef("image_store", store.uuid), "delete", {}))
    return Success()


@command("deleteImageStore", roles=ROOT, entity_type="ImageStore")
async def delete_image_store(call: Call) -> Success:
    return await _delete(call, IMAGE)


@command("deleteSecondaryStagingStore", roles=ROOT, entity_type="ImageStore")
async def delete_secondary_staging_store(call: Call) -> Success:
    return await _delete(call, CACHE)
