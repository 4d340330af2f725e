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
REGISTRY_SCRIPT = "20-registry-database.sql"
REGISTRY_ON_START = (  # bounded like the startup probe (5 minutes): a failed hook restarts the container
    'i=0; until pg_isready -q -h 127.0.0.1 -U "$POSTGRES_USER" -d "$POSTGRES_DB"; do '
    'i=$((i+1)); [ "$i" -lt 150 ] || exit 1; sleep 2; done; '
    'PGPASSWORD="$POSTGRES_PASSWORD" exec psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U "$POSTGRES_USER" '
    f'-d "$POSTGRES_DB" -f /docker-entrypoint-initdb.d/{REGISTRY_SCRIPT}'
)


def create_if_missing(database: str, owner: str) -> str:
    """psql script creating ``database`` owned by ``owner`` unless it exists (run at init and on every start)."""
    return (
        f"SELECT format('CREATE DATABASE %I OWNER %I', '{database}', '{owner}')\n"
        f"WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{database}')\\gexec\n"
    )


class BundledPostgres(Construct):
    """PostgreSQL holding the tracking database ``database``, the auth database ``auth_database`` and, with
    ``registry_database``, the model registry's database.

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
        registry_database: str | None = None,
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
            data={
                "10-databases.sql": f'CREATE DATABASE "{auth_database}" OWNER "{config.user}";\n',
                **({REGISTRY_SCRIPT: create_if_missing(registry_database, config.user)} if registry_database else {}),
            },
        )
        service(self, "service", component=component, ports={"postgres": POSTGRES_PORT}, headless=True)
        ready = ["pg_isready", "-h", "127.0.0.1", "-U", config.user, "-d", database]
        # The image runs the init scripts on an empty data directory only: on an existing one the registry
        # database is made once the server listens on TCP (never during the init, whose server does not).
        make_registry = ["sh", "-c", REGISTRY_ON_START] if registry_database else None
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
            post_start=make_registry,
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
        stores = store_env(
            user=config.user, host=self.service_name, database=database, registry_database=registry_database
        )
        self.access = DatabaseAccess(
            env=(secrets.env("PGPASSWORD", PASSWORD_KEY), *stores),
            pod_selector=self.selector,
            auth_database_uri=psycopg2_uri(user=config.user, host=self.service_name, database=auth_database),
            secret_keys=(PASSWORD_KEY,),
            registry_store=registry_database is not None,
        )
