"""Request parameters: CloudStack's unpacking and typed conversion, command-agnostic.

Mirrors BaseCmd.unpackParams and ParamProcessWorker: plain names are matched
case-insensitively, ``name[i].field=value`` groups into maps, and each value
is converted by its listApis type. Failures raise ParamError worded as
CloudStack words them, so clients that match on errortext keep working.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from cloudplane.api.dates import parse_date
from cloudplane.errors import ParamError

# A raw value after unpacking: a string, or a map parameter's entries by index.
RawValue = str | dict[int, dict[str, str]]

# Parameters every request may carry; never reported as unknown.
STANDARD_PARAMS = frozenset(
    {"command", "response", "apikey", "signature", "signatureversion", "expires",
     "sessionkey", "page", "pagesize", "listall", "_"}
)

# CloudStack's type names (listApis "type"); tzdate comes from the Java enum.
SCALAR_TYPES = frozenset({"string", "uuid", "integer", "long", "short", "boolean", "date", "tzdate"})
PARAM_TYPES = SCALAR_TYPES | {"map", "list", "object"}

MALFORMED_PARAMETER = 430  # ApiErrorCode.MALFORMED_PARAMETER_ERROR

_INT_BOUNDS = {"short": 2**15, "integer": 2**31, "long": 2**63}
# Bounded length: CPython's int() refuses very long digit strings with a ValueError.
_INT = re.compile(r"[+-]?[0-9]{1,30}", re.ASCII)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII | re.IGNORECASE)
_MAP_HINT = (
    "if specifying an object array, please use parameter[index].field=XXX, e.g. userGroupList[0].group=httpGroup"
)


class ParamLike(Protocol):
    """What conversion needs to know about a parameter (registry.ParamSpec has it)."""

    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def required(self) -> bool: ...
    @property
    def length(self) -> int: ...
    @property
    def collection_type(self) -> str | None: ...


# ---------------------------------------------------------------- errors


def missing_error(command: str, name: str) -> ParamError:
    return ParamError(f"Unable to execute API command {command} due to missing parameter {name}")


def invalid_error(command: str, name: str, value: object) -> ParamError:
    return ParamError(f"Unable to execute API command {command} due to invalid value {value} for parameter {name}")


def _malformed(key: str) -> ParamError:
    return ParamError(f"Unable to decode parameter {key}; {_MAP_HINT}", MALFORMED_PARAMETER)


# ---------------------------------------------------------------- unpacking


def unpack(raw: Mapping[str, str]) -> dict[str, RawValue]:
    """Lower-case plain names and group ``name[i].field`` entries, as BaseCmd.unpackParams.

    Map field names keep their case (``details[0].cpuNumber``); a later
    duplicate of a plain name (in another case) wins.
    """
    out: dict[str, RawValue] = {}
    for key, value in raw.items():
        start = key.find("[")
        if start <= 0:  # CloudStack treats a leading '[' as part of a plain name
            if isinstance(out.get(key.lower()), dict):
                raise _malformed(key)
            out[key.lower()] = str(value)
            continue
        end = key.find("]")
        dot = key.find(".")
        if key.rfind("[") != start or key.rfind("]") != end or end < start or dot < end:
            raise _malformed(key)
        index_text = key[start + 1 : end]
        if not _INT.fullmatch(index_text) or not -(2**31) <= int(index_text) < 2**31:
            raise _malformed(key)
        name = key[:start].lower()
        entries = out.setdefault(name, {})
        if not isinstance(entries, dict):
            raise _malformed(key)
        entries.setdefault(int(index_text), {})[key[dot + 1 :]] = str(value)
    return out


def lookup(params: Mapping[str, Any], name: str) -> Any:
    """Case-insensitive get; None when absent."""
    if name in params:
        return params[name]
    wanted = name.lower()
    for key, value in params.items():
        if key.lower() == wanted:
            return value
    return None


def split_list(value: str) -> list[str]:
    """Comma-separated list; empty items dropped (Java's StringTokenizer)."""
    return [item for item in value.split(",") if item]


# ---------------------------------------------------------------- conversion


def _java_length(text: str) -> int:
    # Java measures strings in UTF-16 code units.
    return len(text.encode("utf-16-le", errors="surrogatepass")) // 2


def _integer(command: str, name: str, kind: str, text: str) -> int:
    if not _INT.fullmatch(text):
        raise invalid_error(command, name, text)
    number = int(text)
    bound = _INT_BOUNDS[kind]
    if not -bound <= number < bound:
        raise invalid_error(command, name, text)
    return number


def _uuid(command: str, name: str, text: str) -> str:
    if text == "-1":
        return text  # CloudStack's "all" (e.g. zoneid=-1 registers a template in every zone)
    if not _UUID.fullmatch(text):
        raise ParamError(
            f"Unable to execute API command {command} due to invalid value. Invalid parameter {name} "
            f"value={text} due to incorrect long value format, or entity does not exist or due to "
            "incorrect parameter annotation for the field in api cmd class."
        )
    return text.lower()  # stored UUIDs are lower-case; CloudStack's lookup ignores case


def _scalar(command: str, name: str, kind: str, text: str) -> Any:
    if kind == "uuid":
        return _uuid(command, name, text)
    if kind in _INT_BOUNDS:
        return _integer(command, name, kind, text)
    if kind == "boolean":
        lowered = text.lower()
        if lowered not in ("true", "false"):
            raise invalid_error(command, name, text)
        return lowered == "true"
    if kind in ("date", "tzdate"):
        try:
            return parse_date(text, require_zone=kind == "tzdate")
        except ValueError:
            raise ParamError(
                f"Unable to parse date {text} for command {command}, "
                "please pass dates in the format mentioned in the api documentation"
            ) from None
    return text


def convert(spec: ParamLike, value: RawValue, command: str) -> Any:
    """Convert one unpacked value by the parameter's type; raises ParamError."""
    kind = spec.type
    if kind == "object":  # CloudStack passes these through untouched
        return [value[i] for i in sorted(value)] if isinstance(value, dict) else value
    if kind == "map":
        if not isinstance(value, dict):
            raise invalid_error(command, spec.name, value)
        return [value[i] for i in sorted(value)]  # index order, gaps allowed
    if isinstance(value, dict):
        raise invalid_error(command, spec.name, f"{spec.name}[...]")
    if kind == "list":
        element = spec.collection_type or "string"
        return [_scalar(command, spec.name, element, item) for item in split_list(value)]
    if kind == "string" and _java_length(value) > spec.length:
        raise ParamError(
            f"Unable to execute API command {command} due to invalid value. "
            f"Value greater than max allowed length {spec.length} for param: {spec.name}"
        )
    return _scalar(command, spec.name, kind, value)


def parse_params(specs: Iterable[ParamLike], raw: Mapping[str, str], command: str) -> dict[str, Any]:
    """Typed values of the declared parameters present in ``raw`` (keyed by spec name).

    ``command`` is the name CloudStack puts in messages (response name without
    the ``response`` suffix, e.g. ``listzones``). Unknown parameters are
    ignored, as CloudStack does.
    """
    unpacked = unpack(raw)
    result: dict[str, Any] = {}
    for spec in specs:
        value = unpacked.get(spec.name.lower())
        # An empty UUID counts as absent: CloudStack resolves it to null.
        if value is None or (value == "" and spec.type == "uuid"):
            if spec.required:
                raise missing_error(command, spec.name)
            continue
        result[spec.name] = convert(spec, value, command)
    return result


def unknown_params(specs: Iterable[ParamLike], raw: Mapping[str, str]) -> list[str]:
    """Names neither declared nor standard (CloudStack logs these and carries on)."""
    declared = {spec.name.lower() for spec in specs} | STANDARD_PARAMS
    names = {key[: key.find("[")] if key.find("[") > 0 else key for key in raw}
    return sorted(n for n in names if n.lower() not in declared)
