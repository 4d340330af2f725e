"""examples/gateway-api.yaml run for real behind a stand-in for its Gateway: MLflow under a static prefix,
reached through the HTTPRoute's host name and path.

Manifests: the shipped example (MLflow's basic-auth, metrics on) and the same file with ``auth.mode: none``
(MLflow without a login of its own), each started once for all the tests of this module.
The bundled MinIO runs as synthesized with its bucket Job (bundled_minio.py) and PostgreSQL 16 stands in
for the bundled PostgreSQL StatefulSet on its Service port; the migration Job runs, then the server pod.
The Gateway is played by :class:`tls_ingress.TlsIngress` (for the MLflow client) and
:func:`ingress_client.ingress_session` (for ``requests``), both routing by the
synthesized HTTPRoute (:mod:`gateway`): its hostnames, its PathPrefix and its backendRef's Service port,
TLS terminated there as at the Gateway's HTTPS listener, 404 for what no route matches. No test names the
host or the prefix: both are read from the manifests (the HTTPRoute, ``--static-prefix``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin

import pytest
import requests
from bundled_minio import BundledMinio
from client_venv import run_client
from gateway import Route, http_routes
from ingress_client import ingress_session
from podrunner import PodRun, find_object, run_pod
from scenario import (
    SECRETS_CONFIG,
    arg_after,
    assert_own_passphrase,
    assert_probes_answer_200,
    container_of,
    default_credentials,
    kubelet_get,
    migrated_bundled_postgres,
    require_free_port,
    scrape_as_prometheus,
    service_port,
    shipped_config,
    synth_environment,
)
from tls_ingress import TlsIngress

pytestmark = pytest.mark.runtime

ENV = "gateway-api"
ADMIN, ADMIN_PASSWORD = "admin", "gateway-admin-password-0123"
BASIC_AUTH_KEYS = {
    "admin-username": ADMIN,
    "admin-password": ADMIN_PASSWORD,
    "flask-secret-key": "flask-secret-key-for-tests-0123456789abcdef",
}
ARTIFACT_TEXT = "logged through the Gateway\n"


@dataclass
class Stack:
    mode: str  # auth.mode
    objects: list[dict]
    pod: PodRun
    s3: BundledMinio
    bucket: str
    routes: list[Route]
    gateway: TlsIngress
    prefix: str

    @property
    def host(self) -> str:
        return self.routes[0].hostnames[0]

    @property
    def base(self) -> str:
        """The tracking URI a user is given: the public host and the prefix."""
        return f"https://{self.host}{self.prefix}"

    @property
    def credentials(self) -> tuple[str, str] | None:
        return (ADMIN, ADMIN_PASSWORD) if self.mode == "basic" else None

    def session(self) -> requests.Session:
        """A browser-like ``requests`` session through the Gateway stand-in, signed in where MLflow asks."""
        session = ingress_session(self.host, self.routes)
        session.auth = self.credentials
        return session


@pytest.fixture(scope="module", params=["basic", "none"])
def stack(request, synthesized, tmp_path_factory):
    """The shipped example (basic) or its variant without login (none): stand-ins, migration Job, server
    pod (ready), and the Gateway stand-in on 127.0.0.1:443 with the HTTPRoute's routes."""
    mode = request.param
    config = shipped_config(ENV)
    workdir = tmp_path_factory.mktemp(f"gateway-{mode}")
    if config["auth"]["mode"] == mode:
        objects = synthesized[ENV]  # the file as shipped
    else:
        config |= {"auth": {"mode": mode}}
        objects = synth_environment(config, f"{ENV}-{mode}", workdir)
    deployment = find_object(objects, "Deployment", "mlflow")
    prefix = arg_after(container_of(deployment, "mlflow"), "--static-prefix")
    routes = http_routes(objects)
    secrets = default_credentials("gateway-db-password")
    secrets["mlflow-credentials"].update(BASIC_AUTH_KEYS)
    with BundledMinio(objects, secrets) as s3, migrated_bundled_postgres(objects, secrets):
        require_free_port(service_port(objects, "mlflow"), "the MLflow server")
        with run_pod(deployment, objects, secrets) as pod:
            ready_after = pod.wait_for_probe(timeout=180)
            print(f"\n[{ENV}, auth {mode}] server ready {ready_after:.1f} s after start")
            with TlsIngress(routes[0].hostnames[0], routes, workdir) as gateway:
                yield Stack(mode, objects, pod, s3, s3.bucket, routes, gateway, prefix)


