from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cloudplane.api.params import (
    STANDARD_PARAMS,
    convert,
    lookup,
    parse_params,
    split_list,
    unknown_params,
    unpack,
)
from cloudplane.api.registry import ParamSpec
from cloudplane.errors import ParamError

CMD = "listzones"
UUID = "04ccc336-d730-42fe-8ff6-5ae36e141e81"


def P(name: str, type_: str, **kw: object) -> ParamSpec:  # noqa: N802
    return ParamSpec(name, type_, **kw)  # type: ignore[arg-type]


def test_plain_names_are_case_insensitive() -> None:
    specs = [P("name", "string"), P("zoneid", "uuid")]
    assert parse_params(specs, {"NAME": "a", "ZoneId": UUID.upper()}, CMD) == {"name": "a", "zoneid": UUID}
    assert lookup({"ZoneId": "x"}, "zoneid") == "x"
    assert lookup({"a": "x"}, "b") is None


def test_map_unpacking_in_index_order() -> None:
    raw = {
        "details[1].key": "b", "details[0].key": "a", "details[0].value": "1", "details[1].value": "2",
        "Tags[5].key": "t", "details[3].cpuNumber": "2", "details[3].memory": "512",
    }
    unpacked = unpack(raw)
    assert set(unpacked) == {"details", "tags"}
    specs = [P("details", "map"), P("tags", "map")]
    result = parse_params(specs, raw, CMD)
    # Arbitrary field names keep their case; gaps in the indexes are fine.
    assert result["details"] == [
        {"key": "a", "value": "1"}, {"key": "b", "value": "2"}, {"cpuNumber": "2", "memory": "512"},
    ]
    assert result["tags"] == [{"key": "t"}]


@pytest.mark.parametrize("key", ["details[0]", "details[0][1].key", "details]0[.key", "details[x].key",
                                 "details[0.key", "de.tails[0].key", "details[99999999999].key"])
def test_malformed_map_keys(key: str) -> None:
    with pytest.raises(ParamError) as info:
        unpack({key: "v"})
    assert info.value.code == 430
    assert info.value.text.startswith(f"Unable to decode parameter {key}; if specifying an object array")


def test_plain_and_map_with_one_name_is_malformed() -> None:
    with pytest.raises(ParamError):
        unpack({"details": "x", "details[0].key": "y"})
    with pytest.raises(ParamError):
        unpack({"details[0].key": "y", "DETAILS": "x"})


def test_map_param_given_plain_value_is_invalid() -> None:
    with pytest.raises(ParamError, match="due to invalid value x for parameter details"):
        parse_params([P("details", "map")], {"details": "x"}, CMD)
    with pytest.raises(ParamError, match="for parameter name"):
        parse_params([P("name", "string")], {"name[0].a": "x"}, CMD)


def test_lists() -> None:
    assert split_list("a,,b,") == ["a", "b"]
    specs = [P("ids", "list", collection_type="uuid"), P("keypairs", "list"), P("n", "list", collection_type="integer")]
    result = parse_params(specs, {"ids": f"{UUID},{UUID.upper()}", "keypairs": "k1, k2", "n": "1,2"}, CMD)
    assert result == {"ids": [UUID, UUID], "keypairs": ["k1", " k2"], "n": [1, 2]}
    assert parse_params([P("keypairs", "list")], {"keypairs": ""}, CMD) == {"keypairs": []}
    with pytest.raises(ParamError, match="Invalid parameter ids value=nope"):
        parse_params(specs, {"ids": f"{UUID},nope"}, CMD)


@pytest.mark.parametrize(("text", "expected"), [("true", True), ("TRUE", True), ("False", False), ("false", False)])
def test_booleans(text: str, expected: bool) -> None:
    assert convert(P("listall", "boolean"), text, CMD) is expected


@pytest.mark.parametrize("text", ["", "yes", "1", "t", "truee", " true"])
def test_bad_booleans(text: str) -> None:
    with pytest.raises(ParamError) as info:
        convert(P("available", "boolean"), text, CMD)
    assert info.value.text == (
        f"Unable to execute API command listzones due to invalid value {text} for parameter available")


