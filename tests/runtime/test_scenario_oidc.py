"""examples/oidc-keycloak.yaml run for real against a local OpenID provider (see oidc_scenario.py).

What stands in for the cluster: the Secret the ExternalSecret would produce (test values for exactly
its keys), CloudNativePG (PostgreSQL 16 with the ``Cluster``'s database and owner and the ``Database``
object's auth database, on 5432 as ``<cluster>-rw``, password from the operator's ``<cluster>-app``
Secret), and the Traefik ingress with TLS (ingress_client.py). The S3 endpoint of this environment is
outside the namespace and no test logs artifacts, so nothing stands in for it. The server is the
plugin wrapper ``mlflow-oidc-server`` on the plugin's image (Python 3.12 venv).
"""

from __future__ import annotations

import pytest
import requests
from browser_login import browser_login, publish_screenshot
from client_venv import run_client
from oidc_scenario import (
    CLIENT_ID,
    CLIENT_SECRET,
    USERS,
    browser,
    cluster_secrets,
    ingress_host,
    logged_in,
    oidc_environment,
    provider_for,
    settings,
)
from podrunner import find_object, run_job, run_pod
from postgres import free_port
from scenario import (
    SECRETS_CONFIG,
    SERVICE_HOST,
    assert_lean_server,
    assert_own_passphrase,
    assert_probes_answer_200,
    container_of,
    kubelet_get,
    migration_job,
    require_free_port,
    scrape_as_prometheus,
    service_port,
    service_url,
    start_cnpg_postgres,
)
from tls_ingress import TlsIngress
from traces import assert_traces_stored, send_traces

pytestmark = pytest.mark.runtime

DB_PASSWORD = "cnpg/app pass:w%rd'\""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Provider, CloudNativePG stand-in, migration Job to completion, then the server pod (ready)."""
    idp_port = free_port()
    objects = oidc_environment(idp_port, tmp_path_factory.mktemp("oidc-synth"))
    secrets, hosts = cluster_secrets(objects, DB_PASSWORD)
    with provider_for(objects, idp_port) as idp:
        pg = start_cnpg_postgres(objects, DB_PASSWORD)
        try:
            migration = run_job(migration_job(objects), objects, secrets, timeout=300, extra_hosts=hosts)
            port = service_port(objects, "mlflow")
            require_free_port(port, "the MLflow server")
            with run_pod(find_object(objects, "Deployment", "mlflow"), objects, secrets, extra_hosts=hosts) as pod:
                ready_after = pod.wait_for_probe(timeout=180)
                print(f"\n[oidc] migration {migration.seconds:.1f} s, server ready {ready_after:.1f} s after start")
                yield {"objects": objects, "pod": pod, "pg": pg, "port": port, "migration": migration, "idp": idp}
        finally:
            pg.stop()


@pytest.fixture(scope="module")
def alice(stack):
    """A browser session of alice (group mlflow-users) after the login."""
    return logged_in(stack["objects"], stack["port"], "alice")


def test_server_runs_the_plugin_wrapper(stack):
    """The server starts through ``mlflow-oidc-server`` (run in-process by the launcher), which runs
    ``mlflow server --app-name oidc-auth``; that becomes the container's one process, uvicorn serving the
    plugin's app. The migration Job brought the tracking schema to its head first."""
    server = container_of(find_object(stack["objects"], "Deployment", "mlflow"), "mlflow")
    assert "from mlflow_oidc_auth.cli import run" in server["command"][-1]
    assert "Starting MLflow server: mlflow server --app-name oidc-auth" in stack["pod"].logs()
    assert_lean_server(stack["pod"], app="mlflow_oidc_auth.app:app")
    assert stack["migration"].succeeded
    assert stack["pg"].psql("SELECT count(*) FROM alembic_version", database="mlflow") == "1"


def test_api_without_a_session_is_refused(stack):
    """Through the ingress host, an API request without a session or token gets 401."""
    session, base = browser(stack["objects"], stack["port"])
    response = session.get(f"{base}/api/2.0/mlflow/experiments/search?max_results=1", timeout=30)
    assert response.status_code == 401, response.text


def test_allowed_group_member_logs_in(stack, alice):
    """alice (mlflow-users) walks /login -> provider -> /callback and is signed in, not as admin."""
    session, base, login = alice
    redirect_uri = settings(stack["objects"])["OIDC_REDIRECT_URI"]
    assert login.callback.url.startswith(redirect_uri + "?code=")
    assert login.callback.status_code == 302
    assert login.landing.status_code == 200
    assert "error" not in login.landing.url, stack["pod"].logs()[-3000:]
    me = session.get(f"{base}/api/2.0/mlflow/users/current", timeout=30)
    assert me.status_code == 200, me.text
    assert me.json()["username"] == "alice@example.com"
    assert me.json()["is_admin"] is False
    experiments = session.get(f"{base}/api/2.0/mlflow/experiments/search?max_results=5", timeout=30)
    assert experiments.status_code == 200, experiments.text


