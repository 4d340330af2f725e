"""``database.registry`` on the bundled and the CloudNativePG PostgreSQL, run for real.

The bundled case: the PostgreSQL stand-in runs the init scripts of the synthesized ConfigMap (the registry
database made beside the tracking and auth ones), the migration Job migrates both stores, the server pod
starts, and a model registered through it is a row of the registry database only. The container's
``postStart`` command, run as synthesized against a data directory made without the registry (an existing
volume: the image skips its init scripts there), creates the database, and does nothing the second time.
The CloudNativePG case: the stand-in creates each ``Database`` object's database as the operator would, and
the same Job, server and registration follow.
"""

from __future__ import annotations

import os
import subprocess

import pytest
from podrunner import find_object
from postgres import PG_BIN
from scenario import (
    container_of,
    literal_env,
    migrated_server,
    placeholder_secret_values,
    register_a_model,
    shipped_config,
    start_bundled_postgres,
    start_cnpg_postgres,
    synth_environment,
)

pytestmark = pytest.mark.runtime

TRACKING, REGISTRY = "mlflow", "mlflow-registry"
CNPG_PASSWORD = "cnpg/app pass:w%rd'\""
CNPG_HOSTS = {"mlflow-db-rw": "127.0.0.1"}


def config(database: dict) -> dict:
    return shipped_config("default") | {"database": database, "artifacts": {"type": "pvc"}}


def head_of(pg, database: str) -> str:
    return pg.psql("SELECT version_num FROM alembic_version", database=database)


def migrate_serve_and_register(objects: list[dict], secrets: dict, pg, hosts: dict[str, str]) -> None:
    """The migration Job brings both stores to one head; through the server then started, a registered model
    lands in the registry database and not in the tracking one, where the run is."""
    with migrated_server(objects, secrets, extra_hosts=hosts) as (pod, migration):
        logs = "\n".join(migration.logs.values())
        assert head_of(pg, REGISTRY) == head_of(pg, TRACKING) != "", logs
        assert "migrating registry" in logs, logs
        run_id = register_a_model(f"http://127.0.0.1:{pod.port('http', 'mlflow')}")
    assert pg.psql("SELECT name FROM registered_models", database=REGISTRY) == "churn"
    assert pg.psql("SELECT run_id FROM model_versions", database=REGISTRY) == run_id
    assert pg.psql("SELECT count(*) FROM registered_models", database=TRACKING) == "0"
    assert pg.psql(f"SELECT count(*) FROM runs WHERE run_uuid = '{run_id}'", database=TRACKING) == "1"


def test_bundled_postgres_makes_migrates_and_serves_the_registry_database(tmp_path):
    """The init script makes the registry database owned by the MLflow user, and the Job and the server use
    it: a registry turned on for a new bundled PostgreSQL needs no step of its own."""
    objects = synth_environment(config({"registry": {"enabled": True}}), "bundled-registry", tmp_path)
    secrets = placeholder_secret_values(objects)
    pg = start_bundled_postgres(objects, secrets)
    try:
        owner = pg.psql(f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{REGISTRY}'")
        assert owner == TRACKING
        migrate_serve_and_register(objects, secrets, pg, {})
    finally:
        pg.stop()


def test_the_start_hook_makes_the_registry_database_on_an_existing_volume(tmp_path):
    """A bundled PostgreSQL whose data directory predates the registry (the image skips its init scripts
    there): the container's ``postStart`` command, as synthesized, creates the registry database owned by the
    MLflow user once the server listens, and on every later start finds it and changes nothing."""
    before = synth_environment(config({}), "bundled-before", tmp_path / "before")
    after = synth_environment(config({"registry": {"enabled": True}}), "bundled-after", tmp_path / "after")
    secrets = placeholder_secret_values(before)
    sts = find_object(after, "StatefulSet", "mlflow-postgresql")
    postgres = container_of(sts, "postgresql")
    command = postgres["lifecycle"]["postStart"]["exec"]["command"]
    init = find_object(after, "ConfigMap", "mlflow-postgresql-init")["data"]
    mounted = tmp_path / "initdb"
    mounted.mkdir()
    for name, text in init.items():
        (mounted / name).write_text(text)
    password_ref = next(e for e in postgres["env"] if e["name"] == "POSTGRES_PASSWORD")["valueFrom"]["secretKeyRef"]
    env = {
        **os.environ,
        **literal_env(postgres),
        "POSTGRES_PASSWORD": secrets[password_ref["name"]][password_ref["key"]],
        "PATH": f"{PG_BIN}:{os.environ['PATH']}",
    }
    hook = [*command[:-1], command[-1].replace("/docker-entrypoint-initdb.d/", f"{mounted}/")]
    pg = start_bundled_postgres(before, secrets)
    try:
        assert pg.psql(f"SELECT count(*) FROM pg_database WHERE datname = '{REGISTRY}'") == "0"
        for _ in range(2):
            done = subprocess.run(hook, env=env, capture_output=True, text=True, timeout=120, check=False)
            assert done.returncode == 0, done.stderr
            owner = pg.psql(f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{REGISTRY}'")
            assert owner == TRACKING
    finally:
        pg.stop()


def test_cloudnativepg_registry_database_is_migrated_and_served(tmp_path):
    """On CloudNativePG the registry's ``Database`` object gives the database (made here as the operator
    would), reached through ``<cluster>-rw`` with the ``-app`` Secret's password like the tracking one."""
    database = {"type": "cloudnativepg", "backup": {"enabled": False}, "registry": {"enabled": True}}
    objects = synth_environment(config(database), "cnpg-registry", tmp_path)
    secrets = placeholder_secret_values(objects)
    secrets["mlflow-db-app"] = {"username": TRACKING, "password": CNPG_PASSWORD}
    pg = start_cnpg_postgres(objects, CNPG_PASSWORD)
    try:
        migrate_serve_and_register(objects, secrets, pg, CNPG_HOSTS)
    finally:
        pg.stop()
