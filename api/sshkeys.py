"""SSH public keys as CloudStack handles them: parsed and checked (RSA,
Ed25519, ECDSA in OpenSSH's one-line form), fingerprinted (MD5 of the key
blob, colon-separated hex) and, for createSSHKeyPair, generated.

Pure functions over strings: no store, no network.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from cloudplane.errors import ParamError

KEY_TYPES = ("ssh-rsa", "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521")


@dataclass(frozen=True)
class PublicKey:
    text: str  # "type base64 [comment]", normalised to one line
    fingerprint: str


def fingerprint(blob: bytes) -> str:
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def parse_public_key(text: str) -> PublicKey:
    """A registered key, checked: a known type whose blob decodes and loads (431 otherwise)."""
    fields = " ".join((text or "").split()).split(" ", 2)
    if len(fields) < 2 or fields[0] not in KEY_TYPES:
        raise ParamError(f"Public key is invalid: expected one of {', '.join(KEY_TYPES)} "
                         "followed by the base64 key")
    try:
        blob = base64.b64decode(fields[1], validate=True)
        serialization.load_ssh_public_key(f"{fields[0]} {fields[1]}".encode())
    except (binascii.Error, ValueError, TypeError):
        raise ParamError("Public key is invalid: its key data does not decode as a "
                         f"{fields[0]} key") from None
    return PublicKey(" ".join(fields), fingerprint(blob))


def generate_key_pair(comment: str) -> tuple[PublicKey, str]:
    """A new RSA 2048 key pair: its public key and the private key in PEM (shown once)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode()
    return parse_public_key(f"{public} {comment}"), private
