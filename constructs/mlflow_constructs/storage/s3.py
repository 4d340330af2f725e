"""Artifacts in an S3 bucket (AWS or any S3-compatible endpoint), with static keys or IRSA."""

from __future__ import annotations

from constructs import Construct

from mlflow_constructs.config.artifacts import S3Artifacts
from mlflow_constructs.k8s.pods import env_values
from mlflow_constructs.secrets.source import SecretSource
from mlflow_constructs.storage.access import S3_KEYS, ArtifactAccess, join, s3_key_env, server_args


class S3ArtifactStore(Construct):
    """No objects: ``access`` points MLflow at ``s3://<bucket>/<prefix>``, with the access key pair from the
    environment's Secret or, with ``access_keys``, from the Secret and keys named there."""

    def __init__(
        self, scope: Construct, id: str, *, config: S3Artifacts, secrets: SecretSource, proxied: bool = True
    ) -> None:
        super().__init__(scope, id)
        values = {}
        if config.endpoint_url:
            values["MLFLOW_S3_ENDPOINT_URL"] = str(config.endpoint_url).rstrip("/")
        if config.region:
            values["AWS_DEFAULT_REGION"] = config.region
        static_keys = config.credentials == "secret"
        own = config.access_keys
        refs = (
            (secrets.named(own.secret, own.access_key_id_key), secrets.named(own.secret, own.secret_access_key_key))
            if own
            else None
        )
        self.access = ArtifactAccess(
            args=server_args(join(f"s3://{config.bucket}", config.prefix), proxied=proxied),
            env=(*(s3_key_env(secrets, refs) if static_keys else ()), *env_values(values)),
            secret_keys=S3_KEYS if static_keys and not refs else (),
            secret_refs=refs or (),
            transfers_via_server=proxied and not config.clients_reach_store,
        )
