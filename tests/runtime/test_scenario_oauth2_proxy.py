"""The shipped oauth2-proxy environment run for real: OAuth2-Proxy in front of MLflow, a local issuer.

Manifests: ``oauth2-proxy`` from the shipped examples (``scenario.shipped_config``), synthesized by the
app's code, with exactly one rewrite: ``auth.oauth2_proxy.issuer_url`` (``https://keycloak.example.org
/realms/ml``) becomes the local provider's issuer ``http://127.0.0.1:<port>``, because the proxy
fetches discovery and keys from it and checks the ``iss`` of every token against it; no other name can
reach a process here. The ingress host ``mlflow.example.org`` and the redirect URL
``https://mlflow.example.org/oauth2/callback`` are kept: requests reach the proxy pod "through the
ingress host" with TLS terminated in the client (``ingress_client.IngressAdapter`` for ``requests``;
``tls_ingress.TlsIngress`` on 127.0.0.1:443 with a self-signed certificate for the MLflow Python
client and Chromium, which resolve the host to 127.0.0.1). Variants change one setting on purpose
(``email_domains``, ``client_type``) and move the proxy's port so they can run next to the main one.

Stand-ins: PostgreSQL 16 for the bundled StatefulSet (scenario.start_bundled_postgres); the
``mlflow-credentials`` Secret with test values (cookie secret, database password); the npm
``oidc-provider`` as the Keycloak realm, configured as the manifests expect (client ``mlflow`` as a
public client with PKCE, its redirect URL, a ``groups`` claim holding Keycloak-style group paths,
``email``/``email_verified``, and JWT access tokens with ``realm_access``, which the ``keycloak-oidc``
provider parses). No test logs artifacts, so nothing stands in for MinIO.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import jwt_tokens
import pytest
import requests
from browser_login import browser_login, publish_screenshot
from client_venv import run_client
from oauth2_proxy_scenario import (
    API,
    CONFIDENTIAL_CLIENT,
    ENV,
    JSON,
    PROXY,
    USERS,
    browser,
    callback_of,
    ingress_host,
    login,
    provider_for,
    proxy_args,
    proxy_environment,
    proxy_pod,
    secret_values,
)
from oidc_provider import OidcProvider
from podrunner import find_object, run_job, run_pod
from postgres import free_port
from scenario import (
    SECRETS_CONFIG,
    assert_own_passphrase,
    container_of,
    migration_job,
    require_free_port,
    service_port,
    start_bundled_postgres,
)
from tls_ingress import TlsIngress
from traces import assert_traces_stored, otel_trace, send_traces

pytestmark = pytest.mark.runtime

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Provider, PostgreSQL stand-in, migration Job, MLflow server, then the proxy in front (ready)."""
    workdir = tmp_path_factory.mktemp("oauth2-proxy")
    idp_port = free_port()
    objects = proxy_environment(idp_port, workdir)
    key = jwt_tokens.rsa_key(workdir / "issuer-key.pem")
    idp = provider_for(objects, idp_port, key)
    secrets_ = secret_values()
    with idp:
        pg = start_bundled_postgres(objects, secrets_)
        try:
            migration = run_job(migration_job(objects), objects, secrets_, timeout=300)
            require_free_port(service_port(objects, "mlflow"), "the MLflow server")
            with run_pod(find_object(objects, "Deployment", "mlflow"), objects, secrets_) as server:
                ready_after = server.wait_for_probe(timeout=180)
                with proxy_pod(objects) as proxy:
                    print(f"\n[{ENV}] migration {migration.seconds:.1f} s, server ready {ready_after:.1f} s")
                    yield {
                        "objects": objects,
                        "idp": idp,
                        "key": key,
                        "server": server,
                        "proxy": proxy,
                        "port": proxy.port("http"),
                        "host": ingress_host(objects),
                        "workdir": workdir,
                        "idp_port": idp_port,
                    }
        finally:
            pg.stop()


@pytest.fixture(scope="module")
def alice(stack):
    session, base = browser(stack)
    try:
        return session, base, login(session, base, "alice")
    except BaseException:
        print("--- proxy\n" + stack["proxy"].logs()[-4000:] + "\n--- provider\n" + stack["idp"].log()[-3000:])
        raise


