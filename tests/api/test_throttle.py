"""api.throttling.*: a per-account window; past the limit, CloudStack's 429."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tests.api.signed import Api, admin, new_tenant

pytestmark = pytest.mark.ray


@contextmanager
def throttling(api: Api, *, interval: int, limit: int) -> Iterator[None]:
    api("updateConfiguration", name="api.throttling.interval", value=str(interval))
    api("updateConfiguration", name="api.throttling.max", value=str(limit))
    api("updateConfiguration", name="api.throttling.enabled", value="true")
    try:
        yield
    finally:
        for name in ("api.throttling.enabled", "api.throttling.interval", "api.throttling.max"):
            api("resetConfiguration", name=name)


def test_an_account_past_the_limit_gets_429_and_others_do_not(live_server: Any) -> None:
    api = admin(live_server)
    a, b = new_tenant(api, prefix="thra"), new_tenant(api, prefix="thrb")
    with throttling(api, interval=60, limit=5):
        caps = a.api("listCapabilities")["capability"]  # 1 of 5
        assert (caps["apilimitmax"], caps["apilimitinterval"]) == (5, 60)
        for _ in range(4):
            a.api("listUsers")
        r = a.api.raw("listUsers")
        assert r.status_code == 429 and r.headers["content-type"].startswith("application/json")
        body = r.json()["listusersresponse"]
        assert (body["errorcode"], body["cserrorcode"], body["uuidList"]) == (429, 9999, [])
        assert re.fullmatch(r"The given user has reached his/her account api limit, please retry after \[\d+\] ms\.",
                            body["errortext"]), body
        # the same limit in XML for a client that asked for no format
        x = httpx.get(live_server.url, params=a.api.signed("listUsers", response=None))
        assert x.status_code == 429 and "<errorcode>429</errorcode>" in x.text
        # another account has its own window; root admins are never throttled
        for _ in range(5):
            b.api("listUsers")
        for _ in range(10):
            api("listCapabilities")
    a.api("listUsers")  # off again: no limit


def test_the_window_resets_after_the_interval(live_server: Any) -> None:
    api = admin(live_server)
    t = new_tenant(api, prefix="thrw")
    with throttling(api, interval=1, limit=2):
        t.api("listUsers")
        t.api("listUsers")
        t.api.error("listUsers", 429)
        deadline = time.monotonic() + 5
        while t.api.raw("listUsers").status_code == 429:
            assert time.monotonic() < deadline, "the window never reset"
            time.sleep(0.2)
