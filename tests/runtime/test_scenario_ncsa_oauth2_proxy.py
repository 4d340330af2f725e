"""examples/ncsa-oauth2-proxy.yaml run for real: NCSA's chart as this project writes it.

The example with exactly one rewrite: ``auth.oauth2_proxy.issuer_url`` becomes the local provider's issuer
``http://127.0.0.1:<port>`` (the proxy fetches discovery and keys from it and checks every token's ``iss``
against it). Its two Secrets get test values: ``mlflow-oauth2-proxy`` with exactly the chart's two keys
(``cookie_secret``, ``client_secret``) and ``mlflow-credentials`` (database password, MinIO root and user
keys, the AI gateway's passphrase). The bundled MinIO runs as synthesized (its StatefulSet's pod, then its
bucket Job's); PostgreSQL 16 stands in for the bundled StatefulSet. The npm ``oidc-provider`` is the Keycloak
realm, with users in groups and e-mail domains no setting names. A variant with a confidential client reads the
Secret's ``client_secret`` too. Requests reach the proxy "through the ingress host" (``ingress_client``, and
``tls_ingress.TlsIngress`` on 127.0.0.1:443 for the MLflow client).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt_tokens
import pytest
import requests
from bundled_minio import BundledMinio
from client_venv import run_client
from ingress_client import ingress_session
from oauth2_proxy_scenario import (
    API,
    CONFIDENTIAL_CLIENT,
    COOKIE_SECRET,
    JSON,
    PROXY,
    USERS,
    browser,
    callback_of,
    ingress_host,
    login,
    provider_for,
    proxy_args,
    proxy_pod,
)
from podrunner import find_object
from postgres import free_port
from scenario import (
    SECRETS_CONFIG,
    assert_own_passphrase,
    container_of,
    default_credentials,
    migrated_server,
    shipped_config,
    start_bundled_postgres,
    synth_environment,
)
from tls_ingress import TlsIngress

pytestmark = pytest.mark.runtime

ENV = "ncsa-oauth2-proxy"
PROXY_SECRET = "mlflow-oauth2-proxy"
POSTGRES_PASSWORD = "ncsa/p@ss:w%rd#&'\" ?"
ARTIFACT_TEXT = "logged through OAuth2-Proxy with the realm's bearer JWT\n"
SECRETS = {
    **default_credentials(POSTGRES_PASSWORD),
    PROXY_SECRET: {"cookie_secret": COOKIE_SECRET, "client_secret": CONFIDENTIAL_CLIENT["client_secret"]},
}


def ncsa_environment(idp_port: int, outdir: Path, name: str = ENV, **proxy) -> list[dict]:
    """The example with its issuer on loopback, and ``proxy`` settings changed on purpose for a variant."""
    config = shipped_config(ENV)
    config["auth"]["oauth2_proxy"].update(issuer_url=f"http://127.0.0.1:{idp_port}", **proxy)
    return synth_environment(config, name, outdir)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Provider, MinIO and its bucket Job, the PostgreSQL stand-in, the migration Job, the MLflow server, then
    the proxy in front (ready)."""
    workdir = tmp_path_factory.mktemp("ncsa")
    idp_port = free_port()
    objects = ncsa_environment(idp_port, workdir)
    key = jwt_tokens.rsa_key(workdir / "issuer-key.pem")
    with provider_for(objects, idp_port, key) as idp, BundledMinio(objects, SECRETS, workdir / "minio") as s3:
        pg = start_bundled_postgres(objects, SECRETS)
        try:
            with migrated_server(objects, SECRETS), proxy_pod(objects, SECRETS) as proxy:
                yield {
                    "objects": objects,
                    "idp": idp,
                    "s3": s3,
                    "port": proxy.port("http"),
                    "host": ingress_host(objects),
                    "workdir": workdir,
                    "idp_port": idp_port,
                }
        finally:
            pg.stop()


def test_the_proxy_reads_the_charts_two_key_secret(stack):
    """The chart's Secret works as it is: the proxy reads ``cookie_secret`` from ``mlflow-oauth2-proxy`` (a public
    client needs no client secret), the Namespace lists that Secret as a prerequisite, and neither value is in a
    manifest."""
    objects = stack["objects"]
    env = container_of(find_object(objects, "Deployment", PROXY), "oauth2-proxy")["env"]
    assert [(e["name"], e["valueFrom"]["secretKeyRef"]) for e in env] == [
        ("OAUTH2_PROXY_COOKIE_SECRET", {"name": PROXY_SECRET, "key": "cookie_secret"})
    ]
    prerequisites = find_object(objects, "Namespace")["metadata"]["annotations"]["mlflow-k8s/prerequisites"]
    assert f"Secret/{PROXY_SECRET}" in prerequisites.split(",")
    text = json.dumps(objects)
    assert not [value for value in SECRETS[PROXY_SECRET].values() if value in text]


