"""The key pair and annex entities through the runtime, on each database:
concurrent creates of one name or one tag key end with exactly one winner and
clean 431s for the rest."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from cloudplane.actors.identity import EntityRef
from cloudplane.errors import ApiError
from cloudplane.store.base import new_uuid
from cloudplane.store.tables.identity import Account
from cloudplane.store.tables.keys import SshKeyPair
from cloudplane.store.tables.tags import ResourceTag
from tests.simulator.fixtures import Site, site

pytestmark = pytest.mark.ray
A, K, TAG = Account.__table__, SshKeyPair.__table__, ResourceTag.__table__  # type: ignore[attr-defined]
N = 12


async def _outcomes(coros: list[Any]) -> tuple[int, list[int]]:
    results = await asyncio.gather(*coros, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(e, ApiError) for e in errors), errors
    return len(results) - len(errors), sorted({e.code for e in errors})  # type: ignore[attr-defined]


async def _admin(s: Site) -> Any:
    async with s.rt.engine.connect() as conn:  # type: ignore[union-attr]
        return (await conn.execute(select(A.c.id, A.c.uuid, A.c.domain_id).where(A.c.name == "admin"))).one()


async def _count(s: Site, q: Any) -> int:
    async with s.rt.engine.connect() as conn:  # type: ignore[union-attr]
        return int((await conn.execute(q)).scalar_one())


async def test_one_name_one_key_pair(ray_cluster: Any, backend: str, tmp_path: Path) -> None:
    async with site(backend, tmp_path) as s:
        a = await _admin(s)
        values = {"name": "dup", "account_id": a.id, "domain_id": a.domain_id, "public_key": "ssh-ed25519 AAAA",
                  "fingerprint": "00"}
        won, codes = await _outcomes([s.rt.run(EntityRef("ssh_key_pair", new_uuid()), "create", {"values": values})
                                      for _ in range(N)])
        assert won == 1 and codes == [431]
        assert await _count(s, select(func.count()).select_from(K).where(K.c.name == "dup")) == 1


async def test_one_tag_key_per_resource(ray_cluster: Any, backend: str, tmp_path: Path) -> None:
    async with site(backend, tmp_path) as s:
        a = await _admin(s)
        res = {"id": a.id, "uuid": a.uuid, "account_id": a.id, "domain_id": a.domain_id}
        ref = EntityRef("annex", a.uuid)
        won, codes = await _outcomes([s.rt.run(ref, "create_tags", {
            "rtype": "Account", "resources": [res], "tags": {"Owner" if i % 2 else "OWNER": str(i)}})
            for i in range(N)])
        assert won == 1 and codes == [431]
        assert await _count(s, select(func.count()).select_from(TAG).where(TAG.c.resource_id == a.id)) == 1
        await s.rt.run(ref, "delete_tags", {"rtype": "Account", "resources": [res], "tags": [{"key": "owner"}]})
        assert await _count(s, select(func.count()).select_from(TAG)) == 0


async def test_a_crash_in_an_annex_is_a_530(ray_cluster: Any, tmp_path: Path) -> None:
    """An unborn entity that crashes has nothing to restart: the job fails with 530, and the
    next operation on it runs normally."""
    async with site("sqlite", tmp_path) as s:
        a = await _admin(s)
        ref = EntityRef("annex", a.uuid)
        with pytest.raises(ApiError) as e:
            await s.rt.run(ref, "create_tags", {"rtype": "Account", "resources": [{"uuid": a.uuid}],
                                                "tags": {"k": "v"}})
        assert e.value.code == 530
        res = {"id": a.id, "uuid": a.uuid, "account_id": a.id, "domain_id": a.domain_id}
        await s.rt.run(ref, "create_tags", {"rtype": "Account", "resources": [res], "tags": {"k": "v"}})
        assert await _count(s, select(func.count()).select_from(TAG)) == 1
