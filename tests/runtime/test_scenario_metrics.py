"""Prometheus metrics of the plain ``mlflow server``: config/default.yaml with ``metrics.enabled: true``.

(The oidc scenario checks the same for the plugin's server.) PostgreSQL 15 stands in for the bundled
StatefulSet; nothing stands in for MinIO, since no artifact is logged.
"""

from __future__ import annotations

import pytest
import requests
from podrunner import find_object, run_pod
from scenario import (
    CLUSTER_POD_IP,
    arg_after,
    assert_probes_answer_200,
    container_of,
    kubelet_get,
    migrated_bundled_postgres,
    require_free_port,
    service_port,
    shipped_config,
    synth_environment,
)

pytestmark = pytest.mark.runtime

SECRET_VALUES = {
    "mlflow-credentials": {
        "postgres-password": "metrics-db-password",
        "minio-root-user": "minio-admin",
        "minio-root-password": "unused-in-this-scenario",
        "s3-access-key-id": "unused-in-this-scenario",
        "s3-secret-access-key": "unused-in-this-scenario",
    }
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    config = shipped_config("default")
    config["metrics"] = {"enabled": True}
    objects = synth_environment(config, "default-metrics", tmp_path_factory.mktemp("metrics-synth"))
    with migrated_bundled_postgres(objects, SECRET_VALUES):
        port = service_port(objects, "mlflow")
        require_free_port(port, "the MLflow server")
        with run_pod(find_object(objects, "Deployment", "mlflow"), objects, SECRET_VALUES) as pod:
            ready_after = pod.wait_for_probe(timeout=180)
            print(f"\n[metrics] server ready {ready_after:.1f} s after start")
            yield {"objects": objects, "pod": pod, "port": port}


def test_metrics_are_exported_to_the_scraper(stack):
    """After tracking traffic, ``/metrics`` on the ServiceMonitor's port answers a scraper (Host: pod
    IP) and an in-cluster client (Host: Service name) with the ``mlflow_http_request`` series; a Host
    outside MLFLOW_SERVER_ALLOWED_HOSTS is refused, since /metrics is not exempt from the check."""
    objects, port = stack["objects"], stack["port"]
    server = container_of(find_object(objects, "Deployment", "mlflow"), "mlflow")
    assert arg_after(server, "--expose-prometheus") == "/mlflow/metrics"
    (endpoint,) = find_object(objects, "ServiceMonitor", "mlflow")["spec"]["endpoints"]
    assert stack["pod"].port(endpoint["port"]) == port
    service_host = {"Host": f"mlflow.mlflow.svc.cluster.local:{port}"}
    search = requests.get(
        f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search?max_results=5", headers=service_host, timeout=30
    )
    assert search.status_code == 200, search.text

    scraped = kubelet_get(endpoint["path"], port, pod_ip=CLUSTER_POD_IP)
    assert scraped.status_code == 200, scraped.text
    assert "mlflow_http_request" in scraped.text, scraped.text[:2000]
    in_cluster = requests.get(f"http://127.0.0.1:{port}{endpoint['path']}", headers=service_host, timeout=30)
    assert in_cluster.status_code == 200 and "mlflow_http_request" in in_cluster.text
    foreign = requests.get(
        f"http://127.0.0.1:{port}{endpoint['path']}", headers={"Host": "metrics.example.org"}, timeout=30
    )
    assert foreign.status_code == 403, foreign.text


def test_probes_answer_200(stack):
    """Every probe path/port of the running server answers 200 to a kubelet-style request."""
    probes = assert_probes_answer_200(stack["pod"])
    assert {kind for _, kind, _, _ in probes} == {"startupProbe", "livenessProbe", "readinessProbe"}