def api_status(stack, token: str) -> int:
    session, base = browser(stack)
    response = session.get(base + API, headers={**JSON, "Authorization": f"Bearer {token}"}, timeout=30)
    return response.status_code


# --------------------------------------------------------------------------------------------------


def test_browser_without_session_goes_straight_to_the_provider(stack):
    """``--skip-provider-button``: a browser without a session is redirected to the issuer's
    authorization endpoint at once (no sign-in page), with the manifests' client id, redirect URL and a
    PKCE S256 challenge; an API call without a session gets 401, not a redirect."""
    session, base = browser(stack)
    response = session.get(base + "/", allow_redirects=False, timeout=30)
    assert response.status_code == 302, response.text[:500]
    location = urlsplit(response.headers["location"])
    discovery = requests.get(stack["idp"].discovery_url, timeout=10).json()
    assert f"{location.scheme}://{location.netloc}{location.path}" == discovery["authorization_endpoint"]
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert query["client_id"] == "mlflow"
    assert query["redirect_uri"] == "https://mlflow.example.org/oauth2/callback"
    assert query["code_challenge_method"] == "S256" and query["code_challenge"]
    api = session.get(base + API, headers=JSON, allow_redirects=False, timeout=30)
    assert api.status_code == 401, api.text[:300]


def test_allowed_group_member_reaches_the_ui_and_the_api(stack, alice):
    """alice (group ``/mlflow-users``) logs in at the provider; the callback sets the session and sends
    her back; the MLflow UI and the REST API answer through the proxy."""
    session, base, hops = alice
    assert callback_of(hops).status_code == 302, callback_of(hops).text[:500]
    landing = hops[-1]
    assert landing.url == base + "/" and landing.status_code == 200
    assert "<title>MLflow</title>" in landing.text, landing.text[:500]
    created = session.post(
        base + "/api/2.0/mlflow/experiments/create", json={"name": "through-the-proxy"}, headers=JSON, timeout=30
    )
    assert created.status_code == 200, created.text
    listed = session.get(base + API, headers=JSON, timeout=30)
    assert listed.status_code == 200, listed.text
    assert "through-the-proxy" in {e["name"] for e in listed.json()["experiments"]}


def test_gateway_secrets_are_encrypted_with_the_passphrase_from_the_secret(alice):
    """Provider keys stored in the AI gateway must not be decryptable with MLflow's public default passphrase
    by whoever reads the database: the server behind the proxy reports the passphrase from the Secret in use."""
    session, base, _ = alice
    assert_own_passphrase(session.get(base + SECRETS_CONFIG, headers=JSON, timeout=30))


def test_user_outside_allowed_groups_is_refused(stack):
    """bob (group ``/contractors``) passes the provider's login, but the proxy refuses him at the
    callback (403) and sets no session: the API stays closed."""
    session, base = browser(stack)
    hops = login(session, base, "bob")
    assert callback_of(hops).status_code == 403, callback_of(hops).text[:500]
    assert "_oauth2_proxy" not in {c.name for c in session.cookies}
    assert session.get(base + API, headers=JSON, allow_redirects=False, timeout=30).status_code == 401


@pytest.fixture(scope="module")
def restricted(stack):
    """Variant: ``email_domains: [example.com]`` (and a confidential client), proxy on another port."""
    port = free_port()

    def edit(config):
        config["auth"]["oauth2_proxy"].update(
            email_domains=["example.com"],
            client_type="confidential",
            client_id=CONFIDENTIAL_CLIENT["client_id"],
            port=port,
        )

    objects = proxy_environment(stack["idp_port"], stack["workdir"] / "restricted", "restricted", edit)
    with proxy_pod(objects) as pod:
        yield {"objects": objects, "port": port, "pod": pod}


