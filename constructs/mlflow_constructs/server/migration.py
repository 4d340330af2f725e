"""The migration Job: MLflow's upgrade procedure (``schema_scripts/upgrade.py``), once per change.

Its name carries a hash of its pod template (see ``k8s.objects.run_once_job``), which holds a checksum of
every setting its decisions read (the schema scripts, the auth config template), so changing one of them
runs it again. The procedure does not depend on the order objects are applied in: the server pods wait for
the schema in their ``wait-for-schema`` gate, so ``kubectl apply -f dist`` (everything at once), Flux and
Argo CD (a Sync hook in wave 1, before the server's wave 2) all end the same way.

A refusal (exit 3: nothing changed, the old servers keep serving) fails the Job at once instead of being
retried (``podFailurePolicy``); other failures are retried up to ``backoffLimit``.
"""

from __future__ import annotations

from constructs import Construct

from mlflow_constructs.database.pre_upgrade import NO_BACKUP, PreUpgradeBackup
from mlflow_constructs.k8s.hashing import digest
from mlflow_constructs.k8s.naming import Naming
from mlflow_constructs.k8s.objects import run_once_job
from mlflow_constructs.k8s.pods import container, empty_dir, env_values, pod_template, resources
from mlflow_constructs.server.pod import ServerPod
from mlflow_constructs.server.schema import SchemaScripts

REFUSED_EXIT_CODE = 3  # upgrade.py: refused before changing anything


class MlflowMigration(Construct):
    """Runs ``upgrade.py`` for the stores of the image described by ``pod`` from ``scripts`` (the server's too),
    with ``backup`` taken first (default: none, so a migration of a populated database is refused unless
    ``backup.confirmed``).
    Handles: ``job_name`` (``<name>-migrate-<hash>``), ``selector`` (its pods)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        pod: ServerPod,
        naming: Naming,
        scripts: SchemaScripts,
        backup: PreUpgradeBackup = NO_BACKUP,
    ) -> None:
        super().__init__(scope, id)
        config, addon, schema = pod.config, pod.addon, pod.addon.schema
        self.selector = naming.selector("mlflow-migrate")
        labels = naming.labels("mlflow-migrate")
        upgrade = container(
            "upgrade",
            config.image,
            command=scripts.command("upgrade.py"),
            env=[
                *pod.schema_env(),
                *pod.gateway.rotation_env,
                *schema.migration_env,
                *env_values(backup.env_settings()),
                *backup.env,
            ],
            resources=resources(config.resources),
            mounts=[*pod.schema_mounts(), scripts.mount, *backup.mounts],
        )
        sidecars = [backup.sidecar] if backup.sidecar else []
        template = pod_template(
            {**labels, **pod.pod_labels},
            service_account=backup.service_account or pod.service_account,
            restart_policy="Never",
            init_containers=[*schema.migration_init_containers, *sidecars],
            containers=[upgrade],
            volumes=[
                empty_dir("tmp", "256Mi"),
                scripts.volume,
                *addon.plugin.volumes,
                *schema.migration_volumes,
                *backup.volumes,
            ],
            annotations={"checksum/config": digest({**addon.checksum_inputs, **scripts.checksum_inputs})},
        )
        self.job_name = run_once_job(
            self,
            "job",
            base_name=naming.name("migrate"),
            labels=labels,
            template=template,
            sidecars=[c.name for c in sidecars],
            fail_on_exit_code=(upgrade.name, REFUSED_EXIT_CODE),
        )
