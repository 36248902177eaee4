from __future__ import annotations

import os

# Ray must bind loopback only and never phone home; set before anything imports ray.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from collections.abc import AsyncIterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from tests.dbs import BACKENDS, fresh_database  # noqa: E402


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def db_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database on each backend (SQLite always, MariaDB when configured)."""
    async with fresh_database(backend, tmp_path) as url:
        yield url


@pytest.fixture(scope="session")
def ray_cluster():  # noqa: ANN201
    """One Ray instance for the whole session, on 127.0.0.1: a multi-node-capable
    `Cluster` (head only; tests add and remove worker nodes themselves)."""
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 2, "include_dashboard": False, "object_store_memory": 100 * 2**20},
    )
    ray.init(address=cluster.address, log_to_driver=False)
    yield cluster
    ray.shutdown()
    cluster.shutdown()


@pytest.fixture(scope="session")
def live_server(ray_cluster, tmp_path_factory):  # noqa: ANN001, ANN201
    """One management server (SQLite) for the session's API tests."""
    from tests.live import admin_keys, start_server

    d = tmp_path_factory.mktemp("live")
    server = start_server(ray_cluster.address, d, f"sqlite+aiosqlite:///{d / 'cloud.db'}")
    server.admin_key, server.admin_secret = admin_keys(server)
    yield server
    server.stop()


# The live zone of the VM, storage, limits and key/tag tests: one definition for the
# whole session (see tests/zone.py).
from tests.zone import cloud, root, tenant  # noqa: E402,F401
