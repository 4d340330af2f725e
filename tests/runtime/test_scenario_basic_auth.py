"""examples/basic-auth.yaml run for real: MLflow's basic-auth app with the INI rendered at pod start.

The environment's secrets come from a SealedSecret named ``mlflow-basic-auth``; the controller that
would decrypt it does not run here, so the Secret it produces is supplied with test values. The
admin password holds every character the README promises to carry: ``/ & \\ $ ' " %``. PostgreSQL
15 stands in for the bundled StatefulSet on its Service port (passwords enforced). The environment's
S3 endpoint is outside the cluster and no test logs artifacts, so nothing stands in for it.
"""

from __future__ import annotations

import json
import re

import pytest
import requests
from client_venv import run_client
from nginx_ingress import NginxIngress
from podrunner import find_object, pod_template, run_job, run_pod
from postgres import free_port
from scenario import (
    KEK_PASSPHRASE,
    SECRETS_CONFIG,
    SERVICE_HOST,
    assert_lean_server,
    assert_own_passphrase,
    assert_probes_answer_200,
    databases_of,
    migration_job,
    replica_on_port,
    require_free_port,
    service_port,
    service_url,
    shipped_config,
    start_bundled_postgres,
    synth_environment,
)
from traces import assert_traces_stored, otel_trace, send_traces

pytestmark = pytest.mark.runtime

ENV = "basic-auth"
ADMIN = "admin"
ADMIN_PASSWORD = "Adm/n & \\ $HOME ' \" 100% ${ADMIN_USERNAME}"
ALICE_PASSWORD = "alice-password-1234"
MIB = 1024 * 1024
SECRET_VALUES = {
    "mlflow-basic-auth": {
        "admin-username": ADMIN,
        "admin-password": ADMIN_PASSWORD,
        "flask-secret-key": "flask-secret-key-for-tests-0123456789abcdef",
        "postgres-password": "pg-password-for-tests",
        "s3-access-key-id": "unused-in-this-scenario",
        "s3-secret-access-key": "unused-in-this-scenario",
        **KEK_PASSPHRASE,
    }
}


@pytest.fixture(scope="module")
def stack(synthesized):
    """PostgreSQL stand-in, the migration Job to completion, then the server pod (ready)."""
    objects = synthesized[ENV]
    assert find_object(objects, "SealedSecret", "mlflow-basic-auth")  # what the test values stand in for
    pg = start_bundled_postgres(objects, SECRET_VALUES)
    try:
        migration = run_job(migration_job(objects), objects, SECRET_VALUES, timeout=300)
        require_free_port(service_port(objects, "mlflow"), "the MLflow server")
        with run_pod(find_object(objects, "Deployment", "mlflow"), objects, SECRET_VALUES) as pod:
            ready_after = pod.wait_for_probe(timeout=180)
            print(f"\n[{ENV}] migration {migration.seconds:.1f} s, server ready {ready_after:.1f} s after start")
            yield {"objects": objects, "pod": pod, "pg": pg, "migration": migration, "url": service_url(objects)}
    finally:
        pg.stop()


def _as(username: str, password: str) -> dict[str, str]:
    return {"MLFLOW_TRACKING_USERNAME": username, "MLFLOW_TRACKING_PASSWORD": password}


@pytest.fixture(scope="module")
def admin_run(stack):
    """An experiment and run the admin created through the MLflow client."""
    return run_client("basic_auth_flow.py", "admin", stack["url"], hosts=[SERVICE_HOST], env=_as(ADMIN, ADMIN_PASSWORD))


