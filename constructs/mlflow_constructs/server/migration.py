"""Schema migrations (``mlflow db upgrade``) as a Job that runs before the server rolls out.

The Job's name carries a hash of what it runs (see ``k8s.objects.run_once_job``). Argo CD runs it as a
Sync hook between the database (wave 0) and the Deployment (wave 2); with plain ``kubectl apply`` the
server's own wait-for-database init container and restart loop cover the same ordering.
"""

from __future__ import annotations

from constructs import Construct

from mlflow_constructs.k8s.naming import Naming
from mlflow_constructs.k8s.objects import run_once_job
from mlflow_constructs.k8s.pods import TMP_MOUNT, container, empty_dir, env_values, pod_template, resources
from mlflow_constructs.server.pod import ServerPod, telemetry_settings
from mlflow_constructs.server.waiting import python_script, wait_for_database

# `mlflow db upgrade <uri>` run in-process, so the URI never becomes a process argument.
UPGRADE_TRACKING = """\
import os
from mlflow.db import upgrade
upgrade.main(args=[os.environ["MLFLOW_BACKEND_STORE_URI"]], prog_name="mlflow db upgrade")
"""


class MlflowMigration(Construct):
    """Runs the tracking-store migration (plus any the auth addon adds) once per change, as a pod of the
    MLflow image described by ``pod``.
    Handles: ``job_name`` (``<name>-migrate-<hash>``), ``selector`` (its pods)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        pod: ServerPod,
        naming: Naming,
    ) -> None:
        super().__init__(scope, id)
        config, database, addon = pod.config, pod.database, pod.addon
        self.selector = naming.selector("mlflow-migrate")
        labels = naming.labels("mlflow-migrate")
        plugin = addon.plugin
        db_env = [*database.env, *plugin.env]
        mounts = [TMP_MOUNT, *plugin.mounts]
        upgrade = container(
            "upgrade-tracking-db",
            config.image,
            command=python_script(UPGRADE_TRACKING, load_providers=plugin.loads_providers),
            env=[*db_env, *env_values(telemetry_settings(config))],
            resources=resources(config.resources),
            mounts=mounts,
        )
        steps = [
            wait_for_database(image=config.image, env=db_env, mounts=mounts, load_providers=plugin.loads_providers),
            upgrade,
            *addon.migration_containers,
        ]
        *init, last = steps
        template = pod_template(
            {**labels, **pod.pod_labels},
            service_account=pod.service_account,
            restart_policy="OnFailure",
            init_containers=init,
            containers=[last],
            volumes=[empty_dir("tmp", "256Mi"), *plugin.volumes, *addon.migration_volumes],
        )
        self.job_name = run_once_job(self, "job", base_name=naming.name("migrate"), labels=labels, template=template)
