"""Helpers for the identity, role and tenancy tests: clients with the real `cs`
library, and tenants (domain, account, user with keys) made fresh per test so
no test depends on another. No tests here."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cs
import pytest

PASSWORD = "s3cret-Pw"
ACCOUNT_TYPES = {"user": 0, "root": 1, "domainadmin": 2}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def client(server: Any, key: str | None = None, secret: str | None = None) -> cs.CloudStack:
    return cs.CloudStack(endpoint=server.url, key=key or server.admin_key, secret=secret or server.admin_secret,
                         timeout=30, poll_interval=0.05, job_timeout=60)


def fails(code: int, fn: Callable[..., Any], **params: Any) -> dict[str, Any]:
    """Call `fn` and expect CloudStack's error `code` (HTTP status and body, or a failed job's result)."""
    with pytest.raises(cs.CloudStackApiException) as info:
        fn(**params)
    err = info.value.error
    status = info.value.response.status_code if info.value.response is not None else None
    if status == 200:  # a failed async job: the code is in the job's result
        assert err["errorcode"] == code, err
    else:
        assert status == code and err["errorcode"] == code, (status, err)
    assert err["errortext"], err
    return dict(err)


@dataclass
class Tenant:
    """An account with one user whose API keys `api` signs with."""

    api: cs.CloudStack
    account: dict[str, Any]
    user: dict[str, Any]
    key: str
    secret: str

    @property
    def domainid(self) -> str:
        return str(self.account["domainid"])

    @property
    def name(self) -> str:
        return str(self.account["name"])


def make_domain(root: cs.CloudStack, parent: str | None = None, name: str | None = None) -> dict[str, Any]:
    params = {"name": name or unique("dom")}
    if parent:
        params["parentdomainid"] = parent
    return dict(root.createDomain(**params)["domain"])


def make_tenant(server: Any, root: cs.CloudStack, *, domainid: str | None = None, kind: str = "user",
                roleid: str | None = None, password: str = PASSWORD) -> Tenant:
    """A new account (of `kind` or with `roleid`) and keys for its first user."""
    name = unique(kind)
    params: dict[str, Any] = {"username": name, "password": password, "email": f"{name}@example.org",
                              "firstname": "First", "lastname": "Last"}
    if roleid:
        params["roleid"] = roleid
    else:
        params["accounttype"] = ACCOUNT_TYPES[kind]
    if domainid:
        params["domainid"] = domainid
    account = root.createAccount(**params)["account"]
    user = account["user"][0]
    keys = root.registerUserKeys(id=user["id"])["userkeys"]
    return Tenant(client(server, keys["apikey"], keys["secretkey"]), account, user, keys["apikey"],
                  keys["secretkey"])


def job(api: cs.CloudStack, command: str, **params: Any) -> Any:
    """An async command, waited for; returns its job result."""
    return getattr(api, command)(fetch_result=True, **params)
