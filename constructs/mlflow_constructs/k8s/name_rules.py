"""Kubernetes' rules for object names, host names and label values, checked on a set of manifests and on the
objects controllers make from them (:mod:`mlflow_constructs.k8s.controllers`).

Most names are DNS-1123 subdomains (at most 253 characters); some kinds take less: Namespaces and StatefulSets
a DNS-1123 label (63), Services a DNS-1035 label (63, starting with a letter), CronJobs 52 characters,
CloudNativePG Clusters 50. Label values and pod host names take at most 63.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from mlflow_constructs.k8s.controllers import group_of, made_from

Obj = dict[str, Any]


@dataclass(frozen=True)
class Rule:
    """A format, and the longest value a kind (or field) takes in it."""

    format: str
    pattern: re.Pattern[str]
    max_length: int
    why: str = ""
    """Why the limit is below what the format allows, if it is."""


SUBDOMAIN = Rule(
    "a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit)",
    re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"),
    253,
)
DNS_LABEL = Rule(
    "a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit)",
    re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"),
    63,
)
DNS_1035_LABEL = Rule(
    "a DNS-1035 label (lowercase letters, digits and '-', starting with a letter, ending with a letter or digit)",
    re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$"),
    63,
)
LABEL_VALUE = Rule(
    "a label value (letters, digits, '-', '_' and '.', starting and ending with a letter or digit)",
    re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"),
    63,
)

# (API group, kind) -> the rule for its name, where it is not a DNS-1123 subdomain of up to 253 characters.
NAME_RULES: dict[tuple[str, str], Rule] = {
    ("", "Namespace"): DNS_LABEL,
    # Kubernetes 1.34-1.36 relax this behind a feature gate (RelaxedServiceNameValidation); older ones do not.
    ("", "Service"): DNS_1035_LABEL,
    ("apps", "StatefulSet"): DNS_LABEL,
    ("batch", "CronJob"): replace(
        SUBDOMAIN,
        max_length=52,
        why="the API server keeps 11 characters for the time its controller appends to name each Job",
    ),
    ("postgresql.cnpg.io", "Cluster"): replace(
        DNS_1035_LABEL, max_length=50, why="CloudNativePG's admission webhook refuses longer Cluster names"
    ),
}
# Where a kind keeps the templates of what it makes (a CronJob: its Jobs', then their pods').
TEMPLATE_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "Deployment": (("spec", "template"),),
    "StatefulSet": (("spec", "template"),),
    "ReplicaSet": (("spec", "template"),),
    "DaemonSet": (("spec", "template"),),
    "Job": (("spec", "template"),),
    "CronJob": (("spec", "jobTemplate"), ("spec", "jobTemplate", "spec", "template")),
}


@dataclass(frozen=True)
class Checked:
    """One name, host name or label value Kubernetes checks: what it is, and the object it comes from when a
    controller makes that object (``origin``)."""

    what: str
    value: str
    rule: Rule
    origin: str = ""

    @property
    def overflow(self) -> int:
        """Characters over the limit (0 or less when within it)."""
        return len(self.value) - self.rule.max_length

    @property
    def problem(self) -> str | None:
        """What Kubernetes would say, or None when the value is fine."""
        rule, origin = self.rule, f" (made from {self.origin})" if self.origin else ""
        if self.overflow > 0:
            why = f": {rule.why}" if rule.why else ""
            return (
                f"the {self.what} {self.value!r}{origin} would be {len(self.value)} characters, more than the "
                f"{rule.max_length} Kubernetes takes{why}"
            )
        if not rule.pattern.match(self.value):
            return f"the {self.what} {self.value!r}{origin} would not be {rule.format}"
        return None


def checked_values(objects: list[Obj]) -> Iterator[Checked]:
    """Every name, host name and label value of ``objects`` and of what controllers make from them."""
    for obj in objects:
        yield from _values(obj, "")
        origin = f"{obj.get('kind')} {obj['metadata'].get('name')}"
        for made in made_from(obj):
            yield from _values(made, origin)


def problems(objects: list[Obj]) -> list[Checked]:
    """The values of :func:`checked_values` that Kubernetes would refuse."""
    return [checked for checked in checked_values(objects) if checked.problem]


def _values(obj: Obj, origin: str) -> Iterator[Checked]:
    kind, metadata, spec = obj.get("kind", ""), obj.get("metadata") or {}, obj.get("spec") or {}
    this = f"{kind} {metadata.get('name') or metadata.get('generateName', '')}"
    if metadata.get("name"):
        yield Checked(f"{kind} name", metadata["name"], NAME_RULES.get((group_of(obj), kind), SUBDOMAIN), origin)
    yield from _labels(metadata, this, origin)
    selector = spec.get("selector") if isinstance(spec.get("selector"), dict) else {}
    for key, value in (selector.get("matchLabels") or {}).items():
        yield Checked(f"selector {key} of {this}", value, LABEL_VALUE, origin)
    for claim in spec.get("volumeClaimTemplates") or []:
        yield from _labels(claim.get("metadata") or {}, f"{this} volumeClaimTemplate", origin)
    pod_specs = [spec] if kind == "Pod" else []
    for path in TEMPLATE_PATHS.get(kind, ()):
        template = _dig(obj, path) or {}
        yield from _labels(template.get("metadata") or {}, f"{this} {'.'.join(path)}", origin)
        pod_specs.append(template.get("spec") or {})
    for pod_spec in pod_specs:
        for field in ("hostname", "subdomain"):
            if isinstance(pod_spec.get(field), str):
                yield Checked(f"pod {field} of {this}", pod_spec[field], DNS_LABEL, origin)


def _labels(metadata: Obj, where: str, origin: str) -> Iterator[Checked]:
    for key, value in (metadata.get("labels") or {}).items():
        yield Checked(f"label {key} of {where}", value, LABEL_VALUE, origin)


def _dig(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj
