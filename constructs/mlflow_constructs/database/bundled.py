"""A single-instance PostgreSQL StatefulSet with a PVC, for self-contained environments."""

from __future__ import annotations

from constructs import Construct

from mlflow_constructs.config.database import BundledPostgres as BundledPostgresConfig
from mlflow_constructs.database.access import POSTGRES_PORT, DatabaseAccess, psycopg2_uri, store_env
from mlflow_constructs.k8s.naming import Naming
from mlflow_constructs.k8s.objects import claim_template, config_map, service, stateful_set
from mlflow_constructs.k8s.pods import (
    TMP_MOUNT,
    Probes,
    config_map_volume,
    container,
    empty_dir,
    env_values,
    exec_probe,
    mount,
    pod_template,
    resources,
)
from mlflow_constructs.secrets.source import SecretSource

PASSWORD_KEY = "postgres_password"


class BundledPostgres(Construct):
    """PostgreSQL holding the tracking database ``database`` and the auth database ``auth_database``.

    ``access`` is what MLflow's pods need; the password comes from the Secret key ``postgres_password``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: BundledPostgresConfig,
        naming: Naming,
        secrets: SecretSource,
        database: str,
        auth_database: str,
    ) -> None:
        super().__init__(scope, id)
        component = naming.component("postgresql")
        self.service_name, self.selector, labels = component.name, component.selector, component.labels
        init_name = naming.name("postgresql-init")
        config_map(
            self,
            "init",
            name=init_name,
            labels=labels,
            data={"10-databases.sql": f'CREATE DATABASE "{auth_database}" OWNER "{config.user}";\n'},
        )
        service(self, "service", component=component, ports={"postgres": POSTGRES_PORT}, headless=True)
        ready = ["pg_isready", "-h", "127.0.0.1", "-U", config.user, "-d", database]
        postgres = container(
            "postgresql",
            config.image,
            ports={"postgres": POSTGRES_PORT},
            env=[
                *env_values(
                    {"POSTGRES_USER": config.user, "POSTGRES_DB": database, "PGDATA": "/var/lib/postgresql/data/pgdata"}
                ),
                secrets.env("POSTGRES_PASSWORD", PASSWORD_KEY),
            ],
            resources=resources(config.resources),
            probes=Probes(
                startup=exec_probe(ready, period=5, failures=60),
                liveness=exec_probe(ready, period=20, failures=3),
                readiness=exec_probe(ready, period=10, failures=3),
            ),
            mounts=[
                mount("data", "/var/lib/postgresql/data"),
                mount("init", "/docker-entrypoint-initdb.d", read_only=True),
                mount("run", "/var/run/postgresql"),
                TMP_MOUNT,
            ],
        )
        stateful_set(
            self,
            "statefulset",
            component=component,
            template=pod_template(
                labels,
                containers=[postgres],
                volumes=[config_map_volume("init", init_name), empty_dir("run", "16Mi"), empty_dir("tmp", "256Mi")],
            ),
            claims=[claim_template(size=config.storage_size, storage_class=config.storage_class, labels=labels)],
        )
        uri = psycopg2_uri(user=config.user, host=self.service_name, database=database)
        self.access = DatabaseAccess(
            env=(secrets.env("PGPASSWORD", PASSWORD_KEY), *store_env(uri)),
            pod_selector=self.selector,
            auth_database_uri=psycopg2_uri(user=config.user, host=self.service_name, database=auth_database),
            secret_keys=(PASSWORD_KEY,),
        )
