"""Every table of the resource model. Importing this package registers them all
on `SQLModel.metadata` (Alembic and `create_all` read that)."""

from cloudplane.store.jobs import AsyncJob  # noqa: F401
from cloudplane.store.tables import (  # noqa: F401
    capacity,
    compute,
    config,
    drs,
    events,
    identity,
    images,
    infra,
    keys,
    limits,
    network,
    probe,
    simulator,
    storage,
    tags,
    vnet,
)
