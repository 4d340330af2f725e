"""The default environment (config/default.yaml) run for real: migration Job, server, seed workload.

The bundled MinIO runs as synthesized (its StatefulSet's pod, then the bucket Job's pod against it: see
bundled_minio.py); PostgreSQL 16 stands in for the bundled PostgreSQL StatefulSet (role, database and
init SQL from the manifest, password enforced), on its Service's port. The manifests are the ones the
app writes; only the ``mlflow-credentials`` Secret, which the keygen Job makes in a cluster, is supplied with
test values (a password no URI could carry unescaped); test_keygen_default.py runs on the generated ones.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests
from bundled_minio import BundledMinio
from client_venv import run_client
from podrunner import find_object, run_job, run_pod
from scenario import (
    SECRETS_CONFIG,
    SERVICE_HOST,
    arg_after,
    assert_graceful_stop,
    assert_lean_server,
    assert_own_passphrase,
    assert_probes_answer_200,
    container_of,
    databases_of,
    default_credentials,
    literal_env,
    migration_job,
    password_required,
    require_free_port,
    service_port,
    service_url,
    start_bundled_postgres,
)
from traces import assert_traces_stored, send_traces

pytestmark = pytest.mark.runtime

ENV = "default"
# Characters a URI could not carry unescaped: the bundled database gets its password via PGPASSWORD.
POSTGRES_PASSWORD = "pg/p@ss:w%rd#&'\" ?"
ARTIFACT_TEXT = "seeded through the Service name\n"
MIB = 1024 * 1024
# Uploads at or above MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE (default 500 MB) are the ones MLflow
# would send as presigned multipart uploads; the client lowers it to S3's minimum part size.
MULTIPART_CLIENT_ENV = {
    "MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE": str(5 * MIB),
    "MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE": str(5 * MIB),
}
LARGE_FILE_SIZE = 12 * MIB + 123


@pytest.fixture(scope="module")
def stack(synthesized, tmp_path_factory):
    """MinIO's pod and the bucket Job run to completion against it, the PostgreSQL stand-in, the migration
    Job run to completion, then the server pod (ready)."""
    objects = synthesized[ENV]
    deployment = find_object(objects, "Deployment", "mlflow")
    server = container_of(deployment, "mlflow")
    secrets = default_credentials(POSTGRES_PASSWORD)

    with BundledMinio(objects, secrets, tmp_path_factory.mktemp("minio-data")) as s3:
        assert arg_after(server, "--artifacts-destination") == f"s3://{s3.bucket}"
        bucket_job = s3.bucket_setup
        pg = start_bundled_postgres(objects, secrets)
        try:
            started = time.monotonic()
            migration = run_job(migration_job(objects), objects, secrets, timeout=300)
            require_free_port(service_port(objects, "mlflow"), "the MLflow server")
            with run_pod(deployment, objects, secrets) as pod:
                ready_after = pod.wait_for_probe(timeout=180)
                print(
                    f"\n[{ENV}] MinIO ready {s3.ready_seconds:.1f} s after start, bucket Job "
                    f"{bucket_job.seconds:.1f} s, migration {migration.seconds:.1f} s, "
                    f"server ready {ready_after:.1f} s after start"
                )
                yield {
                    "objects": objects,
                    "pod": pod,
                    "pg": pg,
                    "s3": s3,
                    "bucket": s3.bucket,
                    "bucket_job": bucket_job,
                    "migration": migration,
                    "url": service_url(objects),
                    "store_host": urlparse(literal_env(server)["MLFLOW_S3_ENDPOINT_URL"]).hostname,
                    "started": started,
                }
        finally:
            pg.stop()


def user_info(s3: BundledMinio, access_key: str) -> dict:
    """``mc admin user info --json`` of a MinIO user."""
    info = s3.admin("admin", "user", "info", "local", access_key, "--json")
    assert info.returncode == 0, info.stderr
    return json.loads(info.stdout)


def test_bucket_job_makes_a_private_bucket_and_the_servers_user(stack):
    """The bucket Job, run as synthesized against MinIO's pod, exits 0 and leaves what the server relies on:
    the bucket, closed to anonymous requests, and the Secret's key as a MinIO user with the readwrite policy
    (the server's keys are the ones the Job created: the server's uploads below prove they work)."""
    s3, job = stack["s3"], stack["bucket_job"]
    assert job.succeeded, job.logs
    assert f"bucket {s3.bucket} ready" in job.logs["mc"], job.logs
    assert s3.anonymous_status() == 403
    info = user_info(s3, s3.credentials["access_key_id"])
    assert (info["policyName"], info["userStatus"]) == ("readwrite", "enabled"), info


def test_bucket_job_runs_again(stack):
    """The Job runs again on every change of its hash and every Argo CD sync: a second run against the same
    MinIO, with the bucket, the user and its policy already there, exits 0 and leaves them as they were."""
    s3 = stack["s3"]
    again = s3.run_bucket_job()
    assert again.succeeded, again.logs
    assert s3.anonymous_status() == 403
    assert user_info(s3, s3.credentials["access_key_id"])["policyName"] == "readwrite"


def with_credentials(s3: BundledMinio, **values: str) -> dict[str, dict[str, str]]:
    return {"mlflow-credentials": {**s3.secret_values["mlflow-credentials"], **values}}


def test_bucket_job_fails_on_a_wrong_root_password(stack):
    """With a root password MinIO does not accept, the Job exits non-zero with MinIO's refusal in its log."""
    s3 = stack["s3"]
    refused = s3.run_bucket_job(with_credentials(s3, **{"minio-root-password": "not-the-password"}))
    assert refused.exit_codes["mc"] != 0, refused.logs
    assert "signature we calculated does not match" in refused.logs["mc"], refused.logs
    assert f"bucket {s3.bucket} ready" not in refused.logs["mc"]


