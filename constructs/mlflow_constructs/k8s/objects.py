"""Core Kubernetes objects built through the typed cdk8s-plus-27 L1 classes, one constructor call each.

These functions hold the project's object conventions in one place: Services target named container
ports, selectors match their pod labels, run-once Jobs carry a hash of their pod template in their
name, and the Argo CD sync waves order stores (0), Jobs (1) and the server (2).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from cdk8s import ApiObject, ApiObjectMetadata, App, Chart, JsonPatch
from cdk8s_plus_27 import k8s
from constructs import Construct

from mlflow_constructs.k8s.hashing import JOB_NAME_HASH_LENGTH, digest
from mlflow_constructs.k8s.naming import Component
from mlflow_constructs.k8s.pods import int_or_string, mount, port_ref, quantity

# Argo CD runs Jobs as Sync hooks in this wave: after the stores (wave 0), before the server (wave 2).
JOB_WAVE = "1"
SERVER_WAVE = "2"
NEEDS_API_TOKEN = "mlflow-k8s/needs-api-token"  # why a pod of this account mounts its token


def meta(name: str, labels: Mapping[str, str] | None = None, annotations: Mapping[str, str] | None = None):
    return k8s.ObjectMeta(
        name=name, labels=dict(labels) if labels else None, annotations=dict(annotations) if annotations else None
    )


def config_map(scope: Construct, id: str, *, name: str, labels: Mapping[str, str], data: Mapping[str, str]):
    return k8s.KubeConfigMap(scope, id, metadata=meta(name, labels), data=dict(data))


def service_account(
    scope: Construct, id: str, *, name: str, labels: Mapping[str, str], annotations: Mapping[str, str] | None = None
) -> k8s.KubeServiceAccount:
    """A ServiceAccount that mounts no API token."""
    return k8s.KubeServiceAccount(
        scope, id, metadata=meta(name, labels, annotations), automount_service_account_token=False
    )


# Where an account of account_with_role gets its token: a projected volume its one container mounts at the path
# the kubelet would use.
TOKEN_VOLUME = "api-token"
TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def api_token_volume() -> k8s.Volume:
    """What the kubelet would automount (a short-lived token, the cluster's CA, the namespace), as a volume
    that only the container mounting it sees: the pod keeps ``automountServiceAccountToken: false``."""
    return k8s.Volume(
        name=TOKEN_VOLUME,
        projected=k8s.ProjectedVolumeSource(
            sources=[
                k8s.VolumeProjection(
                    service_account_token=k8s.ServiceAccountTokenProjection(path="token", expiration_seconds=3600)
                ),
                k8s.VolumeProjection(
                    config_map=k8s.ConfigMapProjection(
                        name="kube-root-ca.crt", items=[k8s.KeyToPath(key="ca.crt", path="ca.crt")]
                    )
                ),
                k8s.VolumeProjection(
                    downward_api=k8s.DownwardApiProjection(
                        items=[
                            k8s.DownwardApiVolumeFile(
                                path="namespace", field_ref=k8s.ObjectFieldSelector(field_path="metadata.namespace")
                            )
                        ]
                    )
                ),
            ]
        ),
    )


def api_token_mount() -> k8s.VolumeMount:
    """The mount of :func:`api_token_volume`, read-only, where clients look for the in-cluster token."""
    return mount(TOKEN_VOLUME, TOKEN_DIR, read_only=True)


def account_with_role(
    scope: Construct, *, name: str, labels: Mapping[str, str], why: str, rules: Sequence[k8s.PolicyRule]
) -> None:
    """A ServiceAccount, Role and RoleBinding ``name``: an account whose pods mount its token for ``rules`` alone
    (``why`` goes in the ``mlflow-k8s/needs-api-token`` annotation)."""
    annotations = {NEEDS_API_TOKEN: why}
    k8s.KubeServiceAccount(
        scope, "account", metadata=meta(name, labels, annotations), automount_service_account_token=False
    )
    k8s.KubeRole(scope, "role", metadata=meta(name, labels), rules=list(rules))
    k8s.KubeRoleBinding(
        scope,
        "binding",
        metadata=meta(name, labels),
        role_ref=k8s.RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name=name),
        subjects=[k8s.Subject(kind="ServiceAccount", name=name)],
    )


def service(
    scope: Construct, id: str, *, component: Component, ports: Mapping[str, int], headless: bool = False
) -> k8s.KubeService:
    """The component's Service; its ports (``name -> port``) target the container ports of the same name."""
    return k8s.KubeService(
        scope,
        id,
        metadata=meta(component.name, component.labels),
        spec=k8s.ServiceSpec(
            cluster_ip="None" if headless else None,
            selector=dict(component.selector),
            ports=[
                k8s.ServicePort(name=port_name, port=port, target_port=port_ref(port_name))
                for port_name, port in ports.items()
            ],
        ),
    )


def deployment(
    scope: Construct,
    id: str,
    *,
    component: Component,
    template: k8s.PodTemplateSpec,
    replicas: int | None = 1,
    annotations: Mapping[str, str] | None = None,
    strategy: k8s.DeploymentStrategy | None = None,
    revision_history_limit: int | None = None,
) -> k8s.KubeDeployment:
    """The component's Deployment; ``replicas=None`` leaves the count to an HPA."""
    return k8s.KubeDeployment(
        scope,
        id,
        metadata=meta(component.name, component.labels, annotations),
        spec=k8s.DeploymentSpec(
            replicas=replicas,
            selector=k8s.LabelSelector(match_labels=dict(component.selector)),
            strategy=strategy,
            revision_history_limit=revision_history_limit,
            template=template,
        ),
    )


def claim_template(
    *,
    size: str,
    storage_class: str | None,
    labels: Mapping[str, str],
    name: str = "data",
    access_mode: str = "ReadWriteOnce",
):
    return k8s.KubePersistentVolumeClaimProps(
        metadata=meta(name, labels),
        spec=k8s.PersistentVolumeClaimSpec(
            access_modes=[access_mode],
            resources=k8s.ResourceRequirements(requests={"storage": quantity(size)}),
            storage_class_name=storage_class,
        ),
    )


def persistent_volume_claim(scope: Construct, id: str, **claim) -> k8s.KubePersistentVolumeClaim:
    """A claim of its own (keywords of :func:`claim_template`, ``name`` required)."""
    props = claim_template(**claim)
    return k8s.KubePersistentVolumeClaim(scope, id, metadata=props.metadata, spec=props.spec)


def stateful_set(
    scope: Construct,
    id: str,
    *,
    component: Component,
    template: k8s.PodTemplateSpec,
    claims: Sequence[k8s.KubePersistentVolumeClaimProps],
) -> k8s.KubeStatefulSet:
    """The component's single-replica StatefulSet, governed by the Service of the same name."""
    return k8s.KubeStatefulSet(
        scope,
        id,
        metadata=meta(component.name, component.labels),
        spec=k8s.StatefulSetSpec(
            service_name=component.name,
            replicas=1,
            selector=k8s.LabelSelector(match_labels=dict(component.selector)),
            template=template,
            volume_claim_templates=list(claims),
        ),
    )


def disruption_budget(scope: Construct, id: str, *, component: Component) -> k8s.KubePodDisruptionBudget:
    """At most one of the component's pods down at a time during voluntary disruptions."""
    return k8s.KubePodDisruptionBudget(
        scope,
        id,
        metadata=meta(component.name, component.labels),
        spec=k8s.PodDisruptionBudgetSpec(
            max_unavailable=int_or_string(1),
            selector=k8s.LabelSelector(match_labels=dict(component.selector)),
        ),
    )


def cron_job(
    scope: Construct,
    id: str,
    *,
    component: Component,
    schedule: str,
    template: k8s.PodTemplateSpec,
    active_deadline_seconds: int = 6 * 3600,
) -> k8s.KubeCronJob:
    """A CronJob at ``schedule`` (UTC) that never runs twice at once, starts a run missed by less than an hour
    (a run missed longer waits for the next), keeps the last 3 finished Jobs of each outcome and retries a
    failed pod twice."""
    labels = dict(component.labels)
    return k8s.KubeCronJob(
        scope,
        id,
        metadata=meta(component.name, labels),
        spec=k8s.CronJobSpec(
            schedule=schedule,
            time_zone="Etc/UTC",
            concurrency_policy="Forbid",
            starting_deadline_seconds=3600,
            successful_jobs_history_limit=3,
            failed_jobs_history_limit=3,
            job_template=k8s.JobTemplateSpec(
                metadata=k8s.ObjectMeta(labels=labels),
                spec=k8s.JobSpec(backoff_limit=2, active_deadline_seconds=active_deadline_seconds, template=template),
            ),
        ),
    )


def _sorted(value: Any) -> Any:
    """``value`` with every mapping's keys sorted, as cdk8s writes its typed objects."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def _job_spec_json(spec: k8s.JobSpec) -> dict[str, Any]:
    """The JSON of a typed Job spec, rendered in a scratch chart that is never synthesized."""
    return k8s.KubeJob(_scratch_chart(), f"job-{next(_SCRATCH_IDS)}", spec=spec).to_json()["spec"]


@cache
def _scratch_chart() -> Chart:
    """One chart per process, never synthesized: a new app and chart for each Job are two round trips to node."""
    return Chart(App(), "scratch")


_SCRATCH_IDS = itertools.count()


def run_once_job(
    scope: Construct,
    id: str,
    *,
    base_name: str,
    labels: Mapping[str, str],
    template: k8s.PodTemplateSpec,
    backoff_limit: int = 6,
    sidecars: Sequence[str] = (),
    fail_on_exit_code: tuple[str, int] | None = None,
    wave: str = JOB_WAVE,
    annotations: Mapping[str, str] | None = None,
) -> str:
    """A Job named ``<base_name>-<hash of its pod template>``, and that name returned. Jobs are immutable,
    so a change makes a new Job (and ``kubectl apply`` never fails on the old one). Argo CD runs it as a
    Sync hook in ``wave``; ``annotations`` are added to the Job's.

    ``sidecars`` names init containers that run beside the main one (``restartPolicy: Always``, Kubernetes
    1.29+); ``fail_on_exit_code`` (container, code) fails the Job at once on that exit instead of retrying.
    The typed binding predates the first and requires ``onPodConditions`` beside ``onExitCodes``, so the spec
    is rendered through it, completed as JSON and written with ``ApiObject`` (the hash is of that JSON).
    """
    policy = None
    if fail_on_exit_code:
        container, code = fail_on_exit_code
        requirement = k8s.PodFailurePolicyOnExitCodesRequirement(container_name=container, operator="In", values=[code])
        policy = k8s.PodFailurePolicy(
            rules=[k8s.PodFailurePolicyRule(action="FailJob", on_pod_conditions=[], on_exit_codes=requirement)]
        )
    spec = _job_spec_json(k8s.JobSpec(backoff_limit=backoff_limit, template=template, pod_failure_policy=policy))
    for rule in (spec.get("podFailurePolicy") or {}).get("rules", []):
        rule.pop("onPodConditions", None)
    for init in spec["template"]["spec"].get("initContainers", []):
        if init["name"] in sidecars:
            init["restartPolicy"] = "Always"
    spec = _sorted(spec)
    name = f"{base_name}-{digest(spec['template'], JOB_NAME_HASH_LENGTH)}"
    job = ApiObject(
        scope,
        id,
        api_version="batch/v1",
        kind="Job",
        metadata=ApiObjectMetadata(
            name=name,
            labels=dict(labels),
            annotations={
                "argocd.argoproj.io/hook": "Sync",
                "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation",
                "argocd.argoproj.io/sync-wave": wave,
                **(annotations or {}),
            },
        ),
    )
    job.add_json_patch(JsonPatch.add("/spec", spec))
    return name
