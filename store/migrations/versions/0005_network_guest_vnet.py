"""network guest vnet: claims of guest VLANs (unique per physical network)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 07:55:02.748847
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | Sequence[str] | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('guest_vnet',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('physical_network_id', sa.Integer(), nullable=False),
    sa.Column('vnet', sa.Integer(), nullable=False),
    sa.Column('network_id', sa.Integer(), nullable=False),
    sa.Column('explicit', sa.Boolean(), nullable=False),
    sa.Column('taken', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['network_id'], ['network.id'], name=op.f('fk_guest_vnet_network_id')),
    sa.ForeignKeyConstraint(['physical_network_id'], ['physical_network.id'], name=op.f('fk_guest_vnet_physical_network_id')),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('physical_network_id', 'vnet', name='uq_guest_vnet_pn_vnet')
    )
    with op.batch_alter_table('guest_vnet', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_guest_vnet_network_id'), ['network_id'], unique=False)



def downgrade() -> None:
    op.drop_table('guest_vnet')
