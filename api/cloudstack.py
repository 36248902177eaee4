"""`/client/api`: CloudStack's query API.

request → command lookup → caller (signature or session) → role rules →
throttle → typed parameters → handler → envelope. Every failure becomes a
CloudStack error body with the HTTP status equal to its errorcode; nothing
else (no traceback) ever reaches the client.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl

from cloudplane.api import envelope
from cloudplane.api.context import Accepted, Call, Caller, ListResult, Raw, Success
from cloudplane.api.params import lookup
from cloudplane.api.registry import CommandSpec, parse_request
from cloudplane.api.service import ApiService
from cloudplane.errors import ApiError, AuthError, InternalError, NotAllowed, ParamError

log = logging.getLogger(__name__)

UNAUTHENTICATED = frozenset({"login"})  # commands that establish who the caller is


MAX_BODY = 8 * 2**20  # form bodies: user data is at most 1 MiB, base64-encoded
_FORM = "application/x-www-form-urlencoded"


def _first_values(pairs: list[tuple[str, str]], into: dict[str, str]) -> None:
    for k, v in pairs:
        into.setdefault(k, v)


async def _caller(service: ApiService, raw: dict[str, str], cookie_session: str | None) -> Caller:
    if lookup(raw, "apikey") is not None or lookup(raw, "signature") is not None:
        return await service.auth.by_signature(raw)
    key = lookup(raw, "sessionkey") or cookie_session
    if key:
        return await service.auth.by_session(key)
    raise AuthError("unable to verify user credentials and/or request signature")


def _payload(spec: CommandSpec, result: Any) -> tuple[dict[str, Any], dict[str, str]]:
    name = spec.response_name
    if isinstance(result, ListResult):
        return envelope.list_response(name, spec.object_name, result.items, result.count), {}
    if isinstance(result, Accepted):
        return envelope.async_response(name, result.jobid, result.id), {}
    if isinstance(result, Success):
        return envelope.success_response(name, result.displaytext), {}
    if isinstance(result, Raw):
        return {name: result.payload}, result.cookies
    if isinstance(result, dict):
        return envelope.object_response(name, spec.object_name, result), {}
    raise InternalError(f"{spec.name}: handler returned {type(result).__name__}")


async def dispatch(service: ApiService, raw: dict[str, str],
                   cookie_session: str | None = None) -> tuple[int, bytes, str, dict[str, str]]:
    """One API request, from its parameters to (status, body, content type, cookies to set)."""
    fmt = envelope.response_format(raw)
    name = lookup(raw, "command")
    spec = service.registry.get(name) if isinstance(name, str) else None
    cookies: dict[str, str] = {}
    try:
        if spec is None:
            raise NotAllowed(f"The given command '{name}' either does not exist, is not available for user, "
                             "or not available from ip address '127.0.0.1'." if name else
                             "missing parameter: command")
        if spec.name in UNAUTHENTICATED:
            caller = None
        else:
            caller = await _caller(service, raw, cookie_session)
            await service.check_allowed(caller, spec)
            await service.throttle(caller)
        params = parse_request(spec, raw)
        assert spec.handler is not None
        result = await spec.handler(Call(service, spec, caller, params, raw))  # type: ignore[arg-type]
        payload, cookies = _payload(spec, result)
        status = 200
    except ApiError as e:
        payload = envelope.error_response(spec.response_name if spec else None, e)
        status = e.code
    except Exception:
        log.exception("command %s failed", name)
        err = InternalError("Internal error executing command, please contact your system administrator")
        payload = envelope.error_response(spec.response_name if spec else None, err)
        status = err.code
    body, ctype = envelope.render(payload, fmt)
    return status, body, ctype, cookies


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        k, _, v = part.strip().partition("=")
        if k == name:
            return v.strip('"')
    return None


class CloudStackApi:
    """`/client/api` as a bare ASGI app, answered before the FastAPI application
    (api/app.py's NodeApp).

    The query API is the hot path, and it renders every failure itself, so it
    needs none of the framework's routing, dependency, exception and body-limit
    layers (they cost about as much as the command).
    """

    PATHS = frozenset({"/client/api", "/client/api/"})

    def __init__(self, service: ApiService) -> None:
        self.service = service

    @classmethod
    def serves(cls, scope: dict[str, Any]) -> bool:
        return scope["type"] == "http" and scope["path"] in cls.PATHS

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        method = scope["method"]
        if method not in ("GET", "POST"):
            await send({"type": "http.response.start", "status": 405,
                        "headers": [(b"allow", b"GET, POST"), (b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        headers = {k: v for k, v in scope["headers"] if k in (b"content-type", b"cookie")}
        raw: dict[str, str] = {}
        # First value of each name, from the query string and then a form body (as Java does).
        _first_values(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True), raw)
        if method == "POST":
            body = await self._body(receive)
            ctype = headers.get(b"content-type", b"").decode("latin-1")
            if body is None:
                status, out, out_type = self._too_large(raw)
                await self._respond(send, status, out, out_type, {})
                return
            if _FORM in ctype or not ctype:
                _first_values(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True), raw)
        cookie = headers.get(b"cookie")
        session = _cookie(cookie.decode("latin-1"), "sessionkey") if cookie else None
        status, out, out_type, cookies = await dispatch(self.service, raw, session)
        await self._respond(send, status, out, out_type, cookies)

    @staticmethod
    async def _body(receive: Any) -> bytes | None:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    @staticmethod
    def _too_large(raw: dict[str, str]) -> tuple[int, bytes, str]:
        err = ParamError(f"The request body is larger than {MAX_BODY // 2**20} MiB")
        body, ctype = envelope.render(envelope.error_response(None, err), envelope.response_format(raw))
        return err.code, body, ctype

    @staticmethod
    async def _respond(send: Any, status: int, body: bytes, ctype: str, cookies: dict[str, str]) -> None:
        headers = [(b"content-type", ctype.encode("latin-1")), (b"content-length", str(len(body)).encode())]
        for k, v in cookies.items():
            headers.append((b"set-cookie", f"{k}={v}; HttpOnly; Path=/client; SameSite=lax".encode("latin-1")))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
