"""What a change of synthesized objects does to a live cluster, object by object.

:func:`diff_objects` takes the objects of one environment before and after a change (lists of dicts, as
read from ``dist/``) and returns :class:`Verdict`\\ s: added, removed, pods roll, a run-once Job runs
again, an immutable field changed (the apply will fail: what to delete first), a storage size changed, a
new prerequisite, or updated in place. Objects are matched by (API group, kind, namespace, name).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlflow_constructs.review.objects import (
    WORKLOAD_KINDS,
    Obj,
    ObjectKey,
    group_of,
    is_custom,
    key_of,
    operator_for,
    prerequisites,
    quantity,
    ref_of,
    run_once_prefix,
    secret_references,
)

# Verdict kinds, most severe first (the order of a report).
IMMUTABLE = "immutable"
REMOVED = "removed"
PREREQUISITE = "prerequisite"
STORAGE = "storage"
RUNS_AGAIN = "runs again"
PODS_ROLL = "pods roll"
ADDED = "added"
IN_PLACE = "in place"
SEVERITY = (IMMUTABLE, REMOVED, PREREQUISITE, STORAGE, RUNS_AGAIN, PODS_ROLL, ADDED, IN_PLACE)

_RUN_ONCE_LABELS = {"-migrate": "migration runs again", "-minio-bucket": "bucket setup runs again"}


@dataclass(frozen=True)
class Verdict:
    """One consequence of a change for one object."""

    kind: str  # one of SEVERITY
    ref: str  # Kind/namespace/name
    detail: str  # what changes, and what to do about it
    paths: tuple[str, ...] = field(default=())  # the changed field paths, when they matter

    @property
    def label(self) -> str:
        if self.kind == RUNS_AGAIN:
            prefix = self.ref.rsplit("/", 1)[-1].rsplit("-", 1)[0]
            return next((t for s, t in _RUN_ONCE_LABELS.items() if prefix.endswith(s)), "job runs again")
        return {
            IMMUTABLE: "immutable field changed",
            REMOVED: "object removed",
            PREREQUISITE: "new prerequisite",
            STORAGE: "storage size changed",
            PODS_ROLL: "pods roll",
            ADDED: "object added",
            IN_PLACE: "updated in place",
        }[self.kind]

    def __str__(self) -> str:
        return f"{self.label}: {self.ref}: {self.detail}"


@dataclass(frozen=True)
class Change:
    path: tuple[str, ...]
    old: Any
    new: Any

    @property
    def dotted(self) -> str:
        return dotted(self.path)


_MISSING = object()


def dotted(path: tuple[str, ...]) -> str:
    text = ""
    for part in path:
        if part.startswith("["):
            text += part
        elif "." in part or "/" in part:
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def _name(item: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    name = item.get("name", (item.get("metadata") or {}).get("name"))
    return name if isinstance(name, str) else None


def _keyed(items: list[Any]) -> dict[str, Any] | None:
    """A list of objects with unique names (containers, env, volumes, ports, volumeClaimTemplates) as a
    mapping by name."""
    names = [_name(i) for i in items]
    if None in names:
        return None
    return dict(zip(names, items, strict=True)) if len(set(names)) == len(names) else None  # type: ignore[arg-type]


def changes(old: Any, new: Any, path: tuple[str, ...] = ()) -> list[Change]:
    """Leaf-level differences; lists of named objects are compared by name, other lists as a whole."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(set(old) | set(new), key=str):
            found += changes(old.get(key, _MISSING), new.get(key, _MISSING), (*path, str(key)))
        return found
    if isinstance(old, list) and isinstance(new, list) and old and new:
        old_named, new_named = _keyed(old), _keyed(new)
        if old_named is not None and new_named is not None:
            found = []
            for name in [*old_named, *(n for n in new_named if n not in old_named)]:
                found += changes(old_named.get(name, _MISSING), new_named.get(name, _MISSING), (*path, f"[{name}]"))
            if not found and list(old_named) != list(new_named):
                found.append(Change(path, list(old_named), list(new_named)))
            return found
    if old == new:
        return []
    return [Change(path, None if old is _MISSING else old, None if new is _MISSING else new)]


def _under(change: Change, *prefix: str) -> bool:
    return change.path[: len(prefix)] == prefix


