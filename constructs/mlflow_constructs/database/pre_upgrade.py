"""How the migration Job backs the databases up before it migrates them (``schema_scripts/upgrade.py``).

Bundled PostgreSQL: a ``pg-dump`` sidecar of the database's image (``PostgresDumps.pre_upgrade``).
CloudNativePG with backups: an on-demand ``Backup`` of the cluster through its Barman Cloud Plugin, which
the Job creates with a ServiceAccount of its own allowed to do just that (:class:`CnpgUpgradeBackups`).
Otherwise (an external database, backups off) the Job refuses to migrate unless the operator confirmed a
backup of their own for the image being rolled out (``database.upgrade.backup_taken_for_image``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cdk8s_plus_27 import k8s
from constructs import Construct

from mlflow_constructs.k8s.naming import Naming
from mlflow_constructs.k8s.objects import account_with_role, api_token_mount, api_token_volume

CNPG_GROUP = "postgresql.cnpg.io"


@dataclass(frozen=True)
class PreUpgradeBackup:
    """What the migration Job adds to take the backup: ``mode`` (``pg-dump``, ``cloudnativepg`` or ``none``),
    settings, env and mounts of its ``upgrade`` container, volumes, the ``pg-dump`` sidecar, and the
    ServiceAccount whose token the ``upgrade`` container alone mounts (only to create a CloudNativePG
    ``Backup``)."""

    mode: str = "none"
    confirmed: bool = False
    settings: Mapping[str, str] = field(default_factory=dict)
    env: tuple[k8s.EnvVar, ...] = ()
    mounts: tuple[k8s.VolumeMount, ...] = ()
    volumes: tuple[k8s.Volume, ...] = ()
    sidecar: k8s.Container | None = None
    service_account: str | None = None

    def env_settings(self) -> dict[str, str]:
        return {"BACKUP": self.mode, "BACKUP_CONFIRMED": str(self.confirmed).lower(), **self.settings}


NO_BACKUP = PreUpgradeBackup()


class CnpgUpgradeBackups(Construct):
    """A ServiceAccount ``<name>-migrate`` that may create and read ``Backup`` objects in the namespace and
    nothing else; ``backup`` is what the migration Job needs to take one of ``cluster`` with ``plugin``."""

    def __init__(
        self, scope: Construct, id: str, *, naming: Naming, cluster: str, plugin: str, confirmed: bool
    ) -> None:
        super().__init__(scope, id)
        name = naming.name("migrate")
        labels = naming.labels("mlflow-migrate")
        account_with_role(
            self,
            name=name,
            labels=labels,
            why="the migration Job creates an on-demand CloudNativePG Backup before it migrates",
            rules=[k8s.PolicyRule(api_groups=[CNPG_GROUP], resources=["backups"], verbs=["create", "get"])],
        )
        self.backup = PreUpgradeBackup(
            mode="cloudnativepg",
            confirmed=confirmed,
            settings={"CNPG_CLUSTER": cluster, "CNPG_PLUGIN": plugin},
            mounts=(api_token_mount(),),
            volumes=(api_token_volume(),),
            service_account=name,
        )
