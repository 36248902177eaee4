"""volume upload: where an uploaded volume comes from (`url`) and how far its
transfer is (`download_state`, `download_pct`)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-21 10:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | Sequence[str] | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('volume', schema=None) as batch_op:
        batch_op.add_column(sa.Column('url', sa.String(length=1024), nullable=True))
        batch_op.add_column(sa.Column('download_state', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('download_pct', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('volume', schema=None) as batch_op:
        batch_op.drop_column('download_pct')
        batch_op.drop_column('download_state')
        batch_op.drop_column('url')