def _template_fields(found: list[Change], prefix: tuple[str, ...]) -> tuple[str, ...]:
    """Readable names of changed pod-template fields: ``checksum/config``, ``containers[mlflow].image``,
    ``containers[mlflow].env[PGPASSWORD]``."""
    names: list[str] = []
    for change in found:
        path = change.path[len(prefix) :]
        if path[:2] in (("metadata", "annotations"), ("metadata", "labels")) and len(path) > 2:
            name = f"{path[1][:-1]} {path[2]}"
        else:
            path = path[1:] if path[:1] == ("spec",) else path
            for i, part in enumerate(path):  # one entry per env var / volume / port, not per sub-field
                if part in ("env", "envFrom", "volumes", "volumeMounts", "ports") and i + 1 < len(path):
                    path = path[: i + 2]
                    break
            name = dotted(path)
        if name not in names:
            names.append(name)
    return tuple(names)


def _kubectl(obj: Obj, verb: str = "delete", extra: str = "") -> str:
    _, kind, namespace, name = key_of(obj)
    scope = f"-n {namespace} " if namespace else ""
    return f"`kubectl {scope}{verb} {kind.lower()} {name}{extra}`"


def _storage(change_ref: str, what: str, old: Any, new: Any, growth: str) -> list[Verdict]:
    before, after = quantity(old), quantity(new)
    if before is None or after is None or before == after:
        return []
    if after > before:
        return [Verdict(STORAGE, change_ref, f"{what} {old} -> {new}: {growth}")]
    return [
        Verdict(
            STORAGE,
            change_ref,
            f"{what} {old} -> {new}: shrinking a volume is refused by Kubernetes; keep {old} or move the data "
            "to a new, smaller volume",
        )
    ]


def _workload(old: Obj, new: Obj, found: list[Change], covered: set[int]) -> list[Verdict]:
    verdicts: list[Verdict] = []
    ref, kind = ref_of(new), new["kind"]

    def take(*prefix: str) -> list[Change]:
        hits = [c for c in found if _under(c, *prefix) and id(c) not in covered]
        covered.update(id(c) for c in hits)
        return hits

    if take("spec", "selector"):
        advice = {
            "Deployment": f"delete the Deployment first ({_kubectl(new)}), then apply; its pods stop until the new "
            "ones are ready",
            "StatefulSet": f"delete the StatefulSet first ({_kubectl(new)}; its PVCs and data stay), then apply; "
            "its pods restart",
            "DaemonSet": f"delete the DaemonSet first ({_kubectl(new)}), then apply; its pods restart",
        }[kind]
        verdicts.append(Verdict(IMMUTABLE, ref, f"spec.selector, the apply will fail: {advice}", ("spec.selector",)))
    if kind == "StatefulSet":
        fixed = [c for c in found if c.path[:2] in (("spec", "serviceName"), ("spec", "podManagementPolicy"))]
        templates = take("spec", "volumeClaimTemplates")
        covered.update(id(c) for c in fixed)
        if fixed or templates:
            names = sorted({c.dotted.split("[")[0] if c in templates else c.dotted for c in [*fixed, *templates]})
            verdicts.append(
                Verdict(
                    IMMUTABLE,
                    ref,
                    f"{', '.join(names)}, the apply will fail: {_kubectl(new, extra=' --cascade=orphan')} first, then "
                    "apply; the pods keep running and the new StatefulSet adopts them",
                    tuple(names),
                )
            )
        replicas = new.get("spec", {}).get("replicas", 1)
        name = new["metadata"]["name"]
        namespace = new["metadata"].get("namespace", "")
        for change in templates:
            if change.path[3:] != ("spec", "resources", "requests", "storage"):
                continue
            template = change.path[2].strip("[]")
            claims = ", ".join(f"{template}-{name}-{i}" for i in range(replicas))
            patch = '{"spec":{"resources":{"requests":{"storage":"%s"}}}}' % change.new  # noqa: UP031
            verdicts += _storage(
                ref,
                f"volumeClaimTemplate {template}",
                change.old,
                change.new,
                f"new claims get {change.new}, existing ones ({claims}) keep {change.old}; with a StorageClass "
                "that has allowVolumeExpansion: true, patch each one: "
                f"`kubectl -n {namespace} patch pvc {template}-{name}-0 -p '{patch}'`",
            )
    template = take("spec", "template")
    if template:
        fields = _template_fields(template, ("spec", "template"))
        verdicts.append(Verdict(PODS_ROLL, ref, ", ".join(fields), fields))
    return verdicts


