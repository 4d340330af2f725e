"""Small helpers shared by the validity tests: naming objects, walking pod templates, matching selectors.

Kept free of contracts: each test module states its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from readme_example import CHART

from mlflow_constructs.review.objects import BUILTIN_GROUPS
from mlflow_constructs.synth import discover

# Where each workload kind keeps its pod template.
POD_TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
# Workloads whose main containers are expected to keep running (and so need probes).
LONG_RUNNING_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"})

PREREQUISITES_ANNOTATION = "mlflow-k8s/prerequisites"
GENERATES_SECRET_ANNOTATION = "mlflow-k8s/generates-secret"  # on the Job that creates that Secret in the cluster
NEEDS_API_TOKEN_ANNOTATION = "mlflow-k8s/needs-api-token"


def group_version(obj: dict[str, Any]) -> tuple[str, str]:
    api_version = obj.get("apiVersion", "")
    group, _, version = api_version.rpartition("/")
    return group, version


def is_custom_resource(obj: dict[str, Any]) -> bool:
    return group_version(obj)[0] not in BUILTIN_GROUPS


def ident(obj: dict[str, Any]) -> str:
    """``Kind/name`` as used in failure messages and prerequisite lists."""
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def default_namespace(objs: list[dict[str, Any]]) -> str:
    """The namespace of objects that do not name one: the env's only Namespace object, else ``default``."""
    namespaces = [o["metadata"]["name"] for o in objs if o.get("kind") == "Namespace"]
    return namespaces[0] if len(namespaces) == 1 else "default"


def namespace_of(obj: dict[str, Any], default: str) -> str:
    return obj.get("metadata", {}).get("namespace") or default


def dig(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


@dataclass(frozen=True)
class PodTemplate:
    """One pod template and the object that owns it."""

    owner: dict[str, Any]
    template: dict[str, Any]

    @property
    def kind(self) -> str:
        return self.owner["kind"]

    @property
    def where(self) -> str:
        return ident(self.owner)

    @property
    def spec(self) -> dict[str, Any]:
        return self.template.get("spec") or {}

    @property
    def labels(self) -> dict[str, str]:
        return dig(self.template, "metadata", "labels") or {}

    @property
    def annotations(self) -> dict[str, str]:
        return dig(self.template, "metadata", "annotations") or {}

    def containers(self, *, init: bool = True) -> Iterator[tuple[str, dict[str, Any]]]:
        """``(role, container)`` for main containers, then init and ephemeral ones when ``init``."""
        for c in self.spec.get("containers") or []:
            yield "container", c
        if init:
            for c in self.spec.get("initContainers") or []:
                yield "initContainer", c
            for c in self.spec.get("ephemeralContainers") or []:
                yield "ephemeralContainer", c

    def volume_claim_templates(self) -> list[dict[str, Any]]:
        return dig(self.owner, "spec", "volumeClaimTemplates") or []


def pod_templates(objs: list[dict[str, Any]]) -> list[PodTemplate]:
    found = []
    for obj in objs:
        kind = obj.get("kind")
        if kind == "Pod":
            found.append(PodTemplate(obj, obj))
        elif kind in POD_TEMPLATE_PATHS:
            template = dig(obj, *POD_TEMPLATE_PATHS[kind])
            if template is not None:
                found.append(PodTemplate(obj, template))
    return found


def selector_matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Kubernetes label-selector semantics (matchLabels + matchExpressions); ``{}`` matches everything."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def prerequisites(objs: list[dict[str, Any]]) -> set[str]:
    """``Kind/name`` entries the Namespace declares as created outside this output (``a/b, c/d``)."""
    found: set[str] = set()
    for obj in objs:
        if obj.get("kind") != "Namespace":
            continue
        raw = dig(obj, "metadata", "annotations", PREREQUISITES_ANNOTATION) or ""
        found.update(item.strip() for item in raw.split(",") if item.strip())
    return found


# --- environments ---------------------------------------------------------------------------------------
REPO = Path(__file__).resolve().parents[2]


def environment_names() -> list[str]:
    """Env names known at collection time, found the way synthesis finds them (``config/<env>.yaml`` and
    ``examples/<env>.yaml``), and the README library example's chart."""
    return [*discover(REPO / "config", REPO / "examples"), CHART]


def manifests(synthesized: dict[str, list[dict[str, Any]]], env: str) -> list[dict[str, Any]]:
    assert env in synthesized, f"env {env!r}: no synthesized output (got {sorted(synthesized)})"
    objs = [o for o in synthesized[env] if o]
    assert objs, f"env {env!r}: synthesized output is empty"
    return objs
