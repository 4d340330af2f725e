"""Upgrading the mlflow-oidc-auth plugin over a populated user database keeps every user, group and grant.

The oidc environment of the OIDC scenarios (``examples/oidc-keycloak.yaml`` with its provider on
loopback, see oidc_scenario.py) on the CloudNativePG stand-in. The previous major of the plugin
(``venvs.OLD_RELEASES``) creates its schema in the auth database and writes users, groups and
permissions through its own store (``client_scripts/oidc_records.py``); its reading of them is the
capture. Then the migration Job runs as synthesized, twice (the two majors share their migrations, so it
finds the store current), the synthesized server pod starts on the database (the plugin assigns
workspaces to older grants at startup), and the current plugin's
store, in the image's venv, reads every record back.
"""

from __future__ import annotations

import pytest
import venvs
from client_venv import run_client
from oidc_scenario import cluster_secrets, oidc_environment, provider_for
from podrunner import find_object, run_job, run_pod
from postgres import free_port
from scenario import (
    container_of,
    database_state,
    migration_job,
    require_free_port,
    service_port,
    start_cnpg_postgres,
)

pytestmark = pytest.mark.runtime

OLD_PLUGIN = "mlflow-oidc-auth-10.2.1"
DB_PASSWORD = "cnpg-app-password-for-upgrades"


@pytest.fixture(scope="module")
def upgrade(tmp_path_factory):
    """Plugin 10 populates, migration Job runs twice, server pod starts; what the plugins read."""
    idp_port = free_port()
    objects = oidc_environment(idp_port, tmp_path_factory.mktemp("oidc-upgrade-synth"))
    secrets, hosts = cluster_secrets(objects, DB_PASSWORD)
    server = container_of(find_object(objects, "Deployment", "mlflow"), "mlflow")
    settings = find_object(objects, "ConfigMap", "mlflow-settings")["data"]
    database = settings["OIDC_USERS_DB_URI"].rsplit("/", 1)[1]
    current = venvs.venv_for_image(server["image"])
    with provider_for(objects, idp_port):
        pg = start_cnpg_postgres(objects, DB_PASSWORD)
        try:
            old_env = {"OIDC_USERS_DB_URI": pg.uri(database, user="mlflow", password=DB_PASSWORD)}
            old = venvs.old_release_venv(OLD_PLUGIN)
            run_client("oidc_records.py", "populate", env=old_env, venv=old)
            captured = run_client("oidc_records.py", "dump", env=old_env, venv=old)
            first = run_job(migration_job(objects), objects, secrets, timeout=600, extra_hosts=hosts)
            migrated = database_state(pg, database)
            second = run_job(migration_job(objects), objects, secrets, timeout=600, extra_hosts=hosts, check=False)
            again = database_state(pg, database)
            require_free_port(service_port(objects, "mlflow"), "the MLflow server")
            with run_pod(find_object(objects, "Deployment", "mlflow"), objects, secrets, extra_hosts=hosts) as pod:
                pod.wait_for_probe(timeout=180)
                read_back = run_client("oidc_records.py", "dump", env=old_env, venv=current)
            print(
                f"\n[upgrade oidc from {OLD_PLUGIN}] migration Job {first.seconds:.1f} s, again {second.seconds:.1f} s"
            )
            yield {
                "objects": objects,
                "captured": captured,
                "read_back": read_back,
                "migrated": migrated,
                "again": again,
                "first": first,
                "second": second,
                "settings": settings,
            }
        finally:
            pg.stop()


def test_migration_job_checks_the_plugin_database(upgrade):
    """The Job compares the plugin's store with the image's head, in the version table the server reads:
    plugin 10 and 11 share their migrations, so it finds it current and leaves it alone (it creates the empty
    tracking store, which needs no fence)."""
    first = upgrade["first"]
    assert first.succeeded, first.logs
    log = first.logs["upgrade"]
    assert "oidc: current" in log and "migrating oidc" not in log and "fenced" not in log, log
    assert "tracking: empty" in log and "tracking is at" in log, log
    table = upgrade["settings"]["OIDC_ALEMBIC_VERSION_TABLE"]
    assert list(upgrade["migrated"]["alembic"]) == [table]
    assert upgrade["migrated"]["alembic"][table]


def test_second_migration_run_is_a_no_op(upgrade):
    """Run again, the Job exits 0 and leaves the user database's schema, data and revision as they were."""
    assert upgrade["second"].succeeded, upgrade["second"].logs
    for part in ("alembic", "schema", "data"):
        assert upgrade["again"][part] == upgrade["migrated"][part], part


def test_users_groups_and_permissions_read_back_as_before(upgrade):
    """Users (admin flag, service account), groups and memberships, and user and group permissions on
    experiments and registered models, exact and by regex, read by the current plugin equal what the
    previous major read before the upgrade."""
    captured, read_back = upgrade["captured"], upgrade["read_back"]
    assert len(captured["users"]) == 3 and len(captured["groups"]) == 3
    assert read_back == captured