def test_email_outside_email_domains_is_refused(stack, restricted):
    """With ``email_domains: [example.com]``, erin (``/mlflow-users``, ``@partner.example.net``) is
    refused at the callback while alice (``@example.com``) gets in, through the same variant proxy."""
    assert proxy_args(restricted["objects"])["--email-domain"] == ["example.com"]
    session, base = browser(stack, restricted["port"])
    assert callback_of(login(session, base, "erin")).status_code == 403
    assert session.get(base + API, headers=JSON, allow_redirects=False, timeout=30).status_code == 401
    session, base = browser(stack, restricted["port"])
    assert callback_of(login(session, base, "alice")).status_code == 302
    assert session.get(base + API, headers=JSON, timeout=30).status_code == 200


def test_confidential_client_sends_its_secret(stack, restricted):
    """``client_type: confidential``: the proxy reads ``OAUTH2_PROXY_CLIENT_SECRET`` from the Secret and
    authenticates at the token endpoint (the provider accepts only that secret for this client)."""
    deployment = find_object(restricted["objects"], "Deployment", PROXY)
    env = {e["name"] for e in container_of(deployment, "oauth2-proxy")["env"]}
    assert "OAUTH2_PROXY_CLIENT_SECRET" in env
    assert "--client-secret-file" not in proxy_args(restricted["objects"])
    session, base = browser(stack, restricted["port"])
    assert callback_of(login(session, base, "alice")).status_code == 302


def test_public_client_logs_in_with_pkce_and_no_secret(stack, alice):
    """``client_type: public`` (the shipped example): no client secret anywhere (an empty secret file),
    PKCE S256, and the provider registers the client with ``token_endpoint_auth_method: none``; the
    login of alice above went through that client."""
    args = proxy_args(stack["objects"])
    assert args["--client-secret-file"] == ["/etc/oauth2-proxy/public-client/client-secret"]
    assert find_object(stack["objects"], "ConfigMap", f"{PROXY}-public-client")["data"] == {"client-secret": ""}
    assert args["--code-challenge-method"] == ["S256"]
    env = container_of(find_object(stack["objects"], "Deployment", PROXY), "oauth2-proxy")["env"]
    assert [e["name"] for e in env] == ["OAUTH2_PROXY_COOKIE_SECRET"]
    assert callback_of(alice[2]).status_code == 302


@pytest.fixture(scope="module")
def tls_ingress(stack):
    with TlsIngress(stack["host"], stack["port"], stack["workdir"]) as ingress:
        yield ingress


def test_bearer_jwt_works_for_the_python_client(stack, tls_ingress):
    """An ID token of the issuer for the proxy's client (audience ``mlflow``), as the ``mlflow-token``
    CLI obtains it, is accepted as ``MLFLOW_TRACKING_TOKEN`` by the MLflow Python client through
    ``https://mlflow.example.org`` (``--skip-jwt-bearer-tokens``): a run is logged and read back."""
    args = proxy_args(stack["objects"])
    tokens = stack["idp"].tokens(args["--client-id"][0], args["--redirect-url"][0], "alice")
    assert jwt_tokens.claims(tokens["id_token"])["aud"] == "mlflow"
    result = run_client(
        "token_client.py",
        tls_ingress.url,
        "bearer-experiment",
        hosts=[stack["host"]],
        env={"MLFLOW_TRACKING_TOKEN": tokens["id_token"], "REQUESTS_CA_BUNDLE": str(tls_ingress.cert_path)},
    )
    assert result["params"] == {"via": "access-token"}
    assert result["metrics"] == {"loss": 0.25}
    assert api_status(stack, tokens["access_token"]) == 200  # the JWT access token (aud mlflow) too


