"""A database run elsewhere, reached through a URI kept in the environment's Secret."""

from __future__ import annotations

from constructs import Construct

from mlflow_constructs.database.access import READ_REPLICA_VARIABLE, DatabaseAccess
from mlflow_constructs.secrets.source import SecretSource

URI_KEY = "database_uri"
READ_REPLICA_KEY = "read_replica_database_uri"


class ExternalDatabase(Construct):
    """No objects: ``access`` reads the URI from the Secret key ``database_uri`` (and with ``read_replica`` a
    standby's from ``read_replica_database_uri``). With ``uri_from_plugin`` the oidc plugin's providers
    (mounted files, cloud) deliver the primary's URI instead."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        secrets: SecretSource,
        uri_from_plugin: bool = False,
        read_replica: bool = False,
    ) -> None:
        super().__init__(scope, id)
        replica = (secrets.env(READ_REPLICA_VARIABLE, READ_REPLICA_KEY),) if read_replica else ()
        replica_keys = (READ_REPLICA_KEY,) if read_replica else ()
        if uri_from_plugin:
            self.access = DatabaseAccess(env=(), read_replica_env=replica, secret_keys=replica_keys)
            return
        self.access = DatabaseAccess(
            env=(secrets.env("MLFLOW_BACKEND_STORE_URI", URI_KEY), secrets.env("MLFLOW_REGISTRY_STORE_URI", URI_KEY)),
            secret_keys=(URI_KEY, *replica_keys),
            read_replica_env=replica,
        )
