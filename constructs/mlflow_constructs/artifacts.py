"""Artifact storage: a PVC, S3 (or any S3-compatible endpoint), bundled MinIO, Azure Blob or GCS.

Each backend resolves to an :class:`ArtifactAccess`: the ``mlflow server`` flags that select it, the
env vars and mounts its client library needs (credentials only by reference), and what the pods
must be allowed to reach.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from constructs import Construct

from mlflow_constructs.config import Environment
from mlflow_constructs.credentials import Credentials
from mlflow_constructs.minio import BundledMinio
from mlflow_constructs.naming import Naming
from mlflow_constructs.objects import k8s_object
from mlflow_constructs.security import literal_env, secret_env

ARTIFACTS_PATH = "/mlflow/artifacts"
GCS_KEY_DIR = "/var/run/secrets/gcs"


@dataclass(frozen=True)
class ArtifactAccess:
    """What the server pod needs for its artifact backend."""

    args: list[str]
    env: list[dict[str, Any]] = field(default_factory=list)
    volumes: list[dict[str, Any]] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    pod_labels: dict[str, str] = field(default_factory=dict)
    store_selector: dict[str, str] | None = None


def _join(base: str, prefix: str) -> str:
    prefix = prefix.strip("/")
    return f"{base}/{prefix}" if prefix else base


def _server_args(destination: str, proxied: bool) -> list[str]:
    if proxied:
        return [
            "--serve-artifacts",
            "--artifacts-destination",
            destination,
            "--default-artifact-root",
            "mlflow-artifacts:/",
        ]
    return ["--no-serve-artifacts", "--default-artifact-root", destination]


class Artifacts(Construct):
    """The artifact backend selected by ``artifacts.type``; exposes ``self.access``."""

    def __init__(
        self, scope: Construct, id: str, *, env: Environment, naming: Naming, credentials: Credentials
    ) -> None:
        super().__init__(scope, id)
        cfg = env.artifacts
        builder = getattr(self, f"_{cfg.type}")
        self.access: ArtifactAccess = builder(env, naming, credentials)

    def _pvc(self, env: Environment, naming: Naming, credentials: Credentials) -> ArtifactAccess:
        cfg = env.artifacts.pvc
        spec: dict[str, Any] = {"accessModes": [cfg.access_mode], "resources": {"requests": {"storage": cfg.size}}}
        if cfg.storage_class:
            spec["storageClassName"] = cfg.storage_class
        claim_name = naming.name("artifacts")
        k8s_object(
            self,
            "pvc",
            api_version="v1",
            kind="PersistentVolumeClaim",
            name=claim_name,
            labels=naming.labels("mlflow"),
            spec=spec,
        )
        return ArtifactAccess(
            args=_server_args(ARTIFACTS_PATH, True),
            volumes=[{"name": "artifacts", "persistentVolumeClaim": {"claimName": claim_name}}],
            mounts=[{"name": "artifacts", "mountPath": ARTIFACTS_PATH}],
        )

    def _s3(self, env: Environment, naming: Naming, credentials: Credentials) -> ArtifactAccess:
        cfg = env.artifacts.s3
        assert cfg is not None
        values = {}
        if cfg.endpoint_url:
            values["MLFLOW_S3_ENDPOINT_URL"] = str(cfg.endpoint_url).rstrip("/")
        if cfg.region:
            values["AWS_DEFAULT_REGION"] = cfg.region
        creds = [] if cfg.credentials == "irsa" else self._s3_keys(credentials)
        return ArtifactAccess(
            args=_server_args(_join(f"s3://{cfg.bucket}", cfg.prefix), env.artifacts.proxied),
            env=[*creds, *literal_env(values)],
        )

    def _minio(self, env: Environment, naming: Naming, credentials: Credentials) -> ArtifactAccess:
        minio = BundledMinio(self, "minio", env=env, naming=naming, credentials=credentials)
        return ArtifactAccess(
            args=_server_args(f"s3://{minio.bucket}", True),
            env=[*self._s3_keys(credentials), *literal_env({"MLFLOW_S3_ENDPOINT_URL": minio.endpoint})],
            store_selector=minio.selector,
        )

    def _azure(self, env: Environment, naming: Naming, credentials: Credentials) -> ArtifactAccess:
        cfg = env.artifacts.azure
        assert cfg is not None
        base = f"wasbs://{cfg.container}@{cfg.storage_account}.blob.core.windows.net"
        if cfg.credentials == "secret":
            creds = [secret_env("AZURE_STORAGE_CONNECTION_STRING", credentials.ref("azure_connection_string"))]
            labels = {}
        else:  # DefaultAzureCredential picks up the federated token the webhook injects
            creds, labels = [], {"azure.workload.identity/use": "true"}
        return ArtifactAccess(
            args=_server_args(_join(base, cfg.prefix), env.artifacts.proxied), env=creds, pod_labels=labels
        )

    def _gcs(self, env: Environment, naming: Naming, credentials: Credentials) -> ArtifactAccess:
        cfg = env.artifacts.gcs
        assert cfg is not None
        args = _server_args(_join(f"gs://{cfg.bucket}", cfg.prefix), env.artifacts.proxied)
        if cfg.credentials == "workload-identity":
            return ArtifactAccess(args=args)
        ref = credentials.ref("gcs_key_json")
        return ArtifactAccess(
            args=args,
            env=literal_env({"GOOGLE_APPLICATION_CREDENTIALS": f"{GCS_KEY_DIR}/key.json"}),
            volumes=[
                {
                    "name": "gcs-key",
                    "secret": {"secretName": ref["name"], "items": [{"key": ref["key"], "path": "key.json"}]},
                }
            ],
            mounts=[{"name": "gcs-key", "mountPath": GCS_KEY_DIR, "readOnly": True}],
        )

    @staticmethod
    def _s3_keys(credentials: Credentials) -> list[dict[str, Any]]:
        return [
            secret_env("AWS_ACCESS_KEY_ID", credentials.ref("s3_access_key_id")),
            secret_env("AWS_SECRET_ACCESS_KEY", credentials.ref("s3_secret_access_key")),
        ]
