"""CloudNativePG backups through the Barman Cloud Plugin: an ``ObjectStore`` (base backups and WAL, with a
retention policy) and a ``ScheduledBackup``. The Cluster refers to the store in its ``spec.plugins``
(:data:`PLUGIN`, :meth:`CnpgBackup.cluster_plugin`); the plugin must be installed in the cluster."""

from __future__ import annotations

from constructs import Construct

from mlflow_constructs.config.database import BackupObjectStore, DatabaseBackup
from mlflow_constructs.k8s.naming import Naming
from mlflow_constructs.secrets.source import SecretSource

PLUGIN = "barman-cloud.cloudnative-pg.io"

# Secret credentials per cloud: ObjectStore credential field -> logical key of the environment's Secret.
SECRET_KEYS = {
    "s3": {"access_key_id": "s3_access_key_id", "secret_access_key": "s3_secret_access_key"},
    "azure": {"connection_string": "azure_connection_string"},
    "gcs": {"application_credentials": "gcs_key_json"},
}
# Workload identity per cloud: the ObjectStore credential flag.
INHERITED = {"s3": "inherit_from_iam_role", "azure": "inherit_from_azure_ad", "gcs": "gke_environment"}


def seconds_cron(schedule: str) -> str:
    """A 5-field cron expression as the 6-field one (seconds first) ScheduledBackup expects."""
    return f"0 {schedule}"


class CnpgBackup(Construct):
    """``ObjectStore`` ``<cluster>-backups`` and ``ScheduledBackup`` ``<cluster>-scheduled`` of one Cluster."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: DatabaseBackup,
        store: BackupObjectStore,
        naming: Naming,
        secrets: SecretSource,
        cluster_name: str,
    ) -> None:
        super().__init__(scope, id)
        from mlflow_constructs.imports.barman_objectstores.io.cnpg.barmancloud import (  # noqa: PLC0415  (CRD bindings load slowly)
            ObjectStore,
            ObjectStoreSpec,
            ObjectStoreSpecConfiguration,
            ObjectStoreSpecConfigurationAzureCredentials,
            ObjectStoreSpecConfigurationData,
            ObjectStoreSpecConfigurationDataCompression,
            ObjectStoreSpecConfigurationGoogleCredentials,
            ObjectStoreSpecConfigurationS3Credentials,
            ObjectStoreSpecConfigurationWal,
            ObjectStoreSpecConfigurationWalCompression,
        )
        from mlflow_constructs.imports.cnpg_scheduledbackups.io.cnpg.postgresql import (  # noqa: PLC0415
            ScheduledBackup,
            ScheduledBackupSpec,
            ScheduledBackupSpecBackupOwnerReference,
            ScheduledBackupSpecCluster,
            ScheduledBackupSpecMethod,
            ScheduledBackupSpecPluginConfiguration,
        )

        labels = naming.labels("postgresql-backup")
        self.store_name = f"{cluster_name}-backups"
        cloud = store.cloud
        if store.credentials == "secret":
            keys = SECRET_KEYS[cloud]
            refs = {field: secrets.ref(key) for field, key in keys.items()}
            credentials = {field: {"name": ref.name, "key": ref.key} for field, ref in refs.items()}
            self.secret_keys: tuple[str, ...] = tuple(keys.values())
        else:
            credentials = {INHERITED[cloud]: True}
            self.secret_keys = ()
        by_cloud = {
            "s3": lambda: {"s3_credentials": ObjectStoreSpecConfigurationS3Credentials(**credentials)},
            "azure": lambda: {"azure_credentials": ObjectStoreSpecConfigurationAzureCredentials(**credentials)},
            "gcs": lambda: {"google_credentials": ObjectStoreSpecConfigurationGoogleCredentials(**credentials)},
        }
        ObjectStore(
            self,
            "object-store",
            metadata={"name": self.store_name, "labels": labels},
            spec=ObjectStoreSpec(
                retention_policy=config.retention,
                configuration=ObjectStoreSpecConfiguration(
                    destination_path=store.destination_path,
                    endpoint_url=str(store.endpoint_url).rstrip("/") if store.endpoint_url else None,
                    wal=ObjectStoreSpecConfigurationWal(compression=ObjectStoreSpecConfigurationWalCompression.GZIP),
                    data=ObjectStoreSpecConfigurationData(compression=ObjectStoreSpecConfigurationDataCompression.GZIP),
                    **by_cloud[cloud](),
                ),
            ),
        )
        ScheduledBackup(
            self,
            "scheduled-backup",
            metadata={"name": f"{cluster_name}-scheduled", "labels": labels},
            spec=ScheduledBackupSpec(
                cluster=ScheduledBackupSpecCluster(name=cluster_name),
                schedule=seconds_cron(config.schedule),
                method=ScheduledBackupSpecMethod.PLUGIN,
                plugin_configuration=ScheduledBackupSpecPluginConfiguration(name=PLUGIN),
                backup_owner_reference=ScheduledBackupSpecBackupOwnerReference.SELF,
            ),
        )

    def cluster_plugin(self) -> dict:
        """Keywords of the Cluster's ``spec.plugins`` entry: archive WAL to, and back up into, the ObjectStore."""
        return {"name": PLUGIN, "is_wal_archiver": True, "parameters": {"barmanObjectName": self.store_name}}
