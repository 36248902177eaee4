"""What a command handler gets: who is calling, with which parameters, and the
management node to act through. Also the shapes a handler returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cloudplane.actors.identity import EntityRef
from cloudplane.errors import NotAllowed

if TYPE_CHECKING:
    from cloudplane.api.registry import CommandSpec
    from cloudplane.api.service import ApiService

# CloudStack's Account.Type codes and the role types that go with them.
ACCOUNT_TYPES = {0: "User", 1: "Admin", 2: "DomainAdmin", 3: "ResourceAdmin"}


@dataclass(frozen=True, slots=True)
class Caller:
    user_id: int
    user_uuid: str
    username: str
    account_id: int
    account_uuid: str
    account_name: str
    account_type: int
    domain_id: int
    domain_uuid: str
    domain_path: str
    domain_name: str
    role_id: int | None
    role_type: str  # Admin | ResourceAdmin | DomainAdmin | User
    session: str | None = None  # the session's uuid when logged in by session

    @property
    def is_root_admin(self) -> bool:
        return self.role_type == "Admin"

    @property
    def is_domain_admin(self) -> bool:
        return self.role_type in ("DomainAdmin", "ResourceAdmin")

    def require_admin(self) -> None:
        if not self.is_root_admin:
            raise NotAllowed("only a root administrator may do this")


@dataclass
class Call:
    service: ApiService
    spec: CommandSpec
    caller: Caller
    params: dict[str, Any]
    raw: dict[str, str]

    def get(self, name: str, default: Any = None) -> Any:
        v = self.params.get(name)
        return default if v is None else v


@dataclass(frozen=True)
class ListResult:
    items: list[dict[str, Any]]
    count: int


@dataclass(frozen=True)
class Accepted:
    """An async command was accepted: its job row is committed."""

    jobid: str
    id: str | None = None


@dataclass(frozen=True)
class Success:
    displaytext: str | None = None


@dataclass(frozen=True)
class Raw:
    """A payload to render as is under the response name (login, listApis...)."""

    payload: dict[str, Any]
    cookies: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class JobTarget:
    """Where an async command's job goes: an entity and one of its operations."""

    ref: EntityRef
    op: str
    args: dict[str, Any]
    instance_type: str | None = None