def _classify(old: Obj, new: Obj) -> list[Verdict]:
    """Verdicts for one object present on both sides."""
    found = changes(old, new)
    if not found:
        return []
    ref, kind = ref_of(new), new["kind"]
    covered: set[int] = set()
    verdicts: list[Verdict] = []

    def take(*prefix: str) -> list[Change]:
        hits = [c for c in found if _under(c, *prefix) and id(c) not in covered]
        covered.update(id(c) for c in hits)
        return hits

    if kind in WORKLOAD_KINDS:
        verdicts += _workload(old, new, found, covered)
    elif kind == "Job":
        fixed = take("spec", "template") + take("spec", "selector")
        if fixed:
            paths = tuple(sorted({".".join(c.path[:2]) for c in fixed}))
            verdicts.append(
                Verdict(
                    IMMUTABLE,
                    ref,
                    f"{', '.join(paths)} of a Job kept under the same name, the apply will fail: delete the Job first "
                    f"({_kubectl(new)}), then apply; it runs again",
                    paths,
                )
            )
    elif kind == "Service":
        fixed = take("spec", "clusterIP")
        if fixed:
            was, now = fixed[0].old or "(allocated)", fixed[0].new or "(allocated)"
            verdicts.append(
                Verdict(
                    IMMUTABLE,
                    ref,
                    f"spec.clusterIP {was} -> {now}, the apply will fail: delete the Service first ({_kubectl(new)}), "
                    "then apply; connections through it drop until it is back",
                    ("spec.clusterIP",),
                )
            )
    elif kind == "PersistentVolumeClaim":
        size = take("spec", "resources", "requests", "storage")
        for change in size:
            verdicts += _storage(
                ref,
                "request",
                change.old,
                change.new,
                "applied in place only if the StorageClass has allowVolumeExpansion: true (otherwise the apply fails)",
            )
        fixed = take("spec")
        if fixed:
            paths = tuple(c.dotted for c in fixed)
            verdicts.append(
                Verdict(
                    IMMUTABLE,
                    ref,
                    f"{', '.join(paths)}, the apply will fail: back up the data, delete the claim ({_kubectl(new)}; "
                    "the data is lost unless the volume's reclaim policy is Retain), then apply",
                    paths,
                )
            )
    elif kind in ("ConfigMap", "Secret") and old.get("immutable") is True:
        fixed = take("data") + take("binaryData") + take("stringData") + take("immutable")
        if fixed:
            verdicts.append(
                Verdict(
                    IMMUTABLE,
                    ref,
                    f"data of an immutable {kind}, the apply will fail: delete it first ({_kubectl(new)}), then apply "
                    "and restart the pods that read it",
                    tuple(c.dotted for c in fixed),
                )
            )
    elif group_of(new) == "postgresql.cnpg.io" and kind == "Cluster":
        for change in take("spec", "storage", "size"):
            verdicts += _storage(
                ref,
                "storage per instance",
                change.old,
                change.new,
                "the operator resizes the PVCs if the StorageClass has allowVolumeExpansion: true",
            )
    elif kind == "Namespace":
        gained = [p for p in prerequisites(new) if p not in prerequisites(old)]
        if gained:
            take("metadata", "annotations")
            verdicts += _prerequisite_entries(new, gained)
    rest = [c for c in found if id(c) not in covered]
    if rest:
        paths = tuple(c.dotted for c in rest)
        verdicts.append(Verdict(IN_PLACE, ref, ", ".join(paths), paths))
    return verdicts


def _prerequisite_entries(namespace: Obj, entries: list[str]) -> list[Verdict]:
    return [
        Verdict(PREREQUISITE, ref_of(namespace), f"{entry} must exist before applying (listed in the Namespace)")
        for entry in entries
    ]


