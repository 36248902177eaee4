"""CloudStack response envelopes, rendered as JSON or XML.

Every answer is ``{"<responsename>": {...}}``. The builders here produce that
dict; ``render`` turns it into bytes plus the Content-Type CloudStack sends.
Payload values are already JSON-ready (dates formatted by ``dates.format_date``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal
from xml.sax.saxutils import escape, quoteattr

import orjson

from cloudplane.errors import ApiError

Format = Literal["json", "xml"]

CLOUDSTACK_VERSION = "4.18.0.0"
JSON_CONTENT_TYPE = "application/json; charset=UTF-8"
XML_CONTENT_TYPE = "text/xml; charset=UTF-8"
# Response name for errors that happen before a command is known.
ERROR_RESPONSE_NAME = "errorresponse"

# Characters XML 1.0 cannot carry at all (not even escaped).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_XML_NAME = re.compile(r"[A-Za-z_][\w.\-]*", re.ASCII)
_XML_NAME_BAD_CHARS = re.compile(r"[^\w.\-]", re.ASCII)


def response_format(params: Mapping[str, str]) -> Format:
    """JSON only when ``response=json`` (any case); anything else is XML, as in CloudStack."""
    for name, value in params.items():
        if name.lower() == "response":
            return "json" if str(value).lower() == "json" else "xml"
    return "xml"


# ---------------------------------------------------------------- builders


def list_response(
    response_name: str, object_name: str, items: Sequence[Any], count: int | None = None
) -> dict[str, Any]:
    """A list answer: ``count`` (total across pages) first, then the objects.

    CloudStack omits ``count`` when it is zero and the object key when the page
    is empty, so an empty result is ``{"<name>": {}}``. ``count`` defaults to
    ``len(items)``.
    """
    total = len(items) if count is None else count
    body: dict[str, Any] = {}
    if total:
        body["count"] = total
    if items:
        body[object_name] = list(items)
    return {response_name: body}


def object_response(response_name: str, object_name: str, obj: Mapping[str, Any]) -> dict[str, Any]:
    """A single object answer, e.g. ``{"createzoneresponse": {"zone": {...}}}``."""
    return {response_name: {object_name: dict(obj)}}


def async_response(response_name: str, jobid: str, id: str | None = None) -> dict[str, Any]:  # noqa: A002
    """What an async command answers at once: the job id, and the entity id if one exists."""
    body: dict[str, Any] = {}
    if id is not None:
        body["id"] = id
    body["jobid"] = jobid
    return {response_name: body}


def success_body(displaytext: str | None = None) -> dict[str, Any]:
    """CloudStack's SuccessResponse (``success`` is a JSON boolean), e.g. a delete's job result."""
    body: dict[str, Any] = {"success": True}
    if displaytext is not None:
        body["displaytext"] = displaytext
    return body


def success_response(response_name: str, displaytext: str | None = None) -> dict[str, Any]:
    """``{"deleteclusterresponse": {"success": true}}``, a sync command's plain success."""
    return {response_name: success_body(displaytext)}


def error_body(err: ApiError) -> dict[str, Any]:
    """CloudStack's ExceptionResponse fields, in its order."""
    body: dict[str, Any] = {"uuidList": []}
    body.update(err.to_dict())
    return body


def error_response(response_name: str | None, err: ApiError) -> dict[str, Any]:
    """An error under the command's response name (``errorresponse`` if unknown).

    The HTTP status to send with it is ``err.code``.
    """
    return {response_name or ERROR_RESPONSE_NAME: error_body(err)}


# ---------------------------------------------------------------- rendering


def render(payload: Mapping[str, Any], fmt: Format, *, version: str = CLOUDSTACK_VERSION) -> tuple[bytes, str]:
    """Serialise an envelope; returns ``(body, content_type)``."""
    if fmt == "json":
        return orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS), JSON_CONTENT_TYPE
    return render_xml(payload, version=version).encode("utf-8"), XML_CONTENT_TYPE


def render_xml(payload: Mapping[str, Any], *, version: str = CLOUDSTACK_VERSION) -> str:
    """CloudStack's XML: one root named after the response, no whitespace.

    Lists repeat their element (``<zone>…</zone><zone>…</zone>``), dicts nest,
    None is left out and booleans print as ``true``/``false``.
    """
    if len(payload) != 1:
        raise ValueError("an envelope has exactly one top-level key")
    ((root, body),) = payload.items()
    name = _xml_name(str(root))
    out = ['<?xml version="1.0" encoding="UTF-8"?>', f"<{name} cloud-stack-version={quoteattr(version)}>"]
    if isinstance(body, Mapping):
        _xml_fields(out, body)
    elif body is not None:
        out.append(_xml_text(body))
    out.append(f"</{name}>")
    return "".join(out)


def _xml_fields(out: list[str], fields: Mapping[Any, Any]) -> None:
    for key, value in fields.items():
        _xml_element(out, _xml_name(str(key)), value)


def _xml_element(out: list[str], name: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, Mapping):
        out.append(f"<{name}>")
        _xml_fields(out, value)
        out.append(f"</{name}>")
    elif isinstance(value, (list, tuple)):
        for item in value:  # an empty list leaves no element, as in CloudStack
            _xml_element(out, name, item)
    else:
        out.append(f"<{name}>{_xml_text(value)}</{name}>")


def _xml_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(_XML_ILLEGAL.sub("\ufffd", str(value)))


def _xml_name(key: str) -> str:
    """Keys become element names; user-supplied keys (details maps) may need mending."""
    if _XML_NAME.fullmatch(key):
        return key
    mended = _XML_NAME_BAD_CHARS.sub("_", key)
    return mended if _XML_NAME.fullmatch(mended) else "_" + mended
