"""A database run elsewhere: reached through URIs kept in the environment's Secret, or by host and port with
the user name and password from a Secret (``database.external``)."""

from __future__ import annotations

from constructs import Construct

from mlflow_constructs.config.database import ExternalPostgres
from mlflow_constructs.database.access import (
    READ_REPLICA_VARIABLE,
    REGISTRY_STORE_VARIABLE,
    TRACKING_STORE_VARIABLE,
    DatabaseAccess,
    psycopg2_uri,
    store_env,
)
from mlflow_constructs.k8s.pods import secret_env
from mlflow_constructs.secrets.source import SecretSource

URI_KEY = "database_uri"
READ_REPLICA_KEY = "read_replica_database_uri"
REGISTRY_KEY = "registry_database_uri"


class ExternalDatabase(Construct):
    """No objects: ``access`` reads the URI from the Secret key ``database_uri`` (and with ``read_replica`` a
    standby's from ``read_replica_database_uri``). With ``uri_from_plugin`` the oidc plugin's providers
    (mounted files, cloud) deliver the primary's URI instead (a registry's still comes from the Secret). With
    ``config`` (``database.external``) the URIs of ``database`` and ``auth_database`` hold host, port and name
    only, and the pods read ``PGUSER`` and ``PGPASSWORD`` from the credentials' Secret: libpq takes them as they
    are, so no character of the password needs encoding, and the password is never in a URI, an argument or the
    output. With ``registry_database`` the model registry lives in a database of its own: that name on the same
    server (``config``), or the URI in the Secret key ``registry_database_uri``."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        secrets: SecretSource,
        uri_from_plugin: bool = False,
        read_replica: bool = False,
        config: ExternalPostgres | None = None,
        database: str = "",
        auth_database: str = "",
        registry_database: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        replica = (secrets.env(READ_REPLICA_VARIABLE, READ_REPLICA_KEY),) if read_replica else ()
        replica_keys = (READ_REPLICA_KEY,) if read_replica else ()
        registry = registry_database is not None
        if config is not None:
            credentials = config.credentials
            user = secrets.named(credentials.secret, credentials.username_key)
            password = secrets.named(credentials.secret, credentials.password_key)
            self.access = DatabaseAccess(
                env=(
                    secret_env("PGUSER", user),
                    secret_env("PGPASSWORD", password),
                    *store_env(
                        user=None,
                        host=config.host,
                        port=config.port,
                        database=database,
                        registry_database=registry_database,
                    ),
                ),
                auth_database_uri=psycopg2_uri(user=None, host=config.host, port=config.port, database=auth_database),
                secret_keys=replica_keys,
                secret_refs=(user, password),
                read_replica_env=replica,
                registry_store=registry,
            )
            return
        registry_keys = (REGISTRY_KEY,) if registry else ()
        if uri_from_plugin:
            self.access = DatabaseAccess(
                env=tuple(secrets.env(REGISTRY_STORE_VARIABLE, key) for key in registry_keys),
                read_replica_env=replica,
                secret_keys=(*registry_keys, *replica_keys),
                registry_store=registry,
            )
            return
        self.access = DatabaseAccess(
            env=(
                secrets.env(TRACKING_STORE_VARIABLE, URI_KEY),
                secrets.env(REGISTRY_STORE_VARIABLE, REGISTRY_KEY if registry else URI_KEY),
            ),
            secret_keys=(URI_KEY, *registry_keys, *replica_keys),
            read_replica_env=replica,
            registry_store=registry,
        )