@pytest.mark.parametrize("username", sorted(USERS))
def test_every_account_of_the_realm_gets_in(stack, username):
    """``allow_any_account``, the chart's ``emailDomains: *`` without groups: each user of the realm, whatever
    their groups (``/mlflow-users``, ``/contractors``) and e-mail domain, signs in with the browser's cookie
    flow and reaches MLflow's API through the proxy."""
    assert "--allowed-group" not in proxy_args(stack["objects"])
    session, base = browser(stack)
    hops = login(session, base, username)
    assert callback_of(hops).status_code == 302, callback_of(hops).text[:500]
    assert session.get(base + API, headers=JSON, timeout=30).status_code == 200
    if username == "alice":
        assert_own_passphrase(session.get(base + SECRETS_CONFIG, headers=JSON, timeout=30))


def test_oauth2_start_redirects_to_the_realm_as_mlflow_token_expects(stack):
    """``mlflow-token`` finds the realm and the client id in the redirect of ``<tracking URI>/oauth2/start``
    (``mlflow_token._get_keycloak_realm_and_client``): it must be the issuer's authorization endpoint with
    ``client_id=mlflow`` in the query; an API call without a token gets 401."""
    session, base = ingress_session(stack["host"], stack["port"]), f"https://{stack['host']}"  # requests' headers
    response = session.get(base + "/oauth2/start", allow_redirects=False, timeout=30)
    assert response.status_code == 302, response.text[:500]
    location = urlsplit(response.headers["location"])
    discovery = requests.get(stack["idp"].discovery_url, timeout=10).json()
    assert f"{location.scheme}://{location.netloc}{location.path}" == discovery["authorization_endpoint"]
    assert parse_qs(location.query)["client_id"] == ["mlflow"]
    assert session.get(base + API, headers=JSON, allow_redirects=False, timeout=30).status_code == 401


def test_a_bearer_jwt_round_trips_a_run_with_its_artifact(stack):
    """The realm's access token as ``MLFLOW_TRACKING_TOKEN`` (what ``mlflow-token`` exports) through
    ``https://mlflow.ncsa.example.org``: the MLflow client runs the seed workload (params, metric, an artifact, a
    model registered and loaded back) and reads it back through the proxy; the artifact is in the bundled
    MinIO's bucket, written by the server (the client has no S3 key)."""
    args = proxy_args(stack["objects"])
    tokens = stack["idp"].tokens(args["--client-id"][0], args["--redirect-url"][0], "bob")
    assert jwt_tokens.claims(tokens["access_token"])["aud"] == "mlflow"
    with TlsIngress(stack["host"], stack["port"], stack["workdir"]) as tls:
        env = {"MLFLOW_TRACKING_TOKEN": tokens["access_token"], "REQUESTS_CA_BUNDLE": str(tls.cert_path)}
        seed = run_client("seed_tracking.py", tls.url, ARTIFACT_TEXT, hosts=[stack["host"]], env=env)
    assert seed["run_status"] == "FINISHED"
    assert seed["params"] == {"n_estimators": "100", "max_depth": "5"}
    assert seed["metric_history"] == [seed["accuracy"]]
    assert seed["model_version_status"] == "READY" and seed["predictions"] == seed["expected_predictions"]
    assert seed["downloaded_text"] == ARTIFACT_TEXT
    assert seed["artifact_uri"].startswith("mlflow-artifacts:/")
    run_prefix = seed["artifact_uri"].removeprefix("mlflow-artifacts:/").strip("/")
    s3 = stack["s3"]
    assert s3.read(s3.bucket, f"{run_prefix}/notes.txt") == ARTIFACT_TEXT


def test_a_confidential_client_reads_client_secret_from_the_same_secret(stack):
    """The chart's other case, a client with a secret: with ``client_type: confidential`` the proxy reads
    ``client_secret`` and ``cookie_secret`` from the same two-key Secret, and the sign-in works (the provider
    accepts only that secret at its token endpoint)."""
    port = free_port()
    objects = ncsa_environment(
        stack["idp_port"],
        stack["workdir"] / "confidential",
        "ncsa-confidential",
        client_type="confidential",
        client_id=CONFIDENTIAL_CLIENT["client_id"],
        port=port,
    )
    env = container_of(find_object(objects, "Deployment", PROXY), "oauth2-proxy")["env"]
    assert {e["name"]: e["valueFrom"]["secretKeyRef"] for e in env} == {
        "OAUTH2_PROXY_CLIENT_SECRET": {"name": PROXY_SECRET, "key": "client_secret"},
        "OAUTH2_PROXY_COOKIE_SECRET": {"name": PROXY_SECRET, "key": "cookie_secret"},
    }
    with proxy_pod(objects, SECRETS):
        session, base = browser(stack, port)
        hops = login(session, base, "erin")
        assert callback_of(hops).status_code == 302, callback_of(hops).text[:500]
        assert session.get(base + API, headers=JSON, timeout=30).status_code == 200
