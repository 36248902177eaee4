"""A small signed client for the live-server tests (the real clients have their
own tests in test_clients.py): requests signed the way CloudStack checks them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from cloudplane.api.signing import signature


@dataclass
class Api:
    url: str
    key: str
    secret: str
    client: httpx.Client | None = None

    def signed(self, command: str, *, response: str | None = "json", **params: Any) -> dict[str, str]:
        """The query parameters of a signed request (response=None: no format, i.e. XML)."""
        q = {"command": command, "apiKey": self.key,
             **{k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items() if v is not None}}
        if response is not None:
            q["response"] = response
        q["signature"] = signature(q, self.secret)
        return q

    def raw(self, command: str, *, method: str = "GET", **params: Any) -> httpx.Response:
        q = self.signed(command, **params)
        c = self.client or httpx.Client(timeout=60)
        try:
            if method == "POST":
                return c.post(self.url, data=q)
            return c.get(self.url, params=q)
        finally:
            if self.client is None:
                c.close()

    def __call__(self, command: str, **params: Any) -> dict[str, Any]:
        """The answer's inner body; fails the test on any error status."""
        r = self.raw(command, **params)
        assert r.status_code == 200, f"{command}: {r.status_code} {r.text}"
        body = r.json()
        assert len(body) == 1, body
        return dict(next(iter(body.values())))

    def error(self, command: str, status: int, **params: Any) -> dict[str, Any]:
        """The error body of a call that must fail with `status`."""
        r = self.raw(command, **params)
        assert r.status_code == status, f"{command}: wanted {status}, got {r.status_code} {r.text}"
        ((_, body),) = r.json().items()
        assert body["errorcode"] == status and body["errortext"], body
        return dict(body)


def admin(server: Any) -> Api:
    return Api(server.url, server.admin_key, server.admin_secret)


@dataclass
class Tenant:
    api: Api
    account: dict[str, Any]

    @property
    def user(self) -> dict[str, Any]:
        return dict(self.account["user"][0])


def new_tenant(root: Api, *, accounttype: int = 0, prefix: str = "t", **extra: Any) -> Tenant:
    """A fresh account with one user that has API keys."""
    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    acct = root("createAccount", username=name, password="pw-" + name, email=f"{name}@example.org",
                firstname="T", lastname=name, accounttype=accounttype, **extra)["account"]
    keys = root("registerUserKeys", id=acct["user"][0]["id"])["userkeys"]
    return Tenant(Api(root.url, keys["apikey"], keys["secretkey"]), acct)
