"""Prometheus metrics, scraped the way the ServiceMonitor's Prometheus scrapes them, in each auth mode that
guards MLflow's own ``/metrics`` differently: none (config/default.yaml), basic (examples/basic-auth.yaml, where
MLflow's basic-auth app answers ``/metrics`` on the ``http`` port with 401) and oauth2-proxy (the example:
Prometheus reaches the pods, not the proxy), each with ``metrics.enabled`` added where the file does not set
it. The oidc scenario checks the plugin's server the same way.

The server pod runs as synthesized, both containers: MLflow with ``--expose-prometheus`` and the metrics
container beside it. PostgreSQL 16 stands in for the bundled StatefulSet, the migration Job runs first; no
artifact is logged, so nothing stands in for the object store.
"""

from __future__ import annotations

import re

import pytest
import requests
from podrunner import find_object, run_pod
from proc_stats import tree_stats
from scenario import (
    assert_probes_answer_200,
    container_of,
    migrated_bundled_postgres,
    placeholder_secret_values,
    pod_container_port,
    require_free_port,
    scrape_as_prometheus,
    service_port,
    shipped_config,
    synth_environment,
)

pytestmark = pytest.mark.runtime

# auth mode -> the shipped environment it starts from
ENVIRONMENTS = {"none": "default", "basic": "basic-auth", "oauth2-proxy": "oauth2-proxy"}
REQUESTS = re.compile(r"^mlflow_http_request_total\{[^}]*\} ([0-9.e+]+)$", re.M)
SEARCH = "/api/2.0/mlflow/experiments/search?max_results=5"


@pytest.fixture(scope="module", params=sorted(ENVIRONMENTS))
def stack(request, synthesized, tmp_path_factory):
    """The server pod of the mode's environment with metrics on (ready), on a migrated PostgreSQL stand-in."""
    mode, env = request.param, ENVIRONMENTS[request.param]
    objects = synthesized[env]
    if not any(o["kind"] == "ServiceMonitor" for o in objects):
        config = shipped_config(env) | {"metrics": {"enabled": True}}
        objects = synth_environment(config, f"{env}-metrics", tmp_path_factory.mktemp(f"metrics-{env}"))
    secrets = placeholder_secret_values(objects)
    with migrated_bundled_postgres(objects, secrets):
        require_free_port(service_port(objects, "mlflow"), "the MLflow server")
        with run_pod(find_object(objects, "Deployment", "mlflow"), objects, secrets) as pod:
            ready = pod.wait_ready(timeout=180)
            print(f"\n[metrics, auth {mode}] ready after {ready}")
            credentials = None
            if mode == "basic":
                values = secrets["mlflow-basic-auth"]
                credentials = (values["admin-username"], values["admin-password"])
            yield {"mode": mode, "objects": objects, "pod": pod, "credentials": credentials}


def requests_counted(response: requests.Response) -> float:
    """The sum of MLflow's ``mlflow_http_request_total`` series in a scrape."""
    return sum(float(value) for value in REQUESTS.findall(response.text))


def test_prometheus_scrapes_the_requests_mlflow_served(stack):
    """Per the ServiceMonitor (Service port ``metrics``, ``/metrics``, pod-IP Host, Prometheus' Accept header, no
    credentials) the scrape answers 200 in OpenMetrics, and an API request MLflow served shows up in the next
    scrape's ``mlflow_http_request_total``."""
    objects, pod = stack["objects"], stack["pod"]
    (before,) = scrape_as_prometheus(objects, pod).values()
    assert before.status_code == 200, before.text
    assert before.headers["Content-Type"].startswith("application/openmetrics-text"), before.headers
    api = requests.get(f"http://127.0.0.1:{pod.port('http', 'mlflow')}{SEARCH}", auth=stack["credentials"], timeout=30)
    assert api.status_code == 200, api.text
    (after,) = scrape_as_prometheus(objects, pod).values()
    assert after.status_code == 200, after.text
    assert requests_counted(after) >= requests_counted(before) + 1, after.text[:2000]


def test_the_metrics_port_serves_metrics_and_nothing_of_mlflow(stack):
    """What NetworkPolicies open to Prometheus is the metrics container alone: an MLflow API path on that port
    answers with metrics, never with tracking data."""
    port = pod_container_port(stack["pod"], "metrics")
    response = requests.get(f"http://127.0.0.1:{port}{SEARCH}", timeout=10)
    assert "experiments" not in response.text and "mlflow_http_request" in response.text


@pytest.mark.parametrize("stack", ["basic"], indirect=True)
def test_mlflow_own_metrics_route_needs_a_login_in_basic_mode(stack):
    """Why the metrics have a port of their own: MLflow's basic-auth app answers its ``/metrics`` with 401."""
    response = requests.get(f"http://127.0.0.1:{stack['pod'].port('http', 'mlflow')}/metrics", timeout=10)
    assert response.status_code == 401, response.text


def test_metrics_container_stays_within_its_requests(stack):
    """The metrics container is one process well inside its memory request after a few scrapes."""
    pod = stack["pod"]
    for _ in range(3):
        scrape_as_prometheus(stack["objects"], pod)
    stats = tree_stats(pod.container("metrics").init_pid)
    requested = container_of(find_object(stack["objects"], "Deployment", "mlflow"), "metrics")["resources"]
    print(f"\n[metrics, auth {stack['mode']}] metrics container: {stats.processes} process, {stats.rss_mb:.0f} MB RSS")
    assert stats.processes == 1, stats.commands
    assert stats.rss_mb < int(requested["requests"]["memory"].removesuffix("Mi")), stats


def test_probes_answer_200(stack):
    """Every probe path/port of the running containers answers 200 to a kubelet-style request."""
    probes = assert_probes_answer_200(stack["pod"])
    assert {(container, kind) for container, kind, _, _ in probes} >= {
        ("metrics", "livenessProbe"),
        ("metrics", "readinessProbe"),
        ("mlflow", "readinessProbe"),
    }
