"""Shared parts of the OIDC scenarios: a test-local variant of examples/oidc-keycloak.yaml, the local
OpenID provider configured from the manifests, and the browser login through ``/login`` and ``/callback``.

The environment is ``examples/oidc-keycloak.yaml`` with only ``auth.oidc.discovery_url`` pointed at the
provider on loopback (plus what a scenario changes on purpose), synthesized by the app's own code. The
provider is configured from what the manifests name: the client id and secret are the test values of
the Secret keys the pods read, the redirect URI is the ``OIDC_REDIRECT_URI`` setting, the groups
claim is ``OIDC_GROUPS_ATTRIBUTE``. The redirect URI points at the ingress host with TLS; the HTTP
client reaches it through :mod:`ingress_client`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import requests
from ingress_client import ingress_session
from oidc_provider import OidcProvider
from podrunner import find_object
from scenario import KEK_PASSPHRASE, shipped_config, synth_environment

BASE_ENV = "oidc-keycloak"
USERS = {
    "alice": {"password": "alice-password", "email": "alice@example.com", "groups": ["mlflow-users"]},
    "bob": {"password": "bob-password", "email": "bob@example.com", "groups": ["contractors"]},
    "carol": {"password": "carol-password", "email": "carol@example.com", "groups": ["mlflow-admins"]},
    "dave": {"password": "dave-password", "email": "dave@example.com", "groups": ["mlflow-users"]},
}
CLIENT_ID = "mlflow-k8s-runtime"
# URL-safe on purpose: the plugin's authlib sends client_secret_basic credentials without the
# form-encoding RFC 6749 2.3.1 asks for, so a secret with '+' or '%' fails at a conforming provider.
CLIENT_SECRET = "client-secret_for-runtime-tests-7f3a"


def oidc_environment(
    idp_port: int, outdir: Path, name: str = "oidc-runtime", edit: Callable[[dict], None] | None = None
) -> list[dict]:
    """examples/oidc-keycloak.yaml with the discovery URL on loopback (and ``edit`` applied to the dict)."""
    config = shipped_config(BASE_ENV)
    config["auth"]["oidc"]["discovery_url"] = f"http://127.0.0.1:{idp_port}/.well-known/openid-configuration"
    if edit:
        edit(config)
    return synth_environment(config, name, outdir)


def cluster_secrets(
    objects: list[dict], db_password: str, extra: dict[str, str] | None = None
) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Test values for the Secret the ExternalSecret would produce (exactly its keys; ``extra`` for keys a
    variant adds) and for the operator's ``<cluster>-app`` Secret, and the host entry of the operator's
    read-write Service."""
    cluster = find_object(objects, "Cluster")
    external = find_object(objects, "ExternalSecret")
    values = {
        "SECRET_KEY": "session-signing-key-for-runtime-tests-0123456789",
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "s3-access-key-id": "unused-in-this-scenario",
        "s3-secret-access-key": "unused-in-this-scenario",
        **KEK_PASSPHRASE,
        **(extra or {}),
    }
    assert {d["secretKey"] for d in external["spec"]["data"]} == set(values)
    name = cluster["metadata"]["name"]
    secrets = {
        external["spec"]["target"]["name"]: values,
        f"{name}-app": {"username": cluster["spec"]["bootstrap"]["initdb"]["owner"], "password": db_password},
    }
    return secrets, {f"{name}-rw": "127.0.0.1"}


def settings(objects: list[dict]) -> dict[str, str]:
    return find_object(objects, "ConfigMap", "mlflow-settings")["data"]


def provider_for(objects: list[dict], port: int) -> OidcProvider:
    """The provider as the environment expects it: its client and redirect URI, its groups claim."""
    cfg = settings(objects)
    client = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": [cfg["OIDC_REDIRECT_URI"]]}
    return OidcProvider(clients=[client], users=USERS, port=port, groups_claim=cfg["OIDC_GROUPS_ATTRIBUTE"])


def ingress_host(objects: list[dict]) -> str:
    route = find_object(objects, "IngressRoute", "mlflow")
    (rule,) = route["spec"]["routes"]
    return re.fullmatch(r"Host\(`([^`]+)`\)", rule["match"]).group(1)


def browser(objects: list[dict], pod_port: int) -> tuple[requests.Session, str]:
    """A browser-like session reaching the pod through the ingress host, and the base URL."""
    host = ingress_host(objects)
    return ingress_session(host, pod_port), f"https://{host}"


@dataclass
class Login:
    """What a browser saw while signing in."""

    hops: list[requests.Response] = field(default_factory=list)

    @property
    def callback(self) -> requests.Response:
        (found,) = [h for h in self.hops if h.url.split("?")[0].endswith("/callback")]
        return found

    @property
    def landing(self) -> requests.Response:
        return self.hops[-1]


def _follow(session: requests.Session, response: requests.Response, hops: list[requests.Response]) -> requests.Response:
    while response.is_redirect:
        response = session.get(urljoin(response.url, response.headers["location"]), allow_redirects=False, timeout=30)
        hops.append(response)
    return response


def login(session: requests.Session, base: str, username: str) -> Login:
    """``/login`` -> provider login form -> ``/callback`` -> landing page, redirects followed one by one."""
    result = Login()
    start = session.get(f"{base}/login", allow_redirects=False, timeout=30)
    result.hops.append(start)
    form = _follow(session, start, result.hops)
    assert form.status_code == 200 and "<form" in form.text, (form.status_code, form.url, form.text[:500])
    action = re.search(r'action="([^"]+)"', form.text).group(1)
    submitted = session.post(
        urljoin(form.url, action),
        data={"username": username, "password": USERS[username]["password"]},
        allow_redirects=False,
        timeout=30,
    )
    result.hops.append(submitted)
    _follow(session, submitted, result.hops)
    return result


def logged_in(objects: list[dict], pod_port: int, username: str) -> tuple[requests.Session, str, Login]:
    session, base = browser(objects, pod_port)
    return session, base, login(session, base, username)


API = "/api/2.0/mlflow"


def round_trip_run(session: requests.Session, base: str, name: str, param: tuple[str, str]) -> dict:
    """Through a signed-in session: create the experiment ``name`` and a run in it, log ``param`` and a metric
    and read both back (asserted); the run's ``info``."""
    created = session.post(f"{base}{API}/experiments/create", json={"name": name}, timeout=30)
    assert created.status_code == 200, created.text
    run = session.post(
        f"{base}{API}/runs/create", json={"experiment_id": created.json()["experiment_id"]}, timeout=30
    ).json()["run"]["info"]
    key, value = param
    logged = session.post(
        f"{base}{API}/runs/log-batch",
        json={
            "run_id": run["run_id"],
            "params": [{"key": key, "value": value}],
            "metrics": [{"key": "score", "value": 0.5, "timestamp": 0, "step": 0}],
        },
        timeout=30,
    )
    assert logged.status_code == 200, logged.text
    data = session.get(f"{base}{API}/runs/get", params={"run_id": run["run_id"]}, timeout=30).json()["run"]["data"]
    assert data["params"] == [{"key": key, "value": value}]
    assert [(m["key"], m["value"]) for m in data["metrics"]] == [("score", 0.5)]
    return run
