"""A database run elsewhere, reached through a URI kept in the environment's Secret."""

from __future__ import annotations

from constructs import Construct

from mlflow_constructs.database.access import DatabaseAccess
from mlflow_constructs.secrets.source import SecretSource

URI_KEY = "database_uri"


class ExternalDatabase(Construct):
    """No objects: ``access`` reads the URI from the Secret key ``database_uri``. With
    ``uri_from_plugin`` the oidc plugin's providers (mounted files, cloud) deliver it instead."""

    def __init__(self, scope: Construct, id: str, *, secrets: SecretSource, uri_from_plugin: bool = False) -> None:
        super().__init__(scope, id)
        if uri_from_plugin:
            self.access = DatabaseAccess(env=())
            return
        self.access = DatabaseAccess(
            env=(secrets.env("MLFLOW_BACKEND_STORE_URI", URI_KEY), secrets.env("MLFLOW_REGISTRY_STORE_URI", URI_KEY)),
            secret_keys=(URI_KEY,),
        )