def test_bucket_job_fails_when_the_policy_cannot_be_attached(stack, tmp_path):
    """The last step refused (an admin who may make buckets and users but not attach policies): the Job
    exits non-zero with MinIO's refusal instead of reporting the bucket ready for a user without rights."""
    s3 = stack["s3"]
    policy = tmp_path / "no-attach.json"
    statements = [
        {"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::*"]},
        {"Effect": "Allow", "Action": ["admin:CreateUser"]},
    ]
    policy.write_text(json.dumps({"Version": "2012-10-17", "Statement": statements}))
    for step in (
        ["admin", "policy", "create", "local", "no-attach", str(policy)],
        ["admin", "user", "add", "local", "bucket-admin", "bucket-admin-password"],
        ["admin", "policy", "attach", "local", "no-attach", "--user", "bucket-admin"],
    ):
        done = s3.admin(*step)
        assert done.returncode == 0, (step, done.stderr)
    keys = {"s3-access-key-id": "unattached-user", "s3-secret-access-key": "unattached-secret"}
    admin = {"minio-root-user": "bucket-admin", "minio-root-password": "bucket-admin-password"}
    refused = s3.run_bucket_job(with_credentials(s3, **admin, **keys))
    assert refused.exit_codes["mc"] != 0, refused.logs
    assert "Added user `unattached-user` successfully" in refused.logs["mc"], refused.logs
    assert "Unable to make user/group policy association. Access Denied." in refused.logs["mc"], refused.logs
    assert f"bucket {s3.bucket} ready" not in refused.logs["mc"]


def test_migration_job_creates_the_tracking_schema(stack):
    """The migration Job (wait-for-database, upgrade-tracking-db) reaches the database the manifests
    name, as the user they name, with the Secret's password, and leaves the schema at one head."""
    assert stack["migration"].succeeded, stack["migration"].logs
    pg = stack["pg"]
    assert password_required(pg, "mlflow", "mlflow")  # so PGPASSWORD from the Secret was what got in
    assert databases_of(pg)["mlflow"] == "mlflow"
    assert databases_of(pg)["mlflow_auth"] == "mlflow"  # from the init ConfigMap
    assert pg.psql("SELECT count(*) FROM alembic_version", database="mlflow") == "1"
    assert pg.psql("SELECT to_regclass('public.experiments') IS NOT NULL", database="mlflow") == "t"


