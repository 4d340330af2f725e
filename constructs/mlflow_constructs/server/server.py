"""``mlflow server`` as a Deployment behind a Service, with its settings ConfigMap, PDB and HPA."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from cdk8s_plus_27 import k8s
from constructs import Construct

from mlflow_constructs.config.server import Autoscaling, Metrics
from mlflow_constructs.k8s.hashing import digest
from mlflow_constructs.k8s.naming import Component, Naming
from mlflow_constructs.k8s.objects import SERVER_WAVE, config_map, deployment, disruption_budget, meta, service
from mlflow_constructs.k8s.pods import (
    TMP_MOUNT,
    Probes,
    container,
    empty_dir,
    http_probe,
    int_or_string,
    pod_template,
    resources,
)
from mlflow_constructs.observability.exporter import METRICS_PORT_NAME, MetricsExporter, metrics_exporter
from mlflow_constructs.server.extra import extra_annotations, with_extra_env, with_extra_volumes
from mlflow_constructs.server.hosts import allowed_hosts, cors_origins
from mlflow_constructs.server.launcher import launcher_command
from mlflow_constructs.server.pod import ServerPod, telemetry_settings, workspace_settings
from mlflow_constructs.server.schema import SchemaScripts, wait_for_schema
from mlflow_constructs.server.transfers import TransfersHook, transfers_hook
from mlflow_constructs.storage.access import ArtifactAccess

HTTP_PORT_NAME = "http"


class ConfigFile(Protocol):
    """A file the server reads from a ConfigMap: its volume and mount, its path, and what a change rolls."""

    volume: k8s.Volume
    mount: k8s.VolumeMount
    path: str
    checksum_inputs: dict[str, str]


class MlflowServer(Construct):
    """The tracking server: a pod of the MLflow image (``pod``: config, database, auth addon, identity) that
    stores artifacts through ``artifacts``.

    Handles for wiring: ``service_name``, ``port``, ``port_name``, ``path_prefix`` (``server.static_prefix``,
    ``""`` for the root), ``selector`` (its pods), ``service_labels``, ``metrics_port_name`` (the Service port of
    the metrics exporter, None without ``metrics.enabled``). ``public_urls`` (``https://mlflow.example.com``)
    become allowed Host headers and CORS origins; ``also_reachable_as`` names other Services that forward to it
    (e.g. a proxy in front). The logical Secret keys the AI gateway reads (``pod.gateway``) are ``secret_keys``.
    The pods start only on databases at their image's schema, and on stored gateway keys their passphrase
    unwraps (``scripts``' ``wait-for-schema`` gate); they never migrate or re-wrap one themselves. A read
    replica the database names (``read_replica_env``) serves their reads. With ``trace_archival`` (MLflow's
    ``trace_archival`` config file) the server reads it through ``--trace-archival-config``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        pod: ServerPod,
        naming: Naming,
        artifacts: ArtifactAccess,
        scripts: SchemaScripts,
        public_urls: Sequence[str] = (),
        also_reachable_as: Sequence[str] = (),
        metrics: Metrics | None = None,
        trace_archival: ConfigFile | None = None,
    ) -> None:
        super().__init__(scope, id)
        config = pod.config
        component = naming.component("mlflow", name=naming.name())
        self.service_name, self.selector, labels = component.name, component.selector, component.labels
        self.port, self.port_name = config.port, HTTP_PORT_NAME
        self.path_prefix = config.static_prefix or ""
        self.service_labels = labels
        exporter = None
        if metrics is not None and metrics.enabled:
            exporter = metrics_exporter(image=config.image, host=str(config.host), port=metrics.port)
        self.metrics_port_name = METRICS_PORT_NAME if exporter else None
        self.pod_labels = {**labels, **artifacts.pod_labels, **pod.pod_labels}
        self.secret_keys = pod.gateway.secret_keys
        hook = transfers_hook(self, naming, labels) if artifacts.transfers_via_server else None
        hosts = allowed_hosts(
            naming,
            [self.service_name, *also_reachable_as],
            public_urls,
            config.extra_allowed_hosts,
            config.pod_ip_host_patterns,
        )
        settings = _settings(pod, hosts, cors_origins(public_urls, config.cors_allowed_origins), hook)
        settings_name = naming.name("settings")
        config_map(self, "settings", name=settings_name, labels=labels, data=settings)
        server, volumes = _server_container(
            pod,
            artifacts,
            scripts,
            path_prefix=self.path_prefix,
            settings_name=settings_name,
            settings=settings,
            hook=hook,
            exporter=exporter,
            trace_archival=trace_archival,
        )
        checksum = digest(
            {
                "settings": settings,
                **pod.addon.checksum_inputs,
                **scripts.checksum_inputs,
                **(hook.checksum_inputs if hook else {}),
                **(trace_archival.checksum_inputs if trace_archival else {}),
            }
        )
        self._deployment(
            component,
            pod,
            naming,
            scripts,
            single_attach=artifacts.single_attach,
            containers=[server, *([exporter.container] if exporter else [])],
            volumes=volumes,
            checksum=checksum,
        )
        ports = {self.port_name: self.port}
        if metrics is not None and exporter:
            ports[METRICS_PORT_NAME] = metrics.port
        service(self, "service", component=component, ports=ports)
        if config.max_pods > 1:
            disruption_budget(self, "pdb", component=component)
        if config.autoscaling.enabled:
            _autoscaler(self, naming, labels, config.autoscaling)

    def _deployment(
        self,
        component: Component,
        pod: ServerPod,
        naming: Naming,
        scripts: SchemaScripts,
        *,
        single_attach: bool,
        containers: list[k8s.Container],
        volumes: list[k8s.Volume],
        checksum: str,
    ) -> None:
        """The Deployment: the server's containers behind the ``wait-for-schema`` gate, spread over zones and
        nodes when it runs several pods, replaced all at once on a volume only one node can attach."""
        config = pod.config
        gate = wait_for_schema(
            image=config.image,
            naming=naming,
            scripts=scripts,
            env=[*pod.schema_env(), *pod.gateway.check_env],
            mounts=pod.schema_mounts(),
        )
        spread = [
            k8s.TopologySpreadConstraint(
                max_skew=1,
                topology_key=key,
                when_unsatisfiable="ScheduleAnyway",
                label_selector=k8s.LabelSelector(match_labels=self.selector),
            )
            for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
        ]
        if single_attach:
            strategy = k8s.DeploymentStrategy(type="Recreate")
        else:
            strategy = k8s.DeploymentStrategy(
                type="RollingUpdate",
                rolling_update=k8s.RollingUpdateDeployment(
                    max_surge=int_or_string(1), max_unavailable=int_or_string(0)
                ),
            )
        deployment(
            self,
            "deployment",
            component=component,
            replicas=None if config.autoscaling.enabled else config.replicas,
            annotations={
                "argocd.argoproj.io/sync-wave": SERVER_WAVE,
                **extra_annotations(config),
            },
            strategy=strategy,
            revision_history_limit=5,
            template=pod_template(
                self.pod_labels,
                service_account=pod.service_account,
                termination_grace_period=30,
                init_containers=[*pod.addon.init_containers, gate],
                containers=containers,
                volumes=[*volumes, scripts.volume],
                spread=spread if config.max_pods > 1 else (),
                annotations={**config.pod_annotations, "checksum/config": checksum},
            ),
        )


def _settings(
    pod: ServerPod, hosts: Sequence[str], origins: Sequence[str], hook: TransfersHook | None
) -> dict[str, str]:
    """The server's non-secret env, sorted (the settings ConfigMap): ``hosts`` allowed, CORS ``origins``."""
    config = pod.config
    settings = {
        "MLFLOW_SERVER_ALLOWED_HOSTS": ",".join(hosts),
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": str(config.job_execution).lower(),
        "HOME": "/tmp",
        **telemetry_settings(config),
        **workspace_settings(config),
        **pod.gateway.settings,
        **pod.addon.settings,
        **(hook.settings if hook else {}),
    }
    if config.job_execution and config.max_pods > 1:
        settings["MLFLOW_SERVER_JOB_ENABLE_PERIODIC_TASKS"] = "false"
    if origins:
        settings["MLFLOW_SERVER_CORS_ALLOWED_ORIGINS"] = ",".join(origins)
    return dict(sorted(settings.items()))


def _server_container(
    pod: ServerPod,
    artifacts: ArtifactAccess,
    scripts: SchemaScripts,
    *,
    path_prefix: str,
    settings_name: str,
    settings: dict[str, str],
    hook: TransfersHook | None,
    exporter: MetricsExporter | None,
    trace_archival: ConfigFile | None,
) -> tuple[k8s.Container, list[k8s.Volume]]:
    """The ``mlflow`` container and the pod's volumes but the schema scripts' (``scripts.volume``)."""
    config, database, addon, gateway = pod.config, pod.database, pod.addon, pod.gateway
    args = ["--host", str(config.host), "--port", str(config.port), "--workers", str(config.worker_count)]
    if path_prefix:
        args += ["--static-prefix", path_prefix]
    args += artifacts.args
    if addon.app_name:
        args += ["--app-name", addon.app_name]
    plugin = addon.plugin
    volumes = [empty_dir("tmp", config.tmp_size), *artifacts.volumes, *plugin.volumes, *addon.volumes]
    mounts = [TMP_MOUNT, *artifacts.mounts, *plugin.mounts, *addon.mounts]
    if trace_archival:
        args += ["--trace-archival-config", trace_archival.path]
        volumes.append(trace_archival.volume)
        mounts.append(trace_archival.mount)
    if hook:
        volumes.append(hook.volume)
        mounts.append(hook.mount)
    if exporter:
        args += exporter.server_args
        volumes.append(exporter.volume)
        mounts.append(exporter.server_mount)
    # MLflow mounts its routes, /health included, under --static-prefix (and answers 404 on /health);
    # a plugin's own health routes may stay at the root (ServerAddon.probes_follow_static_prefix).
    probe_prefix = path_prefix if addon.probes_follow_static_prefix else ""
    # Without job execution, `mlflow server` need not stay alive next to uvicorn (see launcher.py).
    command = addon.command if config.job_execution else launcher_command(addon.command)
    volumes, mounts = with_extra_volumes(config, volumes, mounts, also=[scripts.volume])
    server = container(
        "mlflow",
        config.image,
        command=command,
        args=args,
        ports={HTTP_PORT_NAME: config.port},
        env_from_config_map=settings_name,
        env=with_extra_env(
            [*database.env, *database.read_replica_env, *artifacts.env, *plugin.env, *addon.env, *gateway.env],
            config.extra_env,
            settings=settings,
        ),
        resources=resources(config.resources),
        probes=Probes(
            # The kubelet probes on each period from the container's start, and readiness only after
            # the startup probe passed: short periods make a pod ready within ~2-5 s of the server
            # answering (one worker starts in ~5 s), still allowing 180 s to start.
            startup=http_probe(probe_prefix + addon.startup_path, HTTP_PORT_NAME, period=2, failures=90),
            liveness=http_probe(probe_prefix + addon.liveness_path, HTTP_PORT_NAME, period=20, failures=3),
            readiness=http_probe(probe_prefix + addon.readiness_path, HTTP_PORT_NAME, period=5, failures=3),
        ),
        mounts=mounts,
    )
    return server, volumes


def _autoscaler(scope: Construct, naming: Naming, labels: dict[str, str], auto: Autoscaling) -> None:
    """The HPA that scales the server's Deployment on CPU."""
    k8s.KubeHorizontalPodAutoscalerV2(
        scope,
        "hpa",
        metadata=meta(naming.name(), labels),
        spec=k8s.HorizontalPodAutoscalerSpecV2(
            scale_target_ref=k8s.CrossVersionObjectReferenceV2(
                api_version="apps/v1", kind="Deployment", name=naming.name()
            ),
            min_replicas=auto.min_replicas,
            max_replicas=auto.max_replicas,
            metrics=[
                k8s.MetricSpecV2(
                    type="Resource",
                    resource=k8s.ResourceMetricSourceV2(
                        name="cpu",
                        target=k8s.MetricTargetV2(type="Utilization", average_utilization=auto.target_cpu_utilization),
                    ),
                )
            ],
        ),
    )
