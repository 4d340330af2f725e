"""Artifacts in Azure Blob Storage, with a connection string or workload identity."""

from __future__ import annotations

from constructs import Construct

from mlflow_constructs.config.artifacts import AzureArtifacts
from mlflow_constructs.secrets.source import SecretSource
from mlflow_constructs.storage.access import ArtifactAccess, join, server_args

CONNECTION_STRING_KEY = "azure_connection_string"
WORKLOAD_IDENTITY_LABEL = {"azure.workload.identity/use": "true"}


class AzureArtifactStore(Construct):
    """No objects: ``access`` points MLflow at ``wasbs://<container>@<account>.blob.core.windows.net``."""

    def __init__(
        self, scope: Construct, id: str, *, config: AzureArtifacts, secrets: SecretSource, proxied: bool = True
    ) -> None:
        super().__init__(scope, id)
        args = server_args(
            join(f"wasbs://{config.container}@{config.storage_account}.blob.core.windows.net", config.prefix),
            proxied=proxied,
        )
        if config.credentials == "secret":
            self.access = ArtifactAccess(
                args=args,
                env=(secrets.env("AZURE_STORAGE_CONNECTION_STRING", CONNECTION_STRING_KEY),),
                secret_keys=(CONNECTION_STRING_KEY,),
            )
        else:  # DefaultAzureCredential picks up the federated token the webhook injects
            self.access = ArtifactAccess(args=args, pod_labels=dict(WORKLOAD_IDENTITY_LABEL))
