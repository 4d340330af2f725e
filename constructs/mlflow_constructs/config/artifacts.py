"""Config of the artifact store: PVC, S3, bundled MinIO, Azure Blob or GCS."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, HttpUrl, model_validator

from mlflow_constructs import images
from mlflow_constructs.config.base import Image, Model, Resources, resources_of
from mlflow_constructs.config.types import DnsLabel, DnsSubdomain, SecretKey, StorageAccount, StorageSize


class SecretFileRef(Model):
    """A key of the environment's Secret, mounted as a file."""

    key: SecretKey
    """Key of the environment's Secret."""


class PvcArtifacts(Model):
    size: StorageSize = "20Gi"
    """PVC size."""
    storage_class: DnsSubdomain | None = None
    """Storage class (none: the cluster default)."""
    access_mode: Literal["ReadWriteOnce", "ReadWriteMany", "ReadWriteOncePod"] = "ReadWriteOnce"
    """More than one server pod requires `ReadWriteMany`."""


class S3AccessKeys(Model):
    """The S3 access key pair kept in a Secret of its own, e.g. one an ExternalSecret of yours produces with the
    keys boto3 reads (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`)."""

    secret: DnsSubdomain | None = None
    """The Secret holding them (none: the environment's Secret, `secrets.name`). A Secret of another name is
    created by you or an operator and listed in the Namespace's prerequisites."""
    access_key_id_key: SecretKey = "AWS_ACCESS_KEY_ID"
    """Key of the access key id."""
    secret_access_key_key: SecretKey = "AWS_SECRET_ACCESS_KEY"
    """Key of the secret access key."""


class S3Artifacts(Model):
    bucket: DnsSubdomain
    """Bucket."""
    prefix: str = ""
    """Key prefix."""
    endpoint_url: HttpUrl | None = None
    """S3-compatible endpoint (`MLFLOW_S3_ENDPOINT_URL`); none: AWS."""
    region: str | None = None
    """`AWS_DEFAULT_REGION`."""
    credentials: Literal["secret", "irsa"] = "secret"
    """`secret` (keys from the Secret) or `irsa` (needs the role annotation)."""
    access_keys: S3AccessKeys | None = None
    """`credentials: secret`: the Secret and keys of the access key pair (none: the environment's Secret, keys
    `secrets.keys.s3_access_key_id` and `s3_secret_access_key`)."""
    direct_client_access: bool | None = None
    """Whether MLflow clients can reach the S3 endpoint themselves. With proxied artifacts, `false` keeps
    every transfer on the server (no presigned URLs); none: `true` for AWS S3, `false` with an `endpoint_url`."""

    @model_validator(mode="after")
    def _keys_with_secret(self) -> S3Artifacts:
        if self.access_keys is not None and self.credentials != "secret":
            raise ValueError(
                f"access_keys: names the Secret of static keys, but credentials is {self.credentials!r} (no keys "
                "are read); remove access_keys, or set credentials: secret"
            )
        return self

    @property
    def clients_reach_store(self) -> bool:
        if self.direct_client_access is not None:
            return self.direct_client_access
        return self.endpoint_url is None


class MinioArtifacts(Model):
    bucket: DnsSubdomain = "mlflow"
    """Bucket the Job creates."""
    image: Image = Field(default_factory=lambda: Image.of(images.MINIO))
    """MinIO server image (same forms as `server.image`)."""
    client_image: Image = Field(default_factory=lambda: Image.of(images.MINIO_CLIENT))
    """Image of the bucket Job (same forms as `server.image`)."""
    storage_size: StorageSize = "20Gi"
    """PVC size."""
    storage_class: DnsSubdomain | None = None
    """Storage class (none: the cluster default)."""
    resources: Resources = Field(default_factory=lambda: resources_of("100m", "256Mi", "1", "1Gi"))
    """Container resources."""


class AzureArtifacts(Model):
    container: DnsLabel
    """Blob container."""
    storage_account: StorageAccount
    """Storage account."""
    prefix: str = ""
    """Path prefix."""
    credentials: Literal["secret", "workload-identity"] = "secret"
    """`secret` (connection string) or `workload-identity`."""


class GcsArtifacts(Model):
    bucket: DnsSubdomain
    """Bucket."""
    prefix: str = ""
    """Path prefix."""
    credentials: Literal["secret", "workload-identity"] = "secret"
    """`secret` (key file mounted, `GOOGLE_APPLICATION_CREDENTIALS`) or `workload-identity`."""


class Artifacts(Model):
    """Where run artifacts and models are stored, and whether MLflow proxies them."""

    type: Literal["pvc", "s3", "minio", "azure", "gcs"] = "minio"
    """`minio`, `s3`, `azure`, `gcs` or `pvc`."""
    proxied: bool = True
    """Clients go through MLflow (`--serve-artifacts`, `mlflow-artifacts:/`); `false` hands clients the store URI
    (they then need their own credentials)."""
    pvc: PvcArtifacts = Field(default_factory=PvcArtifacts)
    """`type: pvc`: a PersistentVolumeClaim mounted by the server."""
    s3: S3Artifacts | None = None
    """`type: s3`: an S3 (or S3-compatible) bucket."""
    minio: MinioArtifacts = Field(default_factory=MinioArtifacts)
    """`type: minio`: a bundled MinIO."""
    azure: AzureArtifacts | None = None
    """`type: azure`: Azure Blob Storage."""
    gcs: GcsArtifacts | None = None
    """`type: gcs`: Google Cloud Storage."""

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
