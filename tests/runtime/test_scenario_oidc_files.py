"""The oidc scenario with its secrets mounted as files and an external database.

examples/oidc-keycloak.yaml (discovery URL on loopback) plus ``secrets.mount_as_files.enabled: true``
and ``database.type: external`` (with the ExternalSecret refs the two URI keys need). Then the store
URIs exist only as files in the mounted Secret: ``MLFLOW_BACKEND_STORE_URI`` reaches MLflow only
because the server starts through ``mlflow-oidc-server`` and the wait/migration scripts run the
plugin's provider loader first. The external database is PostgreSQL 16 under a name of its own
(``pg.databases.example.internal``, resolved through the pod's /etc/hosts) on a free port, with a
password that needs URI escaping; its database names differ from the defaults, so data found there
proves the URI from the file was used.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from oidc_scenario import CLIENT_ID, CLIENT_SECRET, logged_in, oidc_environment, provider_for
from podrunner import find_object, pod_template, run_job, run_pod
from postgres import PostgresServer, free_port
from scenario import (
    KEK_PASSPHRASE,
    assert_lean_server,
    assert_probes_answer_200,
    migration_job,
    require_free_port,
    require_passwords,
    service_port,
)

pytestmark = pytest.mark.runtime

DB_HOST = "pg.databases.example.internal"
DB_USER = "mlflow_files"
DB_PASSWORD = "ext p@ss/w:rd%"
TRACKING_DB, USERS_DB = "tracking_store", "tracking_users"
URI_FILES = {"database-uri": "MLFLOW_BACKEND_STORE_URI", "auth-database-uri": "OIDC_USERS_DB_URI"}


def _files_and_external_db(config: dict) -> None:
    config["secrets"]["mount_as_files"] = {"enabled": True}
    config["secrets"]["external_secrets"]["remote_refs"].update(
        {
            "database-uri": {"key": "mlflow/db", "property": "uri"},
            "auth-database-uri": {"key": "mlflow/db", "property": "auth_uri"},
        }
    )
    config["database"] = {"type": "external"}


def _uri(pg: PostgresServer, database: str) -> str:
    return f"postgresql+psycopg2://{DB_USER}:{quote(DB_PASSWORD, safe='')}@{DB_HOST}:{pg.port}/{database}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Provider, external database, migration Job to completion, then the server pod (ready)."""
    idp_port = free_port()
    outdir = tmp_path_factory.mktemp("oidc-files-synth")
    objects = oidc_environment(idp_port, outdir, "oidc-files", _files_and_external_db)
    external = find_object(objects, "ExternalSecret")
    with provider_for(objects, idp_port), PostgresServer() as pg:
        pg.create_database(TRACKING_DB, owner=DB_USER, password=DB_PASSWORD)
        pg.create_database(USERS_DB, owner=DB_USER)
        require_passwords(pg)
        values = {
            "SECRET_KEY": "session-signing-key-for-runtime-tests-0123456789",
            "OIDC_CLIENT_ID": CLIENT_ID,
            "OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "database-uri": _uri(pg, TRACKING_DB),
            "auth-database-uri": _uri(pg, USERS_DB),
            "s3-access-key-id": "unused-in-this-scenario",
            "s3-secret-access-key": "unused-in-this-scenario",
            **KEK_PASSPHRASE,
        }
        assert {d["secretKey"] for d in external["spec"]["data"]} == set(values)
        secrets = {external["spec"]["target"]["name"]: values}
        hosts = {DB_HOST: "127.0.0.1"}
        migration = run_job(migration_job(objects), objects, secrets, timeout=300, extra_hosts=hosts)
        port = service_port(objects, "mlflow")
        require_free_port(port, "the MLflow server")
        with run_pod(find_object(objects, "Deployment", "mlflow"), objects, secrets, extra_hosts=hosts) as pod:
            ready_after = pod.wait_for_probe(timeout=180)
            print(f"\n[oidc-files] migration {migration.seconds:.1f} s, server ready {ready_after:.1f} s after start")
            yield {"objects": objects, "pod": pod, "pg": pg, "port": port, "migration": migration}


def test_store_uris_reach_the_pods_only_as_files(stack):
    """Premise: no container or ConfigMap carries either URI; the Secret volume maps both keys to
    files named after the variables, and the plugin's file provider is switched on."""
    objects = stack["objects"]
    settings = find_object(objects, "ConfigMap", "mlflow-settings")["data"]
    assert not set(URI_FILES.values()) & set(settings)
    for workload in (find_object(objects, "Deployment", "mlflow"), migration_job(objects)):
        spec = pod_template(workload)["spec"]
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            names = {e["name"] for e in container.get("env") or []}
            assert not set(URI_FILES.values()) & names, (workload["metadata"]["name"], container["name"])
            if container["name"] != "metrics":  # the metrics container reads the metrics files, no setting
                assert {"name": "CONFIG_K8S_SECRETS_ENABLED", "value": "true"} in container["env"]
        (volume,) = [v for v in spec["volumes"] if v["name"] == "oidc-secrets"]
        items = {i["key"]: i["path"] for i in volume["secret"]["items"]}
        assert {k: items[k] for k in URI_FILES} == URI_FILES


def test_wait_and_migration_read_the_uri_from_the_file(stack):
    """The Job's upgrade and the server's schema gate load the plugin's providers, find the URI in the
    mounted file and migrate (then find current) the external database it names."""
    assert stack["migration"].succeeded, stack["migration"].logs
    assert stack["pg"].psql("SELECT count(*) FROM alembic_version", database=TRACKING_DB) == "1"


def test_server_uses_the_stores_from_the_files(stack):
    """The server is ready and the experiments API works on the store named by the file; the
    plugin's user database is the one named by the OIDC_USERS_DB_URI file."""
    session, base, login = logged_in(stack["objects"], stack["port"], "alice")
    assert "error" not in login.landing.url, login.landing.url
    created = session.post(f"{base}/api/2.0/mlflow/experiments/create", json={"name": "from-files"}, timeout=30)
    assert created.status_code == 200, created.text
    found = session.get(f"{base}/api/2.0/mlflow/experiments/get-by-name?experiment_name=from-files", timeout=30)
    assert found.status_code == 200, found.text
    pg = stack["pg"]
    assert pg.psql("SELECT name FROM experiments WHERE name = 'from-files'", database=TRACKING_DB) == "from-files"
    assert "alice@example.com" in pg.psql("SELECT username FROM users", database=USERS_DB).split()
    assert_lean_server(stack["pod"], app="mlflow_oidc_auth.app:app")  # the wrapper ran in the one process


def test_probes_answer_200(stack):
    """Every probe path/port of the running server answers 200 to a kubelet-style request."""
    probes = assert_probes_answer_200(stack["pod"])
    assert {kind for _, kind, _, _ in probes} == {"startupProbe", "livenessProbe", "readinessProbe"}
