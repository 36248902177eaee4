"""api/sshkeys.py without a server: parsing, fingerprints, generation."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from cloudplane.api.sshkeys import generate_key_pair, parse_public_key
from cloudplane.errors import ParamError


def _openssh(key: object) -> str:
    return key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()  # type: ignore[attr-defined]


@pytest.mark.parametrize("make", [lambda: ed25519.Ed25519PrivateKey.generate().public_key(),
                                  lambda: ec.generate_private_key(ec.SECP256R1()).public_key(),
                                  lambda: ec.generate_private_key(ec.SECP384R1()).public_key()])
def test_parses_and_fingerprints_like_ssh_keygen(make: object) -> None:
    text = _openssh(make())  # type: ignore[operator]
    k = parse_public_key(f"  {text}   someone@host \n")
    assert k.text == f"{text} someone@host"
    digest = hashlib.md5(base64.b64decode(text.split()[1])).hexdigest()
    assert k.fingerprint == ":".join(digest[i:i + 2] for i in range(0, 32, 2))


def test_generated_pair_matches() -> None:
    public, private = generate_key_pair("k@cloud")
    key = serialization.load_pem_private_key(private.encode(), password=None)
    assert public.text.split()[:2] == _openssh(key.public_key()).split()[:2]
    assert public.text.endswith(" k@cloud")


@pytest.mark.parametrize("junk", ["", "ssh-rsa", "ssh-rsa ***", "ssh-dss AAAAB3NzaC1kc3MAAACBAP",
                                  "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIFsldayNoNLTbgf4LXwGeow9SGnwh2E1ToNB2l1ckBpt",
                                  "-----BEGIN RSA PRIVATE KEY-----"])
def test_junk_is_a_parameter_error(junk: str) -> None:
    with pytest.raises(ParamError) as e:
        parse_public_key(junk)
    assert e.value.code == 431 and "Public key is invalid" in e.value.text
