"""Which SSH key pairs a VM gets: `keypair` and `keypairs` (deployVirtualMachine,
resetSSHKeyForVirtualMachine), looked up in the VM owner's account."""

from __future__ import annotations

from sqlalchemy import select

from cloudplane.api.context import Call
from cloudplane.errors import ParamError
from cloudplane.store.tables.keys import SshKeyPair

K = SshKeyPair.__table__  # type: ignore[attr-defined]


def keypair_names(call: Call) -> list[str]:
    """`keypair` and `keypairs`, in order, without repeats."""
    names = [str(n).strip() for n in [call.get("keypair"), *(call.get("keypairs") or [])] if n]
    return list(dict.fromkeys(n for n in names if n))


async def account_keys(call: Call, account_id: int, names: list[str]) -> dict[str, str]:
    """The account's key pairs named (431 if one is missing): their names, comma-separated,
    and their public keys, one a line."""
    async with call.service.engine.connect() as conn:
        found = {r.name: r.public_key for r in (await conn.execute(select(K.c.name, K.c.public_key).where(
            K.c.account_id == account_id, K.c.name.in_(names)))).all()}
    missing = [n for n in names if n not in found]
    if missing:
        raise ParamError(f"A key pair with name '{missing[0]}' was not found for the account")
    return {"names": ",".join(names), "public": "\n".join(found[n] for n in names)}
