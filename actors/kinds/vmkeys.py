"""A VM's SSH keys: its key pair names and their public keys, kept as the
VM's resource details under CloudStack's names (`SSH.KeyPairNames`,
`SSH.PublicKey`); StartCommand reads the public keys (vmspec.py). Written
only by the VM entity: at its birth and by resetSSHKeyForVirtualMachine."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.actors.kinds.vmspec import SSH_KEY_DETAIL, T_DETAIL

SSH_NAMES_DETAIL = "SSH.KeyPairNames"
VM_TYPE = "UserVm"


async def write_ssh_keys(conn: AsyncConnection, vm_id: int, keys: Mapping[str, str] | None) -> None:
    """Replace the VM's keys with `keys` ({"names": "a,b", "public": lines}); None clears them."""
    await conn.execute(delete(T_DETAIL).where(T_DETAIL.c.resource_type == VM_TYPE, T_DETAIL.c.resource_id == vm_id,
                                              T_DETAIL.c.name.in_((SSH_KEY_DETAIL, SSH_NAMES_DETAIL))))
    if keys:
        await conn.execute(insert(T_DETAIL), [
            {"resource_type": VM_TYPE, "resource_id": vm_id, "name": SSH_NAMES_DETAIL, "value": keys["names"],
             "display": True},
            {"resource_type": VM_TYPE, "resource_id": vm_id, "name": SSH_KEY_DETAIL, "value": keys["public"],
             "display": True}])
