"""Shared parts of the OAuth2-Proxy scenarios: the oauth2-proxy example with its issuer on loopback, the
local provider configured from the manifests, the browser login through the proxy.

Manifests: ``oauth2-proxy`` from the shipped examples (``scenario.shipped_config``), synthesized by the
app's code, with exactly one rewrite: ``auth.oauth2_proxy.issuer_url`` (``https://keycloak.example.org
/realms/ml``) becomes the local provider's issuer ``http://127.0.0.1:<port>``, because the proxy
fetches discovery and keys from it and checks the ``iss`` of every token against it; no other name can
reach a process here (plus what a scenario changes on purpose, ``edit``).

Stand-ins: the ``mlflow-credentials`` Secret with test values (cookie secret, database password); the npm
``oidc-provider`` as the Keycloak realm, configured as the manifests expect (client ``mlflow`` as a
public client with PKCE, its redirect URL, a ``groups`` claim holding Keycloak-style group paths,
``email``/``email_verified``, and JWT access tokens with ``realm_access``, which the ``keycloak-oidc``
provider parses).
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests
from ingress_client import ingress_session
from oidc_provider import OidcProvider
from podrunner import find_object, run_pod
from scenario import KEK_PASSPHRASE, container_of, require_free_port, shipped_config, synth_environment

ENV = "oauth2-proxy"
PROXY = "mlflow-oauth2-proxy"
USERS = {
    "alice": {"password": "alice-password", "email": "alice@example.com", "groups": ["/mlflow-users"]},
    "bob": {"password": "bob-password", "email": "bob@example.com", "groups": ["/contractors"]},
    "erin": {"password": "erin-password", "email": "erin@partner.example.net", "groups": ["/mlflow-users"]},
}
CONFIDENTIAL_CLIENT = {"client_id": "mlflow-confidential", "client_secret": "confidential-client-secret-0f3c"}
COOKIE_SECRET = "0123456789abcdef0123456789abcdef"  # 32 bytes: AES-256 for the session cookie
POSTGRES_PASSWORD = "pg/p@ss:w%rd#&'\" ?"
API = "/api/2.0/mlflow/experiments/search?max_results=5"
JSON = {"Accept": "application/json"}


def proxy_environment(idp_port: int, outdir: Path, name: str = "oauth2-proxy-runtime", edit=None) -> list[dict]:
    config = shipped_config(ENV)
    config["auth"]["oauth2_proxy"]["issuer_url"] = f"http://127.0.0.1:{idp_port}"
    if edit:
        edit(config)
    return synth_environment(config, name, outdir)


def proxy_args(objects: list[dict]) -> dict[str, list[str]]:
    """``--flag=value`` args of the proxy container: flag -> values."""
    found: dict[str, list[str]] = {}
    for arg in container_of(find_object(objects, "Deployment", PROXY), "oauth2-proxy")["args"]:
        flag, _, value = arg.partition("=")
        found.setdefault(flag, []).append(value)
    return found


def ingress_host(objects: list[dict]) -> str:
    (rule,) = find_object(objects, "Ingress", "mlflow")["spec"]["rules"]
    return rule["host"]


def secret_values() -> dict[str, dict[str, str]]:
    return {
        "mlflow-credentials": {
            "postgres-password": POSTGRES_PASSWORD,
            "s3-access-key-id": "unused-in-this-scenario",
            "s3-secret-access-key": "unused-in-this-scenario",
            "cookie_secret": COOKIE_SECRET,
            "client_secret": CONFIDENTIAL_CLIENT["client_secret"],
            **KEK_PASSPHRASE,
        }
    }


@contextlib.contextmanager
def proxy_pod(objects: list[dict], secrets: dict[str, dict[str, str]] | None = None):
    """The proxy Deployment's pod, ready (its container, args and env as synthesized), reading ``secrets``
    (default: :func:`secret_values`)."""
    deployment = find_object(objects, "Deployment", PROXY)
    port = int(proxy_args(objects)["--http-address"][0].rsplit(":", 1)[1])
    require_free_port(port, "OAuth2-Proxy")
    with run_pod(deployment, objects, secrets or secret_values()) as pod:
        pod.wait_for_probe(timeout=60)
        yield pod


def browser(stack: dict, port: int | None = None) -> tuple[requests.Session, str]:
    """A browser's session reaching the proxy on ``port`` (default: the stack's) through the ingress host, and
    the base URL ``https://<host>``."""
    session = ingress_session(stack["host"], port or stack["port"])
    session.headers["Accept"] = "text/html,application/xhtml+xml"
    return session, f"https://{stack['host']}"


def follow(session: requests.Session, response: requests.Response, hops: list) -> requests.Response:
    while response.is_redirect:
        assert len(hops) < 20, [(h.status_code, h.url) for h in hops]
        response = session.get(urljoin(response.url, response.headers["location"]), allow_redirects=False, timeout=30)
        hops.append(response)
    return response


def login(session: requests.Session, base: str, username: str, path: str = "/") -> list[requests.Response]:
    """A browser visit to ``path``: proxy -> provider form -> password -> callback -> back; every hop."""
    hops = [session.get(base + path, allow_redirects=False, timeout=30)]
    form = follow(session, hops[0], hops)
    assert form.status_code == 200 and "<form" in form.text, (form.status_code, form.url, form.text[:300])
    action = re.search(r'action="([^"]+)"', form.text).group(1)
    user = {"username": username, "password": USERS[username]["password"]}
    hops.append(session.post(urljoin(form.url, action), data=user, allow_redirects=False, timeout=30))
    follow(session, hops[-1], hops)
    return hops


def callback_of(hops: list[requests.Response]) -> requests.Response:
    """The hop to the proxy's callback (``/oauth2/callback``, below the static prefix if there is one)."""
    (found,) = [h for h in hops if urlsplit(h.url).path.endswith("/oauth2/callback")]
    return found


def provider_for(objects: list[dict], port: int, key: Path) -> OidcProvider:
    """The Keycloak realm stand-in as the proxy's manifests expect it: the public client with PKCE and the
    confidential one, both with the proxy's redirect URL, the groups claim, JWT access tokens signed by ``key``."""
    args = proxy_args(objects)
    client = {
        "client_id": args["--client-id"][0],
        "redirect_uris": args["--redirect-url"],
        "token_endpoint_auth_method": "none",  # client_type: public
    }
    confidential = {**CONFIDENTIAL_CLIENT, "redirect_uris": args["--redirect-url"]}
    return OidcProvider(
        clients=[client, confidential],
        users=USERS,
        port=port,
        groups_claim=args["--oidc-groups-claim"][0],
        signing_key_pem=key,
        jwt_access_tokens=True,
    )
