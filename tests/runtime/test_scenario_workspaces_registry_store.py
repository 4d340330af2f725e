"""``server.workspaces`` with ``database.registry``: team workspaces when the model registry has a database of
its own, run for real.

The ``workspaces`` example (basic-auth) on an external PostgreSQL (``database.external``: host, port, a
credentials Secret) with the registry in ``mlflow-registry``: one PostgreSQL 16 stands in for the external
server, its databases made beforehand and owned by the Secret's user, as a DBA does. The migration Job runs as
synthesized, then the server pod, which checks at start that both stores can hold workspaces. The admin makes
team-a, grants it to alice and registers a model in it.
"""

from __future__ import annotations

import pytest
import requests
from podrunner import run_job
from postgres import free_port
from scenario import (
    SERVICE_HOST,
    migrated_server,
    migration_job,
    placeholder_secret_values,
    service_port,
    shipped_config,
    start_external_postgres,
    synth_environment,
)
from workspace_checks import Api, grant_workspace

pytestmark = pytest.mark.runtime

HOST = "postgres.databases.svc.cluster.local"
DB_USER, DB_PASSWORD = "mlflow", "ws-registry@pg:p/w#x"
TRACKING, AUTH, REGISTRY = "mlflow", "mlflow_auth", "mlflow-registry"
ADMIN, ADMIN_PASSWORD = "admin", "admin-password-for-tests-0123"
ALICE, ALICE_PASSWORD = "alice", "alice-password-0123"
MODELS = "/api/2.0/mlflow/registered-models"


def api(port: int, user: str, password: str) -> Api:
    session = requests.Session()
    session.auth, session.headers["Host"] = (user, password), SERVICE_HOST
    return Api(session, f"http://127.0.0.1:{port}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The databases on the stand-in, the migration Job, the server; team-a granted to alice, a model
    registered in team-a and one in ``default``."""
    port = free_port()
    config = shipped_config("workspaces")
    config["database"] = {
        "type": "external",
        "external": {"host": HOST, "port": port, "credentials": {"secret": "mlflow-db"}},
        "registry": {"enabled": True, "name": REGISTRY},
    }
    config["artifacts"] = {"type": "pvc"}
    objects = synth_environment(config, "workspaces-registry", tmp_path_factory.mktemp("ws-registry"))
    secrets = placeholder_secret_values(objects)
    secrets["mlflow-db"] = {"username": DB_USER, "password": DB_PASSWORD}
    secrets["mlflow-credentials"] |= {
        "admin-username": ADMIN,
        "admin-password": ADMIN_PASSWORD,
        "flask-secret-key": "flask-secret-key-for-tests-0123456789abcdef",
    }
    pg = start_external_postgres(port, DB_USER, DB_PASSWORD, (TRACKING, AUTH, REGISTRY))
    hosts = {HOST: "127.0.0.1"}
    try:
        with migrated_server(objects, secrets, extra_hosts=hosts) as (_, migration):
            server_port = service_port(objects, "mlflow")
            admin = api(server_port, ADMIN, ADMIN_PASSWORD)
            admin.ok("POST", "/api/2.0/mlflow/users/create", json={"username": ALICE, "password": ALICE_PASSWORD})
            admin.ok("POST", "/api/3.0/mlflow/workspaces", json={"name": "team-a"})
            grant_workspace(admin, "team-a", ALICE)
            admin.ok("POST", f"{MODELS}/create", "team-a", json={"name": "team-a-churn"})
            admin.ok("POST", f"{MODELS}/create", json={"name": "shared-churn"})
            yield {
                "pg": pg,
                "admin": admin,
                "alice": api(server_port, ALICE, ALICE_PASSWORD),
                "rerun": lambda: run_job(migration_job(objects), objects, secrets, timeout=300, extra_hosts=hosts),
                "migration": migration,
            }
    finally:
        pg.stop()


def model_names(user: Api, workspace: str | None) -> set[str]:
    found = user.ok("GET", f"{MODELS}/search", workspace, params={"max_results": 100})
    return {m["name"] for m in found.get("registered_models", [])}


def test_the_registry_database_holds_each_model_in_its_workspace(stack):
    """The models are rows of the registry's own database, each in the workspace it was registered in
    (``default`` when none is named); the tracking database holds no model and knows both workspaces."""
    pg = stack["pg"]
    rows = pg.psql("SELECT name || ':' || workspace FROM registered_models ORDER BY name", database=REGISTRY)
    assert rows.split() == ["shared-churn:default", "team-a-churn:team-a"], rows
    assert pg.psql("SELECT count(*) FROM registered_models", database=TRACKING) == "0"
    assert pg.psql("SELECT name FROM workspaces ORDER BY name", database=TRACKING).split() == ["default", "team-a"]


def test_a_member_sees_only_the_models_of_their_workspace(stack):
    """alice, granted team-a, lists its model and not the one in ``default``; the admin lists each in its own
    workspace."""
    assert model_names(stack["alice"], "team-a") == {"team-a-churn"}
    refused = stack["alice"].call("GET", f"{MODELS}/get", "team-a", params={"name": "shared-churn"})
    assert refused.status_code in (403, 404), refused.text
    assert model_names(stack["admin"], None) == {"shared-churn"}
    assert model_names(stack["admin"], "team-a") == {"team-a-churn"}


def test_a_second_migration_run_keeps_both_databases(stack):
    """Run again with workspaces on and the registry apart, the Job migrates nothing and leaves the
    workspaces and the models where they are."""
    pg = stack["pg"]
    before = pg.psql("SELECT name || ':' || workspace FROM registered_models ORDER BY name", database=REGISTRY)
    again = stack["rerun"]()
    assert again.succeeded and "nothing to migrate" in again.logs["upgrade"], again.logs
    assert pg.psql("SELECT name || ':' || workspace FROM registered_models ORDER BY name", database=REGISTRY) == before
