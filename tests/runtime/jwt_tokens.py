"""Small JWT helpers for the bearer-token contracts: read claims, re-sign with a known RSA key.

Signing uses ``openssl dgst -sha256 -sign`` (RS256 is RSASSA-PKCS1-v1_5 with SHA-256), so the test venv
needs no JWT library. The key is the one the local provider signs with (``signing_key_pem``), or
another one to forge a signature.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def header(token: str) -> dict:
    return json.loads(unb64url(token.split(".")[0]))


def claims(token: str) -> dict:
    return json.loads(unb64url(token.split(".")[1]))


def rsa_key(path: Path) -> Path:
    """A new 2048-bit RSA private key (PEM) at ``path``."""
    subprocess.run(
        ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def sign(head: dict, payload: dict, key: Path) -> str:
    """An RS256 JWT of ``head`` and ``payload`` signed with the PEM private key ``key``."""
    signing_input = f"{b64url(json.dumps(head).encode())}.{b64url(json.dumps(payload).encode())}"
    signature = subprocess.run(
        ["openssl", "dgst", "-sha256", "-sign", str(key)], input=signing_input.encode(), check=True, capture_output=True
    ).stdout
    return f"{signing_input}.{b64url(signature)}"