def test_foreign_expired_and_forged_bearer_tokens_are_refused(stack, tmp_path):
    """Refused with 401 (the API stays closed): a token of another issuer (a second real provider with
    the same client id and users), an expired token signed by the issuer's own key, and a token with a
    bad signature (the same claims signed by another key under the issuer's key id)."""
    args = proxy_args(stack["objects"])
    client_id, redirect = args["--client-id"][0], args["--redirect-url"][0]
    good = stack["idp"].tokens(client_id, redirect, "alice")["id_token"]
    assert api_status(stack, good) == 200
    other = OidcProvider(
        clients=[{"client_id": client_id, "redirect_uris": [redirect], "token_endpoint_auth_method": "none"}],
        users=USERS,
        groups_claim=args["--oidc-groups-claim"][0],
    )
    with other:
        foreign = other.tokens(client_id, redirect, "alice")["id_token"]
    assert jwt_tokens.claims(foreign)["iss"] != jwt_tokens.claims(good)["iss"]
    now = int(time.time())
    expired = jwt_tokens.sign(
        jwt_tokens.header(good), {**jwt_tokens.claims(good), "iat": now - 7200, "exp": now - 3600}, stack["key"]
    )
    resigned = jwt_tokens.sign(jwt_tokens.header(good), jwt_tokens.claims(good), stack["key"])
    assert api_status(stack, resigned) == 200  # so the re-signing itself is sound
    forged = jwt_tokens.sign(
        jwt_tokens.header(good), jwt_tokens.claims(good), jwt_tokens.rsa_key(tmp_path / "other-key.pem")
    )
    assert {"foreign": api_status(stack, foreign), "expired": api_status(stack, expired)} == {
        "foreign": 401,
        "expired": 401,
    }
    assert api_status(stack, forged) == 401


def bearer_env(stack, tls_ingress) -> dict[str, str]:
    """alice's ID token for the proxy's client as a CLI gets it, and the TLS ingress's certificate trusted."""
    args = proxy_args(stack["objects"])
    token = stack["idp"].tokens(args["--client-id"][0], args["--redirect-url"][0], "alice")["id_token"]
    return {"MLFLOW_TRACKING_TOKEN": token, "REQUESTS_CA_BUNDLE": str(tls_ingress.cert_path)}


def test_traces_reach_the_experiment_with_a_bearer_jwt(stack, tls_ingress):
    """The issuer's JWT as ``Authorization: Bearer`` in the OTLP exporter and as ``MLFLOW_TRACKING_TOKEN``
    for ``mlflow.tracing``, through ``https://mlflow.example.org`` and the proxy: both traces reach the
    experiment, read back through MLflow's API."""
    env = bearer_env(stack, tls_ingress)
    assert_traces_stored(send_traces(tls_ingress.url, "bearer-traces", hosts=[stack["host"]], env=env))


def test_clients_without_a_valid_token_get_401_not_a_login_redirect(stack):
    """The API paths clients call (``/api/``, ``/v1/traces``, ``/version``, ``/gateway/``) answer 401 to a
    request without a valid token whatever it accepts (``--api-route``). A redirect to the provider would
    be worse than an error: the OTLP exporter counts any 3xx as a successful export, so the spans would be
    dropped silently, and MLflow's client would follow it and fail on the provider's HTML. Pages still
    send a browser to sign in."""
    session, base = browser(stack)
    any_type = {"Accept": "*/*"}
    otlp = {**any_type, "Content-Type": "application/x-protobuf", "x-mlflow-experiment-id": "0"}
    answers = {
        "otlp": session.post(base + "/v1/traces", data=b"", headers=otlp, allow_redirects=False, timeout=30),
        "api": session.get(base + API, headers=any_type, allow_redirects=False, timeout=30),
        "version": session.get(base + "/version", headers=any_type, allow_redirects=False, timeout=30),
        "gateway": session.get(
            base + "/gateway/chat/mlflow/invocations", headers=any_type, allow_redirects=False, timeout=30
        ),
        "page": session.get(base + "/", headers=any_type, allow_redirects=False, timeout=30),
    }
    assert {path: r.status_code for path, r in answers.items()} == {
        "otlp": 401,
        "api": 401,
        "version": 401,
        "gateway": 401,
        "page": 302,
    }


def test_proxy_sets_no_body_limit_of_its_own(stack, tls_ingress):
    """OAuth2-Proxy 7.15 streams request bodies to MLflow with no size limit (no option for one exists): an
    OTLP export of 12 MiB, far above Ingress-NGINX's default ``proxy-body-size`` of 1 MiB, is ingested
    whole. The limit that applies is the route's (``ingress.max_body_size``)."""
    env = bearer_env(stack, tls_ingress)
    result = send_traces(tls_ingress.url, "large-traces", hosts=[stack["host"]], env=env, attribute_bytes=12 * MIB)
    assert result["otlp_statuses"] == [200, 200], result["otlp_statuses"]
    child = next(s for s in otel_trace(result)["spans"] if s["name"] == "otel-child")
    assert "app.payload" in child["attributes"]


