"""Which resources users may tag, give details or annotate, and how a resource
is found by its type and public id.

CloudStack names resource types in its API (`resourcetype=UserVm`); each
type we hold maps to a table, a condition (an ISO is a template whose format
is ISO) and the column naming its owning account. Types CloudStack knows but
this cloud does not hold yet answer "not supported", never a silent success.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Table, null, select

from cloudplane.api.context import Caller
from cloudplane.errors import NotAllowed, ParamError
from cloudplane.store.tables.compute import DiskOffering, ServiceOffering, VmInstance
from cloudplane.store.tables.identity import Account, Domain
from cloudplane.store.tables.images import Template
from cloudplane.store.tables.infra import Zone
from cloudplane.store.tables.network import IpAddress, Network, NetworkOffering
from cloudplane.store.tables.storage import Snapshot, SnapshotPolicy, StoragePool, Volume, VmSnapshot

A, D = Account.__table__, Domain.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ResourceType:
    name: str  # CloudStack's spelling
    table: Table
    taggable: bool
    detailable: bool
    owned: bool = True  # has an owning account (else only root admins change it)
    only: tuple[tuple[str, Any], ...] = ()  # column == value conditions
    not_: tuple[tuple[str, Any], ...] = ()  # column != value conditions
    account_column: str = "account_id"

    def where(self) -> list[ColumnElement[bool]]:
        t = self.table
        out: list[Any] = [t.c[c] == v for c, v in self.only] + [t.c[c] != v for c, v in self.not_]
        if "removed" in t.c:
            out.append(t.c.removed.is_(None))
        return out

    @property
    def account(self) -> Any:
        return self.table.c[self.account_column] if self.owned else None


def _t(model: Any) -> Table:
    return model.__table__  # type: ignore[no-any-return]


TYPES: dict[str, ResourceType] = {r.name.lower(): r for r in (
    ResourceType("UserVm", _t(VmInstance), True, True, only=(("type", "User"),)),
    ResourceType("Template", _t(Template), True, True, not_=(("format", "ISO"),)),
    ResourceType("ISO", _t(Template), True, False, only=(("format", "ISO"),)),
    ResourceType("Volume", _t(Volume), True, True),
    ResourceType("Snapshot", _t(Snapshot), True, False),
    ResourceType("VMSnapshot", _t(VmSnapshot), True, False),
    ResourceType("Network", _t(Network), True, True),
    ResourceType("PublicIpAddress", _t(IpAddress), True, True),
    ResourceType("Account", _t(Account), True, False, account_column="id"),
    ResourceType("SnapshotPolicy", _t(SnapshotPolicy), False, True, owned=False),
    ResourceType("Zone", _t(Zone), False, True, owned=False),
    ResourceType("ServiceOffering", _t(ServiceOffering), False, True, owned=False),
    ResourceType("DiskOffering", _t(DiskOffering), False, True, owned=False),
    ResourceType("NetworkOffering", _t(NetworkOffering), False, True, owned=False),
    ResourceType("Storage", _t(StoragePool), False, True, owned=False),
)}

# CloudStack's other taggable types: nothing of theirs exists here yet.
NOT_HELD = frozenset(n.lower() for n in (
    "LoadBalancer", "PortForwardingRule", "FirewallRule", "SecurityGroup", "SecurityGroupRule", "Project", "Vpc",
    "NetworkACL", "StaticRoute", "RemoteAccessVpn", "User", "Nic", "VpcOffering", "AutoScaleVmProfile",
    "AutoScaleVmGroup", "LBStickinessPolicy", "LBHealthCheckPolicy", "PrivateGateway", "NetworkACLList",
    "VpnGateway", "CustomerGateway", "VpnConnection", "GuestOs", "Backup", "DomainRouter", "VnfTemplate"))


def resource_type(name: str | None, *, tags: bool = False, details: bool = False) -> ResourceType:
    key = (name or "").lower()
    rt = TYPES.get(key)
    if rt is None:
        if key in NOT_HELD:
            raise ParamError(f"resource type {name} is not supported")
        raise ParamError(f"Invalid resource type {name}")
    if tags and not rt.taggable:
        raise ParamError(f"Resource type {rt.name} does not support tags")
    if details and not rt.detailable:
        raise ParamError(f"Resource type {rt.name} does not support details")
    return rt


def owner_query(rt: ResourceType) -> Any:
    """id, uuid, account_id, domain_id and the domain's path of resources of this type."""
    t = rt.table
    if not rt.owned:
        return select(t.c.id, t.c.uuid, *(c.label(n) for n, c in (
            ("account_id", null()), ("domain_id", null()), ("dom_path", null())))).where(*rt.where())
    return (select(t.c.id, t.c.uuid, rt.account.label("account_id"), A.c.domain_id, D.c.path.label("dom_path"))
            .select_from(t.outerjoin(A, rt.account == A.c.id).outerjoin(D, A.c.domain_id == D.c.id))
            .where(*rt.where()))


def may_change(caller: Caller, rt: ResourceType, row: Any) -> bool:
    """Users change their own account's resources, domain admins their subtree's, root all."""
    if caller.is_root_admin:
        return True
    if not rt.owned or row.account_id is None:
        return False
    if caller.role_type == "User":
        return bool(row.account_id == caller.account_id)
    return row.dom_path is not None and str(row.dom_path).startswith(caller.domain_path)


async def owned_resources(conn: Any, caller: Caller, rt: ResourceType, uuids: list[str]) -> list[Any]:
    """The resources named, in the caller's reach: 431 for an unknown id, 432 for another's."""
    if not uuids:
        raise ParamError("resourceids must name at least one resource")
    rows = {r.uuid: r for r in (await conn.execute(owner_query(rt).where(rt.table.c.uuid.in_(uuids)))).all()}
    for u in uuids:
        r = rows.get(u)
        if r is None:
            raise ParamError(f"Unable to find resource by id {u} and type {rt.name}")
        if not may_change(caller, rt, r):
            raise NotAllowed(f"Account {caller.account_name} does not have permission to change "
                             f"{rt.name} {u}")
    return [rows[u] for u in dict.fromkeys(uuids)]
