"""``database.registry``: the model registry in a PostgreSQL database of its own, run for real.

The default environment on an external PostgreSQL (``database.external``: host, port, a credentials Secret)
with ``registry`` on: the tracking store in ``mlflow``, the model registry in ``mlflow-registry``, both on one
PostgreSQL 16 standing in for the external server (made beforehand, owned by the Secret's user, as a DBA
does). The migration Job runs as synthesized, then the server pod; a run is logged and a model registered
from it through the server. Then both databases, populated by MLflow 3.0.0 (a test-only venv), are upgraded by
the Job under the rules of the tracking database: refused without a backup, then fenced and migrated.
"""

from __future__ import annotations

import os
import subprocess

import pytest
import venvs
from podrunner import run_job
from postgres import free_port
from scenario import (
    container_of,
    migrated_server,
    migration_job,
    placeholder_secret_values,
    register_a_model,
    shipped_config,
    start_external_postgres,
    synth_environment,
)

pytestmark = pytest.mark.runtime

HOST = "postgres.databases.svc.cluster.local"
DB_USER = "mlflow"
DB_PASSWORD = "registry@pg:p/w%2F#x"
TRACKING, REGISTRY = "mlflow", "mlflow-registry"


OLD_RELEASE = "mlflow-3.0.0"
# What MLflow 3.0.0's own stores write: an experiment in the tracking database, a model in the registry's.
POPULATE = """
import sys
from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore
TrackingStore(sys.argv[1], sys.argv[3]).create_experiment("legacy")
RegistryStore(sys.argv[2]).create_registered_model("legacy")
"""


def config(port: int, **upgrade: str) -> dict:
    external = {"host": HOST, "port": port, "credentials": {"secret": "mlflow-db"}}
    database = {
        "type": "external",
        "external": external,
        "registry": {"enabled": True, "name": REGISTRY},
        "upgrade": upgrade,
    }
    return shipped_config("default") | {"database": database, "artifacts": {"type": "pvc"}}


def secrets_for(objects: list[dict]) -> dict:
    secrets = placeholder_secret_values(objects)
    secrets["mlflow-db"] = {"username": DB_USER, "password": DB_PASSWORD}
    return secrets


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Both databases on the stand-in, the migration Job to completion, then the server pod (ready)."""
    port = free_port()
    objects = synth_environment(config(port), "default-registry-store", tmp_path_factory.mktemp("registry"))
    secrets = secrets_for(objects)
    pg = start_external_postgres(port, DB_USER, DB_PASSWORD, (TRACKING, REGISTRY))
    hosts = {HOST: "127.0.0.1"}
    try:
        with migrated_server(objects, secrets, extra_hosts=hosts) as (pod, migration):
            url = f"http://127.0.0.1:{pod.port('http', 'mlflow')}"
            yield {"objects": objects, "pg": pg, "url": url, "migration": migration}
    finally:
        pg.stop()


def head_of(pg, database: str) -> str:
    return pg.psql("SELECT version_num FROM alembic_version", database=database)


def test_the_migration_job_migrates_both_stores(stack):
    """The Job brings the registry's database to the same head as the tracking one (the server pods wait for
    both), and says so: a registry database left unmigrated would fail the first registration."""
    pg, logs = stack["pg"], "\n".join(stack["migration"].logs.values())
    assert head_of(pg, REGISTRY) == head_of(pg, TRACKING) != ""
    assert "migrating registry" in logs and "registry is at" in logs, logs


def test_a_registered_model_is_in_the_registry_database_only(stack):
    """A run is logged and a model version registered from it: the run is in the tracking database, the model
    and its version in the registry database and not in the tracking one, and the server reads them back."""
    run_id = register_a_model(stack["url"])
    pg = stack["pg"]
    assert pg.psql("SELECT name FROM registered_models", database=REGISTRY) == "churn"
    assert pg.psql("SELECT run_id FROM model_versions", database=REGISTRY) == run_id
    assert pg.psql("SELECT count(*) FROM registered_models", database=TRACKING) == "0"
    assert pg.psql(f"SELECT count(*) FROM runs WHERE run_uuid = '{run_id}'", database=TRACKING) == "1"
    assert pg.psql("SELECT count(*) FROM runs", database=REGISTRY) == "0"


def test_a_registry_database_behind_is_migrated_under_the_tracking_rules(tmp_path):
    """Both databases populated by MLflow 3.0.0: the Job refuses (exit 3, nothing changed) until a backup of
    every database is confirmed, as for the tracking database alone; confirmed, it fences the registry's
    database read-only beside the tracking one's locks, migrates both to the head and keeps the old model."""
    old = venvs.old_release_venv(OLD_RELEASE)
    if not old.is_ready():
        pytest.fail(f"the {OLD_RELEASE} venv is missing: run tests/runtime/setup.sh")
    port = free_port()
    pg = start_external_postgres(port, DB_USER, DB_PASSWORD, (TRACKING, REGISTRY))
    hosts = {HOST: "127.0.0.1"}
    try:
        uris = [f"postgresql+psycopg2://{DB_USER}@127.0.0.1:{port}/{db}" for db in (TRACKING, REGISTRY)]
        subprocess.run(
            [str(old.python_exe), "-c", POPULATE, *uris, str(tmp_path / "artifacts")],
            env={**os.environ, "PGPASSWORD": DB_PASSWORD},
            check=True,
            capture_output=True,
        )
        before = head_of(pg, REGISTRY)
        refused = synth_environment(config(port), "registry-refused", tmp_path / "refused")
        result = run_job(migration_job(refused), refused, secrets_for(refused), check=False, extra_hosts=hosts)
        assert result.exit_codes["upgrade"] == 3 and "upgrade refused" in result.logs["upgrade"], result.logs
        assert head_of(pg, REGISTRY) == before
        image = container_of(migration_job(refused), "upgrade")["image"]
        confirmed = synth_environment(config(port, backup_taken_for_image=image), "registry-ok", tmp_path / "ok")
        result = run_job(migration_job(confirmed), confirmed, secrets_for(confirmed), timeout=300, extra_hosts=hosts)
        logs = result.logs["upgrade"]
        assert f"fenced: {HOST}:{port}/{REGISTRY} read-only" in logs, logs
        assert head_of(pg, REGISTRY) == head_of(pg, TRACKING) != before
        assert pg.psql("SELECT name FROM registered_models", database=REGISTRY) == "legacy"
        assert pg.psql("SELECT name FROM experiments WHERE name = 'legacy'", database=TRACKING) == "legacy"
    finally:
        pg.stop()
