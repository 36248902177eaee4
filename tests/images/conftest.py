"""Fixtures for the image and offering tests: `cs` clients against the session's
live server, two enabled zones, an OS type, and fresh tenants per test.

Zones come from createZone. What has no command yet (OS types before the seed
has them; a volume or a snapshot to make a template from, before the volume
commands exist) is written straight into the live server's SQLite database:
test scaffolding only, never a path the product takes.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import cs
import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.engine import make_url

from cloudplane.store.engine import make_engine
from cloudplane.store.tables.identity import Account
from cloudplane.store.tables.images import OsCategory, OsType
from cloudplane.store.tables.infra import Zone
from cloudplane.store.tables.storage import Snapshot, Volume
from tests.dbs import mysql_url

A, Z, OS, CAT = Account.__table__, Zone.__table__, OsType.__table__, OsCategory.__table__  # type: ignore[attr-defined]
VOL, SNAP = Volume.__table__, Snapshot.__table__  # type: ignore[attr-defined]

POLL_S = 0.1


def client(server: Any, key: str, secret: str) -> cs.CloudStack:
    return cs.CloudStack(endpoint=server.url, key=key, secret=secret, timeout=30, fetch_result=True,
                         poll_interval=0.1, job_timeout=60)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def api_error(fn: Callable[..., Any], **params: Any) -> dict[str, Any]:
    """The error body (or failed job result) of a call that must fail."""
    with pytest.raises(cs.CloudStackApiException) as e:
        fn(**params)
    return dict(e.value.error)


def wait_for(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(POLL_S)


def in_db(server: Any, work: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run `work(conn)` in one transaction on the live server's database (SQLite or MariaDB)."""
    async def run() -> Any:
        engine = make_engine(server.db_url, pool_size=1)
        try:
            async with engine.begin() as conn:
                return await work(conn)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def row_values(**values: Any) -> dict[str, Any]:
    return {"uuid": str(uuid.uuid4()), "version": 1, "created": datetime.now(timezone.utc), **values}


@dataclass
class Tenant:
    api: cs.CloudStack
    account: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.account["name"])


async def _mysql_database(base: str, name: str, *, drop: bool = False) -> str:
    engine = make_engine(base, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS {name}" if drop
                                    else f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
    finally:
        await engine.dispose()
    return make_url(base).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def live_server(live_server: Any, ray_cluster: Any, tmp_path_factory: Any) -> Iterator[Any]:
    """The session's server (SQLite); on MariaDB when CLOUDPLANE_TEST_MYSQL_URL is set, so the
    image commands' queries run on both backends."""
    base = mysql_url()
    if not base:
        yield live_server
        return
    from tests.live import admin_keys, start_server

    name = f"cpimg_{uuid.uuid4().hex[:12]}"
    url = asyncio.run(_mysql_database(base, name))
    d: Path = tmp_path_factory.mktemp("live-images-mysql")
    server = start_server(ray_cluster.address, d, url)
    try:
        server.admin_key, server.admin_secret = admin_keys(server)
        yield server
    finally:
        server.stop()
        asyncio.run(_mysql_database(base, name, drop=True))


@pytest.fixture(scope="session")
def root(live_server: Any) -> cs.CloudStack:
    return client(live_server, live_server.admin_key, live_server.admin_secret)


@pytest.fixture(scope="session")
def new_tenant(live_server: Any, root: cs.CloudStack) -> Callable[..., Tenant]:
    def make(prefix: str = "img", accounttype: int = 0, domainid: str | None = None) -> Tenant:
        name = unique(prefix)
        acct = root.createAccount(username=name, password="pw-" + name, email=f"{name}@example.org",
                                  firstname="I", lastname=name, accounttype=accounttype, domainid=domainid)["account"]
        keys = root.registerUserKeys(id=acct["user"][0]["id"])["userkeys"]
        return Tenant(client(live_server, keys["apikey"], keys["secretkey"]), acct)

    return make


@pytest.fixture(scope="session")
def zones(root: cs.CloudStack) -> list[dict[str, Any]]:
    """Two enabled zones, shared by the image tests (zones are not what they test)."""
    made = []
    for _ in range(2):
        z = root.createZone(name=unique("imgzone"), dns1="8.8.8.8", internaldns1="10.0.0.1",
                            networktype="Advanced", allocationstate="Enabled")["zone"]
        if z.get("allocationstate") != "Enabled":
            z = root.updateZone(id=z["id"], allocationstate="Enabled")["zone"]
        made.append(z)
    return made


@pytest.fixture(scope="session")
def os_type(live_server: Any) -> str:
    """An OS type's uuid: the seed's if it has any, else one made here."""
    async def work(conn: Any) -> str:
        found = (await conn.execute(select(OS.c.uuid).where(OS.c.removed.is_(None)).order_by(OS.c.id))).first()
        if found:
            return str(found[0])
        cat = (await conn.execute(insert(CAT).values(**row_values(name="Other")))).inserted_primary_key[0]
        values = row_values(category_id=cat, display_name="Other (64-bit)", is_user_defined=False)
        await conn.execute(insert(OS).values(**values))
        return str(values["uuid"])

    return str(in_db(live_server, work))


@pytest.fixture
def download_seconds(root: cs.CloudStack) -> Iterator[Callable[[float], None]]:
    """Change simulator.template.download.seconds for one test; reset afterwards."""
    def set_to(seconds: float) -> None:
        root.updateConfiguration(name="simulator.template.download.seconds", value=str(seconds))

    yield set_to
    root.resetConfiguration(name="simulator.template.download.seconds")


def make_volume(server: Any, account: dict[str, Any], zone: dict[str, Any], *, state: str = "Ready",
                size: int = 20 * 2**30) -> str:
    """A detached volume row (scaffolding until the volume commands exist)."""
    async def work(conn: Any) -> str:
        acct = (await conn.execute(select(A.c.id, A.c.domain_id).where(A.c.uuid == account["id"]))).one()
        zid = (await conn.execute(select(Z.c.id).where(Z.c.uuid == zone["id"]))).scalar_one()
        values = row_values(name=unique("vol"), account_id=acct.id, domain_id=acct.domain_id, zone_id=zid,
                            volume_type="DATADISK", state=state, size_bytes=size, format="QCOW2")
        await conn.execute(insert(VOL).values(**values))
        return str(values["uuid"])

    return str(in_db(server, work))


def make_snapshot(server: Any, volume_uuid: str, *, state: str = "BackedUp") -> str:
    async def work(conn: Any) -> str:
        v = (await conn.execute(select(VOL).where(VOL.c.uuid == volume_uuid))).one()
        values = row_values(name=unique("snap"), account_id=v.account_id, domain_id=v.domain_id, zone_id=v.zone_id,
                            volume_id=v.id, state=state, hypervisor="Simulator", size_bytes=v.size_bytes,
                            physical_size_bytes=v.size_bytes)
        await conn.execute(insert(SNAP).values(**values))
        return str(values["uuid"])

    return str(in_db(server, work))
