"""The identity, role and tenancy flows again, against a live server on MariaDB
(CLOUDPLANE_TEST_MYSQL_URL): its collation, LIKE and UPDATE rules differ from
SQLite's, and the cascades (domain rename and cleanup) must hold on both."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pymysql
import pytest
from sqlalchemy.engine import make_url

from tests.api import test_identity as ti
from tests.api import test_roles as tr
from tests.api import test_tenancy as tt
from tests.api.test_identity_kit import client, fails, make_domain, make_tenant, unique
from tests.dbs import mysql_url, require_backend

pytestmark = [pytest.mark.ray, pytest.mark.mysql]


def _admin_connection() -> Any:
    url = make_url(mysql_url() or "")
    return pymysql.connect(host=url.host or "127.0.0.1", port=url.port or 3306, user=url.username or "root",
                           password=url.password or "", autocommit=True)


@pytest.fixture(scope="module")
def mariadb_server(ray_cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    require_backend("mysql")
    from tests.live import admin_keys, start_server

    name = f"cpident_{unique('db').split('-')[1]}"
    with _admin_connection() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    server = None
    try:
        url = make_url(mysql_url() or "").set(database=name).render_as_string(hide_password=False)
        server = start_server(ray_cluster.address, tmp_path_factory.mktemp("live-mariadb"), url)
        server.admin_key, server.admin_secret = admin_keys(server)
        yield server
    finally:
        if server is not None:
            server.stop()
        with _admin_connection() as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name}")


FLOWS: list[Callable[[Any], None]] = [
    ti.test_domain_round_trip, ti.test_domain_paths_fit, ti.test_account_round_trip, ti.test_user_round_trip,
    ti.test_locking_the_last_user_locks_the_account, ti.test_password_change_rules, ti.test_update_user_keys,
    tr.test_role_round_trip, tr.test_clone_and_import, tr.test_deny_rule_and_its_order,
]


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f.__name__)
def test_flow_on_mariadb(mariadb_server: Any, flow: Callable[[Any], None]) -> None:
    flow(mariadb_server)


def test_tenancy_on_mariadb(mariadb_server: Any) -> None:
    w = tt.build_world(mariadb_server)
    for caller, target in tt.MATRIX:
        tt.test_list_read_change(w, caller, target)
    tt.test_domain_admin_list_semantics(w)
    tt.test_user_list_semantics(w)


def test_names_differing_in_case_are_one_name(mariadb_server: Any) -> None:
    root = client(mariadb_server)
    dom = make_domain(root, name=unique("Case"))
    fails(431, root.createDomain, name=dom["name"].lower())
    t = make_tenant(mariadb_server, root, domainid=dom["id"])
    fails(431, root.updateAccount, id=make_tenant(mariadb_server, root, domainid=dom["id"]).account["id"],
          newname=t.name.upper())
