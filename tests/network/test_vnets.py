"""Guest VLAN claims through the runtime, on each database backend: networks
implemented at once never share a VLAN, a range runs out cleanly (533) and a
shut-down network's VLAN can be claimed again."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from cloudplane.actors.identity import EntityRef
from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.tables.identity import Account
from cloudplane.store.tables.network import Network, NetworkOffering, PhysicalNetwork
from cloudplane.store.tables.vnet import GuestVnet
from tests.simulator.fixtures import Site, site

pytestmark = pytest.mark.ray
NET, NO, PN, A, VNET = (t.__table__ for t in (Network, NetworkOffering, PhysicalNetwork, Account, GuestVnet))  # type: ignore[attr-defined]


async def _networks(s: Site, n: int, vlans: str) -> list[str]:
    """`n` L2 networks (no router to start) on a physical network with the VLAN range `vlans`."""
    assert s.rt.engine is not None
    base = {"version": 1, "created": utcnow()}
    async with s.rt.engine.begin() as conn:
        pn = (await conn.execute(insert(PN).values(uuid=new_uuid(), name="pn", zone_id=s.ids["zone"], vlan=vlans,
                                                   state="Enabled", **base))).inserted_primary_key[0]
        off = (await conn.execute(select(NO.c.id).where(NO.c.name == "DefaultL2NetworkOffering"))).scalar()
        acct = (await conn.execute(select(A.c.id, A.c.domain_id).where(A.c.name == "admin"))).one()
        uuids = [new_uuid() for _ in range(n)]
        for i, u in enumerate(uuids):
            await conn.execute(insert(NET).values(
                uuid=u, name=f"l2-{i}", traffic_type="Guest", guest_type="L2", state="Allocated",
                zone_id=s.ids["zone"], physical_network_id=pn, network_offering_id=off, account_id=acct.id,
                domain_id=acct.domain_id, acl_type="Account", **base))
    return uuids


async def _run(s: Site, uuid: str, op: str) -> Any:
    return await s.rt.wait(await s.rt.submit(EntityRef("network", uuid), op, {}), 60)


async def test_concurrent_implementations_claim_distinct_vlans(ray_cluster: Any, tmp_path: Path, backend: str) -> None:
    async with site(backend, tmp_path) as s:
        nets = await _networks(s, 5, "100-102")
        results = await asyncio.gather(*(_run(s, n, "implement") for n in nets))
        ok = [r.result for r in results if r.ok]
        assert len(ok) == 3 and {r.code for r in results if not r.ok} == {533}
        assert sorted(r["broadcast_uri"] for r in ok) == ["vlan://100", "vlan://101", "vlan://102"]
        assert {r["state"] for r in ok} == {"Implemented"}
        # One shuts down (nothing runs in it): its VLAN goes back and a waiting network gets it.
        first = next(r for r in ok)
        assert (await _run(s, first["network"], "shutdown")).result == {"state": "Allocated", "shutdown": True}
        waiting = next(n for n, r in zip(nets, results) if not r.ok)
        again = await _run(s, waiting, "implement")
        assert again.ok and again.result["broadcast_uri"] == first["broadcast_uri"]
        async with s.rt.engine.connect() as conn:  # type: ignore[union-attr]
            claims = (await conn.execute(select(VNET.c.vnet))).scalars().all()
        assert sorted(claims) == [100, 101, 102]
