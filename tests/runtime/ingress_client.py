"""An HTTP client that reaches MLflow through its ingress host name, as a browser would.

There is no ingress controller here: :class:`IngressAdapter` plays it for ``requests``. A request to
``https://<ingress host>/...`` goes to the MLflow pod's port on 127.0.0.1 with ``Host: <ingress host>``
and the ``X-Forwarded-*`` headers a TLS-terminating controller adds. The session still sees the
``https://`` URL, so ``Secure`` cookies are kept and sent exactly as a browser would.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter


class IngressAdapter(HTTPAdapter):
    """Forward ``https://<host>/...`` to ``http://127.0.0.1:<port>/...`` (TLS terminated "at the ingress")."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__()
        self.host = host
        self.port = port

    def send(self, request, **kwargs):  # type: ignore[override]
        parts = urlsplit(request.url)
        assert parts.hostname == self.host, request.url
        forwarded = request.copy()
        forwarded.url = urlunsplit(("http", f"127.0.0.1:{self.port}", parts.path, parts.query, ""))
        forwarded.headers["Host"] = self.host
        forwarded.headers["X-Forwarded-Proto"] = "https"
        forwarded.headers["X-Forwarded-Host"] = self.host
        forwarded.headers["X-Forwarded-Port"] = "443"
        response = super().send(forwarded, **kwargs)
        response.url = request.url
        response.request = request
        return response


def ingress_session(host: str, port: int) -> requests.Session:
    """A session whose requests to ``https://<host>/`` go through :class:`IngressAdapter`."""
    session = requests.Session()
    session.mount(f"https://{host}/", IngressAdapter(host, port))
    return session
