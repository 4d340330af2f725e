"""examples/oidc-registry-store.yaml run for real: the oidc plugin with the plugin chart's one Secret, the
model registry in a database of its own.

The example with only the discovery URL on loopback. ``mlflow-secrets`` gets test values for exactly the keys
that chart names (``SECRET_KEY``, ``OIDC_CLIENT_ID``, ``OIDC_CLIENT_SECRET``, ``OIDC_USERS_DB_URI``,
``MLFLOW_BACKEND_STORE_URI``) and ``MLFLOW_REGISTRY_STORE_URI``: full URIs of three databases on one
PostgreSQL 16, made beforehand as a DBA does, whose role enforces a password holding ``@:/%#?`` (URL-encoded
in the URIs, as a user writes them). The migration Job migrates all three, then a person signs in at the
provider, round-trips a run and registers a model from it, which lands in the registry's database alone.
Everything runs twice: as shipped, and with ``auth.oidc.credentials`` reading the plugin's session key and
client from a Secret of their own (``mlflow-oidc-client``; mlflow-secrets then keeps the URIs only).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from oidc_scenario import API, CLIENT_ID, CLIENT_SECRET, logged_in, provider_for, round_trip_run
from postgres import free_port
from scenario import (
    migrated_server,
    service_port,
    shipped_config,
    start_external_postgres,
    synth_environment,
)

pytestmark = pytest.mark.runtime

ENV = "oidc-registry-store"
HOST = "postgres.databases.svc.cluster.local"
DB_USER = "mlflow"
DB_PASSWORD = "seed@chart:p/w%2F#frag?x=1"
DATABASES = {"MLFLOW_BACKEND_STORE_URI": "mlflow", "OIDC_USERS_DB_URI": "mlflow_auth"}
REGISTRY = "mlflow_registry"


def uri(port: int, database: str) -> str:
    return f"postgresql://{DB_USER}:{quote(DB_PASSWORD, safe='')}@{HOST}:{port}/{database}"


PLUGIN_CLIENT = {
    "SECRET_KEY": "session-signing-key-for-runtime-tests-0123456789",
    "OIDC_CLIENT_ID": CLIENT_ID,
    "OIDC_CLIENT_SECRET": CLIENT_SECRET,
}


@contextmanager
def running(outdir: Path, client_secret: str | None = None) -> Iterator[dict]:
    """Provider, the three databases, the migration Job to completion, then the server pod (ready). With
    ``client_secret`` the plugin's session key and client come from that Secret (``auth.oidc.credentials``)."""
    idp_port, db_port = free_port(), free_port()
    config = shipped_config(ENV)
    config["auth"]["oidc"]["discovery_url"] = f"http://127.0.0.1:{idp_port}/.well-known/openid-configuration"
    if client_secret:
        config["auth"]["oidc"]["credentials"] = {"secret": client_secret}
    objects = synth_environment(config, ENV, outdir)
    values = {
        **{key: uri(db_port, database) for key, database in DATABASES.items()},
        "MLFLOW_REGISTRY_STORE_URI": uri(db_port, REGISTRY),
    }
    secrets = {"mlflow-secrets": values, client_secret: PLUGIN_CLIENT} if client_secret else {}
    secrets = secrets or {"mlflow-secrets": {**PLUGIN_CLIENT, **values}}
    pg = start_external_postgres(db_port, DB_USER, DB_PASSWORD, (*DATABASES.values(), REGISTRY))
    hosts = {HOST: "127.0.0.1"}
    try:
        with provider_for(objects, idp_port), migrated_server(objects, secrets, extra_hosts=hosts) as (_, migration):
            yield {"objects": objects, "pg": pg, "port": service_port(objects, "mlflow"), "migration": migration}
    finally:
        pg.stop()


@pytest.fixture(scope="module", params=[None, "mlflow-oidc-client"], ids=["one-secret", "own-client-secret"])
def stack(request, tmp_path_factory):
    """The example as shipped, and with ``auth.oidc.credentials`` naming a Secret of the plugin's client."""
    with running(tmp_path_factory.mktemp("oidc-registry-store"), client_secret=request.param) as started:
        yield {**started, "client_secret": request.param or "mlflow-secrets"}


def test_the_pods_read_exactly_the_charts_secret(stack):
    """Premise: every value comes from mlflow-secrets by the keys the plugin's chart names (and the registry's
    URI), the plugin's session key and client from the Secret ``auth.oidc.credentials`` names when it does; no
    password is in a manifest."""
    objects = stack["objects"]
    refs = {
        (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
        for o in objects
        for spec in [o.get("spec", {}).get("template", {}).get("spec", {})]
        for c in [*spec.get("containers", []), *spec.get("initContainers", [])]
        for e in c.get("env", [])
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    uris = {*DATABASES, "MLFLOW_REGISTRY_STORE_URI"}
    assert refs == {("mlflow-secrets", key) for key in uris} | {(stack["client_secret"], k) for k in PLUGIN_CLIENT}
    assert quote(DB_PASSWORD, safe="") not in json.dumps(objects) and DB_PASSWORD not in json.dumps(objects)


def test_the_migration_job_migrates_the_three_stores(stack):
    """Tracking, registry and the plugin's store are each at the image's head after the Job (the server pod's
    gate let it start only then)."""
    logs = stack["migration"].logs["upgrade"]
    for store in ("tracking", "registry", "oidc"):
        assert f"migrating {store}" in logs and f"{store} is at" in logs, logs
    pg = stack["pg"]
    tracking = pg.psql("SELECT version_num FROM alembic_version", database="mlflow")
    assert pg.psql("SELECT version_num FROM alembic_version", database=REGISTRY) == tracking != ""


def test_a_person_signs_in_round_trips_a_run_and_registers_a_model(stack):
    """alice signs in through the provider, creates an experiment and a run, logs a param and a metric and
    reads them back, then registers a model version from the run: the run is in the tracking database, the
    model in the registry's alone, alice in the plugin's."""
    session, base, login = logged_in(stack["objects"], stack["port"], "alice")
    assert "error" not in login.landing.url, login.landing.url
    run = round_trip_run(session, base, "seed", ("chart", "oidc"))
    run_id = run["run_id"]
    model = session.post(f"{base}{API}/registered-models/create", json={"name": "seed-model"}, timeout=30)
    assert model.status_code == 200, model.text
    version = session.post(
        f"{base}{API}/model-versions/create",
        json={"name": "seed-model", "source": f"{run['artifact_uri']}/model", "run_id": run_id},
        timeout=30,
    )
    assert version.status_code == 200, version.text
    pg = stack["pg"]
    assert pg.psql(f"SELECT value FROM params WHERE run_uuid = '{run_id}'", database="mlflow") == "oidc"
    assert pg.psql("SELECT name FROM registered_models", database=REGISTRY) == "seed-model"
    assert pg.psql("SELECT count(*) FROM registered_models", database="mlflow") == "0"
    assert "alice@example.com" in pg.psql("SELECT username FROM users", database="mlflow_auth").split()