def only_mlflow_route(stack, lookups: Path) -> dict[str, str]:
    """Client env: the store's Service name does not resolve (no route, as outside the cluster), and
    every name the client looks up is logged to ``lookups``; no ``MLFLOW_ENABLE_PROXY_MULTIPART_*``."""
    return {"RUNTIME_UNRESOLVED": stack["store_host"], "RUNTIME_LOOKUPS_LOG": str(lookups)}


def looked_up(lookups: Path) -> set[str]:
    return set(lookups.read_text().split()) if lookups.exists() else set()


@pytest.fixture(scope="module")
def seed(stack, tmp_path_factory):
    """The seed client run once through the in-cluster Service URL the manifests define, with no
    client-side setting and no route to the store."""
    url = stack["url"]
    assert url == f"http://{SERVICE_HOST}:5000"
    lookups = tmp_path_factory.mktemp("seed") / "lookups"
    result = run_client(
        "seed_tracking.py", url, ARTIFACT_TEXT, hosts=[SERVICE_HOST], env=only_mlflow_route(stack, lookups)
    )
    return {**result, "looked_up": looked_up(lookups)}


def test_seed_workload_through_the_service_name(seed):
    """The seed client (params, metric, artifact, sklearn model with input_example, registry) works
    through ``http://mlflow.mlflow.svc.cluster.local:5000`` (that Host header must be allowed) and reads
    everything back, including the artifact and the registered model."""
    result = seed
    assert result["run_status"] == "FINISHED"
    assert result["params"] == {"n_estimators": "100", "max_depth": "5"}
    assert result["metrics"] == {"accuracy": result["accuracy"]}
    assert result["metric_history"] == [result["accuracy"]]
    assert result["model_name"] == "iris-classifier"
    assert result["model_version"] == "1"
    assert result["model_version_status"] == "READY"
    assert result["model_version_run_id"] == result["run_id"]
    assert result["downloaded_text"] == ARTIFACT_TEXT
    assert result["predictions"] == result["expected_predictions"]
    assert result["signature_inputs"]  # inferred from input_example
    assert result["artifact_uri"].startswith("mlflow-artifacts:/")  # clients go through the server
    assert result["looked_up"] == {SERVICE_HOST}, result["looked_up"]


def test_artifacts_land_in_the_configured_bucket(stack, seed):
    """Artifacts and the model are written by the server to ``--artifacts-destination`` (the bucket the
    bucket Job creates), signed with the Secret's S3 key."""
    s3, bucket = stack["s3"], stack["bucket"]
    run_prefix = seed["artifact_uri"].removeprefix("mlflow-artifacts:/").strip("/")
    model_prefix = seed["model_artifact_location"].removeprefix("mlflow-artifacts:/").strip("/")
    keys = s3.keys(bucket)
    assert f"{run_prefix}/notes.txt" in keys, keys
    assert f"{model_prefix}/MLmodel" in keys, keys
    assert f"{model_prefix}/model.skops" in keys, keys
    assert s3.read(bucket, f"{run_prefix}/notes.txt") == ARTIFACT_TEXT
    assert s3.wrong_secret_error(bucket) == "SignatureDoesNotMatch"


def test_server_does_not_send_clients_to_the_in_cluster_store(stack):
    """With proxied artifacts in the bundled MinIO, the server must not tell clients to download or
    upload straight from/to the store (server-info ``multipart_*_enabled``): MLflow 3.17 clients follow
    it and would fetch presigned URLs of ``http://mlflow-minio:9000``, which clients cannot reach."""
    port = service_port(stack["objects"], "mlflow")
    info = requests.get(
        f"http://127.0.0.1:{port}/api/3.0/mlflow/server-info",
        headers={"Host": f"{SERVICE_HOST}:{port}"},
        timeout=30,
    )
    assert info.status_code == 200, info.text
    assert info.json().get("multipart_downloads_enabled") is False, info.json()
    assert info.json().get("multipart_uploads_enabled") is False, info.json()


