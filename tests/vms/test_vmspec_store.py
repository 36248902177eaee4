"""The StartCommand spec's queries (actors/kinds/vmspec.py) on SQLite and MariaDB:
a seeded template and OS type are found, a VM without volumes or NICs has none."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from cloudplane.actors.kinds.vmspec import T_OS, T_TPL, load_start_spec
from cloudplane.store.engine import make_engine
from cloudplane.store.migrate import upgrade
from cloudplane.store.seed import seed
from tests.dbs import BACKENDS, fresh_database


@pytest.mark.parametrize("backend", BACKENDS)
async def test_spec_queries_run_on_both_backends(backend: str, tmp_path: Path) -> None:
    async with fresh_database(backend, tmp_path) as url:
        await upgrade(url)
        engine = make_engine(url)
        try:
            await seed(engine, admin_password_hash="x")
            async with engine.connect() as conn:
                tpl = (await conn.execute(select(T_TPL.c.id, T_TPL.c.uuid).limit(1))).one()
                os_type = (await conn.execute(select(T_OS.c.id, T_OS.c.display_name).limit(1))).one()
                vm = {"id": 424242, "name": "web-1", "cpu_count": 1, "cpu_speed_mhz": 500, "ram_mb": 128,
                      "type": "User", "ha_enabled": False, "user_data": None, "template_id": tpl.id,
                      "guest_os_id": os_type.id}
                spec = await load_start_spec(conn, vm, "6f1c9a7e-2b1d-4c1e-9d55-0b8f2a1c3d4e", "i-2-9-VM")
        finally:
            await engine.dispose()
    assert spec["name"] == "i-2-9-VM" and spec["hostname"] == "web-1" and spec["os_type"] == os_type.display_name
    assert spec["disks"] == [] and spec["nics"] == [] and spec["ssh_keys"] == [] and "template" not in spec
