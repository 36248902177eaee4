"""Who is calling: by API key and signature, or by login session.

A failed check always answers CloudStack's 401 text; the reason goes to the
log, not to the client (it would help an attacker tell keys from users).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, and_, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cloudplane.api import signing
from cloudplane.api.context import Caller
from cloudplane.api.params import lookup
from cloudplane.api.secrets import ServerKey, new_session_key, session_hash, verify_password
from cloudplane.errors import AuthError
from cloudplane.store import prepared
from cloudplane.store.base import new_uuid, utcnow
from cloudplane.store.tables.identity import Account, Domain, Role, User, UserSession

log = logging.getLogger(__name__)

U, A, D, R, S = (t.__table__ for t in (User, Account, Domain, Role, UserSession))  # type: ignore[attr-defined]
AUTH_TEXT = "unable to verify user credentials and/or request signature"
SESSION_TIMEOUT_S = 1800
_TOUCH_EVERY_S = 60.0  # refresh a session's last_used at most this often
_CACHE_TTL_S = 2.0  # how stale a disabled user or account may be seen


def _caller_query() -> Select[Any]:
    return (
        select(U.c.id, U.c.uuid, U.c.username, U.c.state.label("ustate"), U.c.secret_key, U.c.password,
               A.c.id.label("aid"), A.c.uuid.label("auuid"), A.c.name.label("aname"), A.c.account_type,
               A.c.state.label("astate"), A.c.role_id, R.c.role_type, D.c.id.label("did"),
               D.c.uuid.label("duuid"), D.c.path, D.c.name.label("dname"))
        .select_from(U.join(A, U.c.account_id == A.c.id).join(D, A.c.domain_id == D.c.id)
                     .outerjoin(R, A.c.role_id == R.c.id))
        .where(U.c.removed.is_(None), A.c.removed.is_(None))
    )


# Looked up for every signed request whose key is not cached: built once.
_BY_API_KEY = _caller_query().where(U.c.api_key == bindparam("b_key"))


def _caller(row: Any, session: str | None = None) -> Caller:
    role_type = row.role_type or {1: "Admin", 2: "DomainAdmin", 3: "ResourceAdmin"}.get(row.account_type, "User")
    return Caller(row.id, row.uuid, row.username, row.aid, row.auuid, row.aname, row.account_type, row.did,
                  row.duuid, row.path, row.dname, row.role_id, role_type, session)


def _usable(row: Any) -> bool:
    return row.ustate == "enabled" and row.astate == "enabled"


class Authenticator:
    def __init__(self, engine: AsyncEngine, key: ServerKey) -> None:
        self.engine = engine
        self.key = key
        self._by_key: dict[str, tuple[float, Any, str, Caller]] = {}
        self._touched: dict[str, float] = {}

    def invalidate(self) -> None:
        """Identity changed on this node: forget cached keys now (others within 2 s)."""
        self._by_key.clear()

    async def by_signature(self, params: Mapping[str, str]) -> Caller:
        api_key = lookup(params, "apikey")
        if not api_key or not lookup(params, "signature"):
            raise AuthError(AUTH_TEXT)
        now = time.monotonic()
        hit = self._by_key.get(api_key)
        if hit is None or now - hit[0] > _CACHE_TTL_S:
            async with prepared.reading(self.engine) as conn:
                row = (await prepared.execute(conn, _BY_API_KEY, {"b_key": api_key})).first()
            if row is None or not row.secret_key:
                log.info("auth: unknown api key")
                raise AuthError(AUTH_TEXT)
            hit = (now, row, self.key.decrypt(row.secret_key), _caller(row))  # a Caller is frozen: shared
            self._by_key[api_key] = hit
        _, row, secret, caller = hit
        if not _usable(row):
            log.info("auth: user %s or its account is %s/%s", row.username, row.ustate, row.astate)
            raise AuthError(AUTH_TEXT)
        signing.authenticate(params, secret)  # raises AuthError (expired v3, bad signature)
        return caller

    async def by_session(self, key: str) -> Caller:
        h = session_hash(key)
        async with self.engine.connect() as conn:
            row = (await conn.execute(
                _caller_query().add_columns(S.c.uuid.label("suuid"), S.c.expires, S.c.last_used, S.c.revoked)
                .join_from(U, S, S.c.user_id == U.c.id).where(S.c.key_hash == h))).first()
        if row is None or row.revoked or row.expires < utcnow() or not _usable(row):
            raise AuthError(AUTH_TEXT)
        now = time.monotonic()
        if now - self._touched.get(h, 0.0) > _TOUCH_EVERY_S:
            self._touched[h] = now
            async with self.engine.begin() as conn:
                await conn.execute(update(S).where(S.c.key_hash == h).values(
                    last_used=utcnow(), expires=utcnow() + timedelta(seconds=SESSION_TIMEOUT_S)))
        return _caller(row, session=row.suuid)

    async def login(self, username: str, password: str, domain_path: str | None,
                    domain_uuid: str | None) -> tuple[Caller, str]:
        q = _caller_query().where(U.c.username == username)
        if domain_uuid:
            q = q.where(D.c.uuid == domain_uuid)
        else:
            q = q.where(D.c.path == normalize_domain_path(domain_path))
        async with self.engine.connect() as conn:
            row = (await conn.execute(q)).first()
        # PBKDF2 takes tens of milliseconds: keep it off the event loop.
        ok = row is not None and await asyncio.to_thread(verify_password, password, row.password)
        if row is None or not ok or not _usable(row):
            raise AuthError("Failed to authenticate user " + username + " in domain "
                            + (domain_uuid or normalize_domain_path(domain_path))
                            + "; please provide valid credentials")
        key = new_session_key()
        async with self.engine.begin() as conn:
            await conn.execute(S.insert().values(
                uuid=new_uuid(), version=1, created=utcnow(), key_hash=session_hash(key), user_id=row.id,
                expires=utcnow() + timedelta(seconds=SESSION_TIMEOUT_S), revoked=False))
        return _caller(row), key

    async def logout(self, session_uuid: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(S).where(and_(S.c.uuid == session_uuid)).values(revoked=True))


def normalize_domain_path(path: str | None) -> str:
    """CloudStack accepts `/`, `ROOT`, `/ROOT/a`, `a/b`...: all map to our `/a/b/` form."""
    p = (path or "/").strip().strip("/")
    parts = [x for x in p.split("/") if x]
    if parts and parts[0].upper() == "ROOT":
        parts = parts[1:]
    return "/" + "".join(f"{x}/" for x in parts)
