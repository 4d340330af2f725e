"""What changed between two syntheses of one environment, as facts: no judgement (``rules`` says what each fact
means for a live cluster, ``render`` how it reads).

- :func:`changes`: leaf-level field differences of one object, each with its old and new value;
- :func:`object_diffs`: one :class:`ObjectDiff` per object, whether added, removed, changed, or replaced by an
  object of the same role under another name or namespace (a new ``name``/``namespace``, a run-once Job's new
  hash), so an object is one entry, never an add plus a remove;
- :func:`data_of`: what an object's volumes hold (the claims, and how to keep them);
- :func:`stores_of`: where the MLflow server keeps its records and artifacts, and the credentials it reads.

Objects are recognised by the labels the constructs set (``app.kubernetes.io/name`` names the component,
``app.kubernetes.io/instance`` is the environment's ``name``) and by kind, never by image names or flags;
values are read where the programs read them: the server's store URI and S3 endpoint from its environment,
its artifact destination from its arguments (``--artifacts-destination``, else ``--default-artifact-root``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from mlflow_constructs.review.objects import (
    Obj,
    component,
    group_of,
    instance,
    key_of,
    ref_of,
    run_once_prefix,
    secret_references,
)

SERVER = "mlflow"  # the component label of the MLflow server (its Deployment, ServiceAccount, artifacts PVC)
MIGRATION = "mlflow-migrate"
BUCKET_SETUP = "minio-bucket"
BACKUPS = "postgresql-backup"
CNPG_GROUP = "postgresql.cnpg.io"
TRACKING_STORE = "MLFLOW_BACKEND_STORE_URI"
REGISTRY_STORE = "MLFLOW_REGISTRY_STORE_URI"
S3_ENDPOINT = "MLFLOW_S3_ENDPOINT_URL"
# Environment variables through which the server authenticates to its artifact store.
STORE_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AZURE_STORAGE_CONNECTION_STRING")
RENAMING = 'README "Renaming without recreating"'

# (kind, component) -> what the object's volumes hold and how to keep it when the object goes.
HOLDERS: dict[tuple[str, str], tuple[str, str]] = {
    ("StatefulSet", "postgresql"): (
        "the tracking and auth databases (bundled PostgreSQL)",
        f"`pg_dump` both databases first and restore them into the new database, or keep the volume ({RENAMING})",
    ),
    ("Cluster", "postgresql"): (
        "the tracking and auth databases (CloudNativePG)",
        'take a backup first and bootstrap the new Cluster from it (README "Restore CloudNativePG"), or '
        "`pg_dump`/`pg_restore` into the new database",
    ),
    ("StatefulSet", "minio"): (
        "the artifacts (bundled MinIO)",
        f"copy the bucket to the new store first (`mc mirror`), or keep the volume ({RENAMING})",
    ),
    ("PersistentVolumeClaim", SERVER): (
        "the artifacts (PVC artifact store)",
        f"copy the files to the new store first, or keep the volume ({RENAMING})",
    ),
    ("PersistentVolumeClaim", BACKUPS): (
        "the database dumps (backups)",
        'copy the dumps off the volume first (README "Backups and restore")',
    ),
}
_OTHER_DATA = ("data", f"copy it first, or keep the volume ({RENAMING})")


@dataclass(frozen=True)
class Change:
    """One leaf-level difference: ``path`` into the object, with the values before and after (None: absent)."""

    path: tuple[str, ...]
    old: Any
    new: Any

    @property
    def dotted(self) -> str:
        return dotted(self.path)


def dotted(path: tuple[str, ...]) -> str:
    """``spec.template.spec.containers[mlflow].image``; keys holding ``.`` or ``/`` in brackets."""
    text = ""
    for part in path:
        if part.startswith("["):
            text += part
        elif "." in part or "/" in part:
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


_MISSING = object()


def _name(item: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    name = item.get("name", (item.get("metadata") or {}).get("name"))
    return name if isinstance(name, str) else None


def _keyed(items: list[Any]) -> dict[str, Any] | None:
    """A list of objects with unique names (containers, env, volumes, ports, volumeClaimTemplates) as a mapping
    by name; None for other lists."""
    names = [_name(i) for i in items]
    if None in names or len(set(names)) != len(names):
        return None
    return dict(zip(names, items, strict=True))  # type: ignore[arg-type]


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
        if len(old) == len(new) and all(isinstance(i, dict) for i in [*old, *new]):  # e.g. NetworkPolicy rules
            return [c for i, (a, b) in enumerate(zip(old, new, strict=True)) for c in changes(a, b, (*path, f"[{i}]"))]
    if old == new:
        return []
    return [Change(path, None if old is _MISSING else old, None if new is _MISSING else new)]


def lookup(obj: Any, path: tuple[str, ...]) -> Any:
    """The value at ``path`` (as in :class:`Change`), or None."""
    for part in path:
        if isinstance(obj, list) and part.startswith("["):
            key = part[1:-1]
            named = next((i for i in obj if _name(i) == key), None)
            obj = obj[int(key)] if named is None and key.isdigit() and int(key) < len(obj) else named
        elif isinstance(obj, dict):
            obj = obj.get(part)
        else:
            return None
    return obj


# Lists whose items are shown whole: one entry per env var (a literal or a reference), not per sub-field.
ITEM_LISTS = ("env",)


def grouped(found: list[Change] | tuple[Change, ...], before: Obj | None, after: Obj | None) -> list[Change]:
    """``found`` with the sub-field changes of one list item (``env[X].value``) merged into one change of the
    whole item (``env[X]``, old and new entry), in order."""
    merged: list[Change] = []
    seen: set[tuple[str, ...]] = set()
    for change in found:
        path = change.path
        for i, part in enumerate(path[:-2]):
            if part in ITEM_LISTS and path[i + 1].startswith("["):
                path = path[: i + 2]
                break
        if path == change.path:
            merged.append(change)
        elif path not in seen:
            seen.add(path)
            merged.append(Change(path, lookup(before, path), lookup(after, path)))
    return merged


@dataclass(frozen=True)
class ObjectDiff:
    """One object's change: ``before`` None when added, ``after`` None when removed; both set and of different
    identity when it was replaced (same role, another name or namespace)."""

    before: Obj | None
    after: Obj | None
    changes: tuple[Change, ...] = ()

    @property
    def ref(self) -> str:
        if self.before is not None and self.after is not None and key_of(self.before) != key_of(self.after):
            _, kind, namespace, name = key_of(self.after)
            return f"{ref_of(self.before)} -> {f'{namespace}/{name}' if namespace else name}"
        return ref_of(self.after if self.after is not None else self.before)  # type: ignore[arg-type]

    @property
    def current(self) -> Obj:
        """The object as it will be (as it was, when removed)."""
        return self.after if self.after is not None else self.before  # type: ignore[return-value]

    @property
    def replaced(self) -> bool:
        return self.before is not None and self.after is not None and key_of(self.before) != key_of(self.after)


def _role(obj: Obj) -> tuple[str, ...]:
    """What an object is for, independent of the environment's ``name`` and ``namespace`` and of a run-once
    Job's hash: the same role on both sides of a rename is the same object, recreated."""
    group, kind, _, name = key_of(obj)
    if kind == "Namespace":
        return (group, kind)
    stem = run_once_prefix(obj) or name
    base = instance(obj)
    if base and stem.startswith(base):
        stem = "<name>" + stem[len(base) :]
    return (group, kind, component(obj) or "", stem)


