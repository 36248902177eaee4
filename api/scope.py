"""Who may see what: CloudStack's list semantics as a filter.

- A user sees its own account's resources; `listall`, `domainid` and `account`
  may only name itself.
- A domain admin sees its own account's resources, or with `listall=true`
  everything in its domain subtree; `domainid` must lie in that subtree.
- A root admin is a domain admin of ROOT.
`domainid` alone means that domain (and below when `isrecursive=true`);
`account` needs `domainid` (or means the caller's domain).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, select

from cloudplane.api.context import Call, Caller
from cloudplane.errors import NotAllowed, ParamError
from cloudplane.store.tables.identity import Account, Domain

A, D = Account.__table__, Domain.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Visibility:
    account_id: int | None = None  # one account only
    domain_path: str | None = None  # that domain ...
    recursive: bool = False  # ... and its subdomains

    def clause(self, account_col: Any, domain_col: Any) -> ColumnElement[bool]:
        """A WHERE clause for a table with account and domain id columns."""
        if self.account_id is not None:
            return account_col == self.account_id  # type: ignore[no-any-return]
        assert self.domain_path is not None
        if self.recursive and self.domain_path == "/":
            # Every domain lies under ROOT: the subquery would only cost (half of counting
            # 100k VMs) and keep out nothing a domain id can name.
            return domain_col.is_not(None)  # type: ignore[no-any-return]
        if self.recursive:
            sub = select(D.c.id).where(D.c.path.startswith(self.domain_path, autoescape=True))
            return domain_col.in_(sub)  # type: ignore[no-any-return]
        sub = select(D.c.id).where(D.c.path == self.domain_path)
        return domain_col.in_(sub)  # type: ignore[no-any-return]


def in_subtree(caller: Caller, path: str) -> bool:
    return path.startswith(caller.domain_path)


async def domain_by_uuid(call: Call, uuid: str) -> Any:
    async with call.service.engine.connect() as conn:
        row = (await conn.execute(select(D).where(D.c.uuid == uuid, D.c.removed.is_(None)))).first()
    if row is None:
        raise ParamError(f"Unable to find domain by id {uuid}")
    return row


async def account_in(call: Call, name: str, domain_id: int) -> Any:
    async with call.service.engine.connect() as conn:
        row = (await conn.execute(select(A).where(
            and_(A.c.name == name, A.c.domain_id == domain_id, A.c.removed.is_(None))))).first()
    if row is None:
        raise ParamError(f"Unable to find account {name} in domain id {domain_id}")
    return row


async def visibility(call: Call) -> Visibility:
    c = call.caller
    listall = bool(call.get("listall", False))
    recursive = call.get("isrecursive")
    domain_uuid, account = call.get("domainid"), call.get("account")
    if account and not domain_uuid:
        domain_uuid = c.domain_uuid
    dom = await domain_by_uuid(call, domain_uuid) if domain_uuid else None
    if c.role_type == "User":
        if dom is not None and dom.id != c.domain_id:
            raise NotAllowed("Caller cannot view resources of another domain")
        if account and account != c.account_name:
            raise NotAllowed(f"Caller is not allowed to view resources of account {account}")
        return Visibility(account_id=c.account_id)
    if dom is not None and not in_subtree(c, dom.path):
        raise NotAllowed(f"Caller cannot view resources of domain {dom.uuid}: not in its domain subtree")
    if account:
        assert dom is not None
        return Visibility(account_id=(await account_in(call, account, dom.id)).id)
    if dom is not None:
        return Visibility(domain_path=dom.path, recursive=bool(recursive) if recursive is not None else False)
    if listall or call.get("id") is not None:
        # Looking one thing up by id, an admin searches everything it may reach (as CloudStack does).
        return Visibility(domain_path=c.domain_path, recursive=True if recursive is None else bool(recursive))
    return Visibility(account_id=c.account_id)


async def target_account(call: Call) -> tuple[int, int]:
    """The (account id, domain id) a create acts for: the caller, or for admins
    `account`+`domainid` within their reach."""
    c = call.caller
    account, domain_uuid = call.get("account"), call.get("domainid")
    if not account and not domain_uuid:
        return c.account_id, c.domain_id
    if c.role_type == "User":
        if (account and account != c.account_name) or (domain_uuid and domain_uuid != c.domain_uuid):
            raise NotAllowed("a user can only act for its own account")
        return c.account_id, c.domain_id
    if not account or not domain_uuid:
        raise ParamError("account and domainid must be given together")
    dom = await domain_by_uuid(call, domain_uuid)
    if not in_subtree(c, dom.path):
        raise NotAllowed(f"domain {domain_uuid} is outside the caller's domain subtree")
    row = await account_in(call, account, dom.id)
    return row.id, dom.id
