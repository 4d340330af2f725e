"""The MLflow Tracking Server: ServiceAccount, settings ConfigMap, Deployment, Service, PDB and HPA."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from constructs import Construct

from mlflow_constructs.artifacts import ArtifactAccess
from mlflow_constructs.config import Environment
from mlflow_constructs.credentials import PluginDelivery
from mlflow_constructs.database import DatabaseAccess
from mlflow_constructs.hashing import digest
from mlflow_constructs.naming import Naming
from mlflow_constructs.objects import k8s_object
from mlflow_constructs.security import CONTAINER_SECURITY_CONTEXT, empty_dir, http_probe, resources
from mlflow_constructs.waiting import wait_for_database
from mlflow_constructs.workloads import SERVER_WAVE, deployment, disruption_budget, pod_spec, pod_template, service

HTTP_PORT_NAME = "http"
METRICS_DIR = "/mlflow/metrics"
TMP_MOUNT = {"name": "tmp", "mountPath": "/tmp"}


@dataclass(frozen=True)
class ServerExtras:
    """What an auth mode adds to the server pod."""

    app_name: str | None = None
    command: list[str] = field(default_factory=lambda: ["mlflow", "server"])
    env: list[dict[str, Any]] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)
    volumes: list[dict[str, Any]] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    init_containers: list[dict[str, Any]] = field(default_factory=list)
    liveness_path: str = "/health"
    readiness_path: str = "/health"
    startup_path: str = "/health"
    pod_labels: dict[str, str] = field(default_factory=dict)
    config_checksum_inputs: dict[str, Any] = field(default_factory=dict)
    plugin: PluginDelivery = field(default_factory=PluginDelivery)


def allowed_hosts(env: Environment, naming: Naming, services: list[str]) -> list[str]:
    """Host header values MLflow accepts: loopback, pod IPs, in-cluster Service names, ingress hosts."""
    names = ["localhost", "127.0.0.1"]
    for service_name in services:
        names += naming.service_hosts(service_name)
    names += list(env.ingress.hosts) if env.ingress.enabled else []
    names += list(env.server.extra_allowed_hosts)
    hosts: list[str] = []
    for name in names:
        hosts += [name, f"{name}:*"]
    return [*dict.fromkeys(hosts), *env.server.pod_ip_host_patterns]


def cors_origins(env: Environment) -> list[str]:
    origins = [f"{env.ingress.scheme}://{host}" for host in env.ingress.hosts] if env.ingress.enabled else []
    origins += [str(origin).rstrip("/") for origin in env.server.cors_allowed_origins]
    return list(dict.fromkeys(origins))


class MlflowServiceAccount(Construct):
    """The identity of MLflow's pods (server and migrations): annotations for IRSA or workload identity,
    no API token mounted."""

    def __init__(self, scope: Construct, id: str, *, env: Environment, naming: Naming) -> None:
        super().__init__(scope, id)
        self.name = naming.name()
        k8s_object(
            self,
            "serviceaccount",
            api_version="v1",
            kind="ServiceAccount",
            name=self.name,
            labels=naming.labels("mlflow"),
            annotations=env.server.service_account_annotations,
            automountServiceAccountToken=False,
        )


class MlflowServer(Construct):
    """``mlflow server`` as a Deployment behind a Service named after the environment."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        env: Environment,
        naming: Naming,
        database: DatabaseAccess,
        artifacts: ArtifactAccess,
        extras: ServerExtras,
        reachable_as: list[str],
        service_account: str,
        pod_labels: dict[str, str],
    ) -> None:
        super().__init__(scope, id)
        cfg = env.server
        self.service_name = naming.name()
        self.port = cfg.port
        self.port_name = HTTP_PORT_NAME
        self.selector = naming.selector("mlflow")
        self.pod_labels = {**naming.labels("mlflow"), **pod_labels, **extras.pod_labels}
        labels = naming.labels("mlflow")
        self.service_labels = labels

        settings = {
            "MLFLOW_SERVER_ALLOWED_HOSTS": ",".join(allowed_hosts(env, naming, [self.service_name, *reachable_as])),
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": str(cfg.job_execution).lower(),
            "HOME": "/tmp",
            **extras.settings,
        }
        if cfg.job_execution and cfg.max_pods > 1:
            settings["MLFLOW_SERVER_JOB_ENABLE_PERIODIC_TASKS"] = "false"
        origins = cors_origins(env)
        if origins:
            settings["MLFLOW_SERVER_CORS_ALLOWED_ORIGINS"] = ",".join(origins)
        settings = dict(sorted(settings.items()))
        settings_name = naming.name("settings")
        k8s_object(
            self, "settings", api_version="v1", kind="ConfigMap", name=settings_name, labels=labels, data=settings
        )

        args = ["--host", str(cfg.host), "--port", str(cfg.port), "--workers", str(cfg.workers), *artifacts.args]
        if extras.app_name:
            args += ["--app-name", extras.app_name]
        plugin = extras.plugin
        volumes = [empty_dir("tmp", "2Gi"), *artifacts.volumes, *plugin.volumes, *extras.volumes]
        mounts = [TMP_MOUNT, *artifacts.mounts, *plugin.mounts, *extras.mounts]
        if env.metrics.enabled:
            args += ["--expose-prometheus", METRICS_DIR]
            volumes.append(empty_dir("metrics", "128Mi"))
            mounts.append({"name": "metrics", "mountPath": METRICS_DIR})

        container = {
            "name": "mlflow",
            "image": cfg.image.ref,
            "imagePullPolicy": cfg.image.pull_policy,
            "command": extras.command,
            "args": args,
            "ports": [{"name": HTTP_PORT_NAME, "containerPort": cfg.port}],
            "envFrom": [{"configMapRef": {"name": settings_name}}],
            "env": [*database.env, *artifacts.env, *plugin.env, *extras.env],
            "resources": resources(cfg.resources),
            "securityContext": CONTAINER_SECURITY_CONTEXT,
            "startupProbe": http_probe(extras.startup_path, HTTP_PORT_NAME, period=5, failures=36),
            "livenessProbe": http_probe(extras.liveness_path, HTTP_PORT_NAME, period=20, failures=3),
            "readinessProbe": http_probe(extras.readiness_path, HTTP_PORT_NAME, period=10, failures=3),
            "volumeMounts": mounts,
        }
        checksum = digest({"settings": settings, **extras.config_checksum_inputs})
        wait = wait_for_database(
            image=cfg.image,
            env=[*database.env, *plugin.env],
            mounts=[TMP_MOUNT, *plugin.mounts],
            load_providers=plugin.loads_providers,
        )
        spread = {}
        if cfg.max_pods > 1:
            spread["topologySpreadConstraints"] = [
                {
                    "maxSkew": 1,
                    "topologyKey": key,
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": self.selector},
                }
                for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
            ]
        spec = pod_spec(
            service_account=service_account,
            terminationGracePeriodSeconds=30,
            init_containers=[wait, *extras.init_containers],
            containers=[container],
            volumes=volumes,
            **spread,
        )
        single_rwo_volume = env.artifacts.type == "pvc" and env.artifacts.pvc.access_mode != "ReadWriteMany"
        strategy = (
            {"type": "Recreate"}
            if single_rwo_volume
            else {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
        )
        deployment(
            self,
            "deployment",
            name=naming.name(),
            labels=labels,
            selector=self.selector,
            replicas=None if cfg.autoscaling.enabled else cfg.replicas,
            annotations={"argocd.argoproj.io/sync-wave": SERVER_WAVE},
            strategy=strategy,
            revisionHistoryLimit=5,
            template=pod_template(self.pod_labels, spec, {**cfg.pod_annotations, "checksum/config": checksum}),
        )
        service(
            self,
            "service",
            name=self.service_name,
            labels=labels,
            selector=self.selector,
            ports={HTTP_PORT_NAME: cfg.port},
        )
        if cfg.max_pods > 1:
            disruption_budget(self, "pdb", name=naming.name(), labels=labels, selector=self.selector)
        if cfg.autoscaling.enabled:
            auto = cfg.autoscaling
            k8s_object(
                self,
                "hpa",
                api_version="autoscaling/v2",
                kind="HorizontalPodAutoscaler",
                name=naming.name(),
                labels=labels,
                spec={
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": naming.name()},
                    "minReplicas": auto.min_replicas,
                    "maxReplicas": auto.max_replicas,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "cpu",
                                "target": {"type": "Utilization", "averageUtilization": auto.target_cpu_utilization},
                            },
                        }
                    ],
                },
            )
