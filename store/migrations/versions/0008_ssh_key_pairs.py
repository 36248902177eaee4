"""ssh key pairs: the `ssh_key_pair` table (a VM's key pair names and public
keys are its `SSH.KeyPairNames` and `SSH.PublicKey` resource details)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21 10:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = '0008'
down_revision: str | Sequence[str] | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LONG_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mysql', 'mariadb')


def upgrade() -> None:
    op.create_table('ssh_key_pair',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('domain_id', sa.Integer(), nullable=False),
    sa.Column('public_key', LONG_TEXT, nullable=False),
    sa.Column('fingerprint', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_ssh_key_pair_account_id')),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_ssh_key_pair_domain_id')),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_id', 'name', name='uq_ssh_key_pair_name')
    )
    with op.batch_alter_table('ssh_key_pair', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ssh_key_pair_domain_id'), ['domain_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ssh_key_pair_fingerprint'), ['fingerprint'], unique=False)
        batch_op.create_index(batch_op.f('ix_ssh_key_pair_uuid'), ['uuid'], unique=True)


def downgrade() -> None:
    op.drop_table('ssh_key_pair')  # its indexes go with it (MySQL refuses to drop an FK's index first)