def object_diffs(before: list[Obj], after: list[Obj]) -> list[ObjectDiff]:
    """Every object that differs, once, in output order: kept objects with their field changes, objects replaced
    by one of the same role (paired), added ones; then the removed ones. Unchanged objects are left out."""
    old = {key_of(o): o for o in before}
    new_keys = {key_of(o) for o in after}
    removed = [o for k, o in old.items() if k not in new_keys]
    by_role: dict[tuple[str, ...], list[Obj]] = {}
    for obj in removed:
        by_role.setdefault(_role(obj), []).append(obj)
    diffs = []
    for obj in after:
        previous = old.get(key_of(obj))
        if previous is None and by_role.get(_role(obj)):
            previous = by_role[_role(obj)].pop(0)
            removed.remove(previous)
        diff = ObjectDiff(previous, obj, tuple(changes(previous, obj)) if previous is not None else ())
        if previous is None or diff.changes or diff.replaced:
            diffs.append(diff)
    return diffs + [ObjectDiff(o, None) for o in removed]


# ---------------------------------------------------------------- data


@dataclass(frozen=True)
class Data:
    """What an object's volumes hold: ``claims`` (PersistentVolumeClaim names), ``what`` in words, and how to
    keep it when the object goes."""

    what: str
    claims: tuple[str, ...]
    keep: str


