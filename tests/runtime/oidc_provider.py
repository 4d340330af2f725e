"""Start the local OpenID provider (oidc/provider.mjs, npm ``oidc-provider``) from a test.

with OidcProvider(clients=[{"client_id": "mlflow", "client_secret": "s",
                            "redirect_uris": ["http://127.0.0.1:5000/callback"]}],
                  users={"alice": {"password": "pw", "groups": ["mlflow-users"]}}) as idp:
    idp.discovery_url   # http://127.0.0.1:<port>/.well-known/openid-configuration
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from postgres import free_port

HERE = Path(__file__).resolve().parent
PROVIDER_JS = HERE / "oidc" / "provider.mjs"
NODE_MODULES = HERE / "node_modules"


def oidc_provider_missing() -> str | None:
    """Why the provider cannot start here, or None."""
    if not shutil.which("node"):
        return "node is not installed"
    if not (NODE_MODULES / "oidc-provider").exists():
        return "npm packages missing (run: bash tests/runtime/setup.sh)"
    return None


class OidcProvider:
    """The provider as a child process on 127.0.0.1 (context manager)."""

    def __init__(
        self,
        clients: list[dict],
        users: dict[str, dict],
        *,
        port: int | None = None,
        groups_claim: str = "groups",
        host: str = "127.0.0.1",
        issuer: str | None = None,
        signing_key_pem: Path | None = None,
        jwt_access_tokens: bool = False,
    ) -> None:
        self.port = port or free_port()
        self.host = host
        self.issuer = issuer or f"http://{host}:{self.port}"
        self.config = {
            "host": host,
            "port": self.port,
            "issuer": self.issuer,
            "clients": clients,
            "users": users,
            "groups_claim": groups_claim,
            "jwt_access_tokens": jwt_access_tokens,
        }
        if signing_key_pem is not None:
            self.config["signing_key_pem"] = str(signing_key_pem)
        self._dir: Path | None = None
        self._proc: subprocess.Popen | None = None
        self._log: Path | None = None

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def start(self, timeout: float = 30.0) -> OidcProvider:
        missing = oidc_provider_missing()
        if missing:
            raise RuntimeError(f"cannot start the OIDC provider: {missing}")
        self._dir = Path(tempfile.mkdtemp(prefix="oidc-provider-"))
        config_path = self._dir / "config.json"
        config_path.write_text(json.dumps(self.config))
        self._log = self._dir / "provider.log"
        with open(self._log, "w") as log:
            self._proc = subprocess.Popen(
                ["node", str(PROVIDER_JS), str(config_path)],
                cwd=HERE,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "READY " in self.log():
                return self
            if self._proc.poll() is not None:
                break
            time.sleep(0.05)
        output = self.log()
        self.stop()
        raise RuntimeError("OIDC provider did not start:\n" + output)

    def tokens(self, client_id: str, redirect_uri: str, username: str, client_secret: str | None = None) -> dict:
        """Tokens for ``username`` as a CLI gets them: authorization code with PKCE, the user's password typed
        into the login form, then the code exchanged (with ``client_secret`` for a confidential client)."""
        discovery = requests.get(self.discovery_url, timeout=10).json()
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        session = requests.Session()
        query = {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": "openid email profile",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": secrets.token_urlsafe(8),
            "nonce": secrets.token_urlsafe(8),
        }
        response = session.get(discovery["authorization_endpoint"], params=query, allow_redirects=False, timeout=10)
        for _ in range(20):
            if not response.is_redirect:
                break
            response = session.get(
                urljoin(response.url, response.headers["location"]), allow_redirects=False, timeout=10
            )
        action = re.search(r'action="([^"]+)"', response.text).group(1)
        user = {"username": username, "password": self.config["users"][username]["password"]}
        response = session.post(urljoin(response.url, action), data=user, allow_redirects=False, timeout=10)
        for _ in range(20):
            if response.headers["location"].startswith(redirect_uri):
                break
            response = session.get(
                urljoin(response.url, response.headers["location"]), allow_redirects=False, timeout=10
            )
        code = parse_qs(urlsplit(response.headers["location"]).query)["code"][0]
        exchange = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        if client_secret:  # client_secret_basic, the provider's default for a confidential client
            tokens = requests.post(
                discovery["token_endpoint"], data=exchange, auth=(client_id, client_secret), timeout=10
            )
        else:
            tokens = requests.post(discovery["token_endpoint"], data={**exchange, "client_id": client_id}, timeout=10)
        assert tokens.status_code == 200, tokens.text
        return tokens.json()

    def log(self) -> str:
        """The provider's output so far."""
        return self._log.read_text(errors="replace") if self._log and self._log.exists() else ""

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait(5)
        self._proc = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> OidcProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
