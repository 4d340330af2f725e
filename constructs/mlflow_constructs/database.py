"""PostgreSQL behind the tracking and model-registry stores: bundled, CloudNativePG or external.

Whatever the type, the result is a :class:`DatabaseAccess`: the env vars that give the MLflow process
its store URIs (from Secrets, never in args) and the labels of the database pods for NetworkPolicies.
Bundled and CloudNativePG URIs carry no password: libpq reads it from ``PGPASSWORD``, so a password
with any character works and the URI itself is not secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from constructs import Construct

from mlflow_constructs.config import Environment
from mlflow_constructs.credentials import Credentials
from mlflow_constructs.naming import Naming
from mlflow_constructs.objects import k8s_object
from mlflow_constructs.security import (
    CONTAINER_SECURITY_CONTEXT,
    empty_dir,
    exec_probe,
    literal_env,
    resources,
    secret_env,
)
from mlflow_constructs.workloads import claim_template, pod_spec, pod_template, service, stateful_set

POSTGRES_PORT = 5432


@dataclass(frozen=True)
class DatabaseAccess:
    """How a pod reaches the tracking database."""

    env: list[dict[str, Any]]
    pod_selector: dict[str, str] | None = None
    auth_database_uri: str | None = None  # derived (no password) where this project creates the database
    operator_namespace: str | None = None  # an operator that must reach the database pods


def store_env(uri: str) -> list[dict[str, Any]]:
    return literal_env({"MLFLOW_BACKEND_STORE_URI": uri, "MLFLOW_REGISTRY_STORE_URI": uri})


def psycopg2_uri(*, user: str, host: str, database: str) -> str:
    return f"postgresql+psycopg2://{user}@{host}:{POSTGRES_PORT}/{database}"


class BundledPostgres(Construct):
    """A single-instance PostgreSQL StatefulSet with a PVC, for self-contained environments."""

    def __init__(
        self, scope: Construct, id: str, *, env: Environment, naming: Naming, credentials: Credentials
    ) -> None:
        super().__init__(scope, id)
        cfg = env.database.bundled
        self.service_name = naming.name("postgresql")
        self.selector = naming.selector("postgresql")
        labels = naming.labels("postgresql")
        password = credentials.ref("postgres_password")
        init_sql = f'CREATE DATABASE "{env.database.auth_name}" OWNER "{cfg.user}";\n'
        init_name = naming.name("postgresql-init")
        k8s_object(
            self,
            "init",
            api_version="v1",
            kind="ConfigMap",
            name=init_name,
            labels=labels,
            data={"10-databases.sql": init_sql},
        )
        service(
            self,
            "service",
            name=self.service_name,
            labels=labels,
            selector=self.selector,
            ports={"postgres": POSTGRES_PORT},
            headless=True,
        )
        ready = ["pg_isready", "-h", "127.0.0.1", "-U", cfg.user, "-d", env.database.name]
        container = {
            "name": "postgresql",
            "image": cfg.image.ref,
            "imagePullPolicy": cfg.image.pull_policy,
            "ports": [{"name": "postgres", "containerPort": POSTGRES_PORT}],
            "env": [
                *literal_env(
                    {
                        "POSTGRES_USER": cfg.user,
                        "POSTGRES_DB": env.database.name,
                        "PGDATA": "/var/lib/postgresql/data/pgdata",
                    }
                ),
                secret_env("POSTGRES_PASSWORD", password),
            ],
            "resources": resources(cfg.resources),
            "securityContext": CONTAINER_SECURITY_CONTEXT,
            "startupProbe": exec_probe(ready, period=5, failures=60),
            "livenessProbe": exec_probe(ready, period=20, failures=3),
            "readinessProbe": exec_probe(ready, period=10, failures=3),
            "volumeMounts": [
                {"name": "data", "mountPath": "/var/lib/postgresql/data"},
                {"name": "init", "mountPath": "/docker-entrypoint-initdb.d", "readOnly": True},
                {"name": "run", "mountPath": "/var/run/postgresql"},
                {"name": "tmp", "mountPath": "/tmp"},
            ],
        }
        volumes = [
            {"name": "init", "configMap": {"name": init_name}},
            empty_dir("run", "16Mi"),
            empty_dir("tmp", "256Mi"),
        ]
        stateful_set(
            self,
            "statefulset",
            name=self.service_name,
            labels=labels,
            selector=self.selector,
            template=pod_template(labels, pod_spec(containers=[container], volumes=volumes)),
            claims=[claim_template(size=cfg.storage_size, storage_class=cfg.storage_class, labels=labels)],
        )
        uri = psycopg2_uri(user=cfg.user, host=self.service_name, database=env.database.name)
        self.access = DatabaseAccess(
            env=[secret_env("PGPASSWORD", password), *store_env(uri)],
            pod_selector=self.selector,
            auth_database_uri=psycopg2_uri(user=cfg.user, host=self.service_name, database=env.database.auth_name),
        )


class ExternalDatabase(Construct):
    """A database run elsewhere; its URI comes from a key of the environment's Secret, or through the
    oidc plugin's providers (mounted files, cloud) when those deliver it."""

    def __init__(self, scope: Construct, id: str, *, credentials: Credentials, uri_via_plugin: bool) -> None:
        super().__init__(scope, id)
        if uri_via_plugin:
            self.access = DatabaseAccess(env=[])
            return
        uri = credentials.ref("database_uri")
        self.access = DatabaseAccess(
            env=[secret_env("MLFLOW_BACKEND_STORE_URI", uri), secret_env("MLFLOW_REGISTRY_STORE_URI", uri)]
        )


def build_database(
    scope: Construct, *, env: Environment, naming: Naming, credentials: Credentials, uri_via_plugin: bool
) -> DatabaseAccess:
    """The database selected by ``database.type``."""
    if env.database.type == "bundled":
        return BundledPostgres(scope, "database", env=env, naming=naming, credentials=credentials).access
    if env.database.type == "cloudnativepg":
        from mlflow_constructs.cloudnativepg import CloudNativePgDatabase  # noqa: PLC0415  (CRD bindings load slowly)

        return CloudNativePgDatabase(scope, "database", env=env, naming=naming).access
    return ExternalDatabase(scope, "database", credentials=credentials, uri_via_plugin=uri_via_plugin).access