def claims_of(obj: Obj) -> tuple[str, ...]:
    """The PersistentVolumeClaims an object owns: itself, a StatefulSet's ``<template>-<name>-<ordinal>``, a
    CloudNativePG Cluster's ``<name>-<serial>`` (the operator numbers instances from 1)."""
    _, kind, _, name = key_of(obj)
    spec = obj.get("spec") or {}
    if kind == "PersistentVolumeClaim":
        return (name,)
    if kind == "StatefulSet":
        replicas = spec.get("replicas", 1)
        templates = [t["metadata"]["name"] for t in spec.get("volumeClaimTemplates") or []]
        return tuple(f"{t}-{name}-{i}" for t in templates for i in range(replicas))
    if group_of(obj) == CNPG_GROUP and kind == "Cluster":
        return tuple(f"{name}-{i}" for i in range(1, spec.get("instances", 1) + 1))
    return ()


def data_of(obj: Obj) -> Data | None:
    """What ``obj`` keeps on volumes, or None for an object without data of its own."""
    claims = claims_of(obj)
    if not claims:
        return None
    what, keep = HOLDERS.get((obj["kind"], component(obj) or ""), _OTHER_DATA)
    return Data(what, claims, keep)


def data_in(objects: list[Obj], namespace: str) -> list[tuple[Obj, Data]]:
    """The data holders of a namespace."""
    return [(o, d) for o in objects if key_of(o)[2] == namespace and (d := data_of(o))]


# ---------------------------------------------------------------- the server's stores


@dataclass(frozen=True)
class Stores:
    """Where the MLflow server keeps records and artifacts, as its container is configured."""

    tracking: str | None  # the store URI, or "Secret <name> key <key>"
    artifacts: str | None  # the artifact destination (a URI, or a path on a mounted volume)
    endpoint: str | None  # MLFLOW_S3_ENDPOINT_URL: an S3-compatible store other than AWS
    credentials: tuple[tuple[str, str], ...]  # (Secret, key) of each store credential the server reads
    proxied: bool  # the server reads and writes the artifacts (clients never reach the store)
    claim: str | None  # the PersistentVolumeClaim mounted where a path destination lies
    registry: str | None = None  # the model registry's store URI (MLflow: the tracking one when not set)

    @property
    def artifact_store(self) -> str | None:
        if self.artifacts is None:
            return None
        return f"{self.artifacts} at {self.endpoint}" if self.endpoint else self.artifacts


def server_of(objects: list[Obj]) -> Obj | None:
    """The MLflow server's Deployment (component label ``mlflow``)."""
    return next((o for o in objects if o["kind"] == "Deployment" and component(o) == SERVER), None)


def _arg(args: list[str], flag: str) -> str | None:
    return args[args.index(flag) + 1] if flag in args and args.index(flag) + 1 < len(args) else None