def test_every_probe_answers_under_the_prefix(stack):
    """Startup, liveness and readiness all GET ``<prefix>/health`` and get 200, as the kubelet sends them;
    MLflow 3.17.2 has no ``/health`` outside the prefix (404), so a probe left there would never pass."""
    probes = assert_probes_answer_200(stack.pod)
    assert {(kind, path) for container, kind, path, _ in probes if container == "mlflow"} == {
        (kind, f"{stack.prefix}/health") for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    port = service_port(stack.objects, "mlflow")
    assert kubelet_get("/health", port).status_code == 404


def test_the_ui_answers_through_the_route_and_nothing_outside_it(stack):
    """``https://<host><prefix>/`` serves MLflow's UI and the bundle it references (relative URLs, so they
    stay under the prefix); the rest of the host is not routed to MLflow (the Gateway's 404)."""
    session = stack.session()
    index = session.get(f"{stack.base}/", timeout=30)
    assert index.status_code == 200 and "<html" in index.text.lower(), (index.status_code, index.text[:300])
    script = re.search(r'<script[^>]+src="([^"]+\.js)"', index.text).group(1)
    bundle = session.get(urljoin(f"{stack.base}/", script), timeout=30)
    assert bundle.status_code == 200 and len(bundle.content) > 10_000, (script, bundle.status_code)
    outside = [f"https://{stack.host}/", f"https://{stack.host}{stack.prefix}x/", f"https://{stack.host}/health"]
    assert {url: session.get(url, timeout=30).status_code for url in outside} == dict.fromkeys(outside, 404)


def test_the_route_reaches_mlflows_own_login(stack):
    """The route adds no login: without credentials the API answers as MLflow does in that mode (basic-auth:
    401 with a Basic challenge; none: 200)."""
    anonymous = ingress_session(stack.host, stack.routes)
    response = anonymous.get(f"{stack.base}/api/2.0/mlflow/experiments/search?max_results=1", timeout=30)
    if stack.mode == "basic":
        assert response.status_code == 401 and "Basic" in response.headers.get("WWW-Authenticate", "")
    else:
        assert response.status_code == 200, response.text


def test_cross_origin_writes_are_allowed_from_the_route_host_only(stack):
    """The HTTPRoute's host is a CORS origin with the Gateway listener's scheme (https, from config: TLS is
    not in the route): a write from that origin passes MLflow's check, one from another origin is refused."""
    session = stack.session()
    create = f"{stack.base}/api/2.0/mlflow/experiments/create"
    own = session.post(create, json={"name": "cors-own-origin"}, headers={"Origin": f"https://{stack.host}"})
    assert own.status_code == 200, own.text
    foreign = session.post(create, json={"name": "cors-foreign"}, headers={"Origin": "https://elsewhere.example"})
    assert foreign.status_code == 403 and "Cross-origin request blocked" in foreign.text, foreign.text
    plain = session.post(create, json={"name": "cors-http"}, headers={"Origin": f"http://{stack.host}"})
    assert plain.status_code == 403, plain.text


@pytest.fixture(scope="module")
def seed(stack):
    """The seed workload once, by the MLflow Python client with ``MLFLOW_TRACKING_URI=https://<host><prefix>``
    through the Gateway stand-in (its certificate trusted, the host resolving to it), signed in where needed."""
    env = {"REQUESTS_CA_BUNDLE": str(stack.gateway.cert_path)}
    if stack.credentials:
        env |= {"MLFLOW_TRACKING_USERNAME": ADMIN, "MLFLOW_TRACKING_PASSWORD": ADMIN_PASSWORD}
    return run_client("seed_tracking.py", stack.base, ARTIFACT_TEXT, hosts=[stack.host], env=env)


def test_gateway_secrets_are_encrypted_with_the_passphrase_from_the_secret(stack):
    """Provider keys stored in the AI gateway must not be decryptable with MLflow's public default passphrase
    by whoever reads the database: the server reports the passphrase from the Secret in use, under the prefix."""
    assert_own_passphrase(stack.session().get(f"{stack.base}{SECRETS_CONFIG}", timeout=30))


def test_the_python_client_tracks_registers_and_loads_through_the_prefix(seed):
    """params, metric history, an artifact, a model logged, registered, loaded back and predicting: every
    REST and artifact call of the client goes to ``<prefix>/api/...`` and is answered."""
    assert seed["run_status"] == "FINISHED"
    assert seed["params"] == {"n_estimators": "100", "max_depth": "5"}
    assert seed["metric_history"] == [seed["accuracy"]]
    assert seed["model_version_status"] == "READY" and seed["model_version_run_id"] == seed["run_id"]
    assert seed["downloaded_text"] == ARTIFACT_TEXT
    assert seed["predictions"] == seed["expected_predictions"]
    assert seed["artifact_uri"].startswith("mlflow-artifacts:/")


def test_artifacts_sent_through_the_prefix_land_in_the_bucket(stack, seed):
    """Artifacts uploaded through ``<prefix>/api/2.0/mlflow-artifacts/...`` are written by the server to its
    ``--artifacts-destination`` bucket."""
    run_prefix = seed["artifact_uri"].removeprefix("mlflow-artifacts:/").strip("/")
    keys = stack.s3.keys(stack.bucket)
    assert f"{run_prefix}/notes.txt" in keys, keys
    assert stack.s3.read(stack.bucket, f"{run_prefix}/notes.txt") == ARTIFACT_TEXT


def test_metrics_are_scraped_at_the_root_of_their_port_and_stay_off_the_route(stack, seed):
    """Under the prefix the ServiceMonitor still scrapes ``/metrics`` at the root of the metrics port, with the
    login (basic) or without; the route covers only the prefix of MLflow's port, so the public host does not
    expose the metrics."""
    (scraped,) = scrape_as_prometheus(stack.objects, stack.pod).values()
    assert scraped.status_code == 200 and "mlflow_http_request" in scraped.text, scraped.text[:500]
    (endpoint,) = find_object(stack.objects, "ServiceMonitor", "mlflow")["spec"]["endpoints"]
    session = stack.session()
    assert session.get(f"https://{stack.host}{endpoint['path']}", timeout=30).status_code == 404
    assert "mlflow_http_request" not in session.get(f"{stack.base}{endpoint['path']}", timeout=30).text