def test_uuids() -> None:
    assert convert(P("id", "uuid"), UUID.upper(), CMD) == UUID
    with pytest.raises(ParamError) as info:
        convert(P("id", "uuid"), "42", CMD)
    assert info.value.code == 431
    assert info.value.text.startswith(
        "Unable to execute API command listzones due to invalid value. Invalid parameter id value=42")
    # An empty uuid is null in CloudStack: absent if optional, missing if required.
    assert parse_params([P("id", "uuid")], {"id": ""}, CMD) == {}
    with pytest.raises(ParamError, match="due to missing parameter id"):
        parse_params([P("id", "uuid", required=True)], {"id": ""}, CMD)


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [("integer", "42", 42), ("integer", "-2147483648", -2**31), ("integer", "+7", 7),
     ("long", "9223372036854775807", 2**63 - 1),
     ("short", "-32768", -32768), ("integer", "007", 7)],
)
def test_integers(kind: str, text: str, expected: int) -> None:
    assert convert(P("n", kind), text, CMD) == expected


@pytest.mark.parametrize(
    ("kind", "text"),
    [("integer", "2147483648"), ("integer", "1.5"), ("integer", ""), ("integer", " 1"), ("integer", "1_000"),
     ("integer", "٣"), ("long", "9223372036854775808"), ("short", "32768"), ("integer", "9" * 5000)],
)
def test_bad_integers(kind: str, text: str) -> None:
    with pytest.raises(ParamError, match="due to invalid value .* for parameter n$"):
        convert(P("n", kind), text, CMD)


def test_dates() -> None:
    assert convert(P("startdate", "date"), "2026-07-29", "listevents") == datetime(2026, 7, 29, tzinfo=UTC)
    assert convert(P("startdate", "date"), "2026-07-29 10:00:00", "listevents") == datetime(2026, 7, 29, 10, tzinfo=UTC)
    assert convert(P("t", "tzdate"), "2026-07-29T10:00:00Z", CMD) == datetime(2026, 7, 29, 10, tzinfo=UTC)
    with pytest.raises(ParamError) as info:
        convert(P("startdate", "date"), "yesterday", "listevents")
    assert info.value.text == ("Unable to parse date yesterday for command listevents, "
                               "please pass dates in the format mentioned in the api documentation")
    with pytest.raises(ParamError):
        convert(P("t", "tzdate"), "2026-07-29", CMD)


def test_string_length() -> None:
    assert convert(P("name", "string", length=3), "abc", CMD) == "abc"
    with pytest.raises(ParamError) as info:
        convert(P("name", "string", length=3), "abcd", CMD)
    assert info.value.text == ("Unable to execute API command listzones due to invalid value. "
                               "Value greater than max allowed length 3 for param: name")
    # Java counts UTF-16 units: one astral character is two.
    with pytest.raises(ParamError):
        convert(P("name", "string", length=3), "ab\U0001f600", CMD)
    assert convert(P("name", "string"), "", CMD) == ""


def test_object_passes_through() -> None:
    assert convert(P("o", "object"), "raw", CMD) == "raw"
    assert convert(P("o", "object"), {1: {"a": "b"}, 0: {"c": "d"}}, CMD) == [{"c": "d"}, {"a": "b"}]


def test_missing_required_names_the_parameter() -> None:
    with pytest.raises(ParamError) as info:
        parse_params([P("name", "string", required=True)], {"command": "createZone"}, "createzone")
    assert info.value.text == "Unable to execute API command createzone due to missing parameter name"
    assert info.value.code == 431


def test_unknown_parameters_are_ignored_and_reported() -> None:
    specs = [P("name", "string"), P("pagesize", "integer")]
    raw = {"name": "a", "bogus": "1", "command": "listZones", "apiKey": "k", "signature": "s", "_": "123",
           "PAGESIZE": "10", "extra[0].key": "x", "sessionkey": "s"}
    assert parse_params(specs, raw, CMD) == {"name": "a", "pagesize": 10}
    assert unknown_params(specs, raw) == ["bogus", "extra"]
    assert "signatureversion" in STANDARD_PARAMS and "expires" in STANDARD_PARAMS


def test_unknown_type_is_refused_at_declaration() -> None:
    with pytest.raises(ValueError):
        ParamSpec("x", "float")
