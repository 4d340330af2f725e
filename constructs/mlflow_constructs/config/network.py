"""Config of how traffic reaches MLflow: Ingress or IngressRoute, and NetworkPolicies."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from mlflow_constructs.config.base import Model
from mlflow_constructs.config.types import Annotations, DnsSubdomain, Hostname, Labels


class Tls(Model):
    secret_name: DnsSubdomain
    """TLS certificate Secret; turns on `https` origins."""


class Ingress(Model):
    """How traffic reaches MLflow from outside the cluster."""

    enabled: bool = False
    """Route external traffic to MLflow."""
    kind: Literal["ingress", "traefik"] = "ingress"
    """`ingress` (networking.k8s.io/v1) or `traefik` (IngressRoute)."""
    class_name: DnsSubdomain | None = None
    """`ingressClassName`."""
    hosts: tuple[Hostname, ...] = ()
    """Host names (required when enabled); also allowed Host headers and CORS origins."""
    tls: Tls | None = None
    """TLS on the ingress."""
    annotations: Annotations = Field(default_factory=dict)
    """Ingress annotations."""
    traefik_entry_points: tuple[str, ...] = ("websecure",)
    """Entry points of the IngressRoute."""

    @model_validator(mode="after")
    def _hosts(self) -> Ingress:
        if self.enabled and not self.hosts:
            raise ValueError("hosts must list at least one host name when the ingress is enabled")
        return self

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"


class NetworkPolicies(Model):
    """NetworkPolicies: deny ingress by default, admit only the traffic each pod needs."""

    enabled: bool = True
    """Default-deny ingress in the namespace plus one allow policy per flow."""
    ingress_from_namespaces: Labels = Field(default_factory=dict)
    """Namespace labels allowed to reach MLflow's port (e.g. your ingress controller's); empty: any namespace."""
