"""The rule table of ``python app.py diff``: what each fact about a change (:mod:`facts`) means for a live
cluster and its data, as one of four classes, worst first:

- ``data loss``: data is deleted or no longer served (a PVC, a StatefulSet's or CloudNativePG's volumes or
  the whole Namespace pruned or replaced; the server switched to another database or artifact store);
- ``recreated``: the object must be deleted and created again (an immutable field: the apply fails until
  then), or is created anew under another name or namespace;
- ``rollout``: pods are replaced (a pod template changed) or a run-once Job runs again;
- ``in place``: the object is changed, added or pruned without restarting anything.

:data:`RULES` is the table, in order: each rule reads one :class:`~facts.ObjectDiff` (and the environment's
:class:`~facts.Facts`) and returns :class:`Found` items, claiming the field changes it explains; the last rule
lists what no other rule claimed. The README's verdict table is generated from it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from mlflow_constructs.k8s.quantities import parse_quantity
from mlflow_constructs.review.facts import (
    BUCKET_SETUP,
    MIGRATION,
    RENAMING,
    SERVER,
    Change,
    Facts,
    ObjectDiff,
    Stores,
    data_in,
    data_of,
    produced_secrets,
    secret_keys,
    served_by,
)
from mlflow_constructs.review.objects import (
    PREREQUISITES_ANNOTATION,
    WORKLOAD_KINDS,
    Obj,
    component,
    generated_keys,
    group_of,
    is_custom,
    key_of,
    operator_for,
    prerequisites,
    ref_of,
    run_once_prefix,
)

DATA_LOSS, RECREATED, ROLLOUT, IN_PLACE = "data loss", "recreated", "rollout", "in place"
CLASSES = (DATA_LOSS, RECREATED, ROLLOUT, IN_PLACE)  # worst first
STORAGE_REQUEST = ("spec", "resources", "requests", "storage")
POD_TEMPLATE = ("spec", "template")


@dataclass(frozen=True)
class Found:
    """One consequence a rule found: ``detail`` in words, then ``shown`` (changes printed with old -> new)."""

    detail: str
    shown: tuple[Change, ...] = ()
    covers: tuple[Change, ...] = ()  # the field changes this explains (later rules do not list them again)
    refused: bool = False  # the apply fails until this is resolved
    lost: str | None = None  # what is lost, for the summary
    keep: str | None = None  # how to keep it
    label: str | None = None  # instead of the rule's label
    cls: str | None = None  # instead of the rule's class
    prerequisite: bool = False  # something to provide before applying (listed in the summary)
    secret_keys: tuple[tuple[str, str, str | None], ...] = ()  # (namespace, Secret, key) to provide first


@dataclass(frozen=True)
class Rule:
    label: str
    cls: str
    when: str  # the condition, in words (README verdict table)
    find: Callable[[ObjectDiff, list[Change], Facts], Iterable[Found]]


def _kept(diff: ObjectDiff) -> bool:
    return diff.before is not None and diff.after is not None and not diff.replaced


def _under(found: Iterable[Change], *prefix: str) -> list[Change]:
    return [c for c in found if c.path[: len(prefix)] == prefix]


def _kubectl(obj: Obj, verb: str = "delete", extra: str = "") -> str:
    _, kind, namespace, name = key_of(obj)
    scope = f"-n {namespace} " if namespace else ""
    return f"`kubectl {scope}{verb} {kind.lower()} {name}{extra}`"


def _claims(names: Iterable[str]) -> str:
    names = list(names)
    return f"PVC{'s' if len(names) != 1 else ''} {', '.join(names)}"


# ---------------------------------------------------------------- data loss


def namespace_pruned(diff: ObjectDiff, remaining: list[Change], facts: Facts) -> Iterable[Found]:
    old = diff.before
    if old is None or old["kind"] != "Namespace" or _kept(diff):
        return
    held = data_in(facts.before, old["metadata"]["name"])
    if not held:
        return
    claims = [c for _, data in held for c in data.claims]
    whats = "; ".join(f"{data.what} on {_claims(data.claims)}" for _, data in held)
    moved = f"replaced by Namespace {diff.after['metadata']['name']}; " if diff.after is not None else ""
    yield Found(
        f"{moved}pruning Namespace {old['metadata']['name']} (Argo CD/Flux with prune on) deletes everything in it, "
        f"{_claims(claims)} with it: {whats}",
        covers=diff.changes,
        lost=f"everything in Namespace {old['metadata']['name']}, your Secrets included",
        keep=f"before it is pruned, set the PersistentVolumes of {_claims(claims)} to "
        f"`persistentVolumeReclaimPolicy: Retain` and move the data ({RENAMING})",
    )


def data_pruned(diff: ObjectDiff, remaining: list[Change], facts: Facts) -> Iterable[Found]:
    if diff.after is not None or diff.before is None or not (data := data_of(diff.before)):
        return
    old = diff.before
    one = len(data.claims) == 1
    it, holds = ("it", "holds") if one else ("them", "hold")
    if old["kind"] == "PersistentVolumeClaim":
        fate = "it is deleted, and its volume too unless the PersistentVolume's reclaim policy is Retain"
    elif old["kind"] == "StatefulSet":
        fate = f"Kubernetes keeps {it} when the StatefulSet goes, unused, until the namespace is deleted"
    else:
        fate = f"the operator deletes {it} with the Cluster's instances"
    yield Found(
        f"pruned by Argo CD/Flux with prune on: {_claims(data.claims)} {holds} {data.what}; {fate}",
        covers=diff.changes,
        lost=f"{data.what} on {_claims(data.claims)}",
        keep=data.keep,
    )


def data_replaced(diff: ObjectDiff, remaining: list[Change], facts: Facts) -> Iterable[Found]:
    if not diff.replaced or not (data := data_of(diff.before)):  # type: ignore[arg-type]
        return
    old, new = diff.before, diff.after
    if old is None or new is None:  # replaced: both sides exist
        return
    fresh = data_of(new)
    namespace = key_of(old)[2]
    moved = namespace != key_of(new)[2]
    if old["kind"] == "PersistentVolumeClaim":
        fate = "is pruned with the old name: deleted, and its volume too unless the PersistentVolume's reclaim "
        fate += "policy is Retain"
    elif old["kind"] == "StatefulSet":
        fate = f"stay{'s' if len(data.claims) == 1 else ''} behind, unused, " + (
            f"until namespace {namespace} is pruned" if moved else "until deleted by hand"
        )
    else:
        fate = "are deleted by the operator when the old Cluster is pruned"
    yield Found(
        f"its {'namespace' if moved else 'name'} changed: the new {new['kind']} starts with empty "
        f"{_claims(fresh.claims if fresh else ())}; the old {_claims(data.claims)} in namespace {namespace}, with "
        f"{data.what}, {fate}",
        covers=diff.changes,
        lost=f"{data.what} on {_claims(data.claims)}",
        keep=data.keep,
    )


def claim_recreated(diff: ObjectDiff, remaining: list[Change], facts: Facts) -> Iterable[Found]:
    if not _kept(diff) or diff.current["kind"] != "PersistentVolumeClaim":
        return
    fixed = [c for c in _under(remaining, "spec") if c.path != STORAGE_REQUEST]
    if fixed:
        data = data_of(diff.current)
        what = data.what if data else "its data"
        yield Found(
            f"immutable, the apply fails; recreating the claim ({_kubectl(diff.current)}) deletes {what} unless "
            "its PersistentVolume's reclaim policy is Retain: back up first",
            shown=tuple(fixed),
            covers=tuple(fixed),
            refused=True,
            lost=f"{what} on {_claims([diff.current['metadata']['name']])}, if the claim is recreated",
            keep=data.keep if data else f"copy it first ({RENAMING})",
        )


def _stores(diff: ObjectDiff, facts: Facts) -> tuple[Stores, Stores] | None:
    """The server's stores before and after the change, when ``diff`` is the server's (kept or replaced)."""
    server = diff.before is not None and diff.after is not None and diff.after["kind"] == "Deployment"
    if not server or component(diff.after) != SERVER:  # type: ignore[arg-type]
        return None
    if facts.stores_before is None or facts.stores_after is None:
        return None
    return facts.stores_before, facts.stores_after


def _store_holder(facts: Facts, url: str | None) -> Obj | None:
    """The old output's workload serving a store URL, when this change removes or replaces it (its own line
    then says what is lost)."""
    holder = served_by(facts.before, url)
    return holder if facts.gone(holder) else None


def artifact_store(diff: ObjectDiff, remaining: list[Change], facts: Facts) -> Iterable[Found]:
    if not (stores := _stores(diff, facts)):
        return
    old, new = stores
    if old.artifact_store == new.artifact_store or old.artifacts is None or new.artifacts is None:
        return
    if not old.proxied:
        yield Found(
            f"clients log new artifacts to {new.artifact_store} instead of {old.artifact_store}; runs logged so far "
            "keep their URIs in the old store, which clients must still reach",
            cls=IN_PLACE,
            label="artifact root changed",
        )
        return
    claims = [o for o in facts.before if o["kind"] == "PersistentVolumeClaim" and o["metadata"]["name"] == old.claim]
    holder = _store_holder(facts, old.endpoint) or next((c for c in claims if facts.gone(c)), None)
    yield Found(
        f"the server stores artifacts in {new.artifact_store} instead of {old.artifact_store}: those logged so far "
        "stay in the old store and are no longer served (runs keep `mlflow-artifacts:/` URIs, which now resolve "
        "in the new store)",
        lost=None if holder else f"the artifacts logged so far in {old.artifact_store} (no longer served)",
        keep="copy them to the new store before applying (`mc mirror`, `aws s3 sync`, `azcopy copy`, "
        "`gcloud storage rsync`)",
    )


def tracking_database(diff: ObjectDiff, remaining: list[Change], facts: Facts) -> Iterable[Found]:
    if not (stores := _stores(diff, facts)):
        return
    old, new = stores
    if old.tracking == new.tracking or old.tracking is None or new.tracking is None:
        return
    holder = _store_holder(facts, old.tracking)
    yield Found(
        f"the server uses the tracking database {new.tracking} instead of {old.tracking}: the experiments, runs "
        "and models in the old one are no longer served, and the migration Job creates an empty schema in the "
        "new one",
        lost=None if holder else f"the experiments, runs and models in {old.tracking} (no longer served)",
        keep='`pg_dump` the old database and `pg_restore` it into the new one before applying (README "Backups '
        'and restore")',
    )


def registry_database(diff: ObjectDiff, remaining: list[Change], facts: Facts) -> Iterable[Found]:
    if not (stores := _stores(diff, facts)):
        return
    old, new = stores
    if old.registry == new.registry or old.registry is None or new.registry is None:
        return
    if (old.registry, new.registry) == (old.tracking, new.tracking):
        return  # it moves with the tracking database, whose line says so
    holder = _store_holder(facts, old.registry)
    yield Found(
        f"the server keeps the model registry in {new.registry} instead of {old.registry}: the registered "
        "models, versions and aliases in the old one are no longer served, and the migration Job creates an "
        "empty schema in the new one",
        lost=None if holder else f"the registered models in {old.registry} (no longer served)",
        keep='`pg_dump` the old database and `pg_restore` it into the new one before applying (README "Model '
        'registry in a database of its own")',
    )


# ---------------------------------------------------------------- recreated


def immutable(diff: ObjectDiff, remaining: list[Change], facts: Facts) -> Iterable[Found]:
    if not _kept(diff):
        return
    obj, kind = diff.current, diff.current["kind"]
    if kind in WORKLOAD_KINDS and (selector := _under(remaining, "spec", "selector")):
        advice = {
            "Deployment": f"delete the Deployment first ({_kubectl(obj)}), then apply; its pods stop until the new "
            "ones are ready",
            "StatefulSet": f"delete the StatefulSet first ({_kubectl(obj)}; its PVCs and data stay), then apply; "
            "its pods restart",
            "DaemonSet": f"delete the DaemonSet first ({_kubectl(obj)}), then apply; its pods restart",
        }[kind]
        yield Found(
            f"spec.selector, the apply fails: {advice}", shown=tuple(selector), covers=tuple(selector), refused=True
        )
    if kind == "StatefulSet":
        fixed = [
            *_under(remaining, "spec", "serviceName"),
            *_under(remaining, "spec", "podManagementPolicy"),
            *_under(remaining, "spec", "volumeClaimTemplates"),
        ]
        if fixed:
            yield Found(
                f"the apply fails: {_kubectl(obj, extra=' --cascade=orphan')} first, then apply; the pods keep "
                "running and the new StatefulSet adopts them (existing claims keep their spec)",
                shown=tuple(fixed),
                covers=tuple(fixed),
                refused=True,
            )
    elif kind == "Job" and (fixed := [*_under(remaining, *POD_TEMPLATE), *_under(remaining, "spec", "selector")]):
        yield Found(
            f"the pod template of a Job kept under its name, the apply fails: delete the Job first ({_kubectl(obj)}), "
            "then apply; it runs again",
            shown=tuple(fixed),
            covers=tuple(fixed),
            refused=True,
        )
    elif kind == "Service" and (fixed := _under(remaining, "spec", "clusterIP")):
        dropped = all(c.new is None for c in fixed)  # the API server keeps the old value: no error, no change
        outcome = f"the apply keeps the live {fixed[0].old}" if dropped else "the apply fails"
        yield Found(
            f"{outcome}: delete the Service first ({_kubectl(obj)}), then apply; connections through it drop until "
            "it is back",
            shown=tuple(fixed),
            covers=tuple(fixed),
            refused=not dropped,
        )
    elif kind in ("ConfigMap", "Secret") and diff.before.get("immutable") is True:  # type: ignore[union-attr]
        fixed = [c for c in remaining if c.path[:1] in (("data",), ("binaryData",), ("stringData",), ("immutable",))]
        if fixed:
            yield Found(
                f"data of an immutable {kind}, the apply fails: delete it first ({_kubectl(obj)}), then apply and "
                "restart the pods that read it",
                shown=tuple(fixed),
                covers=tuple(fixed),
                refused=True,
            )
    elif group_of(obj) == "postgresql.cnpg.io" and kind == "Database":
        if fixed := _under(remaining, "spec", "cluster"):
            yield Found(
                f"the Cluster of a CloudNativePG Database is immutable, the apply fails: delete it first "
                f"({_kubectl(obj)}; with the default reclaim policy the database itself stays), then apply",
                shown=tuple(fixed),
                covers=tuple(fixed),
                refused=True,
            )


def _holds_data(obj: Obj | None, facts: Facts) -> bool:
    """An object with claims of its own, or a Namespace holding such objects."""
    if obj is None:
        return False
    if obj["kind"] == "Namespace":
        return bool(data_in(facts.before, obj["metadata"]["name"]))
    return data_of(obj) is not None


def renamed(diff: ObjectDiff, remaining: list[Change], facts: Facts) -> Iterable[Found]:
    if not diff.replaced or run_once_prefix(diff.current) or _holds_data(diff.before, facts):
        return
    before = diff.before
    if before is None:  # replaced: the old object exists
        return
    what = "namespace" if key_of(before)[2] != key_of(diff.current)[2] else "name"
    cleanup = (
        "delete it once nothing of yours is left in it"
        if before["kind"] == "Namespace"
        else f"`{_kubectl(before).strip('`')}`"
    )
    yield Found(
        f"new {what}, created anew; the old one is pruned (plain `kubectl apply` leaves it: {cleanup})",
        covers=diff.changes,
    )


# ---------------------------------------------------------------- rollout


def runs_again(diff: ObjectDiff, remaining: list[Change], facts: Facts) -> Iterable[Found]:
    if diff.before is None or diff.after is None or not diff.replaced or not run_once_prefix(diff.after):
        return
    label = {MIGRATION: "migration runs again", BUCKET_SETUP: "bucket setup runs again"}.get(
        component(diff.after) or "", "job runs again"
    )
    template = _under(diff.changes, *POD_TEMPLATE)
    yield Found(
        "a new pod template makes a new Job",
        shown=tuple(template),
        covers=diff.changes,
        label=label,
    )


def pods_roll(diff: ObjectDiff, remaining: list[Change], facts: Facts) -> Iterable[Found]:
    if _kept(diff) and diff.current["kind"] in WORKLOAD_KINDS and (template := _under(remaining, *POD_TEMPLATE)):
        yield Found("", shown=tuple(template), covers=tuple(template))


# ---------------------------------------------------------------- in place


def _storage(old: object, new: object, growth: str) -> Found | None:
    before, after = parse_quantity(old), parse_quantity(new)
    if before is None or after is None or before == after:
        return None
    if after > before:
        return Found(f"{old} -> {new}: {growth}")
    return Found(
        f"{old} -> {new}: shrinking a volume is refused by Kubernetes; keep {old}, or move the data to a new, smaller "
        "volume",
        cls=RECREATED,
        refused=True,
    )


def storage(diff: ObjectDiff, remaining: list[Change], facts: Facts) -> Iterable[Found]:
    if not _kept(diff):
        return
    obj = diff.current
    if obj["kind"] == "PersistentVolumeClaim":
        for change in _under(diff.changes, *STORAGE_REQUEST):
            found = _storage(
                change.old,
                change.new,
                "applied in place only if the StorageClass has allowVolumeExpansion: true (else the apply fails)",
            )
            if found:
                yield Found(found.detail, covers=(change,), cls=found.cls, refused=found.refused)
    elif obj["kind"] == "StatefulSet":
        name, namespace = obj["metadata"]["name"], obj["metadata"].get("namespace", "")
        replicas = obj.get("spec", {}).get("replicas", 1)
        for change in _under(diff.changes, "spec", "volumeClaimTemplates"):
            if change.path[3:] != STORAGE_REQUEST:
                continue
            template = change.path[2].strip("[]")
            claims = ", ".join(f"{template}-{name}-{i}" for i in range(replicas))
            patch = '{"spec":{"resources":{"requests":{"storage":"%s"}}}}' % change.new  # noqa: UP031
            found = _storage(
                change.old,
                change.new,
                f"new claims get {change.new}, existing ones ({claims}) keep {change.old}; with a StorageClass that "
                "has allowVolumeExpansion: true, patch each one: "
                f"`kubectl -n {namespace} patch pvc {template}-{name}-0 -p '{patch}'`",
            )
            if found:
                yield Found(f"volumeClaimTemplate {template} {found.detail}", cls=IN_PLACE)
    elif group_of(obj) == "postgresql.cnpg.io" and obj["kind"] == "Cluster":
        for change in _under(diff.changes, "spec", "storage", "size"):
            found = _storage(
                change.old,
                change.new,
                "the operator resizes the PVCs if the StorageClass has allowVolumeExpansion: true",
            )
            if found:
                yield Found(f"per instance {found.detail}", covers=(change,), cls=found.cls, refused=found.refused)


def _first_of_a_new_operator(obj: Obj, facts: Facts) -> bool:
    """``obj`` is the first object of the new output whose operator the old output did not need."""
    if not is_custom(obj) or operator_for(obj) in {operator_for(o) for o in facts.before if is_custom(o)}:
        return False
    return next(o for o in facts.after if is_custom(o) and operator_for(o) == operator_for(obj)) is obj


def prerequisite(diff: ObjectDiff, remaining: list[Change], facts: Facts) -> Iterable[Found]:
    obj = diff.after
    if obj is None:
        return
    if obj["kind"] == "Namespace":
        had = {p for ns in facts.before if ns["kind"] == "Namespace" for p in prerequisites(ns)}
        had |= {f"Secret/{secret}" for secret, _ in generated_keys(facts.before)}  # exists: its new keys below
        covers = tuple(c for c in remaining if c.path == ("metadata", "annotations", PREREQUISITES_ANNOTATION))
        for i, entry in enumerate(p for p in prerequisites(obj) if p not in had):
            yield Found(
                f"{entry} must exist before applying (listed in the Namespace)",
                covers=covers if i == 0 else (),
                prerequisite=True,
            )
    if _first_of_a_new_operator(obj, facts):
        yield Found(
            f"new custom resource kind {obj['kind']} ({obj['apiVersion']}): install {operator_for(obj)} first",
            prerequisite=True,
        )
    produced = produced_secrets(facts.after)
    generated = generated_keys(facts.after)
    old_keys = secret_keys(facts.before)
    needed = [
        (namespace, secret, key)
        for (namespace, secret, key), reader in secret_keys(facts.after).items()
        if reader is obj
        and (namespace, secret, key) not in old_keys
        and (namespace, secret) not in produced
        and (secret, key) not in generated
    ]
    by_secret: dict[tuple[str, str], list[str | None]] = {}
    for namespace, secret, key in needed:
        by_secret.setdefault((namespace, secret), []).append(key)
    for (namespace, secret), keys in by_secret.items():
        named = [k for k in keys if k]
        what = f"key{'s' if len(named) != 1 else ''} {', '.join(named)}" if named else "every key it needs"
        yield Found(
            f"its pods read {what} of Secret {secret} (namespace {namespace}), which they did not read before",
            prerequisite=True,
            secret_keys=tuple((namespace, secret, k) for k in keys),
        )


def store_credentials(diff: ObjectDiff, remaining: list[Change], facts: Facts) -> Iterable[Found]:
    if not (stores := _stores(diff, facts)):
        return
    old, new = stores
    scheme = (old.artifacts or "").split("://")[0] == (new.artifacts or "").split("://")[0]
    if not new.credentials or new.credentials != old.credentials or (old.endpoint == new.endpoint and scheme):
        return
    if served_by(facts.after, new.endpoint):  # an in-environment store: its setup Job creates that user
        return
    secret = new.credentials[0][0]
    keys = ", ".join(key for _, key in new.credentials)
    now = f"S3-compatible store at {new.endpoint}" if new.endpoint else "AWS S3"
    if not (new.artifacts or "").startswith("s3://"):
        now = new.artifact_store or "the new store"
    holder = served_by(facts.before, old.endpoint)
    was = f"{old.endpoint}, served by {ref_of(holder)}" if holder else old.artifact_store
    yield Found(
        f"keys {keys} of Secret {secret} now authenticate to {now} ({new.artifacts}): they must hold its "
        f"credentials before applying (until now they held credentials for {was})",
        prerequisite=True,
    )


def added(diff: ObjectDiff, remaining: list[Change], facts: Facts) -> Iterable[Found]:
    if diff.before is None:
        yield Found("created by the apply")


def pruned(diff: ObjectDiff, remaining: list[Change], facts: Facts) -> Iterable[Found]:
    old = diff.before
    if diff.after is not None or old is None or data_of(old) or (old["kind"] == "Namespace" and facts.after):
        return
    how = (
        "delete it yourself once nothing of yours is left in it (everything in it goes with it)"
        if old["kind"] == "Namespace"
        else f"delete it yourself ({_kubectl(old)})"
    )
    yield Found(f"pruned by Argo CD/Flux with prune on; plain `kubectl apply` leaves it: {how}")


def in_place(diff: ObjectDiff, remaining: list[Change], facts: Facts) -> Iterable[Found]:
    if _kept(diff) and remaining:
        yield Found("", shown=tuple(remaining), covers=tuple(remaining))


RULES: tuple[Rule, ...] = (
    Rule(
        "namespace pruned",
        DATA_LOSS,
        "the Namespace is removed or replaced (a new `namespace`) while it holds PVCs: pruning it deletes them",
        namespace_pruned,
    ),
    Rule(
        "data pruned",
        DATA_LOSS,
        "a PVC, a StatefulSet with volumeClaimTemplates (bundled PostgreSQL, MinIO) or a CloudNativePG Cluster is "
        "removed: the claims are deleted (a StatefulSet's are kept, unused)",
        data_pruned,
    ),
    Rule(
        "data replaced",
        DATA_LOSS,
        "such an object is replaced under another `name` or `namespace`: the new one starts with empty claims",
        data_replaced,
    ),
    Rule(
        "claim recreated",
        DATA_LOSS,
        "a PVC's spec changes other than a larger request (storage class, access modes): immutable, and "
        "recreating the claim deletes its data",
        claim_recreated,
    ),
    Rule(
        "artifact store changed",
        DATA_LOSS,
        "the server's artifact destination or S3 endpoint changes (e.g. `minio` -> `s3`, another bucket or "
        "prefix): artifacts logged so far are no longer served; with `proxied: false` only new runs move "
        "(`in place`, artifact root changed)",
        artifact_store,
    ),
    Rule(
        "tracking database changed",
        DATA_LOSS,
        "the server's `MLFLOW_BACKEND_STORE_URI` changes (another database, host or `database.type`): the old "
        "records are no longer served",
        tracking_database,
    ),
    Rule(
        "model registry database changed",
        DATA_LOSS,
        "the server's `MLFLOW_REGISTRY_STORE_URI` changes apart from the tracking store's (`database.registry` "
        "turned on or off, another registry database): the registered models are no longer served",
        registry_database,
    ),
    Rule(
        "immutable field",
        RECREATED,
        "selectors of Deployments/StatefulSets/DaemonSets, a StatefulSet's `volumeClaimTemplates`/`serviceName`/"
        "`podManagementPolicy`, the pod template of a Job kept under its name, a Service made headless, the data of "
        "an `immutable: true` ConfigMap/Secret, a CloudNativePG Database's cluster: the apply fails; a headless "
        "Service's `clusterIP: None` dropped: the apply keeps it; the line says what to delete first",
        immutable,
    ),
    Rule(
        "renamed",
        RECREATED,
        "an object without data gets another `name` or `namespace`: created anew, the old one pruned",
        renamed,
    ),
    Rule(
        "migration runs again",
        ROLLOUT,
        "a run-once Job (Argo CD hook) gets a new `<name>-migrate-<hash>` / `<name>-minio-bucket-<hash>` name: it "
        "runs again (labelled `migration runs again`, `bucket setup runs again`)",
        runs_again,
    ),
    Rule(
        "pods roll",
        ROLLOUT,
        "a Deployment/StatefulSet/DaemonSet pod template changed, with each field's old -> new value",
        pods_roll,
    ),
    Rule(
        "storage size",
        IN_PLACE,
        "a PVC, `volumeClaimTemplates` or CloudNativePG storage request grew (needs a StorageClass with "
        "`allowVolumeExpansion`; StatefulSet claims are patched one by one); a shrink is refused (`recreated`)",
        storage,
    ),
    Rule(
        "new prerequisite",
        IN_PLACE,
        "the Namespace's `mlflow-k8s/prerequisites` gains an entry, a custom resource kind needs its operator, or a "
        "pod reads a Secret key it did not read before",
        prerequisite,
    ),
    Rule(
        "store credentials",
        IN_PLACE,
        "the artifact store changes but the server reads the same Secret keys: they must now hold the new store's "
        "credentials (e.g. AWS keys instead of the bundled MinIO user)",
        store_credentials,
    ),
    Rule("added", IN_PLACE, "a new object", added),
    Rule(
        "pruned",
        IN_PLACE,
        "a removed object without data: Argo CD/Flux with prune on delete it, plain `kubectl apply` leaves it (the "
        "line says how to delete it)",
        pruned,
    ),
    Rule("changed", IN_PLACE, "any other field, with its old -> new value", in_place),
)
