"""The local OpenID provider starts on 127.0.0.1, publishes discovery, and completes a login.

This proves the provider for the later OIDC scenario (mlflow-oidc-auth against it). A plain HTTP
client walks the authorization-code flow with PKCE, as the plugin's browser users would.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from urllib.parse import parse_qs, urljoin, urlparse

import pytest
import requests
from oidc_provider import OidcProvider, oidc_provider_missing

pytestmark = pytest.mark.runtime

REDIRECT = "http://127.0.0.1:5999/callback"
CLIENT = {"client_id": "mlflow", "client_secret": "client-secret-for-tests", "redirect_uris": [REDIRECT]}
USERS = {
    "alice": {"password": "alice-pw", "email": "alice@example.com", "groups": ["mlflow-users"]},
    "bob": {"password": "bob-pw", "groups": ["other"]},
}


@pytest.fixture(scope="module")
def idp():
    missing = oidc_provider_missing()
    if missing:
        pytest.skip(f"OIDC provider unavailable: {missing}")
    with OidcProvider(clients=[CLIENT], users=USERS) as provider:
        yield provider


def _claims(jwt: str) -> dict:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _login(idp: OidcProvider, username: str, password: str) -> requests.Response:
    """Start an authorization request and submit the login form; returns the last response."""
    discovery = requests.get(idp.discovery_url, timeout=10).json()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    session = requests.Session()
    page = session.get(
        discovery["authorization_endpoint"],
        params={
            "client_id": CLIENT["client_id"],
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "openid email profile groups",
            "state": "st",
            "nonce": "n",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
        timeout=10,
    )
    assert page.status_code == 200, page.text
    action = re.search(r'action="([^"]+)"', page.text).group(1)
    response = session.post(
        urljoin(page.url, action), data={"username": username, "password": password}, allow_redirects=False, timeout=10
    )
    # Follow redirects inside the provider only; stop at the client's redirect URI.
    while response.is_redirect and not response.headers["location"].startswith(REDIRECT):
        response = session.get(urljoin(response.url, response.headers["location"]), allow_redirects=False, timeout=10)
    response.verifier = verifier  # type: ignore[attr-defined]
    response.discovery = discovery  # type: ignore[attr-defined]
    return response


def test_discovery_document(idp):
    doc = requests.get(idp.discovery_url, timeout=10).json()
    assert doc["issuer"] == idp.issuer
    assert doc["authorization_endpoint"].startswith(idp.issuer)
    assert "groups" in doc["scopes_supported"]
    assert "S256" in doc["code_challenge_methods_supported"]


def test_code_flow_gives_id_token_with_groups(idp):
    response = _login(idp, "alice", "alice-pw")
    assert response.is_redirect, response.text
    query = parse_qs(urlparse(response.headers["location"]).query)
    assert query["state"] == ["st"]
    tokens = requests.post(
        response.discovery["token_endpoint"],
        auth=(CLIENT["client_id"], CLIENT["client_secret"]),
        data={
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": REDIRECT,
            "code_verifier": response.verifier,
        },
        timeout=10,
    )
    assert tokens.status_code == 200, tokens.text
    claims = _claims(tokens.json()["id_token"])
    assert claims["sub"] == "alice"
    assert claims["email"] == "alice@example.com"
    assert claims["groups"] == ["mlflow-users"]
    assert claims["nonce"] == "n"


def test_wrong_password_is_refused(idp):
    response = _login(idp, "alice", "wrong")
    assert response.status_code == 401
    assert "invalid username or password" in response.text
