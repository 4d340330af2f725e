"""OAuth2-Proxy as the backend of an HTTPRoute, under a static prefix: the oauth2-proxy example behind a
stand-in for its Gateway, with its sign-in, callback and session cookie below the prefix.

Manifests: the oauth2-proxy example as in ``test_scenario_oauth2_proxy.py`` (issuer on loopback, see
:mod:`oauth2_proxy_scenario`), routed by an HTTPRoute instead of its Ingress (``ingress.kind: httproute``
attached to a Gateway's HTTPS listener, so no TLS Secret) and served under ``server.static_prefix``. The
provider registers the redirect URL the manifests give. Requests reach the proxy only through the routes of
the synthesized HTTPRoute (:mod:`gateway`): :func:`ingress_client.ingress_session` for ``requests``,
:class:`tls_ingress.TlsIngress` for the MLflow Python client. One stack for the module: provider,
PostgreSQL stand-in, migration Job, MLflow server, proxy, Gateway stand-in.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import jwt_tokens
import pytest
from client_venv import run_client
from gateway import http_routes
from ingress_client import ingress_session
from oauth2_proxy_scenario import (
    API,
    JSON,
    callback_of,
    login,
    provider_for,
    proxy_args,
    proxy_environment,
    proxy_pod,
    secret_values,
)
from podrunner import find_object, run_pod
from postgres import free_port
from scenario import assert_probes_answer_200, migrated_bundled_postgres, require_free_port, service_port
from tls_ingress import TlsIngress

pytestmark = pytest.mark.runtime

PREFIX = "/mlflow"
GATEWAY = {"parent_refs": [{"name": "shared", "namespace": "gateway-system", "section_name": "https"}]}


def behind_gateway(config: dict) -> None:
    """The example's hosts on an HTTPRoute (TLS is the listener's), MLflow under ``PREFIX``."""
    config["ingress"] = {"enabled": True, "kind": "httproute", "hosts": config["ingress"]["hosts"], "gateway": GATEWAY}
    config["server"] = {"static_prefix": PREFIX}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    workdir, idp_port = tmp_path_factory.mktemp("oauth2-proxy-gateway"), free_port()
    objects = proxy_environment(idp_port, workdir, "oauth2-proxy-gateway", behind_gateway)
    routes = http_routes(objects)
    secrets = secret_values()
    idp = provider_for(objects, idp_port, jwt_tokens.rsa_key(workdir / "issuer-key.pem"))
    with idp, migrated_bundled_postgres(objects, secrets):
        require_free_port(service_port(objects, "mlflow"), "the MLflow server")
        with run_pod(find_object(objects, "Deployment", "mlflow"), objects, secrets) as server:
            ready_after = server.wait_for_probe(timeout=180)
            print(f"\n[oauth2-proxy behind a Gateway] server ready {ready_after:.1f} s after start")
            with proxy_pod(objects) as proxy, TlsIngress(routes[0].hostnames[0], routes, workdir) as gateway:
                yield {
                    "objects": objects,
                    "idp": idp,
                    "server": server,
                    "proxy": proxy,
                    "routes": routes,
                    "host": routes[0].hostnames[0],
                    "gateway": gateway,
                }


def test_the_route_sends_the_prefix_to_the_proxy(stack):
    """The HTTPRoute's backend is the proxy's Service, for the server's prefix: the proxy's port behind it."""
    (route,) = stack["routes"]
    assert route.prefix == PREFIX
    assert route.port == stack["proxy"].port("http")


def test_sign_in_callback_and_session_stay_below_the_prefix(stack):
    """A browser at ``https://<host><prefix>/`` is sent to the provider with the redirect URL
    ``https://<host><prefix>/oauth2/callback``; the callback, reached through the route, sets a session cookie
    scoped to the prefix and sends it back to MLflow's UI, whose API then answers under the prefix."""
    host = stack["host"]
    session = ingress_session(host, stack["routes"])
    session.headers["Accept"] = "text/html,application/xhtml+xml"
    hops = login(session, f"https://{host}", "alice", path=f"{PREFIX}/")
    redirect_uri = parse_qs(urlsplit(hops[0].headers["location"]).query)["redirect_uri"]
    assert redirect_uri == [f"https://{host}{PREFIX}/oauth2/callback"]
    callback = callback_of(hops)
    assert urlsplit(callback.url).path == f"{PREFIX}/oauth2/callback" and callback.status_code == 302
    (cookie,) = [c for c in callback.raw.headers.getlist("Set-Cookie") if c.startswith("_oauth2_proxy=")]
    assert f"Path={PREFIX};" in cookie or cookie.endswith(f"Path={PREFIX}"), cookie
    landing = hops[-1]
    assert landing.url == f"https://{host}{PREFIX}/" and landing.status_code == 200
    assert "<title>MLflow</title>" in landing.text, landing.text[:300]
    api = session.get(f"https://{host}{PREFIX}{API}", headers=JSON, timeout=30)
    assert api.status_code == 200, api.text


def test_nothing_outside_the_prefix_reaches_the_proxy(stack):
    """The host's other paths, the proxy's pages at the root included, are not routed (the Gateway's 404)."""
    session = ingress_session(stack["host"], stack["routes"])
    outside = [f"https://{stack['host']}{path}" for path in ("/", "/oauth2/sign_in", API)]
    assert {url: session.get(url, timeout=30).status_code for url in outside} == dict.fromkeys(outside, 404)


def test_bearer_jwt_works_for_the_python_client_under_the_prefix(stack):
    """The MLflow client with ``MLFLOW_TRACKING_URI=https://<host><prefix>`` and an ID token of the issuer
    logs a run through the Gateway stand-in and the proxy."""
    args = proxy_args(stack["objects"])
    tokens = stack["idp"].tokens(args["--client-id"][0], args["--redirect-url"][0], "alice")
    result = run_client(
        "token_client.py",
        f"{stack['gateway'].url}{PREFIX}",
        "bearer-under-a-prefix",
        hosts=[stack["host"]],
        env={"MLFLOW_TRACKING_TOKEN": tokens["id_token"], "REQUESTS_CA_BUNDLE": str(stack["gateway"].cert_path)},
    )
    assert result["params"] == {"via": "access-token"} and result["metrics"] == {"loss": 0.25}


def test_probes_of_server_and_proxy_answer(stack):
    """The server's probes moved under the prefix and the proxy's stayed on its own ``/ping`` and ``/ready``:
    every one answers 200."""
    server = assert_probes_answer_200(stack["server"])
    assert {path for _, _, path, _ in server} == {f"{PREFIX}/health"}
    assert {path for _, _, path, _ in assert_probes_answer_200(stack["proxy"])} == {"/ping", "/ready"}
