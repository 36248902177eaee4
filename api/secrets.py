"""Secrets at rest: password hashes, API secret keys, the server key.

Passwords are stored as salted PBKDF2-SHA256 hashes. API secret keys must be
recoverable (the server recomputes signatures with them), so they are
encrypted with AES-GCM under a server key kept in the data directory
(`server.key`, mode 0600) or given as CLOUDPLANE_SERVER_KEY (base64) so that
several management nodes share it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PBKDF2_ITERATIONS = 120_000
_ENC_PREFIX = "enc1:"


def hash_password(password: str, *, iterations: int = PBKDF2_ITERATIONS) -> str:
    salt = secrets.token_bytes(16)
    dk = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(dk).decode()}"


def verify_password(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("pbkdf2_sha256$"):
        return False
    _, iters, salt_b64, dk_b64 = stored.split("$", 3)
    dk = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt_b64), int(iters))
    return hmac.compare_digest(dk, base64.b64decode(dk_b64))


def new_api_keypair() -> tuple[str, str]:
    """CloudStack-shaped keys: 86 URL-safe characters each."""
    return secrets.token_urlsafe(64)[:86], secrets.token_urlsafe(64)[:86]


def new_session_key() -> str:
    return secrets.token_urlsafe(20)


def session_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ServerKey:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the server key must be 32 bytes")
        self._aead = AESGCM(key)

    @classmethod
    def load(cls, data_dir: Path) -> ServerKey:
        env = os.environ.get("CLOUDPLANE_SERVER_KEY")
        if env:
            return cls(base64.b64decode(env))
        path = data_dir / "server.key"
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(base64.b64encode(secrets.token_bytes(32)))
        return cls(base64.b64decode(path.read_bytes().strip()))

    def encrypt(self, plain: str) -> str:
        nonce = secrets.token_bytes(12)
        ct = self._aead.encrypt(nonce, plain.encode(), None)
        return _ENC_PREFIX + base64.b64encode(nonce + ct).decode()

    def opens(self, stored: str) -> bool:
        """Whether `stored` was encrypted with this key."""
        try:
            self.decrypt(stored)
        except (ValueError, InvalidTag):
            return False
        return True

    def decrypt(self, stored: str) -> str:
        if not stored.startswith(_ENC_PREFIX):
            raise ValueError("secret is not encrypted with a server key")
        raw = base64.b64decode(stored[len(_ENC_PREFIX):])
        return self._aead.decrypt(raw[:12], raw[12:], None).decode()
