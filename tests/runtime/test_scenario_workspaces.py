"""examples/workspaces.yaml run for real: MLflow's workspaces isolated by basic-auth, on data logged before.

The same environment first runs with ``server.workspaces`` off (its migration Job, its server) and the admin
logs an experiment with a run and an artifact; then the example as shipped (workspaces on) is applied: its
migration Job twice, its server. Stand-ins: PostgreSQL 16 for the bundled PostgreSQL, moto's S3 server for
the bundled MinIO (as in test_scenario_default.py). Every request goes over HTTP to the server pod as
synthesized, naming its workspace in ``X-MLFLOW-WORKSPACE`` as MLflow's client does.
"""

from __future__ import annotations

import copy
import uuid

import pytest
import requests
from podrunner import find_object, run_job, run_pod
from s3_standin import S3StandIn
from scenario import (
    SERVICE_HOST,
    container_of,
    default_credentials,
    hashed_job,
    literal_env,
    migration_job,
    require_free_port,
    service_port,
    shipped_config,
    start_bundled_postgres,
    synth_environment,
)
from workspace_checks import Api, assert_unreadable, experiment_names, grant_workspace, workspace_names

pytestmark = pytest.mark.runtime

ENV = "workspaces"
ADMIN, ADMIN_PASSWORD = "admin", "admin-password-for-tests-0123"
USERS = {"alice": "alice-password-0123", "bob": "bob-password-0123"}
TEAMS = {"alice": "team-a", "bob": "team-b"}
ARTIFACT = "report.txt"


def log_experiment(api: Api, workspace: str | None, name: str) -> dict[str, str]:
    """An experiment with one run holding ``ARTIFACT`` (through the artifact proxy) and a registered model."""
    experiment_id = api.ok("POST", "/api/2.0/mlflow/experiments/create", workspace, json={"name": name})[
        "experiment_id"
    ]
    run = api.ok("POST", "/api/2.0/mlflow/runs/create", workspace, json={"experiment_id": experiment_id})["run"]
    run_id, artifact_uri = run["info"]["run_id"], run["info"]["artifact_uri"]
    assert artifact_uri.startswith("mlflow-artifacts:/"), artifact_uri
    path = f"{artifact_uri.removeprefix('mlflow-artifacts:').lstrip('/')}/{ARTIFACT}"
    api.ok("PUT", f"/api/2.0/mlflow-artifacts/artifacts/{path}", workspace, data=f"{name}\n".encode())
    model = f"{name}-model"
    api.ok("POST", "/api/2.0/mlflow/registered-models/create", workspace, json={"name": model})
    return {"experiment_id": experiment_id, "run_id": run_id, "artifact_path": path, "model": model, "name": name}


def database_rows(pg) -> str:
    """The workspace catalog and which workspace each experiment and registered model is in."""
    return "\n".join(
        pg.psql(query, database="mlflow")
        for query in (
            "SELECT string_agg(name || ':' || coalesce(description, ''), ',' ORDER BY name) FROM workspaces",
            "SELECT string_agg(name || '@' || workspace, ',' ORDER BY name) FROM experiments",
            "SELECT string_agg(name || '@' || workspace, ',' ORDER BY name) FROM registered_models",
        )
    )


def basic_auth_api(port: int, user: str, password: str) -> Api:
    """The API on the server pod's port with ``user``'s basic-auth credentials, addressed to its Service name."""
    session = requests.Session()
    session.auth, session.headers["Host"] = (user, password), SERVICE_HOST
    return Api(session, f"http://127.0.0.1:{port}")


@pytest.fixture(scope="module")
def stack(synthesized, tmp_path_factory):
    """Workspaces off: migration, server, the admin's legacy experiment. Then workspaces on: the migration Job
    twice, the server; the admin creates team-a and team-b with an experiment each and grants alice team-a
    and bob team-b."""
    on = synthesized[ENV]
    config = copy.deepcopy(shipped_config(ENV))
    config["server"]["workspaces"] = False
    off = synth_environment(config, ENV, tmp_path_factory.mktemp("workspaces-off"))
    bucket = literal_env(container_of(hashed_job(on, "mlflow-minio-bucket"), "mc"))["BUCKET"]
    port = service_port(on, "mlflow")
    with S3StandIn(service_port(on, "mlflow-minio")) as s3:
        secrets = default_credentials("pg-password-for-tests", s3.provision(bucket, user="mlflow"))
        secrets["mlflow-credentials"] |= {
            "admin-username": ADMIN,
            "admin-password": ADMIN_PASSWORD,
            "flask-secret-key": "flask-secret-key-for-tests-0123456789abcdef",
        }
        pg = start_bundled_postgres(on, secrets)
        admin = basic_auth_api(port, ADMIN, ADMIN_PASSWORD)
        try:
            assert run_job(migration_job(off), off, secrets, timeout=300).succeeded
            require_free_port(port, "the MLflow server")
            with run_pod(find_object(off, "Deployment", "mlflow"), off, secrets) as pod:
                pod.wait_for_probe(timeout=180)
                legacy = log_experiment(admin, None, "legacy")
            migrations, catalogs = [], []
            for _ in range(2):
                migrations.append(run_job(migration_job(on), on, secrets, timeout=300))
                catalogs.append(database_rows(pg))
            require_free_port(port, "the MLflow server")
            with run_pod(find_object(on, "Deployment", "mlflow"), on, secrets) as pod:
                pod.wait_for_probe(timeout=180)
                for user, password in USERS.items():
                    admin.ok("POST", "/api/2.0/mlflow/users/create", json={"username": user, "password": password})
                    team = TEAMS[user]
                    admin.ok("POST", "/api/3.0/mlflow/workspaces", json={"name": team})
                    grant_workspace(admin, team, user)
                teams = {team: log_experiment(admin, team, f"{team}-{uuid.uuid4().hex[:6]}") for team in TEAMS.values()}
                yield {
                    "objects": on,
                    "pod": pod,
                    "pg": pg,
                    "migrations": migrations,
                    "catalogs": catalogs,
                    "rerun": lambda: run_job(migration_job(on), on, secrets, timeout=300),
                    "admin": admin,
                    "users": {user: basic_auth_api(port, user, password) for user, password in USERS.items()},
                    "legacy": legacy,
                    "teams": teams,
                }
        finally:
            pg.stop()


