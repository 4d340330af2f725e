"""An HTTP client that reaches MLflow through its ingress host name, as a browser would.

There is no ingress controller or Gateway here: :class:`IngressAdapter` plays it for ``requests``. A
request to ``https://<ingress host>/...`` goes to the pod port on 127.0.0.1 that the backend says (one
port for the whole host, or the routes of :mod:`gateway`: an HTTPRoute's hosts and path prefix, 404 for
a request none matches) with ``Host: <ingress host>`` and the ``X-Forwarded-*`` headers a TLS-terminating
controller adds. The session still sees the ``https://`` URL, so ``Secure`` cookies are kept and sent
exactly as a browser would.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

import requests
from gateway import Route, route_for, whole_host
from requests.adapters import HTTPAdapter


class IngressAdapter(HTTPAdapter):
    """Forward ``https://<host>/...`` to ``http://127.0.0.1:<port>/...`` (TLS terminated "at the ingress"),
    ``port`` being ``backend`` or the port of the route that matches."""

    def __init__(self, host: str, backend: int | Sequence[Route]) -> None:
        super().__init__()
        self.host = host
        self.routes = whole_host(host, backend) if isinstance(backend, int) else list(backend)

    def send(self, request, **kwargs):  # type: ignore[override]
        parts = urlsplit(request.url)
        assert parts.hostname == self.host, request.url
        route = route_for(self.routes, self.host, parts.path)
        if route is None:  # what a Gateway answers when no route matches
            response = requests.Response()
            response.status_code, response.reason, response._content = 404, "Not Found", b""
            response.url, response.request = request.url, request
            return response
        forwarded = request.copy()
        forwarded.url = urlunsplit(("http", f"127.0.0.1:{route.port}", parts.path, parts.query, ""))
        forwarded.headers["Host"] = self.host
        forwarded.headers["X-Forwarded-Proto"] = "https"
        forwarded.headers["X-Forwarded-Host"] = self.host
        forwarded.headers["X-Forwarded-Port"] = "443"
        response = super().send(forwarded, **kwargs)
        response.url = request.url
        response.request = request
        return response


def ingress_session(host: str, backend: int | Sequence[Route]) -> requests.Session:
    """A session whose requests to ``https://<host>/`` go through :class:`IngressAdapter`."""
    session = requests.Session()
    session.mount(f"https://{host}/", IngressAdapter(host, backend))
    return session
