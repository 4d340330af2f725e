"""Config of the ``mlflow server`` process and its metrics."""

from __future__ import annotations

from ipaddress import IPv4Address

from pydantic import Field, HttpUrl, IPvAnyAddress, model_validator

from mlflow_constructs import images
from mlflow_constructs.config.base import Image, Model, Resources, resources_of
from mlflow_constructs.config.types import Duration, Port


class Autoscaling(Model):
    """A HorizontalPodAutoscaler on CPU; replaces ``server.replicas`` when enabled."""

    enabled: bool = False
    min_replicas: int = Field(2, ge=1)
    max_replicas: int = Field(5, ge=1)
    target_cpu_utilization: int = Field(70, ge=1, le=100)

    @model_validator(mode="after")
    def _bounds(self) -> Autoscaling:
        if self.max_replicas < self.min_replicas:
            raise ValueError("max_replicas must be >= min_replicas")
        return self


class Server(Model):
    """The ``mlflow server`` process."""

    image: Image = Field(default_factory=lambda: Image.of(images.MLFLOW))
    replicas: int = Field(1, ge=1, le=50)
    host: IPvAnyAddress = IPv4Address("0.0.0.0")
    port: Port = 5000
    workers: int = Field(1, ge=1, le=16)
    resources: Resources = Field(default_factory=lambda: resources_of("250m", "768Mi", "1", "1536Mi"))
    extra_allowed_hosts: tuple[str, ...] = ()
    cors_allowed_origins: tuple[HttpUrl, ...] = ()
    job_execution: bool = False
    autoscaling: Autoscaling = Field(default_factory=Autoscaling)
    service_account_annotations: dict[str, str] = Field(default_factory=dict)
    pod_annotations: dict[str, str] = Field(default_factory=dict)

    @property
    def max_pods(self) -> int:
        return self.autoscaling.max_replicas if self.autoscaling.enabled else self.replicas


class Metrics(Model):
    """Prometheus metrics from ``--expose-prometheus`` and a ServiceMonitor that scrapes them."""

    enabled: bool = False
    service_monitor: bool = True
    interval: Duration = "30s"
    service_monitor_labels: dict[str, str] = Field(default_factory=dict)
    scraper_namespace_labels: dict[str, str] = Field(
        default_factory=lambda: {"kubernetes.io/metadata.name": "monitoring"}
    )
