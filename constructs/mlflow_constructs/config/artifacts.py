"""Config of the artifact store: PVC, S3, bundled MinIO, Azure Blob or GCS."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, HttpUrl, model_validator

from mlflow_constructs import images
from mlflow_constructs.config.base import Image, Model, Resources, resources_of
from mlflow_constructs.config.types import DnsLabel, DnsSubdomain, Quantity, SecretKey, StorageAccount


class SecretFileRef(Model):
    """A key of the environment's Secret, mounted as a file."""

    key: SecretKey


class PvcArtifacts(Model):
    size: Quantity = "20Gi"
    storage_class: DnsSubdomain | None = None
    access_mode: Literal["ReadWriteOnce", "ReadWriteMany", "ReadWriteOncePod"] = "ReadWriteOnce"


class S3Artifacts(Model):
    bucket: DnsSubdomain
    prefix: str = ""
    endpoint_url: HttpUrl | None = None
    region: str | None = None
    credentials: Literal["secret", "irsa"] = "secret"
    direct_client_access: bool | None = Field(
        default=None,
        description="Whether MLflow clients can reach the S3 endpoint themselves. With proxied artifacts, "
        "false keeps every transfer on the server (no presigned URLs); default: true for AWS S3, false "
        "with an endpoint_url.",
    )

    @property
    def clients_reach_store(self) -> bool:
        if self.direct_client_access is not None:
            return self.direct_client_access
        return self.endpoint_url is None


class MinioArtifacts(Model):
    bucket: DnsSubdomain = "mlflow"
    image: Image = Field(default_factory=lambda: Image.of(images.MINIO))
    client_image: Image = Field(default_factory=lambda: Image.of(images.MINIO_CLIENT))
    storage_size: Quantity = "20Gi"
    storage_class: DnsSubdomain | None = None
    resources: Resources = Field(default_factory=lambda: resources_of("100m", "256Mi", "1", "1Gi"))


class AzureArtifacts(Model):
    container: DnsLabel
    storage_account: StorageAccount
    prefix: str = ""
    credentials: Literal["secret", "workload-identity"] = "secret"


class GcsArtifacts(Model):
    bucket: DnsSubdomain
    prefix: str = ""
    credentials: Literal["secret", "workload-identity"] = "secret"


class Artifacts(Model):
    """Where run artifacts and models are stored, and whether MLflow proxies them."""

    type: Literal["pvc", "s3", "minio", "azure", "gcs"] = "minio"
    proxied: bool = True
    pvc: PvcArtifacts = Field(default_factory=PvcArtifacts)
    s3: S3Artifacts | None = None
    minio: MinioArtifacts = Field(default_factory=MinioArtifacts)
    azure: AzureArtifacts | None = None
    gcs: GcsArtifacts | None = None

    @property
    def identity(self) -> str:
        """``<type>:<credentials>`` of the selected cloud backend (``""`` for pvc and minio)."""
        backend = getattr(self, self.type) if self.type in ("s3", "azure", "gcs") else None
        return f"{self.type}:{backend.credentials}" if backend else ""

    @model_validator(mode="after")
    def _selected_backend_configured(self) -> Artifacts:
        if self.type in ("s3", "azure", "gcs") and getattr(self, self.type) is None:
            raise ValueError(f"type is {self.type!r} but the '{self.type}' section is missing")
        if self.type == "pvc" and not self.proxied:
            raise ValueError("pvc artifacts are only reachable through the server: set proxied: true")
        return self
