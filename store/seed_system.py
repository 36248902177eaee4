"""The system offerings system VMs run with, as a fresh CloudStack has them.
(Idempotent; user-facing offerings and templates are seeded by store/seed.py.)"""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.tables.compute import ServiceOffering

SO = ServiceOffering.__table__  # type: ignore[attr-defined]

# name, system_vm_type, cpus, MHz, MiB
SYSTEM_OFFERINGS = (
    ("System Offering For Secondary Storage VM", "secondarystoragevm", 1, 500, 512),
    ("System Offering For Console Proxy", "consoleproxy", 1, 500, 1024),
    ("System Offering For Software Router", "domainrouter", 1, 500, 256),
)


async def seed_system_offerings(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        have = {r[0] for r in (await conn.execute(select(SO.c.system_vm_type).where(
            SO.c.is_system.is_(True), SO.c.default_use.is_(True)))).all()}
        for name, vmtype, cpus, mhz, mib in SYSTEM_OFFERINGS:
            if vmtype not in have:
                await conn.execute(insert(SO).values(
                    uuid=new_uuid(), version=1, created=utcnow(), name=name, display_text=name, cpu_count=cpus,
                    cpu_speed_mhz=mhz, ram_mb=mib, is_system=True, system_vm_type=vmtype, default_use=True,
                    offer_ha=True, state="Active"))
