"""The real CloudStack clients against the live server: `cs` (GET and POST,
signatureVersion 3 as it sends by default), Apache Libcloud's CloudStack
driver and aiocloudstack. Each signs, lists, creates an account and waits for
an async job (disableAccount) through queryAsyncJobResult."""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import cs
import pytest
import requests
from CloudStackAIO.CloudStack import CloudStack as AioCloudStack
from CloudStackAIO.CloudStack import CloudStackClientException
from libcloud.common.types import ProviderError
from libcloud.compute.providers import Provider, get_driver

pytestmark = pytest.mark.ray


def _name(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def _account_args(name: str) -> dict[str, str]:
    return {"username": name, "password": "pw-" + name, "email": f"{name}@example.org", "firstname": "C",
            "lastname": "Lient", "accounttype": "0"}


# ---------------------------------------------------------------- cs


class _Recording(requests.Session):
    """A requests session that keeps what cs sent."""

    def __init__(self, sent: list[requests.PreparedRequest]) -> None:
        super().__init__()
        self.sent = sent

    def send(self, request: requests.PreparedRequest, **kw: Any) -> requests.Response:  # type: ignore[override]
        self.sent.append(request)
        return super().send(request, **kw)


def _cs(server: Any, method: str) -> tuple[cs.CloudStack, list[requests.PreparedRequest]]:
    sent: list[requests.PreparedRequest] = []
    session = _Recording(sent)
    api = cs.CloudStack(endpoint=server.url, key=server.admin_key, secret=server.admin_secret, method=method,
                        timeout=30, poll_interval=0.1, job_timeout=60, session=session)
    return api, sent


def _wire(req: requests.PreparedRequest) -> dict[str, str]:
    text = urlsplit(req.url).query if req.method == "GET" else (req.body or "")
    if isinstance(text, bytes):
        text = text.decode()
    return dict(parse_qsl(text, keep_blank_values=True))


@pytest.mark.parametrize("method", ["get", "post"])
def test_cs(live_server: Any, method: str) -> None:
    api, sent = _cs(live_server, method)
    users = api.listUsers(username="admin")["user"]
    assert users[0]["apikey"] == live_server.admin_key
    wire = _wire(sent[-1])
    assert sent[-1].method == method.upper()
    assert wire["signatureVersion"] == "3" and wire["expires"]  # cs's default

    name = _name("cs" + method)
    acct = api.createAccount(**_account_args(name))["account"]
    assert acct["name"] == name and acct["state"] == "enabled"
    listed = api.listAccounts(name=name, listall=True, fetch_list=True)
    assert [a["id"] for a in listed] == [acct["id"]]

    # async: cs polls queryAsyncJobResult until the job is done
    result = api.disableAccount(id=acct["id"], lock=False, fetch_result=True)
    assert result["account"]["state"] == "disabled"
    assert any(_wire(r)["command"] == "queryAsyncJobResult" for r in sent)
    # and by hand: deleteAccount answers a job id at once; poll it
    api.enableAccount(id=acct["id"])
    jobid = api.deleteAccount(id=acct["id"])["jobid"]
    deadline = time.monotonic() + 30
    while (job := api.queryAsyncJobResult(jobid=jobid))["jobstatus"] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert (job["jobstatus"], job["jobresultcode"], job["jobresult"]) == (1, 0, {"success": True})

    with pytest.raises(cs.CloudStackApiException) as err:
        api.listUsers(id="not-a-uuid")
    assert err.value.error["errorcode"] == 431


def test_cs_without_signature_version_3(live_server: Any) -> None:
    api = cs.CloudStack(endpoint=live_server.url, key=live_server.admin_key, secret=live_server.admin_secret,
                        expiration=-1, timeout=30)
    assert api.listCapabilities()["capability"]["cloudstackversion"].startswith("4.18")


# ---------------------------------------------------------------- libcloud


def _libcloud(server: Any) -> Any:
    port = urlsplit(server.url).port
    cls = get_driver(Provider.CLOUDSTACK)
    return cls(server.admin_key, server.admin_secret, host="127.0.0.1", port=port, path="/client/api",
               secure=False)


def test_libcloud(live_server: Any) -> None:
    driver = _libcloud(live_server)
    driver.connection.poll_interval = 0.1
    users = driver._sync_request(command="listUsers", params={"username": "admin"})
    assert users["user"][0]["apikey"] == live_server.admin_key
    name = _name("lc")
    acct = driver._sync_request(command="createAccount", params=_account_args(name), method="GET")["account"]
    assert acct["name"] == name
    found = driver._sync_request(command="listAccounts", params={"name": name, "listall": "true"})
    assert found["count"] == 1 and found["account"][0]["id"] == acct["id"]
    # libcloud's PollingConnection asks queryAsyncJobResult until jobstatus != 0
    result = driver._async_request(command="disableAccount", params={"id": acct["id"], "lock": "true"})
    assert result["account"]["state"] == "locked"
    with pytest.raises(ProviderError) as err:
        driver._sync_request(command="listUsers", params={"id": "not-a-uuid"})
    assert err.value.http_code == 431


# ---------------------------------------------------------------- aiocloudstack


class _Aio(AioCloudStack):  # type: ignore[misc]
    """aiocloudstack 0.0.7 builds its aiohttp session with a `loop=` argument
    current aiohttp refuses, and closes it in __del__; own the session instead."""

    def __init__(self, end_point: str, api_key: str, api_secret: str, session: aiohttp.ClientSession) -> None:
        self.end_point, self.api_key, self.api_secret = end_point, api_key, api_secret
        self.async_poll_latency, self.max_page_size = 0.1, 500
        self.client_session = session

    def __del__(self) -> None:
        pass


async def test_aiocloudstack(live_server: Any) -> None:
    async with aiohttp.ClientSession() as session:
        api = _Aio(live_server.url, live_server.admin_key, live_server.admin_secret, session)
        users = await api.listUsers(username="admin")
        assert users["count"] == 1 and users["user"][0]["apikey"] == live_server.admin_key
        name = _name("aio")
        acct = (await api.createAccount(**_account_args(name)))["account"]
        found = await api.listAccounts(name=name, listall="true")
        assert found["count"] == 1 and found["account"][0]["id"] == acct["id"]
        # an async command: the client polls queryAsyncJobResult itself
        result = await api.disableAccount(id=acct["id"], lock="false")
        assert result["account"]["state"] == "disabled"
        with pytest.raises(CloudStackClientException) as err:
            await api.listUsers(id="not-a-uuid")
        assert err.value.error_code == 431
