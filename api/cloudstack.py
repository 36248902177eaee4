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

from fastapi import FastAPI, Request
from fastapi.responses import Response

from cloudplane.api import envelope
from cloudplane.api.context import Accepted, Call, Caller, ListResult, Raw, Success
from cloudplane.api.params import lookup
from cloudplane.api.registry import CommandSpec, parse_request
from cloudplane.api.service import ApiService
from cloudplane.errors import ApiError, AuthError, InternalError, NotAllowed

log = logging.getLogger(__name__)

UNAUTHENTICATED = frozenset({"login"})  # commands that establish who the caller is


async def _raw_params(request: Request) -> dict[str, str]:
    """First value of each name, from the query string and then a form body (as Java does)."""
    raw: dict[str, str] = {}
    for k, v in request.query_params.multi_items():
        raw.setdefault(k, v)
    if request.method == "POST":
        ctype = request.headers.get("content-type", "")
        if "application/x-www-form-urlencoded" in ctype or not ctype:
            body = (await request.body()).decode("utf-8", errors="replace")
            for k, v in parse_qsl(body, keep_blank_values=True):
                raw.setdefault(k, v)
    return raw


async def _caller(service: ApiService, raw: dict[str, str], request: Request) -> Caller:
    if lookup(raw, "apikey") is not None or lookup(raw, "signature") is not None:
        return await service.auth.by_signature(raw)
    key = lookup(raw, "sessionkey") or request.cookies.get("sessionkey")
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


async def handle(service: ApiService, request: Request) -> Response:
    raw = await _raw_params(request)
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
            caller = await _caller(service, raw, request)
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
    resp = Response(body, status_code=status, media_type=ctype)
    for k, v in cookies.items():
        resp.set_cookie(k, v, httponly=True, samesite="lax", path="/client")
    return resp


def mount(app: FastAPI, service: ApiService) -> None:
    async def endpoint(request: Request) -> Response:
        return await handle(service, request)

    app.add_api_route("/client/api", endpoint, methods=["GET", "POST"], include_in_schema=False)
    app.add_api_route("/client/api/", endpoint, methods=["GET", "POST"], include_in_schema=False)
