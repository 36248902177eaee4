"""The declarative command registry behind ``/client/api``.

A CommandSpec says everything the dispatcher needs about one CloudStack
command: its parameters (for parsing), how its answer is named, who may call
it and the handler. Specs are usually built from CloudStack's own listApis
description (``spec_from_listapis``) so parameter names, types and texts match
4.18 exactly, and ``listapis_payload`` hands the same description back to
Marvin's codegen and cloudmonkey's ``sync``.
"""

from __future__ import annotations

import functools
import importlib.resources
import os
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from cloudplane.api.envelope import list_response
from cloudplane.api.params import PARAM_TYPES, SCALAR_TYPES, parse_params
from cloudplane.errors import NotAllowed

Handler = Callable[..., Awaitable[Any]]
Reference = Mapping[str, Mapping[str, Any]]  # lower-cased command name -> listApis entry

ROLE_TYPES = frozenset({"Admin", "ResourceAdmin", "DomainAdmin", "User"})

# Commands whose answer is not "<name lowercased>response" (each checked
# against CloudStack's command classes or recorded answers; libcloud and
# egoscale carry the same workarounds).
RESPONSE_NAME_OVERRIDES: Mapping[str, str] = {
    "activateproject": "activaterojectresponse",
    "addiptonic": "addiptovmnicresponse",
    "assignvirtualmachine": "moveuservmresponse",
    "cancelstoragemaintenance": "cancelprimarystoragemaintenanceresponse",
    "deleteiso": "deleteisosresponse",
    "enablestoragemaintenance": "prepareprimarystorageformaintenanceresponse",
    "getuploadparamsforiso": "postuploadisoresponse",
    "getuploadparamsfortemplate": "postuploadtemplateresponse",
    "getuploadparamsforvolume": "postuploadvolumeresponse",
    "resetsshkeyforvirtualmachine": "resetSSHKeyforvirtualmachineresponse",
    "restorevirtualmachine": "restorevmresponse",
    "updatevmaffinitygroup": "updatevirtualmachineresponse",
}

UNKNOWN_COMMAND = "The given command does not exist or it is not available for user"


def default_response_name(command: str) -> str:
    return RESPONSE_NAME_OVERRIDES.get(command.lower(), command.lower() + "response")


@dataclass(frozen=True, slots=True)
class ParamSpec:
    name: str
    type: str
    required: bool = False
    length: int = 255
    description: str = ""
    since: str | None = None
    related: str | None = None
    # Element type of a ``list`` parameter (CloudStack's collectionType); not in listApis.
    collection_type: str | None = None

    def __post_init__(self) -> None:
        if self.type not in PARAM_TYPES:
            raise ValueError(f"parameter {self.name}: unknown type {self.type!r}")
        if self.collection_type is not None and self.collection_type not in SCALAR_TYPES:
            raise ValueError(f"parameter {self.name}: unknown collection type {self.collection_type!r}")


class ResponseField(NamedTuple):
    """One listApis response field; ``fields`` describes a nested object's fields."""

    name: str
    description: str
    type: str
    fields: tuple[ResponseField, ...] = ()


