"""Artifacts in Google Cloud Storage, with a mounted key file or workload identity."""

from __future__ import annotations

from constructs import Construct

from mlflow_constructs.config.artifacts import GcsArtifacts
from mlflow_constructs.k8s.pods import env_values, mount, secret_volume
from mlflow_constructs.secrets.source import SecretSource
from mlflow_constructs.storage.access import ArtifactAccess, join, server_args

KEY_DIR = "/var/run/secrets/gcs"
KEY_FILE_KEY = "gcs_key_json"


class GcsArtifactStore(Construct):
    """No objects: ``access`` points MLflow at ``gs://<bucket>/<prefix>``."""

    def __init__(
        self, scope: Construct, id: str, *, config: GcsArtifacts, secrets: SecretSource, proxied: bool = True
    ) -> None:
        super().__init__(scope, id)
        args = server_args(join(f"gs://{config.bucket}", config.prefix), proxied=proxied)
        if config.credentials == "workload-identity":
            self.access = ArtifactAccess(args=args)
            return
        key = secrets.ref(KEY_FILE_KEY)
        self.access = ArtifactAccess(
            args=args,
            env=tuple(env_values({"GOOGLE_APPLICATION_CREDENTIALS": f"{KEY_DIR}/key.json"})),
            volumes=(secret_volume("gcs-key", key.name, {key.key: "key.json"}),),
            mounts=(mount("gcs-key", KEY_DIR, read_only=True),),
            secret_keys=(KEY_FILE_KEY,),
        )
