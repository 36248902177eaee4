"""Images: templates and ISOs (an ISO is a template whose `format` is `ISO`),
where each is ready, and the guest OS catalogue.

`template_zone.download_state` uses CloudStack's download status spelling:
NOT_DOWNLOADED, DOWNLOAD_IN_PROGRESS, DOWNLOADED, DOWNLOAD_ERROR, ABANDONED.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, UniqueConstraint
from sqlmodel import Field

from cloudplane.store.base import EntityBase
from cloudplane.store.tables._common import (
    DESC_LEN,
    KIND_LEN,
    NAME_LEN,
    STATE_LEN,
    long_text,
    opt_ref,
    ref,
)

ISO_FORMAT = "ISO"


class OsCategory(EntityBase, table=True):
    __tablename__ = "os_category"

    name: str = Field(max_length=NAME_LEN, index=True)


class OsType(EntityBase, table=True):
    __tablename__ = "os_type"

    category_id: int = ref("os_category")
    display_name: str = Field(max_length=NAME_LEN, index=True)  # the API's `description`
    is_user_defined: bool = Field(default=False)


class Template(EntityBase, table=True):
    __tablename__ = "template"
    __table_args__ = (
        # listTemplates and listIsos both split on format first.
        Index("ix_template_format_type", "format", "template_type"),
    )

    name: str = Field(max_length=NAME_LEN, index=True)
    display_text: str | None = Field(default=None, max_length=DESC_LEN)
    format: str = Field(max_length=KIND_LEN)  # QCOW2, RAW, VHD, OVA, ISO
    template_type: str = Field(default="USER", max_length=KIND_LEN)  # USER|BUILTIN|SYSTEM|ROUTING
    state: str = Field(default="Active", max_length=STATE_LEN)  # Active | Inactive
    hypervisor_type: str | None = Field(default=None, max_length=KIND_LEN, index=True)
    account_id: int = ref("account")
    os_type_id: int | None = opt_ref("os_type")
    source_template_id: int | None = opt_ref("template")
    url: str | None = long_text()  # presigned URLs outgrow any VARCHAR
    checksum: str | None = Field(default=None, max_length=NAME_LEN)
    bits: int = Field(default=64)
    size_bytes: int | None = Field(default=None, sa_type=BigInteger)  # virtual size
    is_public: bool = Field(default=False)
    is_featured: bool = Field(default=False)
    is_extractable: bool = Field(default=False)
    bootable: bool = Field(default=True)
    requires_hvm: bool = Field(default=True)
    password_enabled: bool = Field(default=False)
    ssh_key_enabled: bool = Field(default=False)
    dynamically_scalable: bool = Field(default=False)
    cross_zones: bool = Field(default=False)
    direct_download: bool = Field(default=False)
    deploy_as_is: bool = Field(default=False)
    template_tag: str | None = Field(default=None, max_length=NAME_LEN)


class TemplateZone(EntityBase, table=True):
    """A template's copy on a zone's secondary storage: `isready` is DOWNLOADED here."""

    __tablename__ = "template_zone"
    __table_args__ = (
        UniqueConstraint("template_id", "zone_id", name="uq_template_zone_template_zone"),
    )

    template_id: int = ref("template", index=False)  # led by the unique constraint
    zone_id: int = ref("zone")
    image_store_id: int | None = opt_ref("image_store")
    download_state: str = Field(default="NOT_DOWNLOADED", max_length=STATE_LEN, index=True)
    download_pct: int = Field(default=0)
    error_text: str | None = Field(default=None, max_length=DESC_LEN)
    install_path: str | None = Field(default=None, max_length=NAME_LEN)
    size_bytes: int | None = Field(default=None, sa_type=BigInteger)
    physical_size_bytes: int | None = Field(default=None, sa_type=BigInteger)


class TemplatePool(EntityBase, table=True):
    """A template's base image copied onto a primary pool, which VMs' ROOT volumes
    clone from; its absence means the first start must copy it."""

    __tablename__ = "template_pool"
    __table_args__ = (
        UniqueConstraint("template_id", "pool_id", name="uq_template_pool_template_pool"),
    )

    template_id: int = ref("template", index=False)  # led by the unique constraint
    pool_id: int = ref("storage_pool")
    download_state: str = Field(default="NOT_DOWNLOADED", max_length=STATE_LEN)
    download_pct: int = Field(default=0)
    install_path: str | None = Field(default=None, max_length=NAME_LEN)
    size_bytes: int | None = Field(default=None, sa_type=BigInteger)
