"""The real client libraries sign requests; verify() must accept every one.

Each client is driven through its own request path up to the HTTP layer,
which is replaced by a capture, and the captured URL is decoded the way the
server decodes a query string.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import cs
import pytest
import yarl
from CloudStackAIO.CloudStack import CloudStack as AioCloudStack
from libcloud.common.cloudstack import CloudStackConnection
from libcloud.compute.drivers.cloudstack import CloudStackNodeDriver

from cloudplane.api.signing import check_expiry, verify

KEY, SECRET = "foo", "bar"
ENDPOINT = "http://127.0.0.1:9/client/api"

# Values that make the clients deviate from CloudStack's Java encoding.
AWKWARD = ["plain", "tilde~x", "[x]", "star*", "é", "a b", "~[ ]*é mixed", "a/b+c=d&e"]


class Captured(Exception):
    pass


def _decode(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


# ---------------------------------------------------------------- cs 5.2.0


class _CaptureSession:
    def __init__(self) -> None:
        self.urls: list[str] = []

    def send(self, prepped: Any, **_: Any) -> Any:
        self.urls.append(prepped.url)
        raise Captured


def _cs_request(command: str, expiration: int = 600, **params: Any) -> dict[str, str]:
    session = _CaptureSession()
    client = cs.CloudStack(endpoint=ENDPOINT, key=KEY, secret=SECRET, session=session, expiration=expiration)
    with pytest.raises(Captured):
        getattr(client, command)(**params)
    return _decode(session.urls[0])


def test_cs_reproduces_the_design_vector() -> None:
    received = _cs_request("listVirtualMachines", expiration=-1, listall=True)
    assert received["signature"] == "B0d6hBsZTcFVCiioSxzwKA9Pke8="
    assert verify(received, SECRET)


@pytest.mark.parametrize("value", AWKWARD)
def test_cs_requests_verify(value: str) -> None:
    received = _cs_request("listVirtualMachines", keyword=value, details={"cpuNumber": "2", "key": value}, listall=True)
    assert received["signatureVersion"] == "3"
    assert verify(received, SECRET)
    check_expiry(received, datetime.now(UTC))  # cs's expires (now + 10 min) parses and is in the future
    assert not verify(received, "not-the-secret")


@pytest.mark.parametrize("value", AWKWARD)
def test_cs_sign_function_verifies(value: str) -> None:
    client = cs.CloudStack(endpoint=ENDPOINT, key=KEY, secret=SECRET)
    data = {"apiKey": KEY, "command": "listZones", "name": value, "tags[0].key": value, "response": "json"}
    client._sign(data)
    assert verify(data, SECRET)


# ---------------------------------------------------------------- libcloud


def _libcloud_connection() -> tuple[CloudStackConnection, list[str]]:
    driver = CloudStackNodeDriver(key=KEY, secret=SECRET, host="127.0.0.1", path="/client/api", secure=False, port=9)
    conn = driver.connection
    urls: list[str] = []

    def capture(url: str, **_: Any) -> Any:
        urls.append(url)
        raise Captured

    conn.connect = lambda *a, **k: None  # type: ignore[method-assign]
    conn.connection = object()
    conn._retryable_request = capture  # type: ignore[method-assign]
    return conn, urls


@pytest.mark.parametrize("value", AWKWARD)
def test_libcloud_requests_verify(value: str) -> None:
    conn, urls = _libcloud_connection()
    params = {"name": value, "tags[0].key": "k", "tags[0].value": value, "zoneId": "Z", "listall": "true"}
    with pytest.raises(Captured):
        conn._sync_request("listVirtualMachines", params=params)
    received = _decode(urls[0])
    assert received["tags[0].value"] == value
    assert verify(received, SECRET)
    assert not verify(received, "not-the-secret")


@pytest.mark.parametrize("value", AWKWARD)
def test_libcloud_make_signature_verifies(value: str) -> None:
    conn, _ = _libcloud_connection()
    params = {"apiKey": KEY, "command": "listZones", "name": value, "details[0].cpuNumber": value, "response": "json"}
    params["signature"] = conn._make_signature(dict(params)).decode()
    assert verify(params, SECRET)


# ---------------------------------------------------------------- aiocloudstack


class _FakeResponse:
    status = 200

    async def json(self) -> dict[str, Any]:
        return {"listvirtualmachinesresponse": {}}


class _FakeRequest:
    def __init__(self, calls: list[tuple[str, dict[str, Any]]], url: str, params: dict[str, Any]) -> None:
        calls.append((url, dict(params)))

    async def __aenter__(self) -> _FakeResponse:
        return _FakeResponse()

    async def __aexit__(self, *exc: object) -> bool:
        return False


class _FakeSession:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def get(self, url: str, params: dict[str, Any]) -> _FakeRequest:
        return _FakeRequest(self.calls, url, params)


class _AioProbe(AioCloudStack):  # type: ignore[misc]
    """The real client minus its aiohttp session (built in __init__, closed in __del__)."""

    def __init__(self) -> None:
        self.end_point, self.api_key, self.api_secret = ENDPOINT, KEY, SECRET
        self.async_poll_latency, self.max_page_size = 0, 500
        self.client_session = _FakeSession()

    def __del__(self) -> None:
        pass


@pytest.mark.parametrize("value", AWKWARD)
async def test_aiocloudstack_requests_verify(value: str) -> None:
    client = _AioProbe()
    await client.listVirtualMachines(keyword=value, **{"details[0].cpuNumber": value})
    url, params = client.client_session.calls[0]
    # Encode as aiohttp does (yarl), then decode as the server does.
    wire = yarl.URL(url).with_query({k: str(v) for k, v in params.items()})
    received = dict(parse_qsl(wire.raw_query_string, keep_blank_values=True))
    assert received["apikey"] == KEY
    assert verify(received, SECRET)
    assert not verify(received, "not-the-secret")
