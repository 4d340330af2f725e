"""examples/homelab-sealed-secrets.yaml run for real: basic-auth with a SealedSecret per concern.

The example with only the database port moved to a free one. The controller that would decrypt its three
SealedSecrets does not run here, so the Secrets they produce get test values, each with exactly the keys its
SealedSecret holds: ``mlflow-basic-auth`` (the admin and Flask keys under that setup's names),
``mlflow-db-credentials`` (``username``/``password``: CloudNativePG's ``-app`` shape) and ``mlflow-s3-secret``
(no test logs artifacts, so nothing stands in for the S3 endpoint). PostgreSQL 16 stands in for the central
``postgresql.databases.svc.cluster.local`` (the pods' /etc/hosts), the role ``app`` enforcing a password made
of the characters a URI would need encoded (``@:/%#?``), the tracking and auth databases made beforehand as a
DBA would. The migration Job, then the server pod; the admin logs in and round-trips a run.
"""

from __future__ import annotations

import json

import pytest
from client_venv import run_client
from podrunner import find_object
from postgres import free_port
from scenario import (
    KEK_PASSPHRASE,
    SERVICE_HOST,
    migrated_server,
    password_required,
    service_url,
    shipped_config,
    start_external_postgres,
    synth_environment,
)

pytestmark = pytest.mark.runtime

ENV = "homelab-sealed-secrets"
USER = "app"
DB_PASSWORD = "p@ss:w/rd%41#frag?q=1 '\""
ADMIN, ADMIN_PASSWORD = "admin", "admin-password-for-tests"
SECRET_VALUES = {
    "mlflow-basic-auth": {
        "MLFLOW_TRACKING_USERNAME": ADMIN,
        "MLFLOW_TRACKING_PASSWORD": ADMIN_PASSWORD,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "flask-secret-key-for-tests-0123456789abcdef",
        **KEK_PASSPHRASE,
    },
    "mlflow-db-credentials": {"username": USER, "password": DB_PASSWORD},
    "mlflow-s3-secret": {"AWS_ACCESS_KEY_ID": "unused-here", "AWS_SECRET_ACCESS_KEY": "unused-here"},
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The external PostgreSQL stand-in, the migration Job to completion, then the server pod (ready)."""
    port = free_port()
    config = shipped_config(ENV)
    config["database"]["external"]["port"] = port
    objects = synth_environment(config, ENV, tmp_path_factory.mktemp("homelab"))
    for name, values in SECRET_VALUES.items():  # exactly what each SealedSecret would produce
        assert set(find_object(objects, "SealedSecret", name)["spec"]["encryptedData"]) == set(values)
    pg = start_external_postgres(port, USER, DB_PASSWORD, ("mlflow", "mlflow_auth"))
    try:
        hosts = {config["database"]["external"]["host"]: "127.0.0.1"}
        with migrated_server(objects, SECRET_VALUES, extra_hosts=hosts) as (_, migration):
            assert migration.exit_codes == {"upgrade": 0}, migration.logs
            yield {"objects": objects, "pg": pg, "url": service_url(objects)}
    finally:
        pg.stop()


def test_the_password_stays_out_of_the_manifests(stack):
    """The Secret's password is read by the pods, never written: no URI, argument or value holds it, and every
    Secret the pods read is produced by a SealedSecret (no prerequisite left)."""
    assert DB_PASSWORD not in json.dumps(stack["objects"])
    assert "mlflow-k8s/prerequisites" not in find_object(stack["objects"], "Namespace")["metadata"].get(
        "annotations", {}
    )


def test_both_stores_are_migrated_as_the_secrets_user(stack):
    """The migration Job created the tracking and the auth schema as ``app``, which needs its password (the
    one with ``@:/%#?``) to connect: libpq got it unencoded from PGPASSWORD."""
    pg = stack["pg"]
    assert password_required(pg, USER, "mlflow")
    assert pg.psql("SELECT tableowner FROM pg_tables WHERE tablename = 'alembic_version'", database="mlflow") == USER
    owner = pg.psql("SELECT tableowner FROM pg_tables WHERE tablename = 'users'", database="mlflow_auth")
    assert owner == USER


def test_the_admin_logs_in_and_round_trips_a_run(stack):
    """Through the Service, the admin's credentials (from the Secret's keys under that setup's names) create an
    experiment and a run with a param and a metric, read back from the server: both databases serve through
    the composed URIs."""
    env = {"MLFLOW_TRACKING_USERNAME": ADMIN, "MLFLOW_TRACKING_PASSWORD": ADMIN_PASSWORD}
    result = run_client("basic_auth_flow.py", "admin", stack["url"], hosts=[SERVICE_HOST], env=env)
    assert result["params"] == {"owner": "admin"} and result["metrics"] == {"score": 0.5}
    stored = stack["pg"].psql(f"SELECT key FROM params WHERE run_uuid = '{result['run_id']}'", database="mlflow")
    assert stored == "owner"
