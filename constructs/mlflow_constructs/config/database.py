"""Config of the PostgreSQL database: bundled, CloudNativePG or external."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mlflow_constructs import images
from mlflow_constructs.config.base import Image, Model, Resources, resources_of
from mlflow_constructs.config.types import DnsLabel, DnsSubdomain, Quantity


class BundledPostgres(Model):
    image: Image = Field(default_factory=lambda: Image.of(images.POSTGRES))
    """Bundled PostgreSQL image (same forms as `server.image`)."""
    storage_size: Quantity = "10Gi"
    """PVC size."""
    storage_class: DnsSubdomain | None = None
    """PVC storage class (none: the cluster default)."""
    user: DnsLabel = "mlflow"
    """Database owner."""
    resources: Resources = Field(default_factory=lambda: resources_of("100m", "256Mi", "1", "1Gi"))
    """Container resources."""


class CloudNativePg(Model):
    instances: int = Field(1, ge=1, le=9)
    """CloudNativePG instances."""
    storage_size: Quantity = "10Gi"
    """Storage per instance."""
    storage_class: DnsSubdomain | None = None
    """Storage class (none: the cluster default)."""
    image_name: str | None = None
    """PostgreSQL image (none: the operator's default)."""
    user: DnsLabel = "mlflow"
    """Application user (owner of both databases)."""
    resources: Resources = Field(default_factory=lambda: resources_of("100m", "256Mi", "1", "1Gi"))
    """Instance resources."""
    operator_namespace: DnsLabel = "cnpg-system"
    """Where the operator runs (allowed to reach the instances)."""


class Database(Model):
    """The PostgreSQL database behind the tracking and model-registry stores."""

    type: Literal["bundled", "external", "cloudnativepg"] = "bundled"
    """`bundled`, `cloudnativepg` or `external`."""
    name: DnsLabel = "mlflow"
    """Tracking database; the auth database is `<name>_auth`."""
    bundled: BundledPostgres = Field(default_factory=BundledPostgres)
    """`type: bundled`: a PostgreSQL StatefulSet."""
    cloudnativepg: CloudNativePg = Field(default_factory=CloudNativePg)
    """`type: cloudnativepg`: a CloudNativePG `Cluster`."""

    @property
    def auth_name(self) -> str:
        """The auth database (basic-auth or the oidc plugin), beside the tracking one."""
        return f"{self.name}_auth"
