"""A TLS-terminating ingress (or Gateway) stand-in for clients that cannot use :mod:`ingress_client`'s adapter.

Real programs (Chromium, the MLflow Python client) reach ``https://<ingress host>/`` here: the name
resolves to 127.0.0.1 in those clients (Chromium ``--host-resolver-rules``, the client venv's
hostmap), :class:`TlsIngress` listens on 127.0.0.1:443 (the ingress controller's port) with a
self-signed certificate for the host, terminates TLS and forwards each request over plain HTTP to
the backend pod port with ``Host: <ingress host>`` and the ``X-Forwarded-*`` headers a controller
adds, as :class:`ingress_client.IngressAdapter` does for ``requests``. The backend is one port for the
whole host (an Ingress's ``/`` path), or the routes of :mod:`gateway` (an HTTPRoute's hosts and path
prefix): a request no route matches gets 404 there, as from a Gateway.

    with TlsIngress("mlflow.example.org", backend=4180, certdir=tmp) as ingress:
        ingress.cert_path      # trust this (REQUESTS_CA_BUNDLE)
        ingress.spki_sha256    # or pin it (Chromium --ignore-certificate-errors-spki-list)
    with TlsIngress(host, backend=gateway.http_routes(objects), certdir=tmp) as gateway_stand_in: ...
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import ssl
import subprocess
import sys
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from gateway import Route, route_for, whole_host
from scenario import require_free_port

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "host",
}


def self_signed_cert(host: str, directory: Path) -> tuple[Path, Path]:
    """(cert, key) PEM files of a self-signed certificate for ``host`` (openssl)."""
    cert, key = directory / f"{host}.crt", directory / f"{host}.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", f"/CN={host}", "-addext", f"subjectAltName=DNS:{host}",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def spki_sha256(cert: Path) -> str:
    """base64(sha256(SubjectPublicKeyInfo)), the form Chromium's SPKI allow-list takes."""
    pub = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-noout", "-pubkey"], check=True, capture_output=True
    ).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub, check=True, capture_output=True)
    return base64.b64encode(hashlib.sha256(der.stdout).digest()).decode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _IngressServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
        pass

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        route = route_for(self.server.routes, self.headers.get("Host") or self.server.host, self.path)
        if route is None:  # what a Gateway answers when no route matches
            self.send_response_only(404, "Not Found")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        backend = http.client.HTTPConnection("127.0.0.1", route.port, timeout=120)
        try:
            backend.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in HOP_BY_HOP and not name.lower().startswith("x-forwarded-"):
                    backend.putheader(name, value)
            backend.putheader("Host", self.server.host)
            backend.putheader("X-Forwarded-Proto", "https")
            backend.putheader("X-Forwarded-Host", self.server.host)
            backend.putheader("X-Forwarded-Port", "443")
            backend.putheader("X-Forwarded-For", self.client_address[0])
            backend.putheader("X-Real-IP", self.client_address[0])
            if body is not None:
                backend.putheader("Content-Length", str(len(body)))
            backend.endheaders(body)
            response = backend.getresponse()
            data = response.read()
        finally:
            backend.close()
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _forward


class _IngressServer(ThreadingHTTPServer):
    daemon_threads = True
    host: str
    routes: Sequence[Route]

    def handle_error(self, request, client_address) -> None:
        """A browser dropping a connection (closed tab, pre-connect) is not an error of the ingress."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError, TimeoutError)):
            super().handle_error(request, client_address)


class TlsIngress:
    """``https://<host>:443`` on 127.0.0.1, forwarding to ``127.0.0.1:<backend>`` or by ``backend``'s routes
    (context manager)."""

    def __init__(self, host: str, backend: int | Sequence[Route], certdir: Path, port: int = 443) -> None:
        self.host, self.port = host, port
        self.routes = whole_host(host, backend) if isinstance(backend, int) else list(backend)
        self.cert_path, self.key_path = self_signed_cert(host, certdir)
        self.spki_sha256 = spki_sha256(self.cert_path)
        self._server: _IngressServer | None = None

    @property
    def url(self) -> str:
        return f"https://{self.host}" if self.port == 443 else f"https://{self.host}:{self.port}"

    def start(self) -> TlsIngress:
        require_free_port(self.port, "the TLS ingress stand-in")
        server = _IngressServer(("127.0.0.1", self.port), _Handler)
        server.host, server.routes = self.host, self.routes
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, self.key_path)
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        self._server = server
        threading.Thread(target=server.serve_forever, name="tls-ingress", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> TlsIngress:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
