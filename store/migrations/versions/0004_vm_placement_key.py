"""vm placement key

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 07:28:44.872294
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | Sequence[str] | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('vm_instance', schema=None) as batch_op:
        batch_op.add_column(sa.Column('placement_key', sa.String(length=80), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('vm_instance', schema=None) as batch_op:
        batch_op.drop_column('placement_key')