def test_migration_job_upgrades_tracking_then_auth_database(stack):
    """The Job renders the INI (whose database URI the auth store is found by), then creates the tracking
    schema and the separate auth database's, in that order; on empty databases it needs no fence or backup."""
    job = migration_job(stack["objects"])
    spec = pod_template(job)["spec"]
    assert [c["name"] for c in spec["initContainers"]] == ["render-auth-config", "pg-dump"]
    assert [c["name"] for c in spec["containers"]] == ["upgrade"]
    migration = stack["migration"]
    assert migration.exit_codes == {"upgrade": 0}, migration.logs
    log = migration.logs["upgrade"]
    assert log.index("tracking is at") < log.index("basic-auth is at") and "fenced" not in log, log
    pg = stack["pg"]
    assert databases_of(pg)["mlflow_auth"] == "mlflow"
    assert pg.psql("SELECT count(*) FROM alembic_version_auth", database="mlflow_auth") == "1"
    assert pg.psql("SELECT count(*) FROM alembic_version", database="mlflow") == "1"


def test_mlflow_reads_the_admin_password_unchanged(stack):
    """MLflow's own config reader, in the server container, reads back exactly the Secret's admin
    password (``/ & \\ $ ' " %`` and a ``${...}`` that must not be substituted) from its env, and the
    auth database and default permission from the rendered INI."""
    read = stack["pod"].exec(
        [
            "python",
            "-P",  # no working-directory entry on sys.path: nsenter's cwd is not inside the container root
            "-c",
            "import json; from mlflow.server.auth.config import read_auth_config as r; c = r(); "
            "print(json.dumps({'user': c.admin_username, 'password': c.admin_password, "
            "'permission': c.default_permission, 'db': c.database_uri}))",
        ]
    )
    assert read.returncode == 0, read.stderr
    config = json.loads(read.stdout.splitlines()[-1])
    assert config["user"] == ADMIN
    assert config["password"] == ADMIN_PASSWORD
    assert config["permission"] == "READ"
    assert config["db"] == "postgresql+psycopg2://mlflow@mlflow-postgresql:5432/mlflow_auth"


def test_health_is_open_and_the_api_needs_credentials(stack):
    """``/health`` answers without credentials; the API answers 401 with a Basic challenge."""
    port = service_port(stack["objects"], "mlflow")
    host = {"Host": f"{SERVICE_HOST}:{port}"}
    health = requests.get(f"http://127.0.0.1:{port}/health", headers=host, timeout=30)
    assert health.status_code == 200, health.text
    api = requests.get(
        f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search?max_results=1", headers=host, timeout=30
    )
    assert api.status_code == 401, api.text
    assert api.headers.get("WWW-Authenticate", "").startswith("Basic"), api.headers
    wrong = requests.get(
        f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search?max_results=1",
        headers=host,
        auth=(ADMIN, ADMIN_PASSWORD + "x"),
        timeout=30,
    )
    assert wrong.status_code == 401, wrong.text


def test_gateway_secrets_are_encrypted_with_the_passphrase_from_the_secret(stack):
    """Provider keys stored in the AI gateway must not be decryptable with MLflow's public default passphrase
    by whoever reads the database: the server says so to its admin (others never see the flag)."""
    port = service_port(stack["objects"], "mlflow")
    url, host = f"http://127.0.0.1:{port}{SECRETS_CONFIG}", {"Host": f"{SERVICE_HOST}:{port}"}
    assert_own_passphrase(requests.get(url, headers=host, auth=(ADMIN, ADMIN_PASSWORD), timeout=30))


def test_admin_works_through_tracking_credentials(admin_run):
    """The admin, with MLFLOW_TRACKING_USERNAME/PASSWORD from the Secret, logs and reads back a run."""
    assert admin_run["params"] == {"owner": "admin"}
    assert admin_run["metrics"] == {"score": 0.5}


@pytest.fixture(scope="module")
def alice(stack):
    """A user the admin creates through the MLflow client; it has the default permission (READ)."""
    created = run_client(
        "basic_auth_flow.py",
        "create-user",
        stack["url"],
        "alice",
        ALICE_PASSWORD,
        hosts=[SERVICE_HOST],
        env=_as(ADMIN, ADMIN_PASSWORD),
    )
    assert created == {"username": "alice", "is_admin": False}
    return _as("alice", ALICE_PASSWORD)