def env_source(entry: Obj) -> str:
    """An env var's value in words: the literal, or where it is read from."""
    if "value" in entry:
        return str(entry["value"])
    source = entry.get("valueFrom") or {}
    for kind, field in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
        if kind in source:
            return f"{field} {source[kind]['name']} key {source[kind]['key']}"
    if "fieldRef" in source:
        return f"field {source['fieldRef']['fieldPath']}"
    return "(empty)"


def stores_of(objects: list[Obj]) -> Stores | None:
    """The stores of the server's main container (the first of its containers); None without a server."""
    server = server_of(objects)
    if server is None:
        return None
    main = server["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in main.get("env", [])}
    args = [*main.get("command", []), *main.get("args", [])]
    tracking = env_source(env[TRACKING_STORE]) if TRACKING_STORE in env else None
    registry = env_source(env[REGISTRY_STORE]) if REGISTRY_STORE in env else tracking
    # The server writes to --artifacts-destination when it proxies artifacts, else clients use the root.
    destination = _arg(args, "--artifacts-destination")
    artifacts = destination or _arg(args, "--default-artifact-root")
    endpoint = env[S3_ENDPOINT].get("value") if S3_ENDPOINT in env else None
    credentials = tuple(
        (ref["name"], ref["key"])
        for name in STORE_CREDENTIALS
        if (ref := ((env.get(name) or {}).get("valueFrom") or {}).get("secretKeyRef"))
    )
    claim = None
    if artifacts and artifacts.startswith("/"):
        mounts = [m for m in main.get("volumeMounts", []) if artifacts.startswith(m["mountPath"])]
        mount = max(mounts, key=lambda m: len(m["mountPath"]), default=None)
        volumes = server["spec"]["template"]["spec"].get("volumes", [])
        volume = next((v for v in volumes if mount and v["name"] == mount["name"]), {})
        claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
    return Stores(
        tracking, artifacts, endpoint, credentials, proxied=destination is not None, claim=claim, registry=registry
    )


def served_by(objects: list[Obj], url: str | None) -> Obj | None:
    """The in-environment workload behind a URL's host (``http://mlflow-minio:9000`` -> StatefulSet
    ``mlflow-minio``), found through the Service of that name."""
    host = (urlparse(url).hostname or "").split(".", 1)[0] if url and "://" in url else ""
    if not host:
        return None
    service = next((o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == host), None)
    selector = ((service or {}).get("spec") or {}).get("selector") or {}
    if not selector:
        return None
    for obj in objects:
        template = ((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}
        pod = template.get("labels") or {}
        if obj["kind"] in ("StatefulSet", "Deployment") and all(pod.get(k) == v for k, v in selector.items()):
            return obj
    return None


# ---------------------------------------------------------------- secrets and custom kinds


def produced_secrets(objects: list[Obj]) -> set[tuple[str, str]]:
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
        elif group_of(obj) == CNPG_GROUP and kind == "Cluster":
            made.add((namespace, f"{name}-app"))
    return made


def secret_keys(objects: list[Obj]) -> dict[tuple[str, str, str | None], Obj]:
    """(namespace, Secret, key) -> the first object whose pods read it (key None: the whole Secret)."""
    found: dict[tuple[str, str, str | None], Obj] = {}
    for obj in objects:
        for secret, key in secret_references(obj):
            found.setdefault((key_of(obj)[2], secret, key), obj)
    return found


# ---------------------------------------------------------------- one environment


@dataclass(frozen=True)
class Facts:
    """Everything the rules read about one environment's change."""

    before: list[Obj]
    after: list[Obj]
    diffs: list[ObjectDiff]
    stores_before: Stores | None
    stores_after: Stores | None

    def gone(self, obj: Obj | None) -> bool:
        """Whether ``obj`` (of the old output) is removed or replaced by this change."""
        return obj is not None and any(d.before is obj and (d.after is None or d.replaced) for d in self.diffs)


def facts(before: list[Obj], after: list[Obj]) -> Facts:
    return Facts(before, after, object_diffs(before, after), stores_of(before), stores_of(after))
