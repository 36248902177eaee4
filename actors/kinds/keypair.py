"""SSH key pairs as entity actors: a pair's birth (its name unique within its
account, checked in the inserting transaction) and its removal."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.actors.entity import Entity, operation
from cloudplane.errors import ParamError
from cloudplane.store.base import utcnow
from cloudplane.store.tables.keys import SshKeyPair

T_KEY: Table = SshKeyPair.__table__  # type: ignore[attr-defined]


class KeyPairEntity(Entity):
    kind = "ssh_key_pair"
    table: ClassVar[Table] = T_KEY

    @operation(creates=True)
    async def create(self, values: dict[str, Any]) -> dict[str, Any]:
        if not self.unborn:
            return {"id": self.ref.id}
        uuid = self.ref.id
        row = {**values, "uuid": uuid, "version": 1, "created": utcnow()}

        async def work(conn: AsyncConnection) -> dict[str, Any]:
            # The unique constraint backs this up on MySQL, where transactions do not serialise.
            taken = (await conn.execute(select(T_KEY.c.id).where(
                T_KEY.c.account_id == row["account_id"], T_KEY.c.name == row["name"]))).first()
            if taken is not None:
                raise ParamError(f"A key pair with name '{row['name']}' already exists for this account.")
            await conn.execute(insert(T_KEY).values(**row))
            return dict((await conn.execute(select(T_KEY).where(T_KEY.c.uuid == uuid))).mappings().one())

        try:
            self.row = await self.host.writer.submit(work)
        except IntegrityError:  # a concurrent create of the same name won (MySQL)
            raise ParamError(f"A key pair with name '{row['name']}' already exists for this account.") from None
        self.unborn = False
        return {"id": uuid}

    @operation(joinable=True)
    async def delete(self) -> dict[str, Any]:
        """The row goes (as in CloudStack): the name is free again at once. VMs keep
        the public keys they were given."""
        key_id = self.row["id"]

        async def work(conn: AsyncConnection) -> None:
            await conn.execute(delete(T_KEY).where(T_KEY.c.id == key_id))

        await self.host.writer.submit(work)
        self.row["removed"] = utcnow()
        return {"success": True}