@dataclass(frozen=True)
class CommandSpec:
    name: str
    params: tuple[ParamSpec, ...] = ()
    is_async: bool = False
    response_name: str = ""  # "" -> default_response_name(name)
    object_name: str = ""  # key of the object in answers: "zone", "virtualmachine"
    entity_type: str | None = None  # jobinstancetype: "VirtualMachine"
    description: str = ""
    handler: Handler | None = None
    allowed_roles: frozenset[str] = ROLE_TYPES
    response_fields: tuple[ResponseField, ...] = ()
    since: str | None = None
    related: str | None = None
    _by_name: Mapping[str, ParamSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Accept lists/sets from callers; store immutable, hashable forms.
        object.__setattr__(self, "params", tuple(self.params))
        object.__setattr__(self, "response_fields", tuple(_field(f) for f in self.response_fields))
        object.__setattr__(self, "allowed_roles", frozenset(self.allowed_roles))
        if not self.response_name:
            object.__setattr__(self, "response_name", default_response_name(self.name))
        unknown_roles = self.allowed_roles - ROLE_TYPES
        if unknown_roles:
            raise ValueError(f"{self.name}: unknown roles {sorted(unknown_roles)}")
        by_name: dict[str, ParamSpec] = {}
        for p in self.params:
            # CloudStack lists a parameter twice when a subclass redeclares it
            # (updateRole, getUploadParamsForIso); only a clash of types is an error.
            seen = by_name.setdefault(p.name.lower(), p)
            if seen.type != p.type:
                raise ValueError(f"{self.name}: parameter {p.name} declared as {seen.type} and {p.type}")
        object.__setattr__(self, "_by_name", by_name)

    def param(self, name: str) -> ParamSpec | None:
        """The parameter spec, looked up case-insensitively."""
        return self._by_name.get(name.lower())

    @property
    def error_name(self) -> str:
        """How CloudStack names the command in parameter errors (response name minus "response")."""
        rn = self.response_name
        return rn[: -len("response")] if rn.endswith("response") else self.name.lower()


def _field(f: Any) -> ResponseField:
    if isinstance(f, ResponseField):
        return f
    name, description, type_, *rest = f
    return ResponseField(name, description, type_, tuple(_field(x) for x in (rest[0] if rest else ())))


class Registry:
    """Commands by name, case-insensitively (CloudStack matches ``command`` that way)."""

    def __init__(self, specs: Iterable[CommandSpec] = ()) -> None:
        self._specs: dict[str, CommandSpec] = {}
        for spec in specs:
            self.register(spec)

    def register(self, spec: CommandSpec) -> CommandSpec:
        key = spec.name.lower()
        if key in self._specs:
            raise ValueError(f"command {spec.name} is already registered")
        self._specs[key] = spec
        return spec

    def get(self, name: str) -> CommandSpec | None:
        return self._specs.get(name.lower())

    def require(self, name: str) -> CommandSpec:
        """The spec, or NotAllowed (432) worded as CloudStack words an unknown command."""
        spec = self.get(name)
        if spec is None:
            raise NotAllowed(UNKNOWN_COMMAND)
        return spec

    def names(self) -> list[str]:
        return sorted(spec.name for spec in self._specs.values())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._specs

    def __iter__(self) -> Iterator[CommandSpec]:
        return iter(sorted(self._specs.values(), key=lambda s: s.name))

    def __len__(self) -> int:
        return len(self._specs)


# ---------------------------------------------------------------- listApis reference


def load_reference(path: str | os.PathLike[str]) -> dict[str, Mapping[str, Any]]:
    """Read a listApis dump (bare, ``{"api": [...]}`` or a whole listapisresponse)."""
    data: Any = orjson.loads(Path(path).read_bytes())
    if isinstance(data, dict) and "listapisresponse" in data:
        data = data["listapisresponse"]
    entries = data["api"] if isinstance(data, dict) else data
    return {entry["name"].lower(): entry for entry in entries}


@functools.cache
def packaged_reference() -> Reference | None:
    """The trimmed listApis copy shipped as package data, loaded once; None if absent."""
    resource = importlib.resources.files("cloudplane.api").joinpath("data/listapis.json")
    if not resource.is_file():
        return None
    with importlib.resources.as_file(resource) as path:
        return load_reference(path)


def _param_from_entry(p: Mapping[str, Any]) -> ParamSpec:
    collection = None
    # listApis does not say what a list holds; id lists that point at other
    # commands ("related") are UUID lists in CloudStack.
    if p["type"] == "list" and p.get("related") and p["name"].endswith(("id", "ids")):
        collection = "uuid"
    return ParamSpec(
        name=p["name"], type=p["type"], required=bool(p.get("required", False)),
        length=int(p.get("length", 255)), description=p.get("description", ""),
        since=p.get("since"), related=p.get("related"), collection_type=collection,
    )


def _fields_from_entry(items: Iterable[Mapping[str, Any]]) -> tuple[ResponseField, ...]:
    # listApis carries empty {} entries for fields it cannot describe; they say nothing.
    return tuple(
        ResponseField(r["name"], r.get("description", ""), r.get("type", ""), _fields_from_entry(r.get("response", ())))
        for r in items if r.get("name")
    )


def spec_from_listapis(name: str, *, reference: Reference | None = None, **overrides: Any) -> CommandSpec:
    """A CommandSpec built from the command's listApis entry; ``overrides`` win.

    ``reference`` defaults to the packaged copy. Typical overrides: handler,
    object_name, entity_type, allowed_roles.
    """
    ref = reference if reference is not None else packaged_reference()
    if ref is None:
        raise LookupError("no listApis reference: pass reference= or ship api/data/listapis.json")
    entry = ref.get(name.lower())
    if entry is None:
        raise KeyError(f"{name} is not in the listApis reference")
    fields: dict[str, Any] = {
        "name": entry["name"],
        "params": tuple(_param_from_entry(p) for p in entry.get("params", ())),
        "is_async": bool(entry.get("isasync", False)),
        "description": entry.get("description", ""),
        "response_fields": _fields_from_entry(entry.get("response", ())),
        "since": entry.get("since"),
        "related": entry.get("related"),
    }
    fields.update(overrides)
    return CommandSpec(**fields)


# ---------------------------------------------------------------- requests and listApis


def parse_request(spec: CommandSpec, raw_params: Mapping[str, str]) -> dict[str, Any]:
    """Typed values of the command's parameters present in the request.

    Names are matched case-insensitively and keyed by the spec's spelling;
    absent optional parameters are left out; undeclared ones (including the
    standard command/apiKey/signature/...) are ignored. Raises ParamError.
    """
    return parse_params(spec.params, raw_params, spec.error_name)


def _param_entry(p: ParamSpec) -> dict[str, Any]:
    # Keys in listApis' (alphabetical) order; optional keys only when set.
    entry: dict[str, Any] = {"description": p.description, "length": p.length, "name": p.name}
    if p.related is not None:
        entry["related"] = p.related
    entry["required"] = p.required
    if p.since is not None:
        entry["since"] = p.since
    entry["type"] = p.type
    return entry


def _field_entry(f: ResponseField) -> dict[str, Any]:
    entry: dict[str, Any] = {"description": f.description, "name": f.name}
    if f.fields:
        entry["response"] = [_field_entry(sub) for sub in f.fields]
    entry["type"] = f.type
    return entry


def listapis_entry(spec: CommandSpec) -> dict[str, Any]:
    """One command as CloudStack's listApis describes it."""
    entry: dict[str, Any] = {
        "description": spec.description,
        "isasync": spec.is_async,
        "name": spec.name,
        "params": [_param_entry(p) for p in spec.params],
    }
    if spec.related is not None:
        entry["related"] = spec.related
    entry["response"] = [_field_entry(f) for f in spec.response_fields]
    if spec.since is not None:
        entry["since"] = spec.since
    return entry


def listapis_payload(registry: Registry, *, name: str | None = None, role: str | None = None) -> dict[str, Any]:
    """The ``listApis`` answer for the registered commands, optionally one ``name``
    and only those a ``role`` may call."""
    specs = [registry.get(name)] if name is not None else list(registry)
    entries = [listapis_entry(s) for s in specs if s is not None and (role is None or role in s.allowed_roles)]
    return list_response("listapisresponse", "api", entries)
