"""Config of how traffic reaches MLflow: Ingress or IngressRoute, and NetworkPolicies."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from mlflow_constructs.config.base import Model
from mlflow_constructs.config.types import Annotations, DnsSubdomain, Hostname, Labels


class Tls(Model):
    secret_name: DnsSubdomain


class Ingress(Model):
    """How traffic reaches MLflow from outside the cluster."""

    enabled: bool = False
    kind: Literal["ingress", "traefik"] = "ingress"
    class_name: DnsSubdomain | None = None
    hosts: tuple[Hostname, ...] = ()
    tls: Tls | None = None
    annotations: Annotations = Field(default_factory=dict)
    traefik_entry_points: tuple[str, ...] = ("websecure",)

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
    ingress_from_namespaces: Labels = Field(default_factory=dict)
