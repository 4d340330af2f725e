"""HTTPRoutes as a Gateway applies them, for the stand-ins that play the Gateway here
(:class:`tls_ingress.TlsIngress` for real clients, :class:`ingress_client.IngressAdapter` for ``requests``).

There is no Gateway implementation on this machine. :func:`http_routes` reads the synthesized HTTPRoute
objects: each rule's ``hostnames`` and ``PathPrefix`` matches, and its backendRef, a Service port resolved to
the container port behind it (:func:`scenario.pod_port`: a Gateway's proxy reaches the pods). :func:`route_for`
picks what a Gateway would: a route whose hostnames hold the request's host and whose prefix matches its
path element-wise (``/mlflow`` matches ``/mlflow`` and ``/mlflow/x``, not ``/mlflowx``), the longest prefix
first; none means the 404 a Gateway answers when no route matches.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from scenario import pod_port


@dataclass(frozen=True)
class Route:
    """Requests for one of ``hostnames`` below ``prefix`` go to 127.0.0.1:``port``."""

    hostnames: tuple[str, ...]
    prefix: str
    port: int

    def serves(self, host: str, path: str) -> bool:
        host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        if not any(host == name or (name.startswith("*.") and fnmatch.fnmatch(host, name)) for name in self.hostnames):
            return False
        prefix = self.prefix.rstrip("/")
        path = path.split("?", 1)[0]
        return not prefix or path == prefix or path.startswith(prefix + "/")


def route_for(routes: Iterable[Route], host: str, path: str) -> Route | None:
    """The route a Gateway sends this request to (the longest matching prefix), or None: 404."""
    matching = [route for route in routes if route.serves(host, path)]
    return max(matching, key=lambda route: len(route.prefix), default=None)


def whole_host(host: str, port: int) -> list[Route]:
    """Everything for ``host`` to ``port``: what an Ingress with one ``/`` path does."""
    return [Route((host,), "/", port)]


def http_routes(objects: Sequence[dict]) -> list[Route]:
    """Every PathPrefix match of every HTTPRoute rule in ``objects``, with the pod port behind its backend."""
    found = []
    for route in (o for o in objects if o["kind"] == "HTTPRoute"):
        spec = route["spec"]
        for rule in spec["rules"]:
            (backend,) = rule["backendRefs"]
            assert backend.get("kind", "Service") == "Service", backend
            port = pod_port(list(objects), backend["name"], backend["port"])
            for match in rule.get("matches") or [{"path": {"type": "PathPrefix", "value": "/"}}]:
                assert match["path"]["type"] == "PathPrefix", match
                found.append(Route(tuple(spec["hostnames"]), match["path"]["value"], port))
    assert found, "no HTTPRoute in the manifests"
    return found
