"""Pod-owning objects with the project's defaults in one place: Pod Security "restricted", no API
token, no service links (a Service named ``mlflow`` would otherwise inject ``MLFLOW_PORT=tcp://...``,
which MLflow reads as its port), selectors that match their pod labels, hashed immutable Job names.
"""

from __future__ import annotations

from typing import Any

from cdk8s import ApiObject
from constructs import Construct

from mlflow_constructs.hashing import digest
from mlflow_constructs.objects import k8s_object
from mlflow_constructs.security import pod_security_context

# Argo CD runs Jobs as Sync hooks in this wave: after the stores (wave 0), before the server (wave 2).
JOB_WAVE = "1"
SERVER_WAVE = "2"


def pod_spec(
    *,
    containers: list[dict[str, Any]],
    volumes: list[dict[str, Any]] | None = None,
    init_containers: list[dict[str, Any]] | None = None,
    service_account: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A pod spec with the restricted defaults; ``extra`` adds fields such as ``restartPolicy``."""
    spec: dict[str, Any] = {"serviceAccountName": service_account} if service_account else {}
    spec |= {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security_context(),
        **extra,
    }
    if init_containers:
        spec["initContainers"] = init_containers
    spec["containers"] = containers
    if volumes:
        spec["volumes"] = volumes
    return spec


def pod_template(labels: dict[str, str], spec: dict[str, Any], annotations: dict[str, str] | None = None) -> dict:
    metadata: dict[str, Any] = {"labels": labels}
    if annotations:
        metadata["annotations"] = annotations
    return {"metadata": metadata, "spec": spec}


def claim_template(*, size: str, storage_class: str | None, labels: dict[str, str], name: str = "data") -> dict:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if storage_class:
        spec["storageClassName"] = storage_class
    return {"metadata": {"name": name, "labels": labels}, "spec": spec}


def deployment(
    scope: Construct,
    id: str,
    *,
    name: str,
    labels: dict[str, str],
    selector: dict[str, str],
    template: dict[str, Any],
    replicas: int | None = 1,
    annotations: dict[str, str] | None = None,
    **spec: Any,
) -> ApiObject:
    """A Deployment; ``replicas=None`` leaves the count to an HPA."""
    body: dict[str, Any] = {"replicas": replicas} if replicas is not None else {}
    body |= {"selector": {"matchLabels": selector}, **spec, "template": template}
    return k8s_object(
        scope,
        id,
        api_version="apps/v1",
        kind="Deployment",
        name=name,
        labels=labels,
        annotations=annotations,
        spec=body,
    )


def stateful_set(
    scope: Construct,
    id: str,
    *,
    name: str,
    labels: dict[str, str],
    selector: dict[str, str],
    template: dict[str, Any],
    claims: list[dict[str, Any]],
) -> ApiObject:
    """A single-replica StatefulSet governed by the Service of the same name."""
    return k8s_object(
        scope,
        id,
        api_version="apps/v1",
        kind="StatefulSet",
        name=name,
        labels=labels,
        spec={
            "serviceName": name,
            "replicas": 1,
            "selector": {"matchLabels": selector},
            "template": template,
            "volumeClaimTemplates": claims,
        },
    )


def service(
    scope: Construct,
    id: str,
    *,
    name: str,
    labels: dict[str, str],
    selector: dict[str, str],
    ports: dict[str, int],
    target_ports: dict[str, str] | None = None,
    headless: bool = False,
) -> ApiObject:
    """A Service whose ports target the pods' named container ports (``name -> port``)."""
    spec: dict[str, Any] = {"clusterIP": "None"} if headless else {}
    spec |= {
        "selector": selector,
        "ports": [
            {"name": port_name, "port": port, "targetPort": (target_ports or {}).get(port_name, port_name)}
            for port_name, port in ports.items()
        ],
    }
    return k8s_object(scope, id, api_version="v1", kind="Service", name=name, labels=labels, spec=spec)


def disruption_budget(
    scope: Construct, id: str, *, name: str, labels: dict[str, str], selector: dict[str, str]
) -> None:
    """At most one pod of several down at a time during voluntary disruptions."""
    k8s_object(
        scope,
        id,
        api_version="policy/v1",
        kind="PodDisruptionBudget",
        name=name,
        labels=labels,
        spec={"maxUnavailable": 1, "selector": {"matchLabels": selector}},
    )


def run_once_job(
    scope: Construct,
    id: str,
    *,
    base_name: str,
    labels: dict[str, str],
    template: dict[str, Any],
    backoff_limit: int = 6,
) -> ApiObject:
    """A Job named ``<base_name>-<hash of its template>``: Jobs are immutable, so a change makes a new
    Job (and ``kubectl apply`` never fails on the old one). Argo CD runs it as a Sync hook."""
    return k8s_object(
        scope,
        id,
        api_version="batch/v1",
        kind="Job",
        name=f"{base_name}-{digest(template, 8)}",
        labels=labels,
        annotations={
            "argocd.argoproj.io/hook": "Sync",
            "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation",
            "argocd.argoproj.io/sync-wave": JOB_WAVE,
        },
        spec={"backoffLimit": backoff_limit, "template": template},
    )
