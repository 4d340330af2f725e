"""``database.external`` with credentials: an external PostgreSQL by host and port, the user name and password
from a Secret of CloudNativePG's ``<cluster>-app`` shape, beside the environment's own Secret.

``examples/basic-auth.yaml`` with its database moved to ``postgres-cluster-rw.postgres`` (a host no manifest
defines, in the pods' /etc/hosts) on a port other than 5432. PostgreSQL 16 stands in for it, the role
``app`` enforcing a password made of the characters a URI would need encoded (``@:/%#?``), the tracking
and auth databases created beforehand as a DBA would. The migration Job, then the server pod; the admin logs
in and round-trips a run.
"""

from __future__ import annotations

import json

import pytest
from client_venv import run_client
from podrunner import find_object, run_job, run_pod
from postgres import PostgresServer, free_port
from scenario import (
    KEK_PASSPHRASE,
    migration_job,
    password_required,
    require_free_port,
    require_passwords,
    service_port,
    service_url,
    shipped_config,
    synth_environment,
)

pytestmark = pytest.mark.runtime

HOST = "postgres-cluster-rw.postgres"
USER = "app"
DB_PASSWORD = "p@ss:w/rd%41#frag?q=1 '\""
ADMIN, ADMIN_PASSWORD = "admin", "admin-password-for-tests"
SECRET_VALUES = {
    "mlflow-basic-auth": {
        "admin-username": ADMIN,
        "admin-password": ADMIN_PASSWORD,
        "flask-secret-key": "flask-secret-key-for-tests-0123456789abcdef",
        "s3-access-key-id": "unused-in-this-scenario",
        "s3-secret-access-key": "unused-in-this-scenario",
        **KEK_PASSPHRASE,
    },
    "mlflow-db-app": {"username": USER, "password": DB_PASSWORD, "host": HOST, "dbname": "mlflow"},
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The external PostgreSQL stand-in, the migration Job to completion, then the server pod (ready)."""
    port = free_port()
    external = {"host": HOST, "port": port, "credentials": {"secret": "mlflow-db-app"}}
    database = {"type": "external", "external": external}
    config = shipped_config("basic-auth") | {"database": database}
    objects = synth_environment(config, "basic-auth-credentials", tmp_path_factory.mktemp("credentials"))
    pg = PostgresServer(port=port).start()
    try:
        pg.create_role(USER, DB_PASSWORD)
        for name in ("mlflow", "mlflow_auth"):
            pg.psql(f'CREATE DATABASE "{name}" OWNER "{USER}"')
        require_passwords(pg)
        hosts = {HOST: "127.0.0.1"}
        migration = run_job(migration_job(objects), objects, SECRET_VALUES, timeout=300, extra_hosts=hosts)
        assert migration.exit_codes == {"upgrade": 0}, migration.logs
        require_free_port(service_port(objects, "mlflow"), "the MLflow server")
        with run_pod(find_object(objects, "Deployment", "mlflow"), objects, SECRET_VALUES, extra_hosts=hosts) as pod:
            pod.wait_for_probe(timeout=180)
            yield {"objects": objects, "pg": pg, "url": service_url(objects), "migration": migration}
    finally:
        pg.stop()


def test_the_password_stays_out_of_the_manifests(stack):
    """The Secret's password is read by the pods, never written: no URI, argument or value holds it."""
    assert DB_PASSWORD not in json.dumps(stack["objects"])
    assert (
        "Secret/mlflow-db-app"
        in find_object(stack["objects"], "Namespace")["metadata"]["annotations"]["mlflow-k8s/prerequisites"]
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
    """Through the Service, the admin's credentials create an experiment and a run with a param and a metric,
    read back from the server: both databases serve through the composed URIs."""
    env = {"MLFLOW_TRACKING_USERNAME": ADMIN, "MLFLOW_TRACKING_PASSWORD": ADMIN_PASSWORD}
    result = run_client("basic_auth_flow.py", "admin", stack["url"], hosts=["mlflow.mlflow.svc.cluster.local"], env=env)
    assert result["params"] == {"owner": "admin"} and result["metrics"] == {"score": 0.5}
    stored = stack["pg"].psql(f"SELECT key FROM params WHERE run_uuid = '{result['run_id']}'", database="mlflow")
    assert stored == "owner"
