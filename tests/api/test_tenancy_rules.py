"""Who may act on whom, as pure decisions (api/commands/identity.py), without a server."""

from __future__ import annotations

import pytest

from cloudplane.api.commands.identity import (
    Target,
    check_network_domain,
    reaches_domain,
    require_account,
    require_domain,
    require_grant,
)
from cloudplane.api.context import Caller
from cloudplane.errors import NotAllowed, ParamError


def caller(role_type: str, path: str, account_id: int = 10) -> Caller:
    account_type = {"User": 0, "Admin": 1, "DomainAdmin": 2, "ResourceAdmin": 3}[role_type]
    return Caller(1, "u", "someone", account_id, "a", "acct", account_type, 5, "d", path, "dom", 1, role_type)


def target(role_type: str, path: str, account_id: int = 20, name: str = "other", default: bool = False) -> Target:
    return Target(account_id, "t", name, role_type, path, default)


USER, DADMIN, ROOT = caller("User", "/a/"), caller("DomainAdmin", "/a/"), caller("Admin", "/")

CASES = [
    # caller, target, allowed
    (USER, target("User", "/a/", account_id=10), True),  # its own account
    (USER, target("User", "/a/"), False),  # another account of its domain
    (DADMIN, target("User", "/a/"), True),
    (DADMIN, target("User", "/a/b/"), True),
    (DADMIN, target("DomainAdmin", "/a/"), True),  # a peer, not more privileged
    (DADMIN, target("User", "/ab/"), False),  # a sibling whose name shares a prefix
    (DADMIN, target("User", "/"), False),
    (DADMIN, target("Admin", "/a/"), False),  # more privileged, even inside its subtree
    (DADMIN, target("ResourceAdmin", "/a/b/"), False),
    (ROOT, target("Admin", "/"), True),
    (ROOT, target("User", "/x/y/"), True),
]


@pytest.mark.parametrize(("c", "t", "allowed"), CASES)
def test_require_account(c: Caller, t: Target, allowed: bool) -> None:
    if allowed:
        require_account(c, t)
    else:
        with pytest.raises(NotAllowed):
            require_account(c, t)


def test_domains() -> None:
    assert reaches_domain(USER, "/a/") and not reaches_domain(USER, "/a/b/")
    assert reaches_domain(DADMIN, "/a/b/") and not reaches_domain(DADMIN, "/") and not reaches_domain(DADMIN, "/ab/")
    assert reaches_domain(ROOT, "/z/")
    with pytest.raises(NotAllowed, match="domain id=x"):
        require_domain(DADMIN, "/", "x")


@pytest.mark.parametrize(("c", "role_type", "allowed"), [
    (DADMIN, "User", True), (DADMIN, "DomainAdmin", True), (DADMIN, "ResourceAdmin", False),
    (DADMIN, "Admin", False), (caller("ResourceAdmin", "/"), "Admin", False), (ROOT, "Admin", True),
])
def test_require_grant(c: Caller, role_type: str, allowed: bool) -> None:
    if allowed:
        require_grant(c, role_type)
    else:
        with pytest.raises(NotAllowed):
            require_grant(c, role_type)


def test_system_account() -> None:
    assert target("Admin", "/", name="system", default=True).is_system
    assert not target("Admin", "/", name="admin", default=True).is_system
    assert not target("User", "/a/", name="system").is_system


@pytest.mark.parametrize("value", ["example.org", "a-b.c1", "x" * 63])
def test_network_domain_ok(value: str) -> None:
    check_network_domain(value)


@pytest.mark.parametrize("value", ["-a.org", "a-.org", "a..org", "a_b.org", "x" * 64, ("a" * 60 + ".") * 4])
def test_network_domain_bad(value: str) -> None:
    with pytest.raises(ParamError, match="networkdomain"):
        check_network_domain(value)
