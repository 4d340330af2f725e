"""A CloudNativePG ``Cluster`` with the tracking database and a ``Database`` for the auth database (and one
for the model registry's, when it has a database of its own).

The operator creates the Secret ``<cluster>-app`` holding the application user's password; pods read
only its ``password`` key (as ``PGPASSWORD``) and connect through the ``<cluster>-rw`` Service.
"""

from __future__ import annotations

from constructs import Construct

from mlflow_constructs.config.database import BackupObjectStore, CloudNativePg, DatabaseBackup
from mlflow_constructs.database.access import READ_REPLICA_VARIABLE, DatabaseAccess, psycopg2_uri, store_env
from mlflow_constructs.database.cnpg_backup import CnpgBackup
from mlflow_constructs.k8s.naming import Naming
from mlflow_constructs.k8s.pods import SecretRef, env_values, secret_env
from mlflow_constructs.secrets.source import SecretSource
from mlflow_constructs.storage.azure import WORKLOAD_IDENTITY_LABEL


class CloudNativePgDatabase(Construct):
    """``postgresql.cnpg.io/v1`` Cluster + Database (needs the CloudNativePG operator); with ``backup``,
    WAL archiving and scheduled base backups to ``store`` (see :class:`CnpgBackup`); with ``read_replica``, the
    server's reads go to the standbys' ``<cluster>-ro`` Service."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: CloudNativePg,
        naming: Naming,
        database: str,
        auth_database: str,
        secrets: SecretSource,
        registry_database: str | None = None,
        backup: DatabaseBackup | None = None,
        store: BackupObjectStore | None = None,
        read_replica: bool = False,
    ) -> None:
        super().__init__(scope, id)
        from mlflow_constructs.imports.cnpg_clusters.io.cnpg.postgresql import (  # noqa: PLC0415  (CRD bindings load slowly)
            Cluster,
            ClusterSpec,
            ClusterSpecBootstrap,
            ClusterSpecBootstrapInitdb,
            ClusterSpecInheritedMetadata,
            ClusterSpecPlugins,
            ClusterSpecResources,
            ClusterSpecResourcesLimits,
            ClusterSpecResourcesRequests,
            ClusterSpecServiceAccountTemplate,
            ClusterSpecStorage,
        )
        from mlflow_constructs.imports.cnpg_databases.io.cnpg.postgresql import (  # noqa: PLC0415
            Database,
            DatabaseSpec,
            DatabaseSpecCluster,
        )

        cfg = config
        self.cluster_name = self.cluster_name_for(naming)
        labels = naming.labels("postgresql")
        res = cfg.resources
        archive = None
        if backup is not None and store is not None:
            archive = CnpgBackup(
                self,
                "backup",
                config=backup,
                store=store,
                naming=naming,
                secrets=secrets,
                cluster_name=self.cluster_name,
            )
        annotations = store.service_account_annotations if archive and store else None
        # Azure workload identity injects its token only into pods labelled for it.
        azure_identity = archive and store and store.cloud == "azure" and store.credentials == "workload-identity"
        Cluster(
            self,
            "cluster",
            metadata={"name": self.cluster_name, "labels": labels},
            spec=ClusterSpec(
                instances=cfg.instances,
                image_name=cfg.image_name,
                storage=ClusterSpecStorage(size=cfg.storage_size, storage_class=cfg.storage_class),
                bootstrap=ClusterSpecBootstrap(initdb=ClusterSpecBootstrapInitdb(database=database, owner=cfg.user)),
                plugins=[ClusterSpecPlugins(**archive.cluster_plugin())] if archive else None,
                inherited_metadata=ClusterSpecInheritedMetadata(labels=dict(WORKLOAD_IDENTITY_LABEL))
                if azure_identity
                else None,
                service_account_template=ClusterSpecServiceAccountTemplate(metadata={"annotations": dict(annotations)})
                if annotations
                else None,
                resources=ClusterSpecResources(
                    requests={
                        "cpu": ClusterSpecResourcesRequests.from_string(res.requests.cpu),
                        "memory": ClusterSpecResourcesRequests.from_string(res.requests.memory),
                    },
                    limits={
                        "cpu": ClusterSpecResourcesLimits.from_string(res.limits.cpu),
                        "memory": ClusterSpecResourcesLimits.from_string(res.limits.memory),
                    },
                ),
            ),
        )
        auth_db = auth_database
        extra = {"auth": auth_db, "registry": registry_database}
        for role, name in extra.items():
            if name is not None:
                Database(
                    self,
                    f"{role}-database",
                    metadata={"name": naming.name(f"{role}-db"), "labels": labels},
                    spec=DatabaseSpec(cluster=DatabaseSpecCluster(name=self.cluster_name), name=name, owner=cfg.user),
                )
        app_secret = f"{self.cluster_name}-app"
        host, standbys = f"{self.cluster_name}-rw", f"{self.cluster_name}-ro"
        self.access = DatabaseAccess(
            env=(
                secret_env("PGPASSWORD", SecretRef(app_secret, "password")),
                *store_env(user=cfg.user, host=host, database=database, registry_database=registry_database),
            ),
            pod_selector={"cnpg.io/cluster": self.cluster_name},
            auth_database_uri=psycopg2_uri(user=cfg.user, host=host, database=auth_db),
            operator_namespace=cfg.operator_namespace,
            secret_keys=archive.secret_keys if archive else (),
            # The operator's Service of the standbys, as the same user (PGPASSWORD above).
            read_replica_env=tuple(
                env_values({READ_REPLICA_VARIABLE: psycopg2_uri(user=cfg.user, host=standbys, database=database)})
            )
            if read_replica
            else (),
            registry_store=registry_database is not None,
        )

    @staticmethod
    def cluster_name_for(naming: Naming) -> str:
        """The ``Cluster``'s name (its Services are ``<cluster>-rw``, ``-ro``, ``-r``)."""
        return naming.name("db")
