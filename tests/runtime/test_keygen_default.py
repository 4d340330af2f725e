"""The default environment installed with no hand-made Secret: its keygen Job, run as synthesized against a
real kube-apiserver, creates ``mlflow-credentials``, and the stores, the migration and the server start with
what it created and serve a run's artifact round trip.

The keygen Job's pod runs in the pod runner with the ServiceAccount's token that kube-apiserver issued, its CA
as ``kube-root-ca.crt`` and its address as the ``kubernetes`` Service (``pod_env.ApiServer``); the
Namespace, ServiceAccount, Role and RoleBinding are applied as synthesized. The values the pods then read are
the Secret's, read back from the API server: nothing here chooses one. MinIO runs as synthesized
(bundled_minio.py); PostgreSQL 16 stands in for the bundled StatefulSet with the generated password enforced.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import pytest
import requests
from bundled_minio import BundledMinio
from pod_env import ApiServer
from podrunner import run_job
from scenario import migrated_server, service_port, start_bundled_postgres

sys.path.append(str(Path(__file__).resolve().parents[1] / "apiserver"))
from cluster import Cluster, dump, missing_tools  # noqa: E402

pytestmark = pytest.mark.runtime

ENV = "default"
SECRET = "mlflow-credentials"
ARTIFACT = b"stored with generated credentials\n"


def keygen_job(objects: list[dict]) -> dict:
    (job,) = [o for o in objects if o["kind"] == "Job" and o["metadata"]["name"].startswith("mlflow-keygen-")]
    return job


@pytest.fixture(scope="module")
def generated(synthesized, tmp_path_factory):
    """kube-apiserver with the environment's Namespace and keygen account; the keygen Job's pod run to
    completion against it. Yields the Secret as the API server holds it, and the Job's result."""
    if missing := missing_tools():
        pytest.skip(f"run `bash tests/apiserver/install.sh` first; missing: {', '.join(missing)}")
    objects = synthesized[ENV]
    job = keygen_job(objects)
    account = job["spec"]["template"]["spec"]["serviceAccountName"]
    cluster = Cluster(tmp_path_factory.mktemp("apiserver"))
    try:
        cluster.start()
        kinds = ("Namespace", "ServiceAccount", "Role", "RoleBinding")
        chosen = [o for o in objects if o["kind"] in kinds and o["metadata"]["name"] in ("mlflow", account)]
        path = tmp_path_factory.mktemp("keygen") / "keygen.k8s.yaml"
        path.write_text(dump(chosen))
        cluster.kubectl("apply", "--server-side", "--field-manager=mlflow-k8s", "-f", str(path), check=True)
        namespace = job["metadata"]["namespace"]
        token = cluster.kubectl("create", "token", account, "-n", namespace, check=True).stdout.strip()
        host, _, port = cluster.server.removeprefix("https://").rpartition(":")
        api = ApiServer(host=host, port=int(port), ca=cluster.ca_file.read_bytes(), tokens={account: token})
        result = run_job(job, objects, {}, timeout=120, api_server=api)
        got = cluster.kubectl("get", "secret", SECRET, "-n", namespace, "-o", "json", check=True)
        secret = json.loads(got.stdout)
        yield {"secret": secret, "job": result, "objects": objects}
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def stack(generated, tmp_path_factory):
    """MinIO's pod and its bucket Job, the PostgreSQL stand-in, the migration Job, then the server pod (ready),
    all reading the Secret the keygen Job created."""
    objects = generated["objects"]
    data = generated["secret"]["data"]
    values = {SECRET: {key: base64.b64decode(value).decode() for key, value in data.items()}}
    with BundledMinio(objects, values, tmp_path_factory.mktemp("minio-data")) as s3:
        pg = start_bundled_postgres(objects, values)
        try:
            with migrated_server(objects, values):
                yield {"objects": objects, "s3": s3, "values": values[SECRET]}
        finally:
            pg.stop()


def test_keygen_job_creates_the_secret_the_pods_read(generated):
    """The Job's pod, as synthesized (its command, env, projected token, CA and namespace), exits 0 and leaves a
    Secret with every key the default environment's pods read, and its log names keys, never a value."""
    job, secret = generated["job"], generated["secret"]
    assert job.succeeded, job.logs
    read = {
        e["valueFrom"]["secretKeyRef"]["key"]
        for o in generated["objects"]
        if o["kind"] in ("StatefulSet", "Deployment", "Job", "CronJob")
        for c in container_list(o)
        for e in c.get("env") or []
        if (e.get("valueFrom") or {}).get("secretKeyRef", {}).get("name") == SECRET
    }
    assert set(secret["data"]) == read
    assert f"created Secret {SECRET} with" in job.logs["generate"]
    for value in secret["data"].values():
        assert base64.b64decode(value).decode() not in job.logs["generate"]


def container_list(obj: dict) -> list[dict]:
    spec = obj["spec"]
    template = spec["jobTemplate"]["spec"]["template"] if obj["kind"] == "CronJob" else spec["template"]
    return [*template["spec"].get("initContainers", []), *template["spec"]["containers"]]


def test_stores_and_server_work_with_the_generated_credentials(stack):
    """With nothing but the generated values: MinIO starts with its generated root user, the bucket Job makes
    the MLflow user with the generated S3 keys, the migration and the server log in to PostgreSQL with the
    generated password, and an artifact goes through the server into MinIO and back."""
    objects, s3 = stack["objects"], stack["s3"]
    assert s3.bucket_setup.succeeded, s3.bucket_setup.logs
    assert s3.credentials["access_key_id"] == stack["values"]["s3-access-key-id"]
    port = service_port(objects, "mlflow")
    host = {"Host": f"mlflow.mlflow.svc.cluster.local:{port}"}
    api = f"http://127.0.0.1:{port}/api/2.0/mlflow"
    experiment = requests.post(f"{api}/experiments/create", json={"name": "generated"}, headers=host, timeout=30)
    assert experiment.status_code == 200, experiment.text
    run = requests.post(
        f"{api}/runs/create", json={"experiment_id": experiment.json()["experiment_id"]}, headers=host, timeout=30
    )
    assert run.status_code == 200, run.text
    artifacts = f"http://127.0.0.1:{port}/api/2.0/mlflow-artifacts/artifacts"
    path = f"{experiment.json()['experiment_id']}/{run.json()['run']['info']['run_id']}/artifacts/note.txt"
    put = requests.put(f"{artifacts}/{path}", data=ARTIFACT, headers=host, timeout=30)
    assert put.status_code == 200, put.text
    got = requests.get(f"{artifacts}/{path}", headers=host, timeout=30)
    assert (got.status_code, got.content) == (200, ARTIFACT)
