"""The template entity in a shard of its own (no Ray, no API): the simulated
download's plan, URL checks, and a download that survives its shard's death."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import insert, select

from cloudplane.actors.kinds.templates import SIMULATED_SIZE, Download, TemplateEntity, plan, template_ref
from cloudplane.actors.shard import ShardCore
from cloudplane.api.commands.templates import check_url
from cloudplane.errors import ParamError
from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.engine import make_engine
from cloudplane.store.tables.identity import Account, Domain
from cloudplane.store.tables.images import Template, TemplateZone
from cloudplane.store.tables.infra import Zone
from tests.actors.local import create_schema

T, TZ = Template.__table__, TemplateZone.__table__  # type: ignore[attr-defined]
D, A, Z = Domain.__table__, Account.__table__, Zone.__table__  # type: ignore[attr-defined]


def test_plan_spreads_the_download() -> None:
    assert plan(2, 0) == ([12, 25, 38, 50, 62, 75, 88, 100], 0.25)
    assert plan(2, 50) == ([62, 75, 88, 100], 0.25)  # a resumed download goes on from where it was
    assert plan(0, 0) == ([100], 0.0)
    steps, pause = plan(600, 0)
    assert len(steps) == 40 and pause == 15.0 and steps[-1] == 100


@pytest.mark.parametrize("url,fmt", [("http://a.example/x.qcow2", "QCOW2"), ("https://a.example:8080/x.img.gz", "RAW"),
                                     ("http://10.1.2.3/dir/x.VHD.bz2", "VHD"), ("http://a.example/x.iso", "ISO")])
def test_good_urls(url: str, fmt: str) -> None:
    check_url(url, fmt)


@pytest.mark.parametrize("url,fmt", [("http://a.example/x.raw", "QCOW2"), ("gopher://a.example/x.qcow2", "QCOW2"),
                                     ("http://[::1]/x.qcow2", "QCOW2"), ("http://169.254.1.1/x.qcow2", "QCOW2"),
                                     ("http://localhost/x.qcow2", "QCOW2"), ("http:///x.qcow2", "QCOW2"),
                                     ("http://a.example:99999/x.qcow2", "QCOW2"), ("FILE:///x.iso", "ISO")])
def test_bad_urls(url: str, fmt: str) -> None:
    with pytest.raises(ParamError):
        check_url(url, fmt)


async def _world(engine: Any) -> tuple[int, int]:
    await create_schema(engine)
    base = {"version": 1, "created": utcnow()}
    async with engine.begin() as conn:
        dom = (await conn.execute(insert(D).values(uuid=new_uuid(), name="ROOT", path="/", level=0, state="Active",
                                                   **base))).inserted_primary_key[0]
        acct = (await conn.execute(insert(A).values(uuid=new_uuid(), name="admin", domain_id=dom, account_type=1,
                                                    state="enabled", **base))).inserted_primary_key[0]
        zone = (await conn.execute(insert(Z).values(uuid=new_uuid(), name="z1", **base))).inserted_primary_key[0]
    return int(acct), int(zone)


async def _copy(engine: Any, template_uuid: str) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(select(TZ, T.c.size_bytes.label("t_size")).join(T, TZ.c.template_id == T.c.id)
                                   .where(T.c.uuid == template_uuid))).one()


async def _until(engine: Any, uuid: str, done: Any, timeout: float = 20) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        row = await _copy(engine, uuid)
        if done(row):
            return row
        assert asyncio.get_running_loop().time() < deadline, row
        await asyncio.sleep(0.05)


async def test_a_download_survives_its_shard(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        account, zone = await _world(engine)
        ref = template_ref(new_uuid())
        values = {"name": "t", "display_text": "t", "format": "QCOW2", "account_id": account,
                  "hypervisor_type": "Simulator", "url": "http://a.example/t.qcow2", "state": "Active"}
        first = ShardCore("images-0", engine, reconcile_interval_s=60)
        await first.ensure_started()
        await first.run_op(ref, "create", {"values": values, "zones": [zone], "details": {}, "seconds": 60})
        # Created at once, not ready; a second create (a resumed job) changes nothing.
        assert (await _copy(engine, ref.id)).download_state == Download.NOT_DOWNLOADED
        await first.run_op(ref, "create", {"values": values, "zones": [zone], "details": {}, "seconds": 60})
        moving = await _until(engine, ref.id, lambda r: r.download_pct > 0)
        assert moving.download_state == Download.IN_PROGRESS and moving.download_pct < 100
        # The shard dies: its entity's drivers with it.
        ent = first.entities[("template", ref.id)]
        assert isinstance(ent, TemplateEntity)
        ent.on_passivate()
        await first.close()
        stalled = (await _copy(engine, ref.id)).download_pct

        # Its successor finds the unfinished copy in the store and drives it on (2 s by default).
        second = ShardCore("images-0", engine, reconcile_interval_s=60)
        await second.ensure_started()
        done = await _until(engine, ref.id, lambda r: r.download_state == Download.DOWNLOADED)
        assert done.download_pct == 100 and done.size_bytes == SIMULATED_SIZE == done.t_size
        assert done.download_pct >= stalled and done.install_path
        # Deleting the only zone removes the template.
        assert await second.run_op(ref, "delete", {}) == {"success": True}
        async with engine.connect() as conn:
            t = (await conn.execute(select(T).where(T.c.uuid == ref.id))).one()
        assert t.removed is not None and t.state == "Inactive"
        await second.close()
    finally:
        await engine.dispose()
