"""Config of the PostgreSQL database: bundled, CloudNativePG or external."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mlflow_constructs import images
from mlflow_constructs.config.base import Image, Model, Resources, resources_of
from mlflow_constructs.config.types import DnsLabel, DnsSubdomain, Quantity


class BundledPostgres(Model):
    image: Image = Field(default_factory=lambda: Image.of(images.POSTGRES))
    storage_size: Quantity = "10Gi"
    storage_class: DnsSubdomain | None = None
    user: DnsLabel = "mlflow"
    resources: Resources = Field(default_factory=lambda: resources_of("100m", "256Mi", "1", "1Gi"))


class CloudNativePg(Model):
    instances: int = Field(1, ge=1, le=9)
    storage_size: Quantity = "10Gi"
    storage_class: DnsSubdomain | None = None
    image_name: str | None = None
    user: DnsLabel = "mlflow"
    resources: Resources = Field(default_factory=lambda: resources_of("100m", "256Mi", "1", "1Gi"))
    operator_namespace: DnsLabel = "cnpg-system"


class Database(Model):
    """The PostgreSQL database behind the tracking and model-registry stores."""

    type: Literal["bundled", "external", "cloudnativepg"] = "bundled"
    name: DnsLabel = "mlflow"
    bundled: BundledPostgres = Field(default_factory=BundledPostgres)
    cloudnativepg: CloudNativePg = Field(default_factory=CloudNativePg)

    @property
    def auth_name(self) -> str:
        """The auth database (basic-auth or the oidc plugin), beside the tracking one."""
        return f"{self.name}_auth"
