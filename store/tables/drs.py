"""Cluster DRS plans and the host-HA framework's records.

DRS: a plan (``cluster_drs_plan``) per generated or executed DRS round of a
cluster, with its ordered migrations (``cluster_drs_plan_migration``) and each
one's outcome. Plan status is CloudStack's: UNDER_REVIEW (generated, not run),
READY, IN_PROGRESS, COMPLETED; type AUTOMATED or MANUAL.

Host HA (CloudStack's HA framework, apart from VM HA): ``ha_config`` has one
row per resource, as CloudStack's table of that name: a Host row carries the
provider, the switch and the host-HA state with the evaluator's counters; a
Cluster or Zone row only carries the switch (``enableHAForCluster``...).
``ha_state_transition`` records every change of state with the event that
caused it (``listSimulatorHAStateTransitions``). ``simulator_ha_state`` holds
what ``configureSimulatorHAProviderState`` says the simulated HA provider
should answer for a host: part of the simulated world, not of the control plane.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from cloudplane.store.base import EntityBase, utcnow
from cloudplane.store.tables._common import DESC_LEN, KIND_LEN, NAME_LEN, STATE_LEN, long_text, ref


class ClusterDrsPlan(EntityBase, table=True):
    __tablename__ = "cluster_drs_plan"
    __table_args__ = (Index("ix_cluster_drs_plan_cluster_status", "cluster_id", "status"),)

    cluster_id: int = ref("cluster", index=False)  # led by ix_cluster_drs_plan_cluster_status
    type: str = Field(default="MANUAL", max_length=KIND_LEN)  # AUTOMATED | MANUAL
    status: str = Field(default="UNDER_REVIEW", max_length=STATE_LEN)
    algorithm: str = Field(default="balanced", max_length=KIND_LEN)  # balanced | condensed | given
    metric: str = Field(default="memory", max_length=KIND_LEN)
    imbalance_before: float = Field(default=0.0)
    imbalance_after: float = Field(default=0.0)  # as planned
    threshold: float = Field(default=0.0)
    explanation: str | None = long_text()
    event_uuid: str | None = Field(default=None, max_length=40)  # the CLUSTER.DRS event of its run
    completed: datetime | None = Field(default=None)


class ClusterDrsPlanMigration(SQLModel, table=True):
    """One planned live migration, in plan order (`seq`), and how it went."""

    __tablename__ = "cluster_drs_plan_migration"
    __table_args__ = (UniqueConstraint("plan_id", "seq", name="uq_cluster_drs_plan_migration_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = ref("cluster_drs_plan", index=False)  # led by the unique constraint
    seq: int
    vm_id: int = ref("vm_instance")
    src_host_id: int = ref("host")
    dst_host_id: int = ref("host")
    imbalance_after: float | None = Field(default=None)
    # Pending | InProgress | Succeeded | Failed
    status: str = Field(default="Pending", max_length=STATE_LEN)
    error: str | None = Field(default=None, max_length=DESC_LEN)
    started: datetime | None = Field(default=None)
    completed: datetime | None = Field(default=None)


class HaConfig(EntityBase, table=True):
    """Host HA per resource. The uuid is the resource's own (one row each)."""

    __tablename__ = "ha_config"
    __table_args__ = (UniqueConstraint("resource_type", "resource_id", name="uq_ha_config_resource"),)

    resource_type: str = Field(max_length=KIND_LEN)  # Host | Cluster | Zone
    resource_id: int  # polymorphic, as capacity's owner: no foreign key
    provider: str | None = Field(default=None, max_length=NAME_LEN)  # simulatorhaprovider, kvmhaprovider
    enabled: bool = Field(default=False)
    ha_state: str = Field(default="Disabled", max_length=STATE_LEN, index=True)
    state_since: datetime = Field(default_factory=utcnow)
    activity_checks: int = Field(default=0)
    activity_failures: int = Field(default=0)
    recovery_attempts: int = Field(default=0)
    fence_attempts: int = Field(default=0)
    reason: str | None = Field(default=None, max_length=DESC_LEN)  # why the last decision was taken


class HaStateTransition(SQLModel, table=True):
    __tablename__ = "ha_state_transition"

    id: int | None = Field(default=None, primary_key=True)
    config_id: int = ref("ha_config")
    event: str = Field(max_length=64)
    prev_state: str = Field(max_length=STATE_LEN)
    state: str = Field(max_length=STATE_LEN)
    activity_counter: int = Field(default=0)
    recovery_counter: int = Field(default=0)
    reason: str | None = Field(default=None, max_length=DESC_LEN)
    created: datetime = Field(default_factory=utcnow)


class SimulatorHaState(SQLModel, table=True):
    __tablename__ = "simulator_ha_state"

    id: int | None = Field(default=None, primary_key=True)
    host_id: int = Field(foreign_key="host.id", unique=True)
    health: bool = Field(default=True)
    activity: bool = Field(default=True)
    recover: bool = Field(default=True)
    fence: bool = Field(default=True)
    # listSimulatorHAStateTransitions shows transitions from this id on: the ones since
    # the flags were last set, as the simulator's provider forgets older ones.
    transitions_from: int = Field(default=0)
    updated: datetime = Field(default_factory=utcnow)
