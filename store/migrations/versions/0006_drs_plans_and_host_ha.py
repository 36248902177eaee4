"""drs plans and host ha: cluster DRS plans with their migrations; host-HA configs,
their state transitions and the simulated HA provider's answers

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 07:58:02.150148
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = '0006'
down_revision: str | Sequence[str] | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('ha_config',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resource_type', sa.String(length=32), nullable=False),
    sa.Column('resource_id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=255), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('ha_state', sa.String(length=32), nullable=False),
    sa.Column('state_since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('activity_checks', sa.Integer(), nullable=False),
    sa.Column('activity_failures', sa.Integer(), nullable=False),
    sa.Column('recovery_attempts', sa.Integer(), nullable=False),
    sa.Column('fence_attempts', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=1024), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('resource_type', 'resource_id', name='uq_ha_config_resource')
    )
    with op.batch_alter_table('ha_config', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ha_config_ha_state'), ['ha_state'], unique=False)
        batch_op.create_index(batch_op.f('ix_ha_config_uuid'), ['uuid'], unique=True)

    op.create_table('ha_state_transition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('config_id', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=64), nullable=False),
    sa.Column('prev_state', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('activity_counter', sa.Integer(), nullable=False),
    sa.Column('recovery_counter', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=1024), nullable=True),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['config_id'], ['ha_config.id'], name=op.f('fk_ha_state_transition_config_id')),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('ha_state_transition', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ha_state_transition_config_id'), ['config_id'], unique=False)

    op.create_table('cluster_drs_plan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cluster_id', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('algorithm', sa.String(length=32), nullable=False),
    sa.Column('metric', sa.String(length=32), nullable=False),
    sa.Column('imbalance_before', sa.Float(), nullable=False),
    sa.Column('imbalance_after', sa.Float(), nullable=False),
    sa.Column('threshold', sa.Float(), nullable=False),
    sa.Column('explanation', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=True),
    sa.Column('event_uuid', sa.String(length=40), nullable=True),
    sa.Column('completed', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['cluster_id'], ['cluster.id'], name=op.f('fk_cluster_drs_plan_cluster_id')),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('cluster_drs_plan', schema=None) as batch_op:
        batch_op.create_index('ix_cluster_drs_plan_cluster_status', ['cluster_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_cluster_drs_plan_uuid'), ['uuid'], unique=True)

    op.create_table('simulator_ha_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('host_id', sa.Integer(), nullable=False),
    sa.Column('health', sa.Boolean(), nullable=False),
    sa.Column('activity', sa.Boolean(), nullable=False),
    sa.Column('recover', sa.Boolean(), nullable=False),
    sa.Column('fence', sa.Boolean(), nullable=False),
    sa.Column('transitions_from', sa.Integer(), nullable=False),
    sa.Column('updated', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['host_id'], ['host.id'], name=op.f('fk_simulator_ha_state_host_id')),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('host_id', name=op.f('uq_simulator_ha_state_host_id'))
    )
    op.create_table('cluster_drs_plan_migration',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('vm_id', sa.Integer(), nullable=False),
    sa.Column('src_host_id', sa.Integer(), nullable=False),
    sa.Column('dst_host_id', sa.Integer(), nullable=False),
    sa.Column('imbalance_after', sa.Float(), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('error', sa.String(length=1024), nullable=True),
    sa.Column('started', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['dst_host_id'], ['host.id'], name=op.f('fk_cluster_drs_plan_migration_dst_host_id')),
    sa.ForeignKeyConstraint(['plan_id'], ['cluster_drs_plan.id'], name=op.f('fk_cluster_drs_plan_migration_plan_id')),
    sa.ForeignKeyConstraint(['src_host_id'], ['host.id'], name=op.f('fk_cluster_drs_plan_migration_src_host_id')),
    sa.ForeignKeyConstraint(['vm_id'], ['vm_instance.id'], name=op.f('fk_cluster_drs_plan_migration_vm_id')),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('plan_id', 'seq', name='uq_cluster_drs_plan_migration_seq')
    )
    with op.batch_alter_table('cluster_drs_plan_migration', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cluster_drs_plan_migration_dst_host_id'), ['dst_host_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cluster_drs_plan_migration_src_host_id'), ['src_host_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cluster_drs_plan_migration_vm_id'), ['vm_id'], unique=False)



def downgrade() -> None:
    op.drop_table('cluster_drs_plan_migration')
    op.drop_table('simulator_ha_state')
    op.drop_table('cluster_drs_plan')
    op.drop_table('ha_state_transition')
    op.drop_table('ha_config')