def test_the_migration_job_keeps_the_data_from_before_in_default_and_a_second_run_changes_nothing(stack):
    """Turning workspaces on runs the Job again (its env changed): the schema is current, the workspace
    ``default`` is there holding the experiments and model logged before, and the Job says so; run again, it
    changes nothing in the database."""
    for migration in stack["migrations"]:
        assert migration.exit_codes == {"upgrade": 0}, migration.logs
        log = migration.logs["upgrade"]
        assert "nothing to migrate" in log, log
        assert "workspace 'default' present, nothing changed; it holds 2 experiments, 1 registered_models" in log, log
    first, second = stack["catalogs"]
    assert first == second, (first, second)
    assert "legacy@default" in first and "legacy-model@default" in first, first


def test_the_server_runs_with_workspaces_on(stack):
    """The server pod as synthesized has workspaces on: MLflow lists the admin's workspaces."""
    names = workspace_names(stack["admin"])
    assert {"default", "team-a", "team-b"} <= names, names


def test_a_user_lists_only_the_workspaces_granted_to_them(stack):
    """alice, granted team-a, does not even learn that team-b exists."""
    alice = stack["users"]["alice"]
    names = workspace_names(alice)
    assert "team-a" in names and "team-b" not in names, names


def test_a_user_works_in_their_own_workspace(stack):
    """Within team-a alice sees team-a's experiment, run, model and artifact (the grant is real)."""
    alice, mine = stack["users"]["alice"], stack["teams"]["team-a"]
    assert mine["name"] in experiment_names(alice, "team-a")
    alice.ok("GET", "/api/2.0/mlflow/runs/get", "team-a", params={"run_id": mine["run_id"]})
    alice.ok("GET", "/api/2.0/mlflow/registered-models/get", "team-a", params={"name": mine["model"]})
    artifact = alice.call("GET", f"/api/2.0/mlflow-artifacts/artifacts/{mine['artifact_path']}", "team-a")
    assert artifact.status_code == 200 and artifact.text == f"{mine['name']}\n", artifact.text


def test_a_user_can_neither_list_nor_read_another_workspace(stack):
    """alice names team-b: no experiment listed, and its experiment, run, registered model and artifact are
    refused, whether she asks in team-b or reaches for team-b's ids and paths from team-a."""
    assert_unreadable(stack["users"]["alice"], stack["teams"]["team-b"], "team-a", "team-b")


def test_the_admin_sees_every_workspace(stack):
    """The admin reads each team's experiment in its workspace and the legacy one in ``default``."""
    admin = stack["admin"]
    for team, logged in stack["teams"].items():
        assert logged["name"] in experiment_names(admin, team)
        artifact = admin.call("GET", f"/api/2.0/mlflow-artifacts/artifacts/{logged['artifact_path']}", team)
        assert artifact.status_code == 200 and artifact.text == f"{logged['name']}\n", artifact.text


def test_data_from_before_workspaces_is_in_the_default_workspace(stack):
    """The experiment, run, model and artifact logged with workspaces off are served in ``default`` (and only
    there), and the database says so."""
    admin, legacy = stack["admin"], stack["legacy"]
    assert legacy["name"] in experiment_names(admin, "default")
    assert legacy["name"] not in experiment_names(admin, "team-a")
    admin.ok("GET", "/api/2.0/mlflow/runs/get", "default", params={"run_id": legacy["run_id"]})
    admin.ok("GET", "/api/2.0/mlflow/registered-models/get", "default", params={"name": legacy["model"]})
    artifact = admin.call("GET", f"/api/2.0/mlflow-artifacts/artifacts/{legacy['artifact_path']}", "default")
    assert artifact.status_code == 200 and artifact.text == "legacy\n", artifact.text
    pg = stack["pg"]
    query = "SELECT workspace FROM {} WHERE name = '{}'"
    assert pg.psql(query.format("experiments", "legacy"), database="mlflow") == "default"
    assert pg.psql(query.format("registered_models", legacy["model"]), database="mlflow") == "default"


def test_the_migration_job_restores_a_missing_default_workspace(stack):
    """Should the workspace ``default`` be missing (MLflow's API refuses to delete it; a database edited by
    hand), the Job creates it again, so the data from before stays reachable; the server gate waits for it."""
    pg = stack["pg"]
    pg.psql("DELETE FROM workspaces WHERE name = 'default'", database="mlflow")
    migration = stack["rerun"]()
    assert migration.exit_codes == {"upgrade": 0}, migration.logs
    assert "workspace 'default' created; it holds 2 experiments, 1 registered_models" in migration.logs["upgrade"]
    assert database_rows(pg).startswith("default:Default workspace for legacy resources,"), database_rows(pg)
