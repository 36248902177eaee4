"""What users and operators attach to any resource: tags, details, annotations.

All three point at their resource polymorphically (`resource_type` plus its
internal id); tags and annotations also keep its uuid, because their list
commands answer and filter by the public id without knowing the resource's
table.
"""

from __future__ import annotations

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from cloudplane.store.base import EntityBase
from cloudplane.store.tables._common import NAME_LEN, UUID_LEN, long_text, opt_ref


class ResourceTag(EntityBase, table=True):
    """A user tag (listTags' `key`/`value`); `name` avoids SQL's reserved KEY."""

    __tablename__ = "resource_tag"
    __table_args__ = (
        UniqueConstraint("resource_type", "resource_id", "name", name="uq_resource_tag_name"),
        # `tags[0].key=k&tags[0].value=v` filters on a list command.
        Index("ix_resource_tag_type_name_value", "resource_type", "name", "value"),
        Index("ix_resource_tag_resource_uuid", "resource_uuid"),
    )

    resource_type: str = Field(max_length=64)  # UserVm, Volume, Network, ...
    resource_id: int
    resource_uuid: str = Field(max_length=UUID_LEN)
    name: str = Field(max_length=NAME_LEN)
    value: str = Field(default="", max_length=NAME_LEN)
    account_id: int | None = opt_ref("account")
    domain_id: int | None = opt_ref("domain")
    customer: str | None = Field(default=None, max_length=NAME_LEN)


class ResourceDetail(SQLModel, table=True):
    """A key/value detail of a resource (an offering's zone list, a VM's
    `details[0].cpuNumber`...). Always read through its resource, so no uuid."""

    __tablename__ = "resource_detail"
    __table_args__ = (
        UniqueConstraint("resource_type", "resource_id", "name", name="uq_resource_detail_name"),
    )

    id: int | None = Field(default=None, primary_key=True)
    resource_type: str = Field(max_length=64)
    resource_id: int
    name: str = Field(max_length=NAME_LEN)
    value: str | None = long_text()
    display: bool = Field(default=True)


class Annotation(EntityBase, table=True):
    """An operator's comment on a resource."""

    __tablename__ = "annotation"
    __table_args__ = (Index("ix_annotation_entity", "entity_type", "entity_uuid"),)

    entity_type: str = Field(max_length=64)  # VM, HOST, ZONE, ... as addAnnotation spells it
    entity_id: int | None = Field(default=None)
    entity_uuid: str = Field(max_length=UUID_LEN)
    annotation: str | None = long_text()
    user_id: int | None = opt_ref("app_user")
    admins_only: bool = Field(default=True)
