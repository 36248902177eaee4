"""vm updated and pool allocation: `vm_instance.updated` (when the VM last
changed state: CloudStack's update_time, which expunge.delay counts from), an
index that answers listVirtualMachines' count and page ids by itself, and
pools' STORAGE_ALLOCATED capacity rows brought up to the volumes on them (VM
starts now claim pool allocation on that row)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21 09:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | Sequence[str] | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('vm_instance', schema=None) as batch_op:
        batch_op.add_column(sa.Column('updated', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_vm_instance_list', ['type', 'removed', 'id', 'domain_id', 'account_id'],
                              unique=False)
    # STORAGE_ALLOCATED (capacity type 3) of each pool: what its live volumes take.
    op.execute(
        "UPDATE capacity SET used = COALESCE((SELECT SUM(v.size_bytes) FROM volume v "
        "WHERE v.pool_id = capacity.owner_id AND v.removed IS NULL), 0) "
        "WHERE owner_type = 'pool' AND capacity_type = 3")


def downgrade() -> None:
    with op.batch_alter_table('vm_instance', schema=None) as batch_op:
        batch_op.drop_index('ix_vm_instance_list')
        batch_op.drop_column('updated')
