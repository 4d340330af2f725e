"""The Host headers and CORS origins MLflow 3 accepts (it answers 403 to any other Host)."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from mlflow_constructs.k8s.naming import Naming


def allowed_hosts(
    naming: Naming,
    services: Sequence[str],
    public_urls: Sequence[str],
    extra: Sequence[str],
    pod_ip_patterns: Sequence[str],
) -> list[str]:
    """Loopback, every in-cluster name of ``services``, the public hosts, ``extra``, each with any port;
    then ``pod_ip_patterns`` (kubelet probes and Prometheus send the pod IP as Host header)."""
    names = ["localhost", "127.0.0.1"]
    for service_name in services:
        names += naming.service_hosts(service_name)
    names += [urlsplit(url).hostname or url for url in public_urls]
    names += list(extra)
    hosts: list[str] = []
    for name in names:
        hosts += [name, f"{name}:*"]
    return [*dict.fromkeys(hosts), *pod_ip_patterns]


def cors_origins(public_urls: Sequence[str], extra: Sequence[str]) -> list[str]:
    """The public URLs (but a wildcard host's: an Origin is one host, ``https://*.example.org`` matches none) and
    ``extra``."""
    exact = [url for url in public_urls if "*" not in url]
    return list(dict.fromkeys([*exact, *(str(origin).rstrip("/") for origin in extra)]))
