"""Initial resource model: every table of cloudplane.store.tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-21 06:59:33.818709
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = '0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('async_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('cmd', sa.String(length=255), nullable=False),
    sa.Column('op', sa.String(length=64), nullable=False),
    sa.Column('args', sa.Text(), nullable=False),
    sa.Column('entity_kind', sa.String(length=32), nullable=False),
    sa.Column('instance_uuid', sa.String(length=40), nullable=True),
    sa.Column('instance_type', sa.String(length=64), nullable=True),
    sa.Column('placement_key', sa.String(length=80), nullable=True),
    sa.Column('owner_shard', sa.String(length=80), nullable=False),
    sa.Column('account_uuid', sa.String(length=40), nullable=True),
    sa.Column('user_uuid', sa.String(length=40), nullable=True),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('proc_status', sa.Integer(), nullable=False),
    sa.Column('result_code', sa.Integer(), nullable=False),
    sa.Column('result_type', sa.String(length=32), nullable=False),
    sa.Column('result', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_async_job_account_created', 'async_job', ['account_uuid', 'created'], unique=False)
    op.create_index('ix_async_job_instance', 'async_job', ['instance_uuid'], unique=False)
    op.create_index('ix_async_job_owner_status', 'async_job', ['owner_shard', 'status'], unique=False)
    op.create_index(op.f('ix_async_job_uuid'), 'async_job', ['uuid'], unique=True)
    op.create_table('configuration',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('scope', sa.String(length=32), nullable=False),
    sa.Column('scope_id', sa.Integer(), nullable=False),
    sa.Column('value', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=True),
    sa.Column('default_value', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=True),
    sa.Column('value_type', sa.String(length=32), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=True),
    sa.Column('is_dynamic', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name', 'scope', 'scope_id', name='uq_configuration_name_scope')
    )
    op.create_index(op.f('ix_configuration_category'), 'configuration', ['category'], unique=False)
    op.create_index(op.f('ix_configuration_uuid'), 'configuration', ['uuid'], unique=True)
    op.create_table('disk_offering',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('display_text', sa.String(length=255), nullable=True),
    sa.Column('disk_size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('customized', sa.Boolean(), nullable=False),
    sa.Column('customized_iops', sa.Boolean(), nullable=False),
    sa.Column('min_iops', sa.BigInteger(), nullable=True),
    sa.Column('max_iops', sa.BigInteger(), nullable=True),
    sa.Column('storage_type', sa.String(length=32), nullable=False),
    sa.Column('provisioning_type', sa.String(length=32), nullable=False),
    sa.Column('tags', sa.String(length=255), nullable=True),
    sa.Column('cache_mode', sa.String(length=32), nullable=True),
    sa.Column('encrypt', sa.Boolean(), nullable=False),
    sa.Column('display', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_disk_offering_name'), 'disk_offering', ['name'], unique=False)
    op.create_index(op.f('ix_disk_offering_state'), 'disk_offering', ['state'], unique=False)
    op.create_index(op.f('ix_disk_offering_uuid'), 'disk_offering', ['uuid'], unique=True)
    op.create_table('domain',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('path', sa.String(length=255), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('network_domain', sa.String(length=255), nullable=True),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['domain.id'], name=op.f('fk_domain_parent_id')),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_domain_name'), 'domain', ['name'], unique=False)
    op.create_index(op.f('ix_domain_parent_id'), 'domain', ['parent_id'], unique=False)
    op.create_index(op.f('ix_domain_path'), 'domain', ['path'], unique=False)
    op.create_index(op.f('ix_domain_uuid'), 'domain', ['uuid'], unique=True)
    op.create_table('os_category',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_os_category_name'), 'os_category', ['name'], unique=False)
    op.create_index(op.f('ix_os_category_uuid'), 'os_category', ['uuid'], unique=True)
    op.create_table('probe',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('counter', sa.Integer(), nullable=False),
    sa.Column('group_key', sa.String(length=80), nullable=True),
    sa.Column('payload', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_probe_group_key'), 'probe', ['group_key'], unique=False)
    op.create_index(op.f('ix_probe_uuid'), 'probe', ['uuid'], unique=True)
    op.create_table('resource_count',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_type', sa.String(length=32), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('resource_type', sa.String(length=32), nullable=False),
    sa.Column('used', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('owner_type', 'owner_id', 'resource_type', name='uq_resource_count_owner')
    )
    op.create_table('resource_detail',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resource_type', sa.String(length=64), nullable=False),
    sa.Column('resource_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('value', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=True),
    sa.Column('display', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('resource_type', 'resource_id', 'name', name='uq_resource_detail_name')
    )
    op.create_table('resource_limit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_type', sa.String(length=32), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('resource_type', sa.String(length=32), nullable=False),
    sa.Column('max_value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('owner_type', 'owner_id', 'resource_type', name='uq_resource_limit_owner')
    )
    op.create_table('role',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('role_type', sa.String(length=32), nullable=False),
    sa.Column('description', sa.String(length=1024), nullable=True),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_role_name'), 'role', ['name'], unique=False)
    op.create_index(op.f('ix_role_role_type'), 'role', ['role_type'], unique=False)
    op.create_index(op.f('ix_role_uuid'), 'role', ['uuid'], unique=True)
    op.create_table('os_type',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('display_name', sa.String(length=255), nullable=False),
    sa.Column('is_user_defined', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['os_category.id'], name=op.f('fk_os_type_category_id')),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_os_type_category_id'), 'os_type', ['category_id'], unique=False)
    op.create_index(op.f('ix_os_type_display_name'), 'os_type', ['display_name'], unique=False)
    op.create_index(op.f('ix_os_type_uuid'), 'os_type', ['uuid'], unique=True)
    op.create_table('role_permission',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('role_id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(length=255), nullable=False),
    sa.Column('permission', sa.String(length=8), nullable=False),
    sa.Column('description', sa.String(length=1024), nullable=True),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['role_id'], ['role.id'], name=op.f('fk_role_permission_role_id')),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_role_permission_role_order', 'role_permission', ['role_id', 'sort_order'], unique=False)
    op.create_index(op.f('ix_role_permission_uuid'), 'role_permission', ['uuid'], unique=True)
    op.create_table('service_offering',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('display_text', sa.String(length=255), nullable=True),
    sa.Column('cpu_count', sa.Integer(), nullable=True),
    sa.Column('cpu_speed_mhz', sa.Integer(), nullable=True),
    sa.Column('ram_mb', sa.Integer(), nullable=True),
    sa.Column('customized', sa.Boolean(), nullable=False),
    sa.Column('offer_ha', sa.Boolean(), nullable=False),
    sa.Column('limit_cpu_use', sa.Boolean(), nullable=False),
    sa.Column('is_volatile', sa.Boolean(), nullable=False),
    sa.Column('dynamic_scaling_enabled', sa.Boolean(), nullable=False),
    sa.Column('host_tags', sa.String(length=255), nullable=True),
    sa.Column('storage_tags', sa.String(length=255), nullable=True),
    sa.Column('storage_type', sa.String(length=32), nullable=False),
    sa.Column('provisioning_type', sa.String(length=32), nullable=False),
    sa.Column('root_disk_size_bytes', sa.BigInteger(), nullable=True),
    sa.Column('disk_offering_id', sa.Integer(), nullable=True),
    sa.Column('is_system', sa.Boolean(), nullable=False),
    sa.Column('system_vm_type', sa.String(length=32), nullable=True),
    sa.Column('default_use', sa.Boolean(), nullable=False),
    sa.Column('network_rate_mbps', sa.Integer(), nullable=True),
    sa.Column('deployment_planner', sa.String(length=255), nullable=True),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['disk_offering_id'], ['disk_offering.id'], name=op.f('fk_service_offering_disk_offering_id')),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_service_offering_disk_offering_id'), 'service_offering', ['disk_offering_id'], unique=False)
    op.create_index(op.f('ix_service_offering_is_system'), 'service_offering', ['is_system'], unique=False)
    op.create_index(op.f('ix_service_offering_name'), 'service_offering', ['name'], unique=False)
    op.create_index(op.f('ix_service_offering_state'), 'service_offering', ['state'], unique=False)
    op.create_index(op.f('ix_service_offering_uuid'), 'service_offering', ['uuid'], unique=True)
    op.create_table('zone',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=1024), nullable=True),
    sa.Column('network_type', sa.String(length=32), nullable=False),
    sa.Column('allocation_state', sa.String(length=32), nullable=False),
    sa.Column('is_edge', sa.Boolean(), nullable=False),
    sa.Column('dns1', sa.String(length=64), nullable=True),
    sa.Column('dns2', sa.String(length=64), nullable=True),
    sa.Column('internal_dns1', sa.String(length=64), nullable=True),
    sa.Column('internal_dns2', sa.String(length=64), nullable=True),
    sa.Column('ip6_dns1', sa.String(length=64), nullable=True),
    sa.Column('ip6_dns2', sa.String(length=64), nullable=True),
    sa.Column('guest_cidr', sa.String(length=64), nullable=True),
    sa.Column('network_domain', sa.String(length=255), nullable=True),
    sa.Column('domain_id', sa.Integer(), nullable=True),
    sa.Column('local_storage_enabled', sa.Boolean(), nullable=False),
    sa.Column('security_groups_enabled', sa.Boolean(), nullable=False),
    sa.Column('dhcp_provider', sa.String(length=64), nullable=False),
    sa.Column('zone_token', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_zone_domain_id')),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_zone_domain_id'), 'zone', ['domain_id'], unique=False)
    op.create_index(op.f('ix_zone_name'), 'zone', ['name'], unique=False)
    op.create_index(op.f('ix_zone_uuid'), 'zone', ['uuid'], unique=True)
    op.create_table('account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('domain_id', sa.Integer(), nullable=False),
    sa.Column('role_id', sa.Integer(), nullable=True),
    sa.Column('account_type', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('network_domain', sa.String(length=255), nullable=True),
    sa.Column('default_zone_id', sa.Integer(), nullable=True),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('cleanup_needed', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['default_zone_id'], ['zone.id'], name=op.f('fk_account_default_zone_id')),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_account_domain_id')),
    sa.ForeignKeyConstraint(['role_id'], ['role.id'], name=op.f('fk_account_role_id')),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_account_default_zone_id'), 'account', ['default_zone_id'], unique=False)
    op.create_index('ix_account_domain_name', 'account', ['domain_id', 'name'], unique=False)
    op.create_index(op.f('ix_account_name'), 'account', ['name'], unique=False)
    op.create_index(op.f('ix_account_role_id'), 'account', ['role_id'], unique=False)
    op.create_index(op.f('ix_account_state'), 'account', ['state'], unique=False)
    op.create_index(op.f('ix_account_uuid'), 'account', ['uuid'], unique=True)
    op.create_table('image_store',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=True),
    sa.Column('provider', sa.String(length=64), nullable=False),
    sa.Column('protocol', sa.String(length=32), nullable=True),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('scope', sa.String(length=32), nullable=False),
    sa.Column('url', sa.String(length=1024), nullable=True),
    sa.Column('readonly', sa.Boolean(), nullable=False),
    sa.Column('total_bytes', sa.BigInteger(), nullable=True),
    sa.Column('used_bytes', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['zone_id'], ['zone.id'], name=op.f('fk_image_store_zone_id')),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_image_store_name'), 'image_store', ['name'], unique=False)
    op.create_index(op.f('ix_image_store_uuid'), 'image_store', ['uuid'], unique=True)
    op.create_index(op.f('ix_image_store_zone_id'), 'image_store', ['zone_id'], unique=False)
    op.create_table('network_offering',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('display_text', sa.String(length=255), nullable=True),
    sa.Column('traffic_type', sa.String(length=32), nullable=False),
    sa.Column('guest_ip_type', sa.String(length=32), nullable=False),
    sa.Column('availability', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('is_system', sa.Boolean(), nullable=False),
    sa.Column('specify_vlan', sa.Boolean(), nullable=False),
    sa.Column('specify_ip_ranges', sa.Boolean(), nullable=False),
    sa.Column('conserve_mode', sa.Boolean(), nullable=False),
    sa.Column('egress_default_policy', sa.Boolean(), nullable=False),
    sa.Column('is_persistent', sa.Boolean(), nullable=False),
    sa.Column('for_vpc', sa.Boolean(), nullable=False),
    sa.Column('internet_protocol', sa.String(length=32), nullable=False),
    sa.Column('network_rate_mbps', sa.Integer(), nullable=True),
    sa.Column('max_connections', sa.Integer(), nullable=True),
    sa.Column('tags', sa.String(length=255), nullable=True),
    sa.Column('service_offering_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['service_offering_id'], ['service_offering.id'], name=op.f('fk_network_offering_service_offering_id')),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_network_offering_guest_ip_type'), 'network_offering', ['guest_ip_type'], unique=False)
    op.create_index(op.f('ix_network_offering_name'), 'network_offering', ['name'], unique=False)
    op.create_index(op.f('ix_network_offering_service_offering_id'), 'network_offering', ['service_offering_id'], unique=False)
    op.create_index(op.f('ix_network_offering_state'), 'network_offering', ['state'], unique=False)
    op.create_index(op.f('ix_network_offering_uuid'), 'network_offering', ['uuid'], unique=True)
    op.create_table('physical_network',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('domain_id', sa.Integer(), nullable=True),
    sa.Column('vlan', sa.String(length=1024), nullable=True),
    sa.Column('speed', sa.String(length=32), nullable=True),
    sa.Column('isolation_methods', sa.String(length=255), nullable=True),
    sa.Column('broadcast_domain_range', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('tags', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_physical_network_domain_id')),
    sa.ForeignKeyConstraint(['zone_id'], ['zone.id'], name=op.f('fk_physical_network_zone_id')),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_physical_network_domain_id'), 'physical_network', ['domain_id'], unique=False)
    op.create_index(op.f('ix_physical_network_name'), 'physical_network', ['name'], unique=False)
    op.create_index(op.f('ix_physical_network_uuid'), 'physical_network', ['uuid'], unique=True)
    op.create_index(op.f('ix_physical_network_zone_id'), 'physical_network', ['zone_id'], unique=False)
    op.create_table('pod',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('gateway', sa.String(length=64), nullable=True),
    sa.Column('netmask', sa.String(length=64), nullable=True),
    sa.Column('allocation_state', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['zone_id'], ['zone.id'], name=op.f('fk_pod_zone_id')),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_pod_name'), 'pod', ['name'], unique=False)
    op.create_index(op.f('ix_pod_uuid'), 'pod', ['uuid'], unique=True)
    op.create_index(op.f('ix_pod_zone_id'), 'pod', ['zone_id'], unique=False)
    op.create_table('affinity_group',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=1024), nullable=True),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('domain_id', sa.Integer(), nullable=False),
    sa.Column('acl_type', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_affinity_group_account_id')),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_affinity_group_domain_id')),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_affinity_group_account_id'), 'affinity_group', ['account_id'], unique=False)
    op.create_index(op.f('ix_affinity_group_domain_id'), 'affinity_group', ['domain_id'], unique=False)
    op.create_index(op.f('ix_affinity_group_name'), 'affinity_group', ['name'], unique=False)
    op.create_index(op.f('ix_affinity_group_uuid'), 'affinity_group', ['uuid'], unique=True)
    op.create_table('app_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=255), nullable=False),
    sa.Column('password', sa.String(length=255), nullable=True),
    sa.Column('first_name', sa.String(length=255), nullable=True),
    sa.Column('last_name', sa.String(length=255), nullable=True),
    sa.Column('email', sa.String(length=255), nullable=True),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('api_key', sa.String(length=255), nullable=True),
    sa.Column('secret_key', sa.String(length=255), nullable=True),
    sa.Column('timezone', sa.String(length=64), nullable=True),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_app_user_account_id')),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_app_user_account_id'), 'app_user', ['account_id'], unique=False)
    op.create_index(op.f('ix_app_user_api_key'), 'app_user', ['api_key'], unique=True)
    op.create_index(op.f('ix_app_user_username'), 'app_user', ['username'], unique=False)
    op.create_index(op.f('ix_app_user_uuid'), 'app_user', ['uuid'], unique=True)
    op.create_table('cluster',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('pod_id', sa.Integer(), nullable=False),
    sa.Column('hypervisor_type', sa.String(length=32), nullable=False),
    sa.Column('cluster_type', sa.String(length=32), nullable=False),
    sa.Column('allocation_state', sa.String(length=32), nullable=False),
    sa.Column('managed_state', sa.String(length=32), nullable=False),
    sa.Column('cpu_overcommit_ratio', sa.Double(), nullable=False),
    sa.Column('memory_overcommit_ratio', sa.Double(), nullable=False),
    sa.ForeignKeyConstraint(['pod_id'], ['pod.id'], name=op.f('fk_cluster_pod_id')),
    sa.ForeignKeyConstraint(['zone_id'], ['zone.id'], name=op.f('fk_cluster_zone_id')),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_cluster_name'), 'cluster', ['name'], unique=False)
    op.create_index(op.f('ix_cluster_pod_id'), 'cluster', ['pod_id'], unique=False)
    op.create_index(op.f('ix_cluster_uuid'), 'cluster', ['uuid'], unique=True)
    op.create_index(op.f('ix_cluster_zone_id'), 'cluster', ['zone_id'], unique=False)
    op.create_table('network',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('display_text', sa.String(length=255), nullable=True),
    sa.Column('traffic_type', sa.String(length=32), nullable=False),
    sa.Column('guest_type', sa.String(length=32), nullable=True),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('physical_network_id', sa.Integer(), nullable=True),
    sa.Column('network_offering_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('domain_id', sa.Integer(), nullable=False),
    sa.Column('acl_type', sa.String(length=32), nullable=False),
    sa.Column('subdomain_access', sa.Boolean(), nullable=True),
    sa.Column('broadcast_domain_type', sa.String(length=32), nullable=False),
    sa.Column('broadcast_uri', sa.String(length=255), nullable=True),
    sa.Column('gateway', sa.String(length=64), nullable=True),
    sa.Column('cidr', sa.String(length=64), nullable=True),
    sa.Column('netmask', sa.String(length=64), nullable=True),
    sa.Column('network_cidr', sa.String(length=64), nullable=True),
    sa.Column('ip6_gateway', sa.String(length=64), nullable=True),
    sa.Column('ip6_cidr', sa.String(length=64), nullable=True),
    sa.Column('dns1', sa.String(length=64), nullable=True),
    sa.Column('dns2', sa.String(length=64), nullable=True),
    sa.Column('network_domain', sa.String(length=255), nullable=True),
    sa.Column('is_system', sa.Boolean(), nullable=False),
    sa.Column('restart_required', sa.Boolean(), nullable=False),
    sa.Column('specify_ip_ranges', sa.Boolean(), nullable=False),
    sa.Column('display', sa.Boolean(), nullable=False),
    sa.Column('public_mtu', sa.Integer(), nullable=True),
    sa.Column('private_mtu', sa.Integer(), nullable=True),
    sa.Column('external_id', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_network_account_id')),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_network_domain_id')),
    sa.ForeignKeyConstraint(['network_offering_id'], ['network_offering.id'], name=op.f('fk_network_network_offering_id')),
    sa.ForeignKeyConstraint(['physical_network_id'], ['physical_network.id'], name=op.f('fk_network_physical_network_id')),
    sa.ForeignKeyConstraint(['zone_id'], ['zone.id'], name=op.f('fk_network_zone_id')),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_network_account_id'), 'network', ['account_id'], unique=False)
    op.create_index(op.f('ix_network_domain_id'), 'network', ['domain_id'], unique=False)
    op.create_index(op.f('ix_network_guest_type'), 'network', ['guest_type'], unique=False)
    op.create_index(op.f('ix_network_name'), 'network', ['name'], unique=False)
    op.create_index(op.f('ix_network_network_offering_id'), 'network', ['network_offering_id'], unique=False)
    op.create_index(op.f('ix_network_physical_network_id'), 'network', ['physical_network_id'], unique=False)
    op.create_index(op.f('ix_network_state'), 'network', ['state'], unique=False)
    op.create_index(op.f('ix_network_uuid'), 'network', ['uuid'], unique=True)
    op.create_index('ix_network_zone_traffic', 'network', ['zone_id', 'traffic_type'], unique=False)
    op.create_table('network_offering_service',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('network_offering_id', sa.Integer(), nullable=False),
    sa.Column('service', sa.String(length=64), nullable=False),
    sa.Column('provider', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['network_offering_id'], ['network_offering.id'], name=op.f('fk_network_offering_service_network_offering_id')),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('network_offering_id', 'service', 'provider', name='uq_network_offering_service')
    )
    op.create_index('ix_network_offering_service_service', 'network_offering_service', ['service'], unique=False)
    op.create_table('network_service_provider',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('physical_network_id', sa.Integer(), nullable=False),
    sa.Column('provider_name', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('destination_physical_network_id', sa.Integer(), nullable=True),
    sa.Column('service_list', sa.String(length=1024), nullable=True),
    sa.Column('can_enable_individual_services', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['destination_physical_network_id'], ['physical_network.id'], name=op.f('fk_network_service_provider_destination_physical_network_id')),
    sa.ForeignKeyConstraint(['physical_network_id'], ['physical_network.id'], name=op.f('fk_network_service_provider_physical_network_id')),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('physical_network_id', 'provider_name', name='uq_nsp_provider')
    )
    op.create_index(op.f('ix_network_service_provider_destination_physical_network_id'), 'network_service_provider', ['destination_physical_network_id'], unique=False)
    op.create_index(op.f('ix_network_service_provider_uuid'), 'network_service_provider', ['uuid'], unique=True)
    op.create_table('physical_network_traffic_type',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('physical_network_id', sa.Integer(), nullable=False),
    sa.Column('traffic_type', sa.String(length=32), nullable=False),
    sa.Column('kvm_network_label', sa.String(length=255), nullable=True),
    sa.Column('vlan', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['physical_network_id'], ['physical_network.id'], name=op.f('fk_physical_network_traffic_type_physical_network_id')),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('physical_network_id', 'traffic_type', name='uq_pn_traffic_type')
    )
    op.create_index(op.f('ix_physical_network_traffic_type_uuid'), 'physical_network_traffic_type', ['uuid'], unique=True)
    op.create_table('resource_tag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resource_type', sa.String(length=64), nullable=False),
    sa.Column('resource_id', sa.Integer(), nullable=False),
    sa.Column('resource_uuid', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('domain_id', sa.Integer(), nullable=True),
    sa.Column('customer', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_resource_tag_account_id')),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_resource_tag_domain_id')),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('resource_type', 'resource_id', 'name', name='uq_resource_tag_name')
    )
    op.create_index(op.f('ix_resource_tag_account_id'), 'resource_tag', ['account_id'], unique=False)
    op.create_index(op.f('ix_resource_tag_domain_id'), 'resource_tag', ['domain_id'], unique=False)
    op.create_index('ix_resource_tag_resource_uuid', 'resource_tag', ['resource_uuid'], unique=False)
    op.create_index('ix_resource_tag_type_name_value', 'resource_tag', ['resource_type', 'name', 'value'], unique=False)
    op.create_index(op.f('ix_resource_tag_uuid'), 'resource_tag', ['uuid'], unique=True)
    op.create_table('template',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('display_text', sa.String(length=1024), nullable=True),
    sa.Column('format', sa.String(length=32), nullable=False),
    sa.Column('template_type', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('hypervisor_type', sa.String(length=32), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('os_type_id', sa.Integer(), nullable=True),
    sa.Column('source_template_id', sa.Integer(), nullable=True),
    sa.Column('url', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=True),
    sa.Column('checksum', sa.String(length=255), nullable=True),
    sa.Column('bits', sa.Integer(), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=True),
    sa.Column('is_public', sa.Boolean(), nullable=False),
    sa.Column('is_featured', sa.Boolean(), nullable=False),
    sa.Column('is_extractable', sa.Boolean(), nullable=False),
    sa.Column('bootable', sa.Boolean(), nullable=False),
    sa.Column('requires_hvm', sa.Boolean(), nullable=False),
    sa.Column('password_enabled', sa.Boolean(), nullable=False),
    sa.Column('ssh_key_enabled', sa.Boolean(), nullable=False),
    sa.Column('dynamically_scalable', sa.Boolean(), nullable=False),
    sa.Column('cross_zones', sa.Boolean(), nullable=False),
    sa.Column('direct_download', sa.Boolean(), nullable=False),
    sa.Column('deploy_as_is', sa.Boolean(), nullable=False),
    sa.Column('template_tag', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_template_account_id')),
    sa.ForeignKeyConstraint(['os_type_id'], ['os_type.id'], name=op.f('fk_template_os_type_id')),
    sa.ForeignKeyConstraint(['source_template_id'], ['template.id'], name=op.f('fk_template_source_template_id')),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_template_account_id'), 'template', ['account_id'], unique=False)
    op.create_index('ix_template_format_type', 'template', ['format', 'template_type'], unique=False)
    op.create_index(op.f('ix_template_hypervisor_type'), 'template', ['hypervisor_type'], unique=False)
    op.create_index(op.f('ix_template_name'), 'template', ['name'], unique=False)
    op.create_index(op.f('ix_template_os_type_id'), 'template', ['os_type_id'], unique=False)
    op.create_index(op.f('ix_template_source_template_id'), 'template', ['source_template_id'], unique=False)
    op.create_index(op.f('ix_template_uuid'), 'template', ['uuid'], unique=True)
    op.create_table('alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('alert_type', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('subject', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=True),
    sa.Column('zone_id', sa.Integer(), nullable=True),
    sa.Column('pod_id', sa.Integer(), nullable=True),
    sa.Column('cluster_id', sa.Integer(), nullable=True),
    sa.Column('sent_count', sa.Integer(), nullable=False),
    sa.Column('last_sent', sa.DateTime(timezone=True), nullable=True),
    sa.Column('archived', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['cluster_id'], ['cluster.id'], name=op.f('fk_alert_cluster_id')),
    sa.ForeignKeyConstraint(['pod_id'], ['pod.id'], name=op.f('fk_alert_pod_id')),
    sa.ForeignKeyConstraint(['zone_id'], ['zone.id'], name=op.f('fk_alert_zone_id')),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_alert_alert_type'), 'alert', ['alert_type'], unique=False)
    op.create_index(op.f('ix_alert_cluster_id'), 'alert', ['cluster_id'], unique=False)
    op.create_index(op.f('ix_alert_pod_id'), 'alert', ['pod_id'], unique=False)
    op.create_index(op.f('ix_alert_uuid'), 'alert', ['uuid'], unique=True)
    op.create_index(op.f('ix_alert_zone_id'), 'alert', ['zone_id'], unique=False)
    op.create_table('annotation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('entity_type', sa.String(length=64), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=True),
    sa.Column('entity_uuid', sa.String(length=40), nullable=False),
    sa.Column('annotation', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('admins_only', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_annotation_user_id')),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_annotation_entity', 'annotation', ['entity_type', 'entity_uuid'], unique=False)
    op.create_index(op.f('ix_annotation_user_id'), 'annotation', ['user_id'], unique=False)
    op.create_index(op.f('ix_annotation_uuid'), 'annotation', ['uuid'], unique=True)
    op.create_table('capacity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_type', sa.String(length=32), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('capacity_type', sa.Integer(), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('pod_id', sa.Integer(), nullable=True),
    sa.Column('cluster_id', sa.Integer(), nullable=True),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('used', sa.BigInteger(), nullable=False),
    sa.Column('reserved', sa.BigInteger(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('updated', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cluster_id'], ['cluster.id'], name=op.f('fk_capacity_cluster_id')),
    sa.ForeignKeyConstraint(['pod_id'], ['pod.id'], name=op.f('fk_capacity_pod_id')),
    sa.ForeignKeyConstraint(['zone_id'], ['zone.id'], name=op.f('fk_capacity_zone_id')),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('owner_type', 'owner_id', 'capacity_type', name='uq_capacity_owner_type')
    )
    op.create_index(op.f('ix_capacity_cluster_id'), 'capacity', ['cluster_id'], unique=False)
    op.create_index(op.f('ix_capacity_pod_id'), 'capacity', ['pod_id'], unique=False)
    op.create_index('ix_capacity_zone_type', 'capacity', ['zone_id', 'capacity_type'], unique=False)
    op.create_table('event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('description', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('domain_id', sa.Integer(), nullable=True),
    sa.Column('resource_type', sa.String(length=64), nullable=True),
    sa.Column('resource_id', sa.Integer(), nullable=True),
    sa.Column('resource_uuid', sa.String(length=40), nullable=True),
    sa.Column('start_id', sa.Integer(), nullable=True),
    sa.Column('job_uuid', sa.String(length=40), nullable=True),
    sa.Column('archived', sa.Boolean(), nullable=False),
    sa.Column('display', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_event_account_id')),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_event_domain_id')),
    sa.ForeignKeyConstraint(['start_id'], ['event.id'], name=op.f('fk_event_start_id')),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_event_user_id')),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_event_account_created', 'event', ['account_id', 'created'], unique=False)
    op.create_index(op.f('ix_event_domain_id'), 'event', ['domain_id'], unique=False)
    op.create_index(op.f('ix_event_level'), 'event', ['level'], unique=False)
    op.create_index('ix_event_resource', 'event', ['resource_type', 'resource_uuid'], unique=False)
    op.create_index(op.f('ix_event_start_id'), 'event', ['start_id'], unique=False)
    op.create_index(op.f('ix_event_type'), 'event', ['type'], unique=False)
    op.create_index(op.f('ix_event_user_id'), 'event', ['user_id'], unique=False)
    op.create_index(op.f('ix_event_uuid'), 'event', ['uuid'], unique=True)
    op.create_table('host',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('pod_id', sa.Integer(), nullable=True),
    sa.Column('cluster_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('resource_state', sa.String(length=32), nullable=False),
    sa.Column('guid', sa.String(length=255), nullable=True),
    sa.Column('url', sa.String(length=1024), nullable=True),
    sa.Column('username', sa.String(length=255), nullable=True),
    sa.Column('private_ip', sa.String(length=64), nullable=True),
    sa.Column('public_ip', sa.String(length=64), nullable=True),
    sa.Column('storage_ip', sa.String(length=64), nullable=True),
    sa.Column('hypervisor_type', sa.String(length=32), nullable=True),
    sa.Column('hypervisor_version', sa.String(length=64), nullable=True),
    sa.Column('agent_version', sa.String(length=64), nullable=True),
    sa.Column('capabilities', sa.String(length=255), nullable=True),
    sa.Column('cpu_sockets', sa.Integer(), nullable=True),
    sa.Column('cpus', sa.Integer(), nullable=False),
    sa.Column('cpu_speed_mhz', sa.Integer(), nullable=False),
    sa.Column('memory_bytes', sa.BigInteger(), nullable=False),
    sa.Column('uefi_capable', sa.Boolean(), nullable=False),
    sa.Column('os_category_id', sa.Integer(), nullable=True),
    sa.Column('mgmt_server_id', sa.String(length=80), nullable=True),
    sa.Column('last_pinged', sa.DateTime(timezone=True), nullable=True),
    sa.Column('disconnected', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['cluster_id'], ['cluster.id'], name=op.f('fk_host_cluster_id')),
    sa.ForeignKeyConstraint(['os_category_id'], ['os_category.id'], name=op.f('fk_host_os_category_id')),
    sa.ForeignKeyConstraint(['pod_id'], ['pod.id'], name=op.f('fk_host_pod_id')),
    sa.ForeignKeyConstraint(['zone_id'], ['zone.id'], name=op.f('fk_host_zone_id')),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_host_cluster_status', 'host', ['cluster_id', 'status', 'resource_state'], unique=False)
    op.create_index(op.f('ix_host_guid'), 'host', ['guid'], unique=True)
    op.create_index(op.f('ix_host_hypervisor_type'), 'host', ['hypervisor_type'], unique=False)
    op.create_index(op.f('ix_host_mgmt_server_id'), 'host', ['mgmt_server_id'], unique=False)
    op.create_index(op.f('ix_host_name'), 'host', ['name'], unique=False)
    op.create_index(op.f('ix_host_os_category_id'), 'host', ['os_category_id'], unique=False)
    op.create_index(op.f('ix_host_pod_id'), 'host', ['pod_id'], unique=False)
    op.create_index(op.f('ix_host_private_ip'), 'host', ['private_ip'], unique=False)
    op.create_index(op.f('ix_host_resource_state'), 'host', ['resource_state'], unique=False)
    op.create_index(op.f('ix_host_status'), 'host', ['status'], unique=False)
    op.create_index(op.f('ix_host_type'), 'host', ['type'], unique=False)
    op.create_index(op.f('ix_host_uuid'), 'host', ['uuid'], unique=True)
    op.create_index(op.f('ix_host_zone_id'), 'host', ['zone_id'], unique=False)
    op.create_table('storage_pool',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('pod_id', sa.Integer(), nullable=True),
    sa.Column('cluster_id', sa.Integer(), nullable=True),
    sa.Column('scope', sa.String(length=32), nullable=False),
    sa.Column('pool_type', sa.String(length=32), nullable=False),
    sa.Column('provider', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('host_address', sa.String(length=255), nullable=True),
    sa.Column('path', sa.String(length=255), nullable=True),
    sa.Column('port', sa.Integer(), nullable=True),
    sa.Column('url', sa.String(length=1024), nullable=True),
    sa.Column('hypervisor', sa.String(length=32), nullable=True),
    sa.Column('managed', sa.Boolean(), nullable=False),
    sa.Column('capacity_bytes', sa.BigInteger(), nullable=False),
    sa.Column('used_bytes', sa.BigInteger(), nullable=False),
    sa.Column('capacity_iops', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['cluster_id'], ['cluster.id'], name=op.f('fk_storage_pool_cluster_id')),
    sa.ForeignKeyConstraint(['pod_id'], ['pod.id'], name=op.f('fk_storage_pool_pod_id')),
    sa.ForeignKeyConstraint(['zone_id'], ['zone.id'], name=op.f('fk_storage_pool_zone_id')),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_storage_pool_cluster_id'), 'storage_pool', ['cluster_id'], unique=False)
    op.create_index(op.f('ix_storage_pool_name'), 'storage_pool', ['name'], unique=False)
    op.create_index(op.f('ix_storage_pool_pod_id'), 'storage_pool', ['pod_id'], unique=False)
    op.create_index(op.f('ix_storage_pool_scope'), 'storage_pool', ['scope'], unique=False)
    op.create_index(op.f('ix_storage_pool_status'), 'storage_pool', ['status'], unique=False)
    op.create_index(op.f('ix_storage_pool_uuid'), 'storage_pool', ['uuid'], unique=True)
    op.create_index(op.f('ix_storage_pool_zone_id'), 'storage_pool', ['zone_id'], unique=False)
    op.create_table('template_zone',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('template_id', sa.Integer(), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('image_store_id', sa.Integer(), nullable=True),
    sa.Column('download_state', sa.String(length=32), nullable=False),
    sa.Column('download_pct', sa.Integer(), nullable=False),
    sa.Column('error_text', sa.String(length=1024), nullable=True),
    sa.Column('install_path', sa.String(length=255), nullable=True),
    sa.Column('size_bytes', sa.BigInteger(), nullable=True),
    sa.Column('physical_size_bytes', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['image_store_id'], ['image_store.id'], name=op.f('fk_template_zone_image_store_id')),
    sa.ForeignKeyConstraint(['template_id'], ['template.id'], name=op.f('fk_template_zone_template_id')),
    sa.ForeignKeyConstraint(['zone_id'], ['zone.id'], name=op.f('fk_template_zone_zone_id')),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('template_id', 'zone_id', name='uq_template_zone_template_zone')
    )
    op.create_index(op.f('ix_template_zone_download_state'), 'template_zone', ['download_state'], unique=False)
    op.create_index(op.f('ix_template_zone_image_store_id'), 'template_zone', ['image_store_id'], unique=False)
    op.create_index(op.f('ix_template_zone_uuid'), 'template_zone', ['uuid'], unique=True)
    op.create_index(op.f('ix_template_zone_zone_id'), 'template_zone', ['zone_id'], unique=False)
    op.create_table('virtual_router_element',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('nsp_id', sa.Integer(), nullable=False),
    sa.Column('element_type', sa.String(length=32), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['nsp_id'], ['network_service_provider.id'], name=op.f('fk_virtual_router_element_nsp_id')),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_virtual_router_element_nsp_id'), 'virtual_router_element', ['nsp_id'], unique=False)
    op.create_index(op.f('ix_virtual_router_element_uuid'), 'virtual_router_element', ['uuid'], unique=True)
    op.create_table('vlan_ip_range',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('range_type', sa.String(length=32), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('pod_id', sa.Integer(), nullable=True),
    sa.Column('physical_network_id', sa.Integer(), nullable=True),
    sa.Column('network_id', sa.Integer(), nullable=True),
    sa.Column('vlan_tag', sa.String(length=64), nullable=True),
    sa.Column('gateway', sa.String(length=64), nullable=True),
    sa.Column('netmask', sa.String(length=64), nullable=True),
    sa.Column('start_ip', sa.String(length=64), nullable=True),
    sa.Column('end_ip', sa.String(length=64), nullable=True),
    sa.Column('ip6_gateway', sa.String(length=64), nullable=True),
    sa.Column('ip6_cidr', sa.String(length=64), nullable=True),
    sa.Column('start_ipv6', sa.String(length=64), nullable=True),
    sa.Column('end_ipv6', sa.String(length=64), nullable=True),
    sa.Column('for_virtual_network', sa.Boolean(), nullable=False),
    sa.Column('for_system_vms', sa.Boolean(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('domain_id', sa.Integer(), nullable=True),
    sa.Column('description', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_vlan_ip_range_account_id')),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_vlan_ip_range_domain_id')),
    sa.ForeignKeyConstraint(['network_id'], ['network.id'], name=op.f('fk_vlan_ip_range_network_id')),
    sa.ForeignKeyConstraint(['physical_network_id'], ['physical_network.id'], name=op.f('fk_vlan_ip_range_physical_network_id')),
    sa.ForeignKeyConstraint(['pod_id'], ['pod.id'], name=op.f('fk_vlan_ip_range_pod_id')),
    sa.ForeignKeyConstraint(['zone_id'], ['zone.id'], name=op.f('fk_vlan_ip_range_zone_id')),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_vlan_ip_range_account_id'), 'vlan_ip_range', ['account_id'], unique=False)
    op.create_index(op.f('ix_vlan_ip_range_domain_id'), 'vlan_ip_range', ['domain_id'], unique=False)
    op.create_index(op.f('ix_vlan_ip_range_network_id'), 'vlan_ip_range', ['network_id'], unique=False)
    op.create_index(op.f('ix_vlan_ip_range_physical_network_id'), 'vlan_ip_range', ['physical_network_id'], unique=False)
    op.create_index(op.f('ix_vlan_ip_range_pod_id'), 'vlan_ip_range', ['pod_id'], unique=False)
    op.create_index(op.f('ix_vlan_ip_range_range_type'), 'vlan_ip_range', ['range_type'], unique=False)
    op.create_index(op.f('ix_vlan_ip_range_uuid'), 'vlan_ip_range', ['uuid'], unique=True)
    op.create_index(op.f('ix_vlan_ip_range_zone_id'), 'vlan_ip_range', ['zone_id'], unique=False)
    op.create_table('host_tag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('host_id', sa.Integer(), nullable=False),
    sa.Column('tag', sa.String(length=255), nullable=False),
    sa.Column('is_rule', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['host_id'], ['host.id'], name=op.f('fk_host_tag_host_id')),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('host_id', 'tag', name='uq_host_tag_host_tag')
    )
    op.create_index('ix_host_tag_tag', 'host_tag', ['tag'], unique=False)
    op.create_table('storage_pool_tag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pool_id', sa.Integer(), nullable=False),
    sa.Column('tag', sa.String(length=255), nullable=False),
    sa.Column('is_rule', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['pool_id'], ['storage_pool.id'], name=op.f('fk_storage_pool_tag_pool_id')),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pool_id', 'tag', name='uq_storage_pool_tag_pool_tag')
    )
    op.create_index('ix_storage_pool_tag_tag', 'storage_pool_tag', ['tag'], unique=False)
    op.create_table('template_pool',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('template_id', sa.Integer(), nullable=False),
    sa.Column('pool_id', sa.Integer(), nullable=False),
    sa.Column('download_state', sa.String(length=32), nullable=False),
    sa.Column('download_pct', sa.Integer(), nullable=False),
    sa.Column('install_path', sa.String(length=255), nullable=True),
    sa.Column('size_bytes', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['pool_id'], ['storage_pool.id'], name=op.f('fk_template_pool_pool_id')),
    sa.ForeignKeyConstraint(['template_id'], ['template.id'], name=op.f('fk_template_pool_template_id')),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('template_id', 'pool_id', name='uq_template_pool_template_pool')
    )
    op.create_index(op.f('ix_template_pool_pool_id'), 'template_pool', ['pool_id'], unique=False)
    op.create_index(op.f('ix_template_pool_uuid'), 'template_pool', ['uuid'], unique=True)
    op.create_table('vm_instance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('display_name', sa.String(length=255), nullable=True),
    sa.Column('instance_name', sa.String(length=255), nullable=True),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('power_state', sa.String(length=32), nullable=False),
    sa.Column('power_state_updated', sa.DateTime(timezone=True), nullable=True),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('pod_id', sa.Integer(), nullable=True),
    sa.Column('host_id', sa.Integer(), nullable=True),
    sa.Column('last_host_id', sa.Integer(), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('domain_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('service_offering_id', sa.Integer(), nullable=False),
    sa.Column('template_id', sa.Integer(), nullable=True),
    sa.Column('iso_id', sa.Integer(), nullable=True),
    sa.Column('guest_os_id', sa.Integer(), nullable=True),
    sa.Column('hypervisor_type', sa.String(length=32), nullable=True),
    sa.Column('cpu_count', sa.Integer(), nullable=False),
    sa.Column('cpu_speed_mhz', sa.Integer(), nullable=False),
    sa.Column('ram_mb', sa.Integer(), nullable=False),
    sa.Column('ha_enabled', sa.Boolean(), nullable=False),
    sa.Column('display', sa.Boolean(), nullable=False),
    sa.Column('dynamically_scalable', sa.Boolean(), nullable=False),
    sa.Column('group_name', sa.String(length=255), nullable=True),
    sa.Column('boot_type', sa.String(length=32), nullable=True),
    sa.Column('boot_mode', sa.String(length=32), nullable=True),
    sa.Column('password', sa.String(length=255), nullable=True),
    sa.Column('user_data', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=True),
    sa.Column('redundant_state', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_vm_instance_account_id')),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_vm_instance_domain_id')),
    sa.ForeignKeyConstraint(['guest_os_id'], ['os_type.id'], name=op.f('fk_vm_instance_guest_os_id')),
    sa.ForeignKeyConstraint(['host_id'], ['host.id'], name=op.f('fk_vm_instance_host_id')),
    sa.ForeignKeyConstraint(['iso_id'], ['template.id'], name=op.f('fk_vm_instance_iso_id')),
    sa.ForeignKeyConstraint(['last_host_id'], ['host.id'], name=op.f('fk_vm_instance_last_host_id')),
    sa.ForeignKeyConstraint(['pod_id'], ['pod.id'], name=op.f('fk_vm_instance_pod_id')),
    sa.ForeignKeyConstraint(['service_offering_id'], ['service_offering.id'], name=op.f('fk_vm_instance_service_offering_id')),
    sa.ForeignKeyConstraint(['template_id'], ['template.id'], name=op.f('fk_vm_instance_template_id')),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_vm_instance_user_id')),
    sa.ForeignKeyConstraint(['zone_id'], ['zone.id'], name=op.f('fk_vm_instance_zone_id')),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_vm_instance_account_state', 'vm_instance', ['account_id', 'state'], unique=False)
    op.create_index(op.f('ix_vm_instance_domain_id'), 'vm_instance', ['domain_id'], unique=False)
    op.create_index(op.f('ix_vm_instance_guest_os_id'), 'vm_instance', ['guest_os_id'], unique=False)
    op.create_index('ix_vm_instance_host_state', 'vm_instance', ['host_id', 'state'], unique=False)
    op.create_index(op.f('ix_vm_instance_instance_name'), 'vm_instance', ['instance_name'], unique=True)
    op.create_index(op.f('ix_vm_instance_iso_id'), 'vm_instance', ['iso_id'], unique=False)
    op.create_index(op.f('ix_vm_instance_last_host_id'), 'vm_instance', ['last_host_id'], unique=False)
    op.create_index(op.f('ix_vm_instance_name'), 'vm_instance', ['name'], unique=False)
    op.create_index(op.f('ix_vm_instance_pod_id'), 'vm_instance', ['pod_id'], unique=False)
    op.create_index(op.f('ix_vm_instance_service_offering_id'), 'vm_instance', ['service_offering_id'], unique=False)
    op.create_index(op.f('ix_vm_instance_state'), 'vm_instance', ['state'], unique=False)
    op.create_index(op.f('ix_vm_instance_template_id'), 'vm_instance', ['template_id'], unique=False)
    op.create_index(op.f('ix_vm_instance_type'), 'vm_instance', ['type'], unique=False)
    op.create_index(op.f('ix_vm_instance_user_id'), 'vm_instance', ['user_id'], unique=False)
    op.create_index(op.f('ix_vm_instance_uuid'), 'vm_instance', ['uuid'], unique=True)
    op.create_index(op.f('ix_vm_instance_zone_id'), 'vm_instance', ['zone_id'], unique=False)
    op.create_table('affinity_group_vm',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('affinity_group_id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['affinity_group_id'], ['affinity_group.id'], name=op.f('fk_affinity_group_vm_affinity_group_id')),
    sa.ForeignKeyConstraint(['instance_id'], ['vm_instance.id'], name=op.f('fk_affinity_group_vm_instance_id')),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('affinity_group_id', 'instance_id', name='uq_affinity_group_vm')
    )
    op.create_index(op.f('ix_affinity_group_vm_instance_id'), 'affinity_group_vm', ['instance_id'], unique=False)
    op.create_table('ip_address',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('public_ip', sa.String(length=64), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('vlan_range_id', sa.Integer(), nullable=False),
    sa.Column('physical_network_id', sa.Integer(), nullable=True),
    sa.Column('source_network_id', sa.Integer(), nullable=True),
    sa.Column('associated_network_id', sa.Integer(), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('domain_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('allocated', sa.DateTime(timezone=True), nullable=True),
    sa.Column('is_source_nat', sa.Boolean(), nullable=False),
    sa.Column('is_static_nat', sa.Boolean(), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.Column('instance_ip', sa.String(length=64), nullable=True),
    sa.Column('is_system', sa.Boolean(), nullable=False),
    sa.Column('is_portable', sa.Boolean(), nullable=False),
    sa.Column('display', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_ip_address_account_id')),
    sa.ForeignKeyConstraint(['associated_network_id'], ['network.id'], name=op.f('fk_ip_address_associated_network_id')),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_ip_address_domain_id')),
    sa.ForeignKeyConstraint(['instance_id'], ['vm_instance.id'], name=op.f('fk_ip_address_instance_id')),
    sa.ForeignKeyConstraint(['physical_network_id'], ['physical_network.id'], name=op.f('fk_ip_address_physical_network_id')),
    sa.ForeignKeyConstraint(['source_network_id'], ['network.id'], name=op.f('fk_ip_address_source_network_id')),
    sa.ForeignKeyConstraint(['vlan_range_id'], ['vlan_ip_range.id'], name=op.f('fk_ip_address_vlan_range_id')),
    sa.ForeignKeyConstraint(['zone_id'], ['zone.id'], name=op.f('fk_ip_address_zone_id')),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('zone_id', 'public_ip', name='uq_ip_address_zone_ip')
    )
    op.create_index(op.f('ix_ip_address_account_id'), 'ip_address', ['account_id'], unique=False)
    op.create_index(op.f('ix_ip_address_associated_network_id'), 'ip_address', ['associated_network_id'], unique=False)
    op.create_index(op.f('ix_ip_address_domain_id'), 'ip_address', ['domain_id'], unique=False)
    op.create_index(op.f('ix_ip_address_instance_id'), 'ip_address', ['instance_id'], unique=False)
    op.create_index(op.f('ix_ip_address_physical_network_id'), 'ip_address', ['physical_network_id'], unique=False)
    op.create_index('ix_ip_address_public_ip', 'ip_address', ['public_ip'], unique=False)
    op.create_index(op.f('ix_ip_address_source_network_id'), 'ip_address', ['source_network_id'], unique=False)
    op.create_index(op.f('ix_ip_address_state'), 'ip_address', ['state'], unique=False)
    op.create_index(op.f('ix_ip_address_uuid'), 'ip_address', ['uuid'], unique=True)
    op.create_index(op.f('ix_ip_address_vlan_range_id'), 'ip_address', ['vlan_range_id'], unique=False)
    op.create_table('nic',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('network_id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('mac_address', sa.String(length=17), nullable=True),
    sa.Column('ip4_address', sa.String(length=64), nullable=True),
    sa.Column('netmask', sa.String(length=64), nullable=True),
    sa.Column('gateway', sa.String(length=64), nullable=True),
    sa.Column('ip6_address', sa.String(length=64), nullable=True),
    sa.Column('ip6_gateway', sa.String(length=64), nullable=True),
    sa.Column('ip6_cidr', sa.String(length=64), nullable=True),
    sa.Column('broadcast_uri', sa.String(length=255), nullable=True),
    sa.Column('isolation_uri', sa.String(length=255), nullable=True),
    sa.Column('traffic_type', sa.String(length=32), nullable=True),
    sa.Column('mode', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('mtu', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['instance_id'], ['vm_instance.id'], name=op.f('fk_nic_instance_id')),
    sa.ForeignKeyConstraint(['network_id'], ['network.id'], name=op.f('fk_nic_network_id')),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_nic_instance_id'), 'nic', ['instance_id'], unique=False)
    op.create_index(op.f('ix_nic_ip4_address'), 'nic', ['ip4_address'], unique=False)
    op.create_index(op.f('ix_nic_mac_address'), 'nic', ['mac_address'], unique=False)
    op.create_index(op.f('ix_nic_network_id'), 'nic', ['network_id'], unique=False)
    op.create_index(op.f('ix_nic_uuid'), 'nic', ['uuid'], unique=True)
    op.create_table('vm_snapshot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('display_name', sa.String(length=255), nullable=True),
    sa.Column('description', sa.String(length=1024), nullable=True),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('domain_id', sa.Integer(), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('snapshot_type', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('is_current', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_vm_snapshot_account_id')),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_vm_snapshot_domain_id')),
    sa.ForeignKeyConstraint(['instance_id'], ['vm_instance.id'], name=op.f('fk_vm_snapshot_instance_id')),
    sa.ForeignKeyConstraint(['parent_id'], ['vm_snapshot.id'], name=op.f('fk_vm_snapshot_parent_id')),
    sa.ForeignKeyConstraint(['zone_id'], ['zone.id'], name=op.f('fk_vm_snapshot_zone_id')),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_vm_snapshot_account_id'), 'vm_snapshot', ['account_id'], unique=False)
    op.create_index(op.f('ix_vm_snapshot_domain_id'), 'vm_snapshot', ['domain_id'], unique=False)
    op.create_index(op.f('ix_vm_snapshot_instance_id'), 'vm_snapshot', ['instance_id'], unique=False)
    op.create_index(op.f('ix_vm_snapshot_name'), 'vm_snapshot', ['name'], unique=False)
    op.create_index(op.f('ix_vm_snapshot_parent_id'), 'vm_snapshot', ['parent_id'], unique=False)
    op.create_index(op.f('ix_vm_snapshot_state'), 'vm_snapshot', ['state'], unique=False)
    op.create_index(op.f('ix_vm_snapshot_uuid'), 'vm_snapshot', ['uuid'], unique=True)
    op.create_index(op.f('ix_vm_snapshot_zone_id'), 'vm_snapshot', ['zone_id'], unique=False)
    op.create_table('volume',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('domain_id', sa.Integer(), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('pod_id', sa.Integer(), nullable=True),
    sa.Column('pool_id', sa.Integer(), nullable=True),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.Column('device_id', sa.Integer(), nullable=True),
    sa.Column('volume_type', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('min_iops', sa.BigInteger(), nullable=True),
    sa.Column('max_iops', sa.BigInteger(), nullable=True),
    sa.Column('disk_offering_id', sa.Integer(), nullable=True),
    sa.Column('template_id', sa.Integer(), nullable=True),
    sa.Column('format', sa.String(length=32), nullable=True),
    sa.Column('provisioning_type', sa.String(length=32), nullable=False),
    sa.Column('path', sa.String(length=255), nullable=True),
    sa.Column('chain_info', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=True),
    sa.Column('display', sa.Boolean(), nullable=False),
    sa.Column('attached', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_volume_account_id')),
    sa.ForeignKeyConstraint(['disk_offering_id'], ['disk_offering.id'], name=op.f('fk_volume_disk_offering_id')),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_volume_domain_id')),
    sa.ForeignKeyConstraint(['instance_id'], ['vm_instance.id'], name=op.f('fk_volume_instance_id')),
    sa.ForeignKeyConstraint(['pod_id'], ['pod.id'], name=op.f('fk_volume_pod_id')),
    sa.ForeignKeyConstraint(['pool_id'], ['storage_pool.id'], name=op.f('fk_volume_pool_id')),
    sa.ForeignKeyConstraint(['template_id'], ['template.id'], name=op.f('fk_volume_template_id')),
    sa.ForeignKeyConstraint(['zone_id'], ['zone.id'], name=op.f('fk_volume_zone_id')),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_volume_account_id'), 'volume', ['account_id'], unique=False)
    op.create_index(op.f('ix_volume_disk_offering_id'), 'volume', ['disk_offering_id'], unique=False)
    op.create_index(op.f('ix_volume_domain_id'), 'volume', ['domain_id'], unique=False)
    op.create_index(op.f('ix_volume_instance_id'), 'volume', ['instance_id'], unique=False)
    op.create_index(op.f('ix_volume_name'), 'volume', ['name'], unique=False)
    op.create_index(op.f('ix_volume_pod_id'), 'volume', ['pod_id'], unique=False)
    op.create_index(op.f('ix_volume_pool_id'), 'volume', ['pool_id'], unique=False)
    op.create_index(op.f('ix_volume_state'), 'volume', ['state'], unique=False)
    op.create_index(op.f('ix_volume_template_id'), 'volume', ['template_id'], unique=False)
    op.create_index(op.f('ix_volume_uuid'), 'volume', ['uuid'], unique=True)
    op.create_index(op.f('ix_volume_volume_type'), 'volume', ['volume_type'], unique=False)
    op.create_index(op.f('ix_volume_zone_id'), 'volume', ['zone_id'], unique=False)
    op.create_table('guest_ip',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('network_id', sa.Integer(), nullable=False),
    sa.Column('ip_address', sa.String(length=64), nullable=False),
    sa.Column('nic_id', sa.Integer(), nullable=True),
    sa.Column('is_secondary', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['network_id'], ['network.id'], name=op.f('fk_guest_ip_network_id')),
    sa.ForeignKeyConstraint(['nic_id'], ['nic.id'], name=op.f('fk_guest_ip_nic_id')),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('network_id', 'ip_address', name='uq_guest_ip_network_ip')
    )
    op.create_index(op.f('ix_guest_ip_nic_id'), 'guest_ip', ['nic_id'], unique=False)
    op.create_index(op.f('ix_guest_ip_uuid'), 'guest_ip', ['uuid'], unique=True)
    op.create_table('snapshot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('domain_id', sa.Integer(), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('volume_id', sa.Integer(), nullable=False),
    sa.Column('snapshot_type', sa.String(length=32), nullable=False),
    sa.Column('interval_type', sa.String(length=32), nullable=True),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('hypervisor', sa.String(length=32), nullable=True),
    sa.Column('location_type', sa.String(length=32), nullable=True),
    sa.Column('image_store_id', sa.Integer(), nullable=True),
    sa.Column('path', sa.String(length=255), nullable=True),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('physical_size_bytes', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_snapshot_account_id')),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_snapshot_domain_id')),
    sa.ForeignKeyConstraint(['image_store_id'], ['image_store.id'], name=op.f('fk_snapshot_image_store_id')),
    sa.ForeignKeyConstraint(['volume_id'], ['volume.id'], name=op.f('fk_snapshot_volume_id')),
    sa.ForeignKeyConstraint(['zone_id'], ['zone.id'], name=op.f('fk_snapshot_zone_id')),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_snapshot_account_id'), 'snapshot', ['account_id'], unique=False)
    op.create_index(op.f('ix_snapshot_domain_id'), 'snapshot', ['domain_id'], unique=False)
    op.create_index(op.f('ix_snapshot_image_store_id'), 'snapshot', ['image_store_id'], unique=False)
    op.create_index(op.f('ix_snapshot_name'), 'snapshot', ['name'], unique=False)
    op.create_index(op.f('ix_snapshot_state'), 'snapshot', ['state'], unique=False)
    op.create_index(op.f('ix_snapshot_uuid'), 'snapshot', ['uuid'], unique=True)
    op.create_index(op.f('ix_snapshot_volume_id'), 'snapshot', ['volume_id'], unique=False)
    op.create_index(op.f('ix_snapshot_zone_id'), 'snapshot', ['zone_id'], unique=False)
    op.create_table('snapshot_policy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('volume_id', sa.Integer(), nullable=False),
    sa.Column('interval_type', sa.String(length=32), nullable=False),
    sa.Column('schedule', sa.String(length=64), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('max_snaps', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('display', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['volume_id'], ['volume.id'], name=op.f('fk_snapshot_policy_volume_id')),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_snapshot_policy_uuid'), 'snapshot_policy', ['uuid'], unique=True)
    op.create_index(op.f('ix_snapshot_policy_volume_id'), 'snapshot_policy', ['volume_id'], unique=False)


def downgrade() -> None:
    op.drop_table('snapshot_policy')
    op.drop_table('snapshot')
    op.drop_table('guest_ip')
    op.drop_table('volume')
    op.drop_table('vm_snapshot')
    op.drop_table('nic')
    op.drop_table('ip_address')
    op.drop_table('affinity_group_vm')
    op.drop_table('vm_instance')
    op.drop_table('template_pool')
    op.drop_table('storage_pool_tag')
    op.drop_table('host_tag')
    op.drop_table('vlan_ip_range')
    op.drop_table('virtual_router_element')
    op.drop_table('template_zone')
    op.drop_table('storage_pool')
    op.drop_table('host')
    op.drop_table('event')
    op.drop_table('capacity')
    op.drop_table('annotation')
    op.drop_table('alert')
    op.drop_table('template')
    op.drop_table('resource_tag')
    op.drop_table('physical_network_traffic_type')
    op.drop_table('network_service_provider')
    op.drop_table('network_offering_service')
    op.drop_table('network')
    op.drop_table('cluster')
    op.drop_table('app_user')
    op.drop_table('affinity_group')
    op.drop_table('pod')
    op.drop_table('physical_network')
    op.drop_table('network_offering')
    op.drop_table('image_store')
    op.drop_table('account')
    op.drop_table('zone')
    op.drop_table('service_offering')
    op.drop_table('role_permission')
    op.drop_table('os_type')
    op.drop_table('role')
    op.drop_table('resource_limit')
    op.drop_table('resource_detail')
    op.drop_table('resource_count')
    op.drop_table('probe')
    op.drop_table('os_category')
    op.drop_table('domain')
    op.drop_table('disk_offering')
    op.drop_table('configuration')
    op.drop_table('async_job')
