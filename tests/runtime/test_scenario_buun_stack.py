"""examples/buun-stack.yaml run for real: the oidc plugin with each concern's Secret as that stack keeps it.

The example with only the discovery URL on loopback and the database port on a free one. Its three Secrets
get test values: ``mlflow-oidc-config`` (what its ExternalSecret produces, exactly those keys),
``mlflow-db-secret`` (``username``/``password``: CloudNativePG's ``-app`` shape) and ``mlflow-s3-secret``
(``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``; no test logs artifacts, so nothing stands in for MinIO).
PostgreSQL 16 stands in for ``postgres-cluster-rw.postgres.svc.cluster.local`` (the pods' /etc/hosts), the
role enforcing a password that holds ``@:/%#?``, its ``mlflow`` and ``mlflow_auth`` databases made
beforehand as that stack's DBA does. A person signs in at the provider and round-trips a run.
"""

from __future__ import annotations

import json

import pytest
from oidc_scenario import CLIENT_ID, CLIENT_SECRET, logged_in, provider_for, round_trip_run
from podrunner import find_object
from postgres import free_port
from scenario import (
    KEK_PASSPHRASE,
    migrated_server,
    password_required,
    service_port,
    shipped_config,
    start_external_postgres,
    synth_environment,
)

pytestmark = pytest.mark.runtime

ENV = "buun-stack"
DB_USER = "mlflow"
DB_PASSWORD = "buun@stack:p/w%2F#frag?x=1"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Provider, database stand-in, migration Job to completion, then the server pod (ready)."""
    idp_port, db_port = free_port(), free_port()
    config = shipped_config(ENV)
    config["auth"]["oidc"]["discovery_url"] = f"http://127.0.0.1:{idp_port}/.well-known/openid-configuration"
    config["database"]["external"]["port"] = db_port
    objects = synth_environment(config, ENV, tmp_path_factory.mktemp("buun-stack"))
    host = config["database"]["external"]["host"]
    external = find_object(objects, "ExternalSecret")
    plugin = {
        "SECRET_KEY": "session-signing-key-for-runtime-tests-0123456789",
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        **KEK_PASSPHRASE,
    }
    assert {d["secretKey"] for d in external["spec"]["data"]} == set(plugin)
    secrets = {
        "mlflow-oidc-config": plugin,
        "mlflow-db-secret": {"username": DB_USER, "password": DB_PASSWORD},
        "mlflow-s3-secret": {"AWS_ACCESS_KEY_ID": "unused-here", "AWS_SECRET_ACCESS_KEY": "unused-here"},
    }
    pg = start_external_postgres(db_port, DB_USER, DB_PASSWORD, ("mlflow", "mlflow_auth"))
    try:
        with provider_for(objects, idp_port), migrated_server(objects, secrets, extra_hosts={host: "127.0.0.1"}):
            yield {"objects": objects, "pg": pg, "port": service_port(objects, "mlflow")}
    finally:
        pg.stop()


def test_each_concern_reads_its_own_secret(stack):
    """Premise: the pods read the database's user and password from mlflow-db-secret and the S3 keys from
    mlflow-s3-secret, the password is in no manifest, and the role cannot connect without it."""
    text = json.dumps(stack["objects"])
    assert DB_PASSWORD not in text
    assert '"name": "mlflow-db-secret"' in text and '"name": "mlflow-s3-secret"' in text
    assert password_required(stack["pg"], DB_USER, "mlflow")


def test_a_person_signs_in_and_round_trips_a_run(stack):
    """alice signs in through the provider, creates an experiment and a run, logs a param and a metric and
    reads them back; the run is in the tracking database and alice in the plugin's, both reached as the
    Secret's user through the composed URIs."""
    session, base, login = logged_in(stack["objects"], stack["port"], "alice")
    assert "error" not in login.landing.url, login.landing.url
    run_id = round_trip_run(session, base, "buun", ("stack", "buun"))["run_id"]
    pg = stack["pg"]
    assert pg.psql(f"SELECT value FROM params WHERE run_uuid = '{run_id}'", database="mlflow") == "buun"
    assert "alice@example.com" in pg.psql("SELECT username FROM users", database="mlflow_auth").split()
