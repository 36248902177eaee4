"""Tags and key pairs through Apache Libcloud's CloudStack driver, unchanged."""

from __future__ import annotations

from typing import Any

import cs
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.vms.conftest import Cloud, libcloud_driver, unique
from tests.vms.test_lifecycle import deploy

pytestmark = pytest.mark.ray


def test_tags_through_libcloud(live_server: Any, root: cs.CloudStack, cloud: Cloud) -> None:
    drv = libcloud_driver(live_server)
    vm = deploy(root, cloud, startvm=False)
    assert drv.ex_create_tags([vm["id"]], "UserVm", {"team": "blue", "cost": "42"})
    listed = root.listVirtualMachines(id=vm["id"])["virtualmachine"][0]
    assert {t["key"]: t["value"] for t in listed["tags"]} == {"team": "blue", "cost": "42"}
    assert drv.ex_delete_tags([vm["id"]], "UserVm", ["team"])
    assert [t["key"] for t in root.listTags(resourceid=vm["id"])["tag"]] == ["cost"]


def test_key_pairs_through_libcloud(live_server: Any) -> None:
    drv = libcloud_driver(live_server)
    made = drv.create_key_pair(unique("lc"))
    assert made.private_key.startswith("-----BEGIN RSA PRIVATE KEY-----") and made.fingerprint
    public = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    imported = drv.import_key_pair_from_string(unique("lc-imp"), public)
    assert len(imported.fingerprint.split(":")) == 16  # CloudStack does not echo the public key back
    names = {k.name: k for k in drv.list_key_pairs()}
    assert {made.name, imported.name} <= set(names)
    assert names[made.name].fingerprint == made.fingerprint
    assert drv.get_key_pair(imported.name).fingerprint == imported.fingerprint
    assert drv.delete_key_pair(made) and drv.delete_key_pair(imported)
    assert not {made.name, imported.name} & {k.name for k in drv.list_key_pairs()}
