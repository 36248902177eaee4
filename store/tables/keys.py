"""SSH key pairs: public keys an account registers (or has generated) to put
into its VMs. The private key of a generated pair is never stored."""

from __future__ import annotations

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from cloudplane.store.base import EntityBase
from cloudplane.store.tables._common import NAME_LEN, long_text, ref


class SshKeyPair(EntityBase, table=True):
    __tablename__ = "ssh_key_pair"
    # Names are unique per account; deleteSSHKeyPair removes the row, so no soft delete here.
    __table_args__ = (UniqueConstraint("account_id", "name", name="uq_ssh_key_pair_name"),)

    name: str = Field(max_length=NAME_LEN)
    account_id: int = ref("account", index=False)  # led by uq_ssh_key_pair_name
    domain_id: int = ref("domain")
    public_key: str = long_text(nullable=False)
    fingerprint: str = Field(max_length=NAME_LEN, index=True)  # MD5, colon-separated hex, as CloudStack shows it