def test_session_cookie_is_secure_behind_tls(alice):
    """With a TLS ingress the session cookie is ``Secure`` (SESSION_COOKIE_SECURE)."""
    session, base, _ = alice
    host = base.removeprefix("https://")
    cookies = [c for c in session.cookies if c.domain.lstrip(".") == host]  # not the provider's
    assert cookies, "MLflow set no cookie"
    assert all(cookie.secure for cookie in cookies), [(c.name, c.secure) for c in cookies]


def test_user_outside_allowed_groups_is_refused(stack):
    """bob (not in OIDC_GROUP_NAME) completes the provider login but MLflow refuses him."""
    session, base, login = logged_in(stack["objects"], stack["port"], "bob")
    assert login.callback.status_code == 302
    assert "User+is+not+allowed+to+login" in login.callback.headers["location"]
    assert session.get(f"{base}/api/2.0/mlflow/users/current", timeout=30).status_code == 401
    assert session.get(f"{base}/api/2.0/mlflow/experiments/search?max_results=5", timeout=30).status_code == 401


def test_admin_group_member_is_admin(stack):
    """carol (OIDC_ADMIN_GROUP_NAME) is signed in as an administrator."""
    session, base, login = logged_in(stack["objects"], stack["port"], "carol")
    assert "error" not in login.landing.url
    me = session.get(f"{base}/api/2.0/mlflow/users/current", timeout=30)
    assert me.status_code == 200, me.text
    assert me.json()["username"] == "carol@example.com"
    assert me.json()["is_admin"] is True


def test_gateway_secrets_are_encrypted_with_the_passphrase_from_the_secret(stack):
    """Provider keys stored in the AI gateway must not be decryptable with MLflow's public default passphrase
    by whoever reads the database: the server reports the passphrase from the Secret in use to an admin."""
    session, base, _ = logged_in(stack["objects"], stack["port"], "carol")
    assert_own_passphrase(session.get(f"{base}{SECRETS_CONFIG}", timeout=30))


@pytest.fixture(scope="module")
def alice_token(alice):
    """alice's personal access token, issued through the plugin's API in her browser session."""
    session, base, _ = alice
    issued = session.patch(f"{base}/api/2.0/mlflow/users/access-token", json={}, timeout=30)
    assert issued.status_code == 200, issued.text
    return issued.json()["token"]


def test_access_token_works_for_the_python_client(stack, alice_token):
    """alice's per-user access token (plugin API) is the password of the MLflow Python client, which
    logs and reads back a run through the in-cluster Service URL; a wrong token is refused."""
    token = alice_token
    url = service_url(stack["objects"])
    result = run_client(
        "token_client.py",
        url,
        "alice-experiment",
        hosts=[SERVICE_HOST],
        env={"MLFLOW_TRACKING_USERNAME": "alice@example.com", "MLFLOW_TRACKING_PASSWORD": token},
    )
    assert result["params"] == {"via": "access-token"}
    assert result["metrics"] == {"loss": 0.25}
    assert result["user_id"] == "alice@example.com"
    wrong = requests.get(
        f"http://127.0.0.1:{stack['port']}/api/2.0/mlflow/experiments/search?max_results=5",
        headers={"Host": f"{SERVICE_HOST}:{stack['port']}"},
        auth=("alice@example.com", token + "x"),
        timeout=30,
    )
    assert wrong.status_code == 401, wrong.text


@pytest.fixture(scope="module")
def tls_ingress(stack, tmp_path_factory):
    """``https://<ingress host>`` (the IngressRoute's host) on 127.0.0.1:443, forwarding to the server."""
    with TlsIngress(ingress_host(stack["objects"]), stack["port"], tmp_path_factory.mktemp("tls")) as ingress:
        yield ingress


def through_ingress(tls_ingress, env: dict[str, str]) -> dict[str, str]:
    return {**env, "REQUESTS_CA_BUNDLE": str(tls_ingress.cert_path)}


def test_traces_reach_the_experiment_with_an_access_token(alice_token, tls_ingress):
    """alice's access token as the password, as the plugin documents for people using the client: in the
    OTLP exporter's ``Authorization: Basic`` header and in ``MLFLOW_TRACKING_USERNAME/PASSWORD`` for
    ``mlflow.tracing``, through the ingress host. Both traces reach her experiment, read back through
    MLflow's API."""
    env = {"MLFLOW_TRACKING_USERNAME": "alice@example.com", "MLFLOW_TRACKING_PASSWORD": alice_token}
    result = send_traces(
        tls_ingress.url, "alice-traces", hosts=[tls_ingress.host], env=through_ingress(tls_ingress, env)
    )
    assert_traces_stored(result)


