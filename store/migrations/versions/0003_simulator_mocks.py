"""simulator mocks

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 07:17:43.725354
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = '0003'
down_revision: str | Sequence[str] | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('simulator_mock',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('value', sa.String(length=1024), nullable=False),
    sa.Column('zone_uuid', sa.String(length=40), nullable=True),
    sa.Column('pod_uuid', sa.String(length=40), nullable=True),
    sa.Column('cluster_uuid', sa.String(length=40), nullable=True),
    sa.Column('host_uuid', sa.String(length=40), nullable=True),
    sa.Column('count', sa.Integer(), nullable=True),
    sa.Column('fired', sa.Integer(), nullable=False),
    sa.Column('json_response', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=True),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('simulator_mock', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_simulator_mock_name'), ['name'], unique=False)



def downgrade() -> None:
    op.drop_table('simulator_mock')