def test_new_user_gets_read_and_is_refused_writes(stack, admin_run, alice):
    """A user the admin creates gets the configured default permission (READ): it can read the
    admin's experiment and run, and every write to them is refused with 403."""
    url = stack["url"]
    access = run_client(
        "basic_auth_flow.py",
        "user-access",
        url,
        admin_run["experiment_id"],
        admin_run["run_id"],
        hosts=[SERVICE_HOST],
        env=alice,
    )
    assert access["read_experiment"] == {"ok": True}
    assert access["read_run"] == {"ok": True}
    denied = {"ok": False, "error_code": "PERMISSION_DENIED", "http_status": 403}
    assert access["log_param"] == denied
    assert access["create_run"] == denied
    assert access["delete_experiment"] == denied


def nginx_for(stack, objects: list[dict], workdir) -> NginxIngress:
    """Ingress-NGINX's data plane (nginx_ingress.py) serving the Ingress of ``objects`` in front of the server."""
    return NginxIngress(find_object(objects, "Ingress", "mlflow"), service_port(stack["objects"], "mlflow"), workdir)


@pytest.fixture(scope="module")
def nginx(stack, tmp_path_factory):
    """The example's own Ingress (``max_body_size: 1Gi``) served by nginx."""
    with nginx_for(stack, stack["objects"], tmp_path_factory.mktemp("nginx")) as front:
        assert front.body_size == "1g"
        yield front


def test_traces_reach_the_experiment_with_credentials(nginx):
    """The admin's credentials as an OTLP exporter's ``Authorization: Basic`` header and as
    ``MLFLOW_TRACKING_USERNAME/PASSWORD`` for ``mlflow.tracing``, through the Ingress: both traces reach the
    experiment, span by span, as read back through MLflow's API."""
    assert_traces_stored(send_traces(nginx.url, "traces", hosts=[nginx.host], env=_as(ADMIN, ADMIN_PASSWORD)))


def test_otlp_needs_credentials_and_edit_permission(stack, admin_run, alice):
    """MLflow's basic-auth guards ``/v1/traces`` like trace creation, before reading the spans: no
    credentials 401, a user who may only read the experiment 403."""
    port = service_port(stack["objects"], "mlflow")
    otlp = f"http://127.0.0.1:{port}/v1/traces"
    headers = {
        "Host": f"{SERVICE_HOST}:{port}",
        "Content-Type": "application/x-protobuf",
        "x-mlflow-experiment-id": admin_run["experiment_id"],
    }
    anonymous = requests.post(otlp, data=b"", headers=headers, timeout=30)
    assert anonymous.status_code == 401, anonymous.text
    reader = requests.post(
        otlp, data=b"", headers=headers, auth=(alice["MLFLOW_TRACKING_USERNAME"], ALICE_PASSWORD), timeout=30
    )
    assert reader.status_code == 403, reader.text


@pytest.fixture(scope="module")
def small_bodies(stack, tmp_path_factory):
    """The example's Ingress with ``max_body_size: 1Mi`` (only the Ingress changes) served by nginx."""
    config = shipped_config(ENV)
    config["ingress"]["max_body_size"] = "1Mi"
    objects = synth_environment(config, "basic-auth-1mi", tmp_path_factory.mktemp("basic-auth-1mi"))
    with nginx_for(stack, objects, tmp_path_factory.mktemp("nginx-1mi")) as front:
        assert front.body_size == "1m"
        yield front


