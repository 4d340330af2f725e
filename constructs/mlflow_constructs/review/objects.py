"""Kubernetes objects as plain dicts: identity, pod templates, Secret references, quantities."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, NamedTuple

import yaml

from mlflow_constructs.k8s.hashing import JOB_NAME_HASH_LENGTH
from mlflow_constructs.k8s.naming import CLUSTER_SCOPED_KINDS, GENERATES_SECRET_ANNOTATION, PREREQUISITES_ANNOTATION

Obj = dict[str, Any]


class ObjectKey(NamedTuple):
    """What identifies an object in a cluster, and so matches it between two syntheses (``namespace`` is ``""``
    for cluster-scoped kinds)."""

    api_group: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
POD_OWNER_KINDS = (*WORKLOAD_KINDS, "Job", "ReplicaSet")
HOOK_ANNOTATION = "argocd.argoproj.io/hook"
CNPG_CLUSTER_LABEL = "cnpg.io/cluster"
NAME_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"
# libyaml's parser when PyYAML was built with it (the same objects, several times faster).
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# A run-once Job is named after its pod template: <prefix>-<hash>
_HASHED_NAME = re.compile(rf"^(?P<prefix>.+)-[0-9a-f]{{{JOB_NAME_HASH_LENGTH}}}$")

# Custom resource kinds seen in the output and what must be installed before they can be applied.
OPERATORS: dict[tuple[str, str], str] = {
    ("external-secrets.io", "ExternalSecret"): "the External Secrets Operator (its CRDs and controller)",
    ("external-secrets.io", "SecretStore"): "the External Secrets Operator (its CRDs and controller)",
    ("external-secrets.io", "ClusterSecretStore"): "the External Secrets Operator (its CRDs and controller)",
    ("bitnami.com", "SealedSecret"): "the Sealed Secrets controller (its CRD and the key the values were sealed with)",
    ("monitoring.coreos.com", "ServiceMonitor"): "the Prometheus Operator CRDs (e.g. kube-prometheus-stack)",
    ("postgresql.cnpg.io", "Cluster"): "the CloudNativePG operator",
    ("postgresql.cnpg.io", "Database"): "the CloudNativePG operator",
    ("postgresql.cnpg.io", "ScheduledBackup"): "the CloudNativePG operator",
    ("barmancloud.cnpg.io", "ObjectStore"): "the Barman Cloud Plugin of CloudNativePG (installed beside the operator)",
    ("traefik.io", "IngressRoute"): "Traefik with its CRDs (traefik.io/v1alpha1)",
    ("traefik.io", "Middleware"): "Traefik with its CRDs (traefik.io/v1alpha1)",
    ("gateway.networking.k8s.io", "HTTPRoute"): "the Gateway API CRDs (standard channel, gateway.networking.k8s.io/v1) "
    "and an implementation serving the Gateway the route names",
}
# API groups served by Kubernetes itself. Every other dotted group (external-secrets.io, traefik.io, and also
# gateway.networking.k8s.io or snapshot.storage.k8s.io, which are CRDs despite the suffix) is custom.
BUILTIN_GROUPS = frozenset(
    {
        "",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "apiregistration.k8s.io",
        "apps",
        "authentication.k8s.io",
        "authorization.k8s.io",
        "autoscaling",
        "batch",
        "certificates.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
        "flowcontrol.apiserver.k8s.io",
        "internal.apiserver.k8s.io",
        "networking.k8s.io",
        "node.k8s.io",
        "policy",
        "rbac.authorization.k8s.io",
        "resource.k8s.io",
        "scheduling.k8s.io",
        "storage.k8s.io",
        "storagemigration.k8s.io",
    }
)


def load_documents(text: str) -> list[Obj]:
    """The objects of a multi-document YAML text (empty documents dropped)."""
    return [doc for doc in yaml.load_all(text, Loader=LOADER) if doc]


def group_of(obj: Obj) -> str:
    api_version = obj.get("apiVersion", "")
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def key_of(obj: Obj) -> ObjectKey:
    meta = obj.get("metadata", {})
    return ObjectKey(group_of(obj), obj.get("kind", ""), meta.get("namespace", ""), meta.get("name", ""))


def cluster_key_of(obj: Obj) -> ObjectKey:
    """The object's identity as the API server sees it: a cluster-scoped kind has no namespace, whatever its
    metadata says (two such objects of one name collide across namespaces)."""
    kind, metadata = str(obj["kind"]), obj.get("metadata") or {}
    namespace = "" if kind in CLUSTER_SCOPED_KINDS else str(metadata.get("namespace") or "")
    return ObjectKey(str(obj.get("apiVersion", "")).rpartition("/")[0], kind, namespace, str(metadata["name"]))


def ref_of(obj: Obj) -> str:
    """``Kind/namespace/name`` (``Kind/name`` for cluster-scoped objects)."""
    _, kind, namespace, name = key_of(obj)
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


def is_custom(obj: Obj) -> bool:
    """Backed by a CRD rather than built into Kubernetes."""
    return group_of(obj) not in BUILTIN_GROUPS


def operator_for(obj: Obj) -> str:
    return OPERATORS.get(
        (group_of(obj), obj["kind"]), f"the CRD {obj['kind']} ({obj['apiVersion']}) and its controller"
    )


def annotations(obj: Obj) -> dict[str, str]:
    return obj.get("metadata", {}).get("annotations") or {}


def labels(obj: Obj) -> dict[str, str]:
    return obj.get("metadata", {}).get("labels") or {}


def component(obj: Obj) -> str | None:
    """The component an object belongs to (``app.kubernetes.io/name``, set by every construct)."""
    return labels(obj).get(NAME_LABEL)


def instance(obj: Obj) -> str | None:
    """The environment's ``name`` (``app.kubernetes.io/instance``, set by every construct)."""
    return labels(obj).get(INSTANCE_LABEL)


