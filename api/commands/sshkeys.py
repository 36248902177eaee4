"""SSH key pairs: createSSHKeyPair (the private key is shown once and never
stored), registerSSHKeyPair, listSSHKeyPairs, deleteSSHKeyPair, and
resetSSHKeyForVirtualMachine. A VM's keys travel with it to its host
(`SSH.PublicKey`, read by actors/kinds/vmspec.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from cloudplane.actors.identity import EntityRef
from cloudplane.api import scope
from cloudplane.api.commands.base import ALL, command, equalities, page
from cloudplane.api.commands.vms import lifecycle, owned_vm, vm_job_view
from cloudplane.api.context import Accepted, Call, JobTarget, ListResult, Raw
from cloudplane.api.sshkeys import PublicKey, generate_key_pair, parse_public_key
from cloudplane.api.vmkeys import account_keys, keypair_names
from cloudplane.errors import ParamError
from cloudplane.store.base import new_uuid
from cloudplane.store.tables.identity import Account, Domain
from cloudplane.store.tables.keys import SshKeyPair

K, A, D = (t.__table__ for t in (SshKeyPair, Account, Domain))  # type: ignore[attr-defined]
_PAIRS = (select(K, A.c.name.label("acct"), A.c.uuid.label("acct_uuid"), D.c.uuid.label("dom_uuid"),
                 D.c.name.label("dom_name"), D.c.path.label("dom_path"))
          .select_from(K.join(A, K.c.account_id == A.c.id).join(D, K.c.domain_id == D.c.id)))


def _view(r: Any) -> dict[str, Any]:
    return {"id": r.uuid, "name": r.name, "fingerprint": r.fingerprint, "account": r.acct, "domainid": r.dom_uuid,
            "domain": r.dom_name, "hasannotations": False}


async def _create(call: Call, key: PublicKey) -> dict[str, Any]:
    name = (call.get("name") or "").strip()
    if not name:
        raise ParamError("A key pair needs a name")
    account_id, domain_id = await scope.target_account(call)
    uuid = new_uuid()
    values = {"name": name, "account_id": account_id, "domain_id": domain_id, "public_key": key.text,
              "fingerprint": key.fingerprint}
    await call.service.run(call, JobTarget(EntityRef("ssh_key_pair", uuid), "create", {"values": values},
                                           "SSHKeyPair"))
    async with call.service.engine.connect() as conn:
        return _view((await conn.execute(_PAIRS.where(K.c.uuid == uuid))).one())


@command("createSSHKeyPair", object_name="keypair", roles=ALL)
async def create_ssh_key_pair(call: Call) -> dict[str, Any]:
    # RSA generation takes CPU-bound tens of milliseconds: off the event loop.
    public, private = await asyncio.to_thread(generate_key_pair, f"{call.get('name')}@cloudplane")
    return {**await _create(call, public), "privatekey": private}


@command("registerSSHKeyPair", object_name="keypair", roles=ALL)
async def register_ssh_key_pair(call: Call) -> dict[str, Any]:
    return await _create(call, parse_public_key(call.get("publickey") or ""))


@command("listSSHKeyPairs", object_name="sshkeypair", roles=ALL)
async def list_ssh_key_pairs(call: Call) -> ListResult:
    vis = await scope.visibility(call)
    q = _PAIRS.where(vis.clause(K.c.account_id, K.c.domain_id))
    q = q.where(*equalities(call, (("id", K.c.uuid), ("name", K.c.name), ("fingerprint", K.c.fingerprint))))
    if call.get("keyword"):
        q = q.where(K.c.name.contains(call.get("keyword"), autoescape=True))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, K.c.id)
    return ListResult([_view(r) for r in rows], total)


@command("deleteSSHKeyPair", roles=ALL)
async def delete_ssh_key_pair(call: Call) -> Raw:
    account_id, _ = await scope.target_account(call)
    async with call.service.engine.connect() as conn:
        row = (await conn.execute(_PAIRS.where(K.c.account_id == account_id, K.c.name == call.get("name")))).first()
    if row is None:
        raise ParamError(f"A key pair with name '{call.get('name')}' does not exist for account in domain")
    await call.service.run(call, JobTarget(EntityRef("ssh_key_pair", row.uuid), "delete", {}, "SSHKeyPair"))
    # CloudStack's serializer writes a sync SuccessResponse's flag as a string; Libcloud compares to "true".
    return Raw({"success": "true"})


@command("resetSSHKeyForVirtualMachine", object_name="virtualmachine", roles=ALL, entity_type="VirtualMachine",
         job_view=vm_job_view)
async def reset_ssh_key_for_virtual_machine(call: Call) -> Accepted:
    vm = await owned_vm(call, call.get("id"))
    names = keypair_names(call)
    if not names:
        raise ParamError("Give the key pair(s) to put in the VM: keypair or keypairs")
    if vm.state != "Stopped":
        raise ParamError(f"Vm {vm.uuid} should be stopped to do SSH Key reset")
    keys = await account_keys(call, vm.account_id, names)
    return await lifecycle(call, "reset_ssh_keys", {"keys": keys}, vm.uuid)