def _produced_secrets(objects: list[Obj]) -> set[tuple[str, str]]:
    """(namespace, Secret) made by objects of the output itself: ExternalSecret, SealedSecret, CloudNativePG."""
    made = set()
    for obj in objects:
        _, kind, namespace, name = key_of(obj)
        if kind == "ExternalSecret":
            made.add((namespace, (obj.get("spec", {}).get("target") or {}).get("name") or name))
        elif kind == "SealedSecret":
            made.add((namespace, obj.get("spec", {}).get("template", {}).get("metadata", {}).get("name") or name))
        elif kind == "Secret":
            made.add((namespace, name))
        elif group_of(obj) == "postgresql.cnpg.io" and kind == "Cluster":
            made.add((namespace, f"{name}-app"))
    return made


def _secret_keys(objects: list[Obj]) -> dict[tuple[str, str, str | None], Obj]:
    """(namespace, Secret, key) -> the first object whose pods read it."""
    found: dict[tuple[str, str, str | None], Obj] = {}
    for obj in objects:
        for secret, key in secret_references(obj):
            found.setdefault((key_of(obj)[2], secret, key), obj)
    return found


def _new_prerequisites(before: list[Obj], after: list[Obj]) -> list[Verdict]:
    verdicts: list[Verdict] = []
    old_kinds = {(group_of(o), o["kind"]) for o in before if is_custom(o)}
    operators = {operator_for(o) for o in before if is_custom(o)}
    for obj in after:
        kind = (group_of(obj), obj["kind"])
        if is_custom(obj) and kind not in old_kinds and operator_for(obj) not in operators:
            old_kinds.add(kind)
            operators.add(operator_for(obj))
            verdicts.append(
                Verdict(
                    PREREQUISITE,
                    ref_of(obj),
                    f"new custom resource kind {obj['kind']} ({obj['apiVersion']}): install {operator_for(obj)} first",
                )
            )
    produced = _produced_secrets(after)
    old_keys = _secret_keys(before)
    for (namespace, secret, key), obj in _secret_keys(after).items():
        if (namespace, secret, key) in old_keys or (namespace, secret) in produced:
            continue
        action = f"add key {key} to Secret {secret}" if key else f"create Secret {secret}"
        verdicts.append(Verdict(PREREQUISITE, ref_of(obj), f"{action} before applying"))
    return verdicts


def _run_once_pairs(removed: list[Obj], added: list[Obj]) -> list[tuple[Obj, Obj]]:
    """(old, new) run-once Jobs replaced under a new hashed name (same namespace and name prefix)."""
    old_by_prefix = {(key_of(o)[2], run_once_prefix(o)): o for o in removed if run_once_prefix(o)}
    return [
        (old_by_prefix[(key_of(n)[2], run_once_prefix(n))], n)
        for n in added
        if run_once_prefix(n) and (key_of(n)[2], run_once_prefix(n)) in old_by_prefix
    ]


def diff_objects(before: list[Obj], after: list[Obj]) -> list[Verdict]:
    """Every verdict for one environment, most severe first (object order within a kind of verdict)."""
    old = {key_of(o): o for o in before}
    new = {key_of(o): o for o in after}
    added = [o for k, o in new.items() if k not in old]
    removed = [o for k, o in old.items() if k not in new]
    verdicts: list[Verdict] = []
    replaced: set[ObjectKey] = set()
    for previous, job in _run_once_pairs(removed, added):
        replaced |= {key_of(previous), key_of(job)}
        fields = _template_fields(changes(previous["spec"]["template"], job["spec"]["template"]), ())
        detail = f"replaces {previous['metadata']['name']}"
        verdicts.append(Verdict(RUNS_AGAIN, ref_of(job), f"{detail}; changed: {', '.join(fields)}", fields))
    for obj in added:
        if key_of(obj) not in replaced:
            verdicts.append(Verdict(ADDED, ref_of(obj), "created by the apply"))
            if obj["kind"] == "Namespace" and prerequisites(obj):
                verdicts += _prerequisite_entries(obj, prerequisites(obj))
    for obj in removed:
        if key_of(obj) not in replaced:
            verdicts.append(
                Verdict(
                    REMOVED,
                    ref_of(obj),
                    "pruned by Argo CD/Flux with prune on; plain `kubectl apply` leaves it running: delete it "
                    f"yourself ({_kubectl(obj)})",
                )
            )
    for key, obj in new.items():
        if key in old:
            verdicts += _classify(old[key], obj)
    verdicts += _new_prerequisites(before, after)
    order = {k: i for i, k in enumerate(SEVERITY)}
    return sorted(verdicts, key=lambda v: order[v.kind])
