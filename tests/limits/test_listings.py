"""Limits as listings show them, through a live server with `cs`: listAccounts and
listDomains carry CloudStack's `*limit/*total/*available` fields (read for a whole
page in a fixed number of queries), and listResourceLimits by `id`, with
`listall` and with `isrecursive`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import cs
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import create_async_engine

from cloudplane.api.views.limits import PREFIX, owners_limit_fields
from tests.limits.test_limits import deploy_for, set_limit
from tests.storage.conftest import GiB, rows
from tests.vms.conftest import Cloud, Tenant, api_error, unique

pytestmark = pytest.mark.ray


def _account(api: cs.CloudStack, acct: dict[str, Any]) -> dict[str, Any]:
    return dict(api.listAccounts(id=acct["id"])["account"][0])


def test_list_accounts_carries_limits_totals_and_what_is_left(root: cs.CloudStack, cloud: Cloud,
                                                               tenant: Callable[[], Tenant]) -> None:
    t = tenant()
    acct = t.account
    set_limit(root, acct, 0, 3)
    set_limit(root, acct, 7, -1)
    vm = deploy_for(root, cloud, acct, startvm=False)
    root_gib = int(root.listVolumes(virtualmachineid=vm["id"], listall=True)["volume"][0]["size"]) // GiB
    got = _account(root, acct)
    assert (got["vmlimit"], got["vmtotal"], got["vmavailable"]) == ("3", 1, "2")
    assert (got["vmrunning"], got["vmstopped"]) == (0, 1)  # deployed without starting
    assert (got["vpclimit"], got["vpctotal"], got["vpcavailable"]) == ("Unlimited", 0, "Unlimited")
    assert (got["cputotal"], got["memorytotal"]) == (vm["cpunumber"], vm["memory"])
    assert (got["cpulimit"], got["cpuavailable"]) == ("40", str(40 - vm["cpunumber"]))
    assert (got["volumelimit"], got["volumetotal"], got["volumeavailable"]) == ("20", 1, "19")
    assert (got["primarystoragelimit"], got["primarystoragetotal"]) == ("200", root_gib)
    assert got["primarystorageavailable"] == str(200 - root_gib)
    for prefix in PREFIX.values():  # every type, in CloudStack's shape
        assert isinstance(got[f"{prefix}limit"], str) and isinstance(got[f"{prefix}total"], int), prefix
    assert _account(t.api, acct)["vmtotal"] == 1  # the user sees its own
    admin = root.listAccounts(name="admin")["account"][0]
    assert admin["vmlimit"] == admin["primarystorageavailable"] == "Unlimited"  # a root admin is never limited


def test_list_domains_carries_the_limits_in_force(root: cs.CloudStack, cloud: Cloud) -> None:
    parent = root.createDomain(name=unique("dlim"))["domain"]
    child = root.createDomain(name=unique("dsub"), parentdomainid=parent["id"])["domain"]
    root.updateResourceLimit(domainid=parent["id"], resourcetype=0, max=4)
    name = unique("dacct")
    acct = root.createAccount(username=name, password="pw-" + name, email=f"{name}@example.org", firstname="D",
                              lastname=name, accounttype=0, domainid=child["id"])["account"]
    deploy_for(root, cloud, acct, startvm=False)
    listed = {d["id"]: d for d in root.listDomains(listall=True)["domain"]}
    p, c = listed[parent["id"]], listed[child["id"]]
    assert (p["vmlimit"], p["vmtotal"], p["vmavailable"]) == ("4", 1, "3")  # its subtree's VMs count
    assert (c["vmlimit"], c["vmtotal"], c["vmavailable"]) == ("4", 1, "3")  # inherited from its parent
    assert c["iplimit"] == c["ipavailable"] == "40"  # max.domain.public.ips
    rootdom = next(d for d in listed.values() if d["level"] == 0)
    assert rootdom["vmlimit"] == rootdom["cpuavailable"] == "Unlimited" and rootdom["vmtotal"] >= 1


def test_a_page_of_owners_is_read_in_a_fixed_number_of_queries(live_server: Any, root: cs.CloudStack,
                                                                tenant: Callable[[], Tenant]) -> None:
    for _ in range(3):
        tenant()
    accts = [(int(i), int(t)) for i, t in rows(live_server, "SELECT id, account_type FROM account")]
    doms = [(int(i), str(p)) for i, p in rows(live_server, "SELECT id, path FROM domain")]
    assert len(accts) > 3

    async def queries(a: list[tuple[int, int]], d: list[tuple[int, str]]) -> int:
        engine = create_async_engine(live_server.db_url)
        seen: list[str] = []
        event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
        try:
            async with engine.connect() as conn:
                out = await owners_limit_fields(conn, accounts=a, domains=d)
        finally:
            await engine.dispose()
        assert len(out) == len(a) + len(d)
        return len(seen)

    one, page = asyncio.run(queries(accts[:1], doms[:1])), asyncio.run(queries(accts, doms))
    assert one == page <= 4, (one, page)


def _limit_row(server: Any, owner_type: str, owner_uuid: str, rtype: str) -> int:
    table = "account" if owner_type == "account" else "domain"
    return int(rows(server, f"SELECT l.id FROM resource_limit l JOIN {table} o ON o.id = l.owner_id "
                            "WHERE l.owner_type = ? AND o.uuid = ? AND l.resource_type = ?",
                    owner_type, owner_uuid, rtype)[0][0])


def test_list_resource_limits_by_id(live_server: Any, root: cs.CloudStack, tenant: Callable[[], Tenant]) -> None:
    mine, other = tenant(), tenant()
    set_limit(root, mine.account, 2, 7)
    set_limit(root, other.account, 2, 9)
    lid = _limit_row(live_server, "account", mine.account["id"], "volume")
    got = root.listResourceLimits(id=lid)["resourcelimit"]
    assert [(g["resourcetypename"], g["max"], g["account"]) for g in got] == [("volume", 7, mine.account["name"])]
    assert [g["max"] for g in mine.api.listResourceLimits(id=lid)["resourcelimit"]] == [7]
    theirs = _limit_row(live_server, "account", other.account["id"], "volume")
    assert api_error(mine.api.listResourceLimits, id=theirs)["errorcode"] == 531
    assert root.listResourceLimits(id=10**9) == {}


def test_list_resource_limits_listall_and_isrecursive(root: cs.CloudStack) -> None:
    top = root.createDomain(name=unique("rtop"))["domain"]
    sub = root.createDomain(name=unique("rsub"), parentdomainid=top["id"])["domain"]
    names = []
    for dom in (top, sub):
        name = unique("racct")
        root.createAccount(username=name, password="pw-" + name, email=f"{name}@example.org", firstname="R",
                           lastname=name, accounttype=0, domainid=dom["id"])
        names.append(name)
    root.updateResourceLimit(domainid=sub["id"], resourcetype=4, max=3)

    def owners(**params: Any) -> dict[tuple[str, str], dict[str, int]]:
        out: dict[tuple[str, str], dict[str, int]] = {}
        for r in root.listResourceLimits(fetch_list=True, **params):  # every page: the session has many owners
            out.setdefault((r["domainid"], r.get("account", "")), {})[r["resourcetypename"]] = int(r["max"])
        return out

    assert set(owners(domainid=top["id"])) == {(top["id"], "")}  # the domain alone
    deep = owners(domainid=top["id"], isrecursive=True)
    assert set(deep) == {(top["id"], ""), (sub["id"], ""), (top["id"], names[0]), (sub["id"], names[1])}
    assert deep[(sub["id"], "")]["template"] == 3 and deep[(top["id"], "")]["template"] == 40
    assert all(len(v) == 12 for v in deep.values())
    everyone = owners(listall=True)
    assert set(deep) < set(everyone)
    assert set(owners(listall=True, resourcetype=4, domainid=sub["id"])) == {(sub["id"], ""), (sub["id"], names[1])}
