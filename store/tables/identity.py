"""Who may do what: domains, accounts, users (with their API keys), roles.

Account and user `state` use CloudStack's lowercase spelling (`enabled`,
`disabled`, `locked`); domains are `Active` or `Inactive`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field

from cloudplane.store.base import EntityBase
from cloudplane.store.tables._common import (
    DESC_LEN,
    KIND_LEN,
    NAME_LEN,
    STATE_LEN,
    opt_ref,
    ref,
)


class Domain(EntityBase, table=True):
    __tablename__ = "domain"

    name: str = Field(max_length=NAME_LEN, index=True)
    parent_id: int | None = opt_ref("domain")  # None only for ROOT
    # "/" for ROOT, "/ROOT/a/b/" below it: a prefix match lists a subtree.
    path: str = Field(max_length=NAME_LEN, index=True)
    level: int = Field(default=0)
    network_domain: str | None = Field(default=None, max_length=NAME_LEN)
    state: str = Field(default="Active", max_length=STATE_LEN)


class Role(EntityBase, table=True):
    __tablename__ = "role"

    name: str = Field(max_length=NAME_LEN, index=True)
    role_type: str = Field(max_length=KIND_LEN, index=True)  # Admin, DomainAdmin, User...
    description: str | None = Field(default=None, max_length=DESC_LEN)
    is_default: bool = Field(default=False)


class RolePermission(EntityBase, table=True):
    """One allow/deny rule of a role; rules are evaluated in `sort_order`."""

    __tablename__ = "role_permission"
    __table_args__ = (Index("ix_role_permission_role_order", "role_id", "sort_order"),)

    role_id: int = ref("role", index=False)  # led by the composite index
    rule: str = Field(max_length=NAME_LEN)  # an API name or a wildcard, e.g. list*
    permission: str = Field(default="allow", max_length=8)  # allow | deny
    description: str | None = Field(default=None, max_length=DESC_LEN)
    sort_order: int = Field(default=0)


class Account(EntityBase, table=True):
    __tablename__ = "account"
    __table_args__ = (Index("ix_account_domain_name", "domain_id", "name"),)

    name: str = Field(max_length=NAME_LEN, index=True)
    domain_id: int = ref("domain", index=False)  # led by ix_account_domain_name
    role_id: int | None = opt_ref("role")
    account_type: int = Field(default=0)  # 0 user, 1 admin, 2 domain admin, 3 resource admin
    state: str = Field(default="enabled", max_length=STATE_LEN, index=True)
    network_domain: str | None = Field(default=None, max_length=NAME_LEN)
    default_zone_id: int | None = opt_ref("zone")
    is_default: bool = Field(default=False)  # the built-in admin/system accounts
    cleanup_needed: bool = Field(default=False)


class User(EntityBase, table=True):
    # Not "user": that word is reserved in SQL and would need quoting by hand.
    __tablename__ = "app_user"

    account_id: int = ref("account")
    username: str = Field(max_length=NAME_LEN, index=True)
    password: str | None = Field(default=None, max_length=NAME_LEN)  # a salted hash, never plain
    first_name: str | None = Field(default=None, max_length=NAME_LEN)
    last_name: str | None = Field(default=None, max_length=NAME_LEN)
    email: str | None = Field(default=None, max_length=NAME_LEN)
    state: str = Field(default="enabled", max_length=STATE_LEN)
    # Request signing looks users up by API key on every call.
    api_key: str | None = Field(default=None, max_length=NAME_LEN, unique=True, index=True)
    secret_key: str | None = Field(default=None, max_length=NAME_LEN)
    timezone: str | None = Field(default=None, max_length=64)
    source: str = Field(default="native", max_length=KIND_LEN)  # native, ldap, saml2
    is_default: bool = Field(default=False)


class UserSession(EntityBase, table=True):
    """A login session. Only a hash of the session key is stored, so a copy of
    the database does not let anyone act as a logged-in user."""

    __tablename__ = "user_session"

    key_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: int = ref("app_user")
    expires: datetime = Field()
    last_used: datetime | None = Field(default=None)
    revoked: bool = Field(default=False)
