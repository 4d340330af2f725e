"""What a pod needs to reach the tracking database: the handle every database construct exposes."""

from __future__ import annotations

from dataclasses import dataclass

from cdk8s_plus_27 import k8s

from mlflow_constructs.k8s.pods import SecretRef, env_values

POSTGRES_PORT = 5432


@dataclass(frozen=True)
class DatabaseAccess:
    """How a pod reaches the tracking database, and what may reach the database pods."""

    env: tuple[k8s.EnvVar, ...]
    pod_selector: dict[str, str] | None = None  # database pods this project runs (for NetworkPolicies)
    auth_database_uri: str | None = None  # derived (no password) where this project creates the database
    operator_namespace: str | None = None  # an operator that must reach the database pods
    secret_keys: tuple[str, ...] = ()  # logical keys read from the environment's Secret
    secret_refs: tuple[SecretRef, ...] = ()  # keys of a Secret named in the database's own section
    port: int = POSTGRES_PORT
    read_replica_env: tuple[k8s.EnvVar, ...] = ()  # the server's read replica, beside ``env``
    registry_store: bool = False  # ``env`` names a model-registry database of its own (migrated like tracking)


READ_REPLICA_VARIABLE = "MLFLOW_READ_REPLICA_BACKEND_STORE_URI"  # `mlflow server --read-replica-backend-store-uri`
TRACKING_STORE_VARIABLE = "MLFLOW_BACKEND_STORE_URI"  # `mlflow server --backend-store-uri`
REGISTRY_STORE_VARIABLE = "MLFLOW_REGISTRY_STORE_URI"  # `mlflow server --registry-store-uri`


def store_env(
    *, user: str | None, host: str, database: str, registry_database: str | None = None, port: int = POSTGRES_PORT
) -> list[k8s.EnvVar]:
    """The tracking store's URI (``database`` on ``host``, :func:`psycopg2_uri`), and the model registry's:
    ``registry_database`` on the same server when it has one, else the same URI."""
    uri = psycopg2_uri(user=user, host=host, port=port, database=database)
    registry = psycopg2_uri(user=user, host=host, port=port, database=registry_database) if registry_database else uri
    return env_values({TRACKING_STORE_VARIABLE: uri, REGISTRY_STORE_VARIABLE: registry})


def psycopg2_uri(*, user: str | None, host: str, database: str, port: int = POSTGRES_PORT) -> str:
    """A URI without password: libpq reads it from ``PGPASSWORD``, so it may hold any character; without
    ``user``, libpq reads the user name from ``PGUSER`` as well."""
    return f"postgresql+psycopg2://{f'{user}@' if user else ''}{host}:{port}/{database}"