def prerequisites(obj: Obj) -> list[str]:
    """Entries of a Namespace's ``mlflow-k8s/prerequisites`` annotation."""
    value = annotations(obj).get(PREREQUISITES_ANNOTATION, "")
    return [item.strip() for item in value.split(",") if item.strip()]


def generated_keys(objects: list[Obj]) -> dict[tuple[str, str], Obj]:
    """(Secret, key) -> the Job that generates its value in the cluster unless present (``secrets.generate``)."""
    made = {}
    for job in (o for o in objects if o["kind"] == "Job"):
        secret, _, keys = annotations(job).get(GENERATES_SECRET_ANNOTATION, "").partition(": ")
        made |= {(secret, key): job for key in keys.split(", ") if key}
    return made


def pod_template(obj: Obj) -> Obj | None:
    if obj.get("kind") in POD_OWNER_KINDS:
        return obj.get("spec", {}).get("template")
    if obj.get("kind") == "CronJob":
        return obj.get("spec", {}).get("jobTemplate", {}).get("spec", {}).get("template")
    return None


def pod_labels(obj: Obj) -> dict[str, str]:
    """Labels of the pods an object runs (CloudNativePG labels its instances with the Cluster's name)."""
    template = pod_template(obj)
    if template is not None:
        return template.get("metadata", {}).get("labels") or {}
    if group_of(obj) == "postgresql.cnpg.io" and obj["kind"] == "Cluster":
        return {CNPG_CLUSTER_LABEL: obj["metadata"]["name"]}
    return {}


def containers(obj: Obj) -> list[Obj]:
    spec = (pod_template(obj) or {}).get("spec", {})
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def run_once_prefix(obj: Obj) -> str | None:
    """``mlflow-migrate`` for an Argo CD hook Job ``mlflow-migrate-<hash>``; None for other objects."""
    if obj.get("kind") != "Job" or HOOK_ANNOTATION not in annotations(obj):
        return None
    match = _HASHED_NAME.match(obj["metadata"]["name"])
    return match.group("prefix") if match else None


def secret_references(obj: Obj) -> Iterator[tuple[str, str | None]]:
    """(Secret, key) read by an object's pods: ``secretKeyRef``s, secret volume items, projected items;
    key None where a whole Secret is read (``envFrom``, a volume without items)."""
    template = pod_template(obj)
    if template is None:
        return
    for container in containers(obj):
        for env in container.get("env", []):
            ref = (env.get("valueFrom") or {}).get("secretKeyRef")
            if ref:
                yield ref["name"], ref["key"]
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                yield source["secretRef"]["name"], None
    for volume in template.get("spec", {}).get("volumes", []):
        sources = [volume["secret"]] if "secret" in volume else []
        sources += [p["secret"] for p in volume.get("projected", {}).get("sources", []) if "secret" in p]
        for secret in sources:
            name = secret.get("secretName") or secret.get("name")
            items = secret.get("items")
            if items:
                yield from ((name, item["key"]) for item in items)
            else:
                yield name, None


def selector_matches(selector: dict[str, str], pod: dict[str, str]) -> bool:
    return bool(pod) and all(pod.get(k) == v for k, v in selector.items())
