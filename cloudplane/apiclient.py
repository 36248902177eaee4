"""A small async client of the CloudStack API (signed requests, job polling),
used by `cloudplane simulate` and `cloudplane deploy-datacenter`."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import httpx

from cloudplane.api.signing import signature
from cloudplane.errors import ApiError


def flatten(params: dict[str, Any]) -> dict[str, str]:
    """CloudStack's wire form: lists of dicts become `name[i].key=value`, bools `true`/`false`."""
    out: dict[str, str] = {}
    for k, v in params.items():
        if v is None:
            continue
        if isinstance(v, list) and v and isinstance(v[0], dict):
            for i, item in enumerate(v):
                for ik, iv in item.items():
                    out[f"{k}[{i}].{ik}"] = str(iv)
        elif isinstance(v, dict):
            for i, (ik, iv) in enumerate(v.items()):
                out[f"{k}[{i}].key"], out[f"{k}[{i}].value"] = str(ik), str(iv)
        elif isinstance(v, bool):
            out[k] = "true" if v else "false"
        elif isinstance(v, list):
            out[k] = ",".join(str(x) for x in v)
        else:
            out[k] = str(v)
    return out


class ApiClient:
    def __init__(self, url: str, key: str | None = None, secret: str | None = None,
                 sessionkey: str | None = None, timeout: float = 120.0) -> None:
        self.url, self.key, self.secret, self.sessionkey = url, key, secret, sessionkey
        self.http = httpx.AsyncClient(timeout=timeout)

    async def close(self) -> None:
        await self.http.aclose()

    def _signed(self, command: str, params: dict[str, Any]) -> str:
        p = {"command": command, "response": "json", **flatten(params)}
        if self.sessionkey:
            p["sessionkey"] = self.sessionkey
        else:
            assert self.key and self.secret, "need API keys or a session"
            p["apiKey"] = self.key
            p["signature"] = signature(p, self.secret)
        return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in p.items())

    async def call(self, command: str, **params: Any) -> dict[str, Any]:
        r = await self.http.post(self.url, content=self._signed(command, params),
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
        body = r.json()
        inner = next(iter(body.values())) if body else {}
        if r.status_code != 200 or (isinstance(inner, dict) and "errorcode" in inner):
            raise ApiError(str(inner.get("errortext", r.text)), int(inner.get("errorcode", r.status_code)))
        return inner  # type: ignore[no-any-return]

    async def wait_job(self, jobid: str, timeout: float = 300.0, poll: float = 0.2) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            j = await self.call("queryAsyncJobResult", jobid=jobid)
            if j.get("jobstatus") == 1:
                return j.get("jobresult") or {}
            if j.get("jobstatus") == 2:
                res = j.get("jobresult") or {}
                raise ApiError(str(res.get("errortext", "job failed")), int(res.get("errorcode", 530)))
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"job {jobid} still pending after {timeout}s")
            await asyncio.sleep(poll)

    async def do(self, command: str, **params: Any) -> dict[str, Any]:
        """Call; if the answer is only an async job, wait for it and return its result (as Marvin does)."""
        res = await self.call(command, **params)
        if "jobid" in res and set(res) <= {"jobid", "id"}:
            return await self.wait_job(res["jobid"])
        return res

    async def call_async(self, command: str, **params: Any) -> dict[str, Any]:
        return await self.wait_job((await self.call(command, **params))["jobid"])

    @classmethod
    async def bootstrap(cls, url: str, username: str = "admin", password: str = "password",
                        domain: str = "/") -> ApiClient:
        """Marvin's way in: log in, then register API keys for the user and use them."""
        async with httpx.AsyncClient(timeout=60) as http:
            r = await http.post(url, data={"command": "login", "username": username, "password": password,
                                           "domain": domain, "response": "json"})
            body = r.json()
            if r.status_code != 200:
                raise ApiError(str(next(iter(body.values())).get("errortext")), r.status_code)
            session = body["loginresponse"]["sessionkey"]
        s = cls(url, sessionkey=session)
        user = (await s.call("listUsers", username=username))["user"][0]
        keys = (await s.call("getUserKeys", id=user["id"])).get("userkeys", {}) if user.get("apikey") else {}
        if not keys.get("secretkey"):
            keys = (await s.call("registerUserKeys", id=user["id"]))["userkeys"]
        await s.close()
        return cls(url, keys.get("apikey"), keys.get("secretkey"))