def test_presigned_url_routes_mint_no_url_of_the_store(stack):
    """A run whose artifact URI is a direct ``s3://`` one (its experiment's ``artifact_location``) would get
    presigned URLs of the in-cluster store from ``/api/2.0/mlflow/artifacts/presigned-download-url`` and
    ``-upload-url``; the server answers 501 instead."""
    port = service_port(stack["objects"], "mlflow")
    api = f"http://127.0.0.1:{port}/api/2.0/mlflow"
    host = {"Host": f"{SERVICE_HOST}:{port}"}
    experiment = requests.post(
        f"{api}/experiments/create",
        json={"name": "direct-s3", "artifact_location": f"s3://{stack['bucket']}/direct"},
        headers=host,
        timeout=30,
    )
    assert experiment.status_code == 200, experiment.text
    run = requests.post(
        f"{api}/runs/create", json={"experiment_id": experiment.json()["experiment_id"]}, headers=host, timeout=30
    )
    assert run.status_code == 200, run.text
    run_id = run.json()["run"]["info"]["run_id"]
    assert run.json()["run"]["info"]["artifact_uri"].startswith("s3://"), run.json()
    for route in ("presigned-download-url", "presigned-upload-url"):
        answer = requests.post(
            f"{api}/artifacts/{route}", json={"run_id": run_id, "path": "model.pkl"}, headers=host, timeout=30
        )
        assert answer.status_code == 501, (route, answer.text)
        assert "presigned_url" not in answer.json(), (route, answer.text)


@pytest.fixture(scope="module")
def transfers(stack, tmp_path_factory):
    """artifact_transfers.py once, as a user outside the cluster: only the MLflow URL resolves, no
    ``MLFLOW_ENABLE_PROXY_MULTIPART_*``, the multipart upload threshold lowered below the large file."""
    lookups = tmp_path_factory.mktemp("transfers") / "lookups"
    env = {**only_mlflow_route(stack, lookups), **MULTIPART_CLIENT_ENV}
    result = run_client("artifact_transfers.py", stack["url"], str(LARGE_FILE_SIZE), hosts=[SERVICE_HOST], env=env)
    print(f"\n[{ENV}] artifact transfers (s): {result['seconds']}")
    return {**result, "looked_up": looked_up(lookups)}


def test_client_with_only_the_mlflow_url_loads_and_downloads(transfers):
    """log_model, then load_model (pyfunc and sklearn, ``models:/<model id>``) and download_artifacts work for a client
    that reaches only MLflow, without any client setting, and it never even looks up the store's name:
    every byte comes through the server."""
    assert transfers["server_capabilities"] == {
        "multipart_uploads_enabled": False,
        "multipart_downloads_enabled": False,
    }
    assert transfers["predictions_pyfunc"] == transfers["expected_predictions"]
    assert transfers["predictions_model"] == transfers["expected_predictions"]
    assert "MLmodel" in transfers["model_files"], transfers["model_files"]
    assert transfers["downloaded_sha256"] == transfers["large_sha256"]
    assert transfers["looked_up"] == {SERVICE_HOST}, transfers["looked_up"]


def test_large_upload_goes_through_mlflow(stack, transfers):
    """A file at or above MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE is uploaded through MLflow (not as
    presigned parts to the store), lands in the bucket and reads back identical."""
    assert transfers["multipart_upload_minimum"] == 5 * MIB < transfers["large_size"] == LARGE_FILE_SIZE
    assert stack["store_host"] not in transfers["looked_up"]
    run_prefix = transfers["artifact_uri"].removeprefix("mlflow-artifacts:/").strip("/")
    assert f"{run_prefix}/data/large.bin" in stack["s3"].keys(stack["bucket"])
    assert transfers["downloaded_size"] == LARGE_FILE_SIZE
    assert transfers["downloaded_sha256"] == transfers["large_sha256"]


def test_client_forcing_presigned_transfers_falls_back_to_the_server(stack, tmp_path):
    """A client that sets ``MLFLOW_ENABLE_PROXY_MULTIPART_*=true`` is answered 501 by the multipart
    endpoints and falls back to proxied transfers instead of being sent to the unreachable store."""
    lookups = tmp_path / "lookups"
    env = {
        **only_mlflow_route(stack, lookups),
        **MULTIPART_CLIENT_ENV,
        "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD": "true",
        "MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD": "true",
    }
    result = run_client("artifact_transfers.py", stack["url"], str(LARGE_FILE_SIZE), hosts=[SERVICE_HOST], env=env)
    assert result["downloaded_sha256"] == result["large_sha256"]
    assert result["predictions_model"] == result["expected_predictions"]
    assert looked_up(lookups) == {SERVICE_HOST}