def test_session_cookie_flags_and_sign_out(stack):
    """The session cookie is ``Secure`` (TLS), ``HttpOnly`` and ``SameSite=Lax``; ``/oauth2/sign_out``
    clears it and the API is closed again."""
    session, base = browser(stack)
    hops = login(session, base, "alice")
    (set_cookie,) = [c for c in callback_of(hops).raw.headers.getlist("Set-Cookie") if c.startswith("_oauth2_proxy=")]
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in set_cookie.split(";")}
    assert "secure" in attributes and "httponly" in attributes
    assert attributes["samesite"].lower() == "samesite=lax"
    assert session.get(base + API, headers=JSON, timeout=30).status_code == 200
    out = session.get(base + "/oauth2/sign_out", allow_redirects=False, timeout=30)
    assert out.status_code == 302
    assert "_oauth2_proxy" not in {c.name for c in session.cookies}
    assert session.get(base + API, headers=JSON, allow_redirects=False, timeout=30).status_code == 401


@pytest.fixture(scope="module")
def tunnelled(stack):
    """Variant: no route of this environment, TLS terminated in front of the cluster (a tunnel to the proxy's
    Service; here the client's TLS-terminating adapter): ``public_url: https://<host>``, proxy on another port."""
    port = free_port()

    def edit(config):
        config["ingress"] = {"enabled": False}
        config["public_url"] = f"https://{stack['host']}"
        config["auth"]["oauth2_proxy"]["port"] = port

    objects = proxy_environment(stack["idp_port"], stack["workdir"] / "tunnelled", "tunnelled", edit)
    with proxy_pod(objects):
        yield {"objects": objects, "port": port}


def test_behind_a_tls_terminating_front_the_cookie_is_secure_and_the_callback_https(stack, tunnelled):
    """Without ``ingress.tls`` (nor any route) the mode is accepted with ``public_url``: the provider sends the
    browser back to ``https://<host>/oauth2/callback``, the session cookie set there is ``Secure``, and it opens
    the API."""
    objects, host = tunnelled["objects"], stack["host"]
    assert not [o for o in objects if o["kind"] in ("Ingress", "IngressRoute", "HTTPRoute")]
    assert proxy_args(objects)["--redirect-url"] == [f"https://{host}/oauth2/callback"]
    session, base = browser(stack, tunnelled["port"])
    hops = login(session, base, "alice")
    callback = callback_of(hops)
    assert urlsplit(callback.url)[:3] == ("https", host, "/oauth2/callback"), callback.url
    (set_cookie,) = [c for c in callback.raw.headers.getlist("Set-Cookie") if c.startswith("_oauth2_proxy=")]
    assert "secure" in {part.strip().split("=")[0].lower() for part in set_cookie.split(";")}
    assert session.get(base + API, headers=JSON, timeout=30).status_code == 200


def test_a_person_signs_in_with_chromium(stack, tls_ingress, tmp_path):
    """Chromium (Playwright) opens https://mlflow.example.org/, is sent to the provider's page, where
    the user name and password are typed; it lands on MLflow's experiments page, which lists an
    experiment created through the API.
    The screenshot goes to the test's folder (and to docs/screenshots/ with UPDATE_SCREENSHOTS=1)."""
    session, base = browser(stack)
    login(session, base, "alice")
    name = "created-through-the-api"
    created = session.post(base + "/api/2.0/mlflow/experiments/create", json={"name": name}, headers=JSON, timeout=30)
    assert created.status_code == 200, created.text
    result = browser_login(
        host=stack["host"],
        spki=tls_ingress.spki_sha256,
        username="alice",
        password=USERS["alice"]["password"],
        expect_text=name,
        outdir=tmp_path,
        name="oauth2-proxy",
    )
    assert result["provider_url"].startswith(stack["idp"].issuer + "/interaction/"), result
    assert result["final_url"].startswith(base + "/"), result
    assert result["landed_at"] == base + "/", result  # back from /oauth2/callback to where it started
    publish_screenshot(result, "oauth2-proxy-login")
