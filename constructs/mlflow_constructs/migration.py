"""Schema migrations (``mlflow db upgrade``) as a Job that runs before the server rolls out.

The Job's name carries a hash of what it runs (see ``workloads.run_once_job``). Argo CD runs it as a
Sync hook between the database (wave 0) and the Deployment (wave 2); with plain ``kubectl apply`` the
server's own wait-for-database init container and restart loop cover the same ordering.
"""

from __future__ import annotations

from typing import Any

from constructs import Construct

from mlflow_constructs.config import Environment
from mlflow_constructs.credentials import PluginDelivery
from mlflow_constructs.database import DatabaseAccess
from mlflow_constructs.naming import Naming
from mlflow_constructs.security import CONTAINER_SECURITY_CONTEXT, empty_dir, resources
from mlflow_constructs.waiting import python_script, wait_for_database
from mlflow_constructs.workloads import pod_spec, pod_template, run_once_job

TMP_MOUNT = {"name": "tmp", "mountPath": "/tmp"}

# `mlflow db upgrade <uri>` run in-process, so the URI never becomes a process argument.
UPGRADE_TRACKING = """\
import os
from mlflow.db import upgrade
upgrade.main(args=[os.environ["MLFLOW_BACKEND_STORE_URI"]], prog_name="mlflow db upgrade")
"""


class MigrationJob(Construct):
    """Runs the tracking-store migration (plus any the auth mode adds) once per change."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        env: Environment,
        naming: Naming,
        database: DatabaseAccess,
        extra_containers: list[dict[str, Any]] | None = None,
        extra_volumes: list[dict[str, Any]] | None = None,
        plugin: PluginDelivery | None = None,
        service_account: str,
        pod_labels: dict[str, str] | None = None,
    ) -> None:
        super().__init__(scope, id)
        image = env.server.image
        self.selector = naming.selector("mlflow-migrate")
        labels = naming.labels("mlflow-migrate")
        plugin = plugin or PluginDelivery()
        db_env = [*database.env, *plugin.env]
        mounts = [TMP_MOUNT, *plugin.mounts]
        upgrade = {
            "name": "upgrade-tracking-db",
            "image": image.ref,
            "imagePullPolicy": image.pull_policy,
            "command": python_script(UPGRADE_TRACKING, load_providers=plugin.loads_providers),
            "env": db_env,
            "resources": resources(env.server.resources),
            "securityContext": CONTAINER_SECURITY_CONTEXT,
            "volumeMounts": mounts,
        }
        steps = [
            wait_for_database(image=image, env=db_env, mounts=mounts, load_providers=plugin.loads_providers),
            upgrade,
            *(extra_containers or []),
        ]
        *init, last = steps
        template = pod_template(
            {**labels, **(pod_labels or {})},
            pod_spec(
                service_account=service_account,
                restartPolicy="OnFailure",
                init_containers=init,
                containers=[last],
                volumes=[empty_dir("tmp", "256Mi"), *plugin.volumes, *(extra_volumes or [])],
            ),
        )
        self.job = run_once_job(self, "job", base_name=naming.name("migrate"), labels=labels, template=template)