def id_token(stack, username: str) -> str:
    """An ID token of the issuer for the plugin's client, as a CLI gets one for ``username``."""
    redirect = settings(stack["objects"])["OIDC_REDIRECT_URI"]
    return stack["idp"].tokens(CLIENT_ID, redirect, username, client_secret=CLIENT_SECRET)["id_token"]


def test_traces_reach_the_experiment_with_a_bearer_token(stack, alice, tls_ingress):
    """A JWT of the issuer (alice's ID token) as ``Authorization: Bearer`` in the OTLP exporter and as
    ``MLFLOW_TRACKING_TOKEN`` for ``mlflow.tracing``, through the ingress host: the plugin validates it against
    the provider's keys and both traces reach her experiment. Without credentials ``/v1/traces`` answers 401."""
    env = through_ingress(tls_ingress, {"MLFLOW_TRACKING_TOKEN": id_token(stack, "alice")})
    assert_traces_stored(send_traces(tls_ingress.url, "alice-bearer", hosts=[tls_ingress.host], env=env))
    port = stack["port"]
    headers = {"Host": f"{SERVICE_HOST}:{port}", "Content-Type": "application/x-protobuf"}
    anonymous = requests.post(
        f"http://127.0.0.1:{port}/v1/traces", data=b"", headers={**headers, "x-mlflow-experiment-id": "0"}, timeout=30
    )
    assert anonymous.status_code == 401, anonymous.text


def test_bearer_token_of_a_user_who_never_signed_in_is_refused(stack):
    """Plugin 11 creates users at their first browser sign-in; a valid JWT of a user it does not know yet
    (dave, an allowed group) is refused with 401 (``OIDC_PROVISION_ON_BEARER_AUTH`` is off): people sign in
    once, or use an access token, before sending traces."""
    port = stack["port"]
    response = requests.get(
        f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search?max_results=1",
        headers={"Host": f"{SERVICE_HOST}:{port}", "Authorization": f"Bearer {id_token(stack, 'dave')}"},
        timeout=30,
    )
    assert response.status_code == 401, response.text


def test_probes_answer_200(stack):
    """Every probe path/port of the running server (the plugin's /health/startup, /health/live and
    /health/ready, which checks the provider and the database) answers 200 to a kubelet request."""
    probes = assert_probes_answer_200(stack["pod"])
    assert {(kind, path) for container, kind, path, _ in probes if container == "mlflow"} == {
        ("startupProbe", "/health/startup"),
        ("livenessProbe", "/health/live"),
        ("readinessProbe", "/health/ready"),
    }


def test_metrics_are_exported_to_the_scraper(stack, alice):
    """metrics.enabled: after tracking traffic, a scrape the way the ServiceMonitor's Prometheus makes it (the
    Service's ``metrics`` port, pod-IP Host, no credentials) answers with MLflow's ``mlflow_http_request``
    series, served by the metrics container beside the plugin's server."""
    session, base, _ = alice
    assert session.get(f"{base}/api/2.0/mlflow/experiments/search?max_results=5", timeout=30).status_code == 200
    (response,) = scrape_as_prometheus(stack["objects"], stack["pod"]).values()
    assert response.status_code == 200, response.text
    assert "mlflow_http_request" in response.text, response.text[:2000]


def test_the_plugin_leaves_mlflow_own_metrics_route_open(stack):
    """What the README says of oidc mode: the plugin does not guard MLflow's own ``/metrics`` on the ``http``
    port (so the route publishes it, as without a login); the ServiceMonitor does not use it."""
    response = kubelet_get("/metrics", stack["pod"].port("http", "mlflow"))
    assert response.status_code == 200 and "mlflow_http_request" in response.text, response.text[:500]


def test_a_person_signs_in_with_chromium(stack, alice, tls_ingress, tmp_path):
    """Chromium (Playwright) opens https://mlflow.example.com/login (TLS terminated by tls_ingress on
    127.0.0.1:443, the host mapped with --host-resolver-rules), types alice's user name and password at
    the provider's page, is sent back through /callback and sees, on the experiments page, an experiment
    alice created through the API.
    The screenshot goes to the test's folder (and to docs/screenshots/ with UPDATE_SCREENSHOTS=1)."""
    session, base, _ = alice
    name = "created-through-the-api"
    created = session.post(f"{base}/api/2.0/mlflow/experiments/create", json={"name": name}, timeout=30)
    assert created.status_code == 200, created.text
    result = browser_login(
        host=tls_ingress.host,
        spki=tls_ingress.spki_sha256,
        username="alice",
        password=USERS["alice"]["password"],
        expect_text=name,
        outdir=tmp_path,
        name="oidc",
        login_path="/login",
    )
    assert result["provider_url"].startswith(stack["idp"].issuer + "/interaction/"), result
    assert result["landed_at"].startswith(base + "/"), result  # back from /callback, signed in
    publish_screenshot(result, "oidc-login")