def test_route_refuses_bodies_above_max_body_size(small_bodies):
    """A request body above the route's ``max_body_size`` never reaches MLflow: nginx answers ``413 Request
    Entity Too Large``. The OTLP exporter reports the failed export with that status and reason (its span is
    lost, the smaller root span arrives); MLflow 3.17's tracing client sends its large span the same way and
    logs the refusal only at debug level, so that trace stays incomplete without a word."""
    nginx = small_bodies
    result = send_traces(
        nginx.url, "large", hosts=[nginx.host], env=_as(ADMIN, ADMIN_PASSWORD), attribute_bytes=2 * MIB
    )
    assert result["otlp_statuses"] == [413, 200]
    assert result["otlp_reasons"][0] == "Request Entity Too Large"
    exporter = "opentelemetry.exporter.otlp.proto.http.trace_exporter"
    assert (
        f"{exporter}: Failed to export spans batch code: 413, reason: Request Entity Too Large" in result["client_log"]
    )
    assert [span["name"] for span in otel_trace(result)["spans"]] == ["otel-root"]
    refused = nginx.requests_answered(413)
    assert refused == [
        "POST /v1/traces OTel-OTLP-Exporter-Python/1.45.2",
        "POST /v1/traces mlflow-python-client/3.17.2",
    ]
    traced = result["traces"].get(result["mlflow_trace_id"], {"spans": []})
    assert "mlflow-step" not in [span["name"] for span in traced["spans"]]
    assert not [line for line in result["client_log"] if line.startswith("mlflow")]


def test_server_is_one_uvicorn_process(stack):
    """`mlflow server --app-name basic-auth` (admin bootstrap included) became one uvicorn process."""
    assert_lean_server(stack["pod"], app="mlflow.server.auth:create_app")


def test_probes_answer_200(stack):
    """Every probe path/port of the running server answers 200 to a kubelet-style request."""
    probes = assert_probes_answer_200(stack["pod"])
    assert {kind for _, kind, _, _ in probes} == {"startupProbe", "livenessProbe", "readinessProbe"}


def test_server_does_not_send_clients_to_the_in_cluster_store(stack):
    """The S3 endpoint here (``minio.storage.svc.cluster.local``) is inside the cluster: server-info,
    answered without login, must not offer presigned multipart transfers that would send clients there."""
    port = service_port(stack["objects"], "mlflow")
    info = requests.get(
        f"http://127.0.0.1:{port}/api/3.0/mlflow/server-info", headers={"Host": f"{SERVICE_HOST}:{port}"}, timeout=30
    )
    assert info.status_code == 200, info.text
    assert info.json()["multipart_downloads_enabled"] is False, info.json()
    assert info.json()["multipart_uploads_enabled"] is False, info.json()


def test_replicas_share_ui_sessions_and_csrf(stack):
    """Two replicas of the same pod spec share ``MLFLOW_FLASK_SERVER_SECRET_KEY``: the session cookie
    and CSRF token of the sign-up page served by one replica are accepted by the other, which creates
    the user; without that session the other replica refuses the form (CSRF)."""
    objects, first = stack["objects"], stack["pod"]
    port = free_port()
    admin = (ADMIN, ADMIN_PASSWORD)
    host = {"Host": f"{SERVICE_HOST}:5000"}
    with run_pod(replica_on_port(find_object(objects, "Deployment", "mlflow"), port), objects, SECRET_VALUES) as other:
        other.wait_for_probe(timeout=180)
        page = requests.get(f"{first.url('http')}/signup", auth=admin, headers=host, timeout=30)
        assert page.status_code == 200, page.text[:300]
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        form = {"csrf_token": token, "username": "replica-user", "password": "replica-user-password-1"}
        url = f"http://127.0.0.1:{port}/api/2.0/mlflow/users/create-ui"
        without = requests.post(url, data=form, auth=admin, headers=host, timeout=30)
        assert without.status_code == 400, without.text[:300]  # no session: CSRF refused
        created = requests.post(url, data=form, auth=admin, headers=host, cookies=page.cookies, timeout=30)
        assert created.status_code == 200, created.text[:300]
        user = requests.get(
            f"{first.url('http')}/api/2.0/mlflow/users/get?username=replica-user", auth=admin, headers=host, timeout=30
        )
        assert user.status_code == 200, user.text  # the shared database has it
