"""Alembic environment for cloudplane.

Migrations always run on a connection that `cloudplane.store.migrate` opens
(an async engine from `make_engine`, driven through `run_sync`) and hands in as
`config.attributes["connection"]`; there is no alembic.ini and no offline mode.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from alembic.operations import ops
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

import cloudplane.store.tables  # noqa: F401  (registers every table on the metadata)


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render SQLModel's column types as the plain SQLAlchemy types they store,
    so that revision files depend on SQLAlchemy only."""
    if type_ == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def drop_tables_not_their_indexes(
    ctx: MigrationContext, revision: Any, directives: list[ops.MigrationScript]
) -> None:
    """Leave out DROP INDEX for a table that is dropped anyway: MySQL refuses to
    drop an index that a foreign key still needs, and the table takes it along."""
    for script in directives:
        for container in script.upgrade_ops_list + script.downgrade_ops_list:
            dropped = {op.table_name for op in container.ops if isinstance(op, ops.DropTableOp)}
            kept: list[ops.MigrateOperation] = []
            for op in container.ops:
                if isinstance(op, ops.ModifyTableOps) and op.table_name in dropped:
                    op.ops = [o for o in op.ops if not isinstance(o, ops.DropIndexOp)]
                    if not op.ops:
                        continue
                kept.append(op)
            container.ops = kept


def configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        # SQLite can alter little in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
        process_revision_directives=drop_tables_not_their_indexes,
    )


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through cloudplane.store.migrate, not the alembic CLI")
    configure(connection)
    with context.begin_transaction():
        context.run_migrations()


run()
