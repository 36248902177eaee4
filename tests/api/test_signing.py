from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from cloudplane.api import signing
from cloudplane.api.signing import AUTH_FAILED, JAVA, authenticate, canonical_query, check_expiry, signature, verify
from cloudplane.errors import AuthError

# The design's vector: apiKey foo / secret bar. The exact parameter set that
# yields it includes apiKey and response=json (the cs README request).
VECTOR = {"apiKey": "foo", "command": "listVirtualMachines", "listall": "true", "response": "json"}
VECTOR_SIG = "B0d6hBsZTcFVCiioSxzwKA9Pke8="


def _raw_hmac(message: str, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message.encode(), hashlib.sha1).digest()).decode()


def test_design_vector() -> None:
    assert canonical_query(VECTOR) == "apikey=foo&command=listvirtualmachines&listall=true&response=json"
    assert signature(VECTOR, "bar") == VECTOR_SIG
    assert verify({**VECTOR, "signature": VECTOR_SIG}, "bar")


def test_vector_needs_apikey_and_response() -> None:
    # Without them the same command signs differently: the vector is the full request.
    assert signature({"command": "listVirtualMachines", "listall": "true"}, "bar") != VECTOR_SIG
    assert signature({"apiKey": "foo", "command": "listVirtualMachines", "listall": "true"}, "bar") != VECTOR_SIG


def test_signature_param_is_excluded_in_any_case() -> None:
    assert canonical_query({**VECTOR, "Signature": "x"}) == canonical_query(VECTOR)


def test_java_urlencoder_rules() -> None:
    params = {"a": "A-z.0_9*", "b": "x y", "c": "~[]/+=&é"}
    # Java keeps A-Za-z0-9 . - * _ ; space becomes %20 (after the '+' swap); the rest is %XX of UTF-8.
    assert canonical_query(params) == "a=a-z.0_9*&b=x%20y&c=%7e%5b%5d%2f%2b%3d%26%c3%a9"


def test_names_sorted_case_sensitively_by_java() -> None:
    params = {"b": "1", "Z": "2", "a": "3"}
    assert canonical_query(params) == "z=2&a=3&b=1"
    assert canonical_query(params, variant=signing.LIBCLOUD) == "a=3&b=1&z=2"


@pytest.mark.parametrize(
    "value",
    ["plain", "tilde~value", "[bracketed]", "star*", "café é", "with space", "mix ~[*]é x"],
)
def test_verify_accepts_the_java_form(value: str) -> None:
    params = {"apiKey": "foo", "command": "listZones", "name": value, "response": "json"}
    sig = _raw_hmac(canonical_query(params), "bar")
    assert verify({**params, "signature": sig}, "bar")
    assert not verify({**params, "signature": sig}, "wrong")
    assert not verify({**params, "name": value + "x", "signature": sig}, "bar")


@pytest.mark.parametrize("variant", signing.NAMED_VARIANTS, ids=lambda v: v.name)
def test_verify_accepts_each_client_variant(variant: signing.Variant) -> None:
    params = {
        "apiKey": "foo", "command": "listVirtualMachines", "keyword": "a~b [c]*é d",
        "details[0].cpuNumber": "2", "response": "json", "zoneId": "z",
    }
    sig = signature(params, "bar", variant=variant)
    assert verify({**params, "signature": sig}, "bar")


def test_variants_differ_where_clients_differ() -> None:
    params = {"command": "x", "v": "~[*]"}
    assert canonical_query(params) == "command=x&v=%7e%5b*%5d"
    assert canonical_query(params, variant=signing.CS) == "command=x&v=~%5b*%5d"
    assert canonical_query(params, variant=signing.LIBCLOUD) == "command=x&v=~[*]"
    assert canonical_query(params, variant=signing.CLOUDMONKEY) == "command=x&v=~%5b%2a%5d"
    named = {"details[0].key": "k"}
    assert canonical_query(named) == "details[0].key=k"
    assert canonical_query(named, variant=signing.AIOCLOUDSTACK) == "details%5b0%5d.key=k"


def test_plain_request_costs_one_hmac() -> None:
    assert [v.name for v in signing.candidate_variants(VECTOR)] == ["java"]


def test_signature_with_space_for_plus_still_verifies() -> None:
    # An unescaped '+' in the query decodes to a space; find a signature that has one.
    params = next(p for i in range(100) if "+" in signature(p := {"command": "listZones", "name": f"n{i}"}, "s"))
    sig = signature(params, "s")
    assert verify({**params, "signature": sig.replace("+", " ")}, "s")


def test_verify_rejects_missing_or_odd_signatures() -> None:
    assert not verify(VECTOR, "bar")
    assert not verify({**VECTOR, "signature": ""}, "bar")
    assert not verify({**VECTOR, "signature": "é" * 28}, "bar")  # non-ASCII must not raise
    assert not verify({**VECTOR, "signature": VECTOR_SIG}, "")


# ---------------------------------------------------------------- signatureVersion=3

NOW = datetime(2026, 7, 29, 11, 0, 0, tzinfo=UTC)


def _v3(expires: str | None) -> dict[str, str]:
    params = {"command": "listZones", "signatureVersion": "3"}
    if expires is not None:
        params["expires"] = expires
    return params


@pytest.mark.parametrize("expires", ["2026-07-29T11:18:10+0000", "2026-07-29T11:18:10Z", "2026-07-29T11:18:10+00:00",
                                     "2026-07-29T13:18:10+0200", "2026-07-29T11:00:00+0000"])
def test_v3_future_expiry_passes(expires: str) -> None:
    check_expiry(_v3(expires), NOW)


@pytest.mark.parametrize("expires", [None, "", "tomorrow", "2026-07-29", "2026-07-29T11:18:10", "2026-13-01T00:00:00Z"])
def test_v3_missing_or_unparsable_expiry_fails(expires: str | None) -> None:
    with pytest.raises(AuthError) as info:
        check_expiry(_v3(expires), NOW)
    assert info.value.code == 401
    assert info.value.text == AUTH_FAILED


def test_v3_past_expiry_fails() -> None:
    with pytest.raises(AuthError):
        check_expiry(_v3("2026-07-29T10:59:59+0000"), NOW)
    with pytest.raises(AuthError):
        check_expiry(_v3("2026-07-29T12:59:59+0200"), NOW)


def test_expiry_only_checked_for_v3() -> None:
    check_expiry({"command": "listZones", "expires": "2000-01-01T00:00:00+0000"}, NOW)
    check_expiry({"command": "listZones"}, NOW)
    # Parameter names are case-insensitive, as in ApiServer.
    with pytest.raises(AuthError):
        check_expiry({"signatureversion": "3"}, NOW)


def test_expiry_defaults_to_the_clock_and_naive_now_is_utc() -> None:
    soon = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S%z")
    check_expiry(_v3(soon), None)
    check_expiry(_v3("2026-07-29T11:18:10+0000"), NOW.replace(tzinfo=None))


def test_authenticate_combines_both_checks() -> None:
    params = {**_v3("2026-07-29T11:18:10+0000"), "apiKey": "foo"}
    good = {**params, "signature": signature(params, "bar")}
    authenticate(good, "bar", NOW)
    with pytest.raises(AuthError):
        authenticate(good, "other", NOW)
    with pytest.raises(AuthError):
        authenticate(good, "bar", NOW + timedelta(hours=1))
    assert signature(params, "bar", variant=JAVA) == signature(params, "bar")