def test_traces_reach_the_experiment(stack):
    """An OpenTelemetry application's OTLP/HTTP exporter (``/v1/traces`` with ``x-mlflow-experiment-id``)
    and ``mlflow.tracing`` send spans through the Service name; MLflow's API returns both traces from the
    experiment, every span with its parent."""
    assert_traces_stored(send_traces(stack["url"], "traces", hosts=[SERVICE_HOST]))


def test_gateway_secrets_are_encrypted_with_the_passphrase_from_the_secret(stack):
    """Provider keys stored in the AI gateway must not be decryptable with MLflow's public default passphrase
    by whoever reads the database: the server reports the passphrase from the Secret in use."""
    port = service_port(stack["objects"], "mlflow")
    url, host = f"http://127.0.0.1:{port}{SECRETS_CONFIG}", {"Host": f"{SERVICE_HOST}:{port}"}
    assert_own_passphrase(requests.get(url, headers=host, timeout=30))


@pytest.mark.parametrize(
    ("api_base", "status"),
    [
        ("https://169.254.169.254/latest/meta-data", 400),  # the cloud metadata endpoint
        ("https://10.0.0.1/v1", 400),  # a pod or the database
        ("https://127.0.0.1:5432", 400),  # the server's own loopback
        ("http://1.1.1.1/v1", 400),  # a key sent in clear text
        ("https://1.1.1.1/v1", 200),  # a public HTTPS upstream
    ],
)
def test_gateway_keys_may_only_point_at_public_https_upstreams(stack, api_base, status):
    """SSRF: a user who may store a provider key must not make the server call internal addresses in its name
    (``server.ai_gateway.api_base`` defaults, written out), nor send the key over plain HTTP."""
    port = service_port(stack["objects"], "mlflow")
    body = {
        "secret_name": "key-" + "".join(c if c.isalnum() else "-" for c in api_base),
        "secret_value": {"api_key": "sk-test-0123456789"},
        "provider": "openai",
        "auth_config": {"api_base": api_base},
    }
    created = requests.post(
        f"http://127.0.0.1:{port}/api/3.0/mlflow/gateway/secrets/create",
        json=body,
        headers={"Host": f"{SERVICE_HOST}:{port}"},
        timeout=30,
    )
    assert created.status_code == status, created.text
    if status == 400:
        assert created.json()["error_code"] == "INVALID_PARAMETER_VALUE", created.json()


def test_unlisted_host_header_is_refused(stack):
    """MLFLOW_SERVER_ALLOWED_HOSTS is in force: the Service name passes, a foreign Host gets 403."""
    port = service_port(stack["objects"], "mlflow")
    api = f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search?max_results=1"
    ok = requests.get(api, headers={"Host": f"{SERVICE_HOST}:{port}"}, timeout=30)
    assert ok.status_code == 200, ok.text
    foreign = requests.get(api, headers={"Host": "mlflow.attacker.example"}, timeout=30)
    assert foreign.status_code == 403, foreign.text


def test_probes_answer_200(stack):
    """Every probe path/port of the running server answers 200 to a kubelet-style request."""
    probes = assert_probes_answer_200(stack["pod"])
    assert {kind for _, kind, _, _ in probes} == {"startupProbe", "livenessProbe", "readinessProbe"}


def test_server_is_one_uvicorn_process_without_telemetry(stack):
    """No idle `mlflow server` parent: the container is one process, uvicorn with one worker serving
    MLflow's FastAPI app, with the env `mlflow server` set up and telemetry off."""
    stats = assert_lean_server(stack["pod"], app="mlflow.server.fastapi_app:app")
    print(f"\n[{ENV}] server: {stats.processes} process, RSS {stats.rss_mb:.0f} MB, PSS {stats.pss_mb:.0f} MB")


def test_sigterm_stops_the_server_gracefully(stack):
    """Last in this module: the kubelet's SIGTERM reaches uvicorn, which exits well within the grace period."""
    seconds = assert_graceful_stop(stack["pod"])
    print(f"\n[{ENV}] SIGTERM to exit: {seconds:.1f} s")
