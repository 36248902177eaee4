"""SSH key pairs through a live server with `cs`: create (private key once),
register (checked), list, delete; VMs deployed with key pairs; resetting a
VM's keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cs
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.vms.conftest import Cloud, api_error, unique
from tests.vms.test_lifecycle import deploy, rows

pytestmark = pytest.mark.ray
SSH = json.loads(Path("/work/shared/cloudstack/responses/SSHService.json").read_text())


def _ed25519() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def test_create_list_delete(root: cs.CloudStack, tenant: Any) -> None:
    name = unique("key")
    kp = root.createSSHKeyPair(name=name)["keypair"]
    want = SSH["createSSHKeyPair"]["createsshkeypairresponse"]["keypair"]
    assert set(want) <= set(kp)
    assert kp["privatekey"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    private = serialization.load_pem_private_key(kp["privatekey"].encode(), password=None)
    assert private.public_key().key_size == 2048  # type: ignore[union-attr]
    listed = root.listSSHKeyPairs(name=name)["sshkeypair"]
    assert [k["fingerprint"] for k in listed] == [kp["fingerprint"]]
    assert "privatekey" not in listed[0]  # shown once, never stored
    assert set(SSH["listSSHKeyPairs"]["listsshkeypairsresponse"]["sshkeypair"][0]) <= set(listed[0])
    assert root.listSSHKeyPairs(fingerprint=kp["fingerprint"])["count"] == 1

    # Names are unique per account, not across accounts.
    assert api_error(root.createSSHKeyPair, name=name)["errorcode"] == 431
    user = tenant()
    mine = user.api.createSSHKeyPair(name=name)["keypair"]
    assert mine["account"] == user.account["name"] and mine["fingerprint"] != kp["fingerprint"]
    assert [k["name"] for k in user.api.listSSHKeyPairs().get("sshkeypair", [])] == [name]
    assert user.api.listSSHKeyPairs(name=name)["sshkeypair"][0]["id"] == mine["id"]

    assert root.deleteSSHKeyPair(name=name)["success"] in (True, "true")
    assert root.listSSHKeyPairs(name=name) == {}
    assert user.api.listSSHKeyPairs(name=name)["count"] == 1  # the other account's stays
    assert api_error(root.deleteSSHKeyPair, name=name)["errorcode"] == 431
    root.createSSHKeyPair(name=name)  # the name is free again


def test_register_checks_the_key(root: cs.CloudStack, live_server: Any) -> None:
    key = _ed25519()
    name = unique("ed")
    kp = root.registerSSHKeyPair(name=name, publickey=f"{key} me@laptop")["keypair"]
    assert "privatekey" not in kp and len(kp["fingerprint"].split(":")) == 16
    before = rows(live_server, "SELECT count(*) FROM ssh_key_pair")[0][0]
    for junk in ("not a key", "ssh-rsa AAAA-not-base64!", "ssh-dss AAAAB3NzaC1kc3MAAACBAP", "ssh-ed25519 AAAA",
                 key.replace("ssh-ed25519", "ssh-rsa")):
        err = api_error(root.registerSSHKeyPair, name=unique("bad"), publickey=junk)
        assert err["errorcode"] == 431 and "Public key is invalid" in err["errortext"], (junk, err)
    assert rows(live_server, "SELECT count(*) FROM ssh_key_pair")[0][0] == before  # nothing half-created


def test_deploy_with_key_pairs_and_reset(root: cs.CloudStack, cloud: Cloud, tenant: Any, live_server: Any) -> None:
    user = tenant()
    a, b = unique("ka"), unique("kb")
    user.api.createSSHKeyPair(name=a)
    user.api.registerSSHKeyPair(name=b, publickey=_ed25519())
    err = api_error(user.api.deployVirtualMachine, zoneid=cloud.zone, templateid=cloud.template,
                    serviceofferingid=cloud.offering, keypair="no-such-key")
    assert err["errorcode"] == 431 and "no-such-key" in err["errortext"]
    assert user.api.listVirtualMachines() == {}  # nothing deployed

    vm = deploy(user.api, cloud, keypairs=f"{a},{b}")
    assert vm["state"] == "Running" and vm["keypairs"] == f"{a},{b}"
    assert user.api.listVirtualMachines(id=vm["id"])["virtualmachine"][0]["keypairs"] == f"{a},{b}"
    keys = rows(live_server, "SELECT d.value FROM resource_detail d JOIN vm_instance v ON v.id = d.resource_id "
                "WHERE d.resource_type = 'UserVm' AND d.name = 'SSH.PublicKey' AND v.uuid = ?", vm["id"])
    assert len(keys) == 1 and keys[0][0].count("\n") == 1 and "ssh-ed25519" in keys[0][0]
    # Another account's key pair is not the user's to use.
    other = unique("root-key")
    root.createSSHKeyPair(name=other)
    assert api_error(user.api.deployVirtualMachine, zoneid=cloud.zone, templateid=cloud.template,
                     serviceofferingid=cloud.offering, keypair=other)["errorcode"] == 431

    # Reset: refused while Running, done when Stopped.
    err = api_error(user.api.resetSSHKeyForVirtualMachine, id=vm["id"], keypair=b)
    assert err["errorcode"] == 431 and "stopped" in err["errortext"]
    user.api.stopVirtualMachine(id=vm["id"])
    assert api_error(user.api.resetSSHKeyForVirtualMachine, id=vm["id"], keypair="nope")["errorcode"] == 431
    reset = user.api.resetSSHKeyForVirtualMachine(id=vm["id"], keypair=b)["virtualmachine"]
    assert reset["keypairs"] == b and reset["state"] == "Stopped"
    keys = rows(live_server, "SELECT d.value FROM resource_detail d JOIN vm_instance v ON v.id = d.resource_id "
                "WHERE d.resource_type = 'UserVm' AND d.name = 'SSH.PublicKey' AND v.uuid = ?", vm["id"])
    assert [k[0].split()[0] for k in keys] == ["ssh-ed25519"]
    assert user.api.startVirtualMachine(id=vm["id"])["virtualmachine"]["state"] == "Running"
    # Someone else's VM cannot be given keys.
    assert api_error(tenant().api.resetSSHKeyForVirtualMachine, id=vm["id"], keypair=b)["errorcode"] == 432
