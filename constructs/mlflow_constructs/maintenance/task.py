"""A scheduled task of the MLflow image: a CronJob whose pod reaches the tracking database and the artifact
store as the server does (its ServiceAccount, credentials and store mounts) and, like every pod that writes
to MLflow's database, starts only on a schema at its image's head (the ``wait-for-schema`` gate)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from cdk8s_plus_27 import k8s
from constructs import Construct

from mlflow_constructs.config.base import Resources
from mlflow_constructs.k8s.naming import Component, Naming
from mlflow_constructs.k8s.objects import cron_job
from mlflow_constructs.k8s.pods import TMP_MOUNT, container, empty_dir, env_values, pod_template, resources
from mlflow_constructs.server.addon import ServerAddon
from mlflow_constructs.server.pod import ServerPod, telemetry_settings
from mlflow_constructs.server.schema import SCHEMA_DIR, SchemaScripts, wait_for_schema
from mlflow_constructs.storage.access import ArtifactAccess

# Prepended to every task: with the oidc plugin delivering the store URIs (mounted files, cloud providers), the
# schema scripts' loader puts them into the environment first, as the server's wrapper does.
LOAD_STORES = f"""import sys
sys.path.insert(0, "{SCHEMA_DIR}")
import stores
stores.load_plugin_providers()
"""


@dataclass(frozen=True)
class ServerContext:
    """What a task shares with the server: its pod (image, credentials, ServiceAccount), names, the schema
    scripts, the artifact store, and the server pods' labels (``server_selector``)."""

    pod: ServerPod
    naming: Naming
    scripts: SchemaScripts
    artifacts: ArtifactAccess
    server_selector: Mapping[str, str]


def scheduled_task(
    scope: Construct,
    id: str,
    *,
    component: Component,
    server: ServerContext,
    schedule: str,
    config: Resources,
    script: str,
    settings: Mapping[str, str],
    volumes: Sequence[k8s.Volume] = (),
    mounts: Sequence[k8s.VolumeMount] = (),
) -> None:
    """The CronJob ``component.name`` running ``script`` (Python, in the image's interpreter) with ``settings`` as
    env, beside the server's store access (``server``). With a ``ReadWriteOnce`` artifacts volume the pod runs on
    the node of the server pod (``server_selector``), the one node that can mount it."""
    pod, naming, scripts, artifacts = server.pod, server.naming, server.scripts, server.artifacts
    image, plugin = pod.config.image, pod.addon.plugin
    # The tracking database is the store these tasks write: the gate waits for it alone (not for the auth
    # mode's own database), reading its URI as the auth mode delivers it.
    tracking = replace(pod, addon=ServerAddon(plugin=plugin))
    gate = wait_for_schema(
        image=image, naming=naming, scripts=scripts, env=tracking.schema_env(), mounts=tracking.schema_mounts()
    )
    loader = {"LOAD_PLUGIN_PROVIDERS": "true"} if plugin.loads_providers else {}
    task = container(
        component.name.removeprefix(f"{naming.name()}-"),
        image,
        command=["python", "-c", LOAD_STORES + script],
        env=[
            *pod.database.env,
            *plugin.env,
            *artifacts.env,
            *env_values({**telemetry_settings(pod.config), "HOME": "/tmp", **loader, **settings}),
        ],
        resources=resources(config),
        mounts=[TMP_MOUNT, *plugin.mounts, *artifacts.mounts, scripts.mount, *mounts],
    )
    affinity = None
    if artifacts.single_attach:
        affinity = k8s.Affinity(
            pod_affinity=k8s.PodAffinity(
                required_during_scheduling_ignored_during_execution=[
                    k8s.PodAffinityTerm(
                        label_selector=k8s.LabelSelector(match_labels=dict(server.server_selector)),
                        topology_key="kubernetes.io/hostname",
                    )
                ]
            )
        )
    template = pod_template(
        {**component.labels, **artifacts.pod_labels, **pod.pod_labels},
        service_account=pod.service_account,
        restart_policy="Never",
        init_containers=[gate],
        containers=[task],
        volumes=[empty_dir("tmp", "1Gi"), *plugin.volumes, *artifacts.volumes, scripts.volume, *volumes],
        affinity=affinity,
    )
    cron_job(scope, id, component=component, schedule=schedule, template=template)
