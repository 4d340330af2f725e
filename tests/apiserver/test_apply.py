"""What only the API server can tell: each environment applied for real to kube-apiserver.

One kube-apiserver (and etcd) for the session, the upstream CRDs of ``crds/`` installed. Each test works in
namespaces of its own (``<tag>-<namespace>``, see ``rename_namespaces``), so every environment lands in
an empty cluster even though several share ``namespace: mlflow``.

- accepted: ``kubectl apply --server-side`` takes every object (OpenAPI and CRD structural schemas, CEL
  ``x-kubernetes-validations``, defaulting, admission);
- Pod Security: a Pod made from each pod template is admitted, with a server-side dry run, by the
  namespace's own ``pod-security.kubernetes.io/enforce: restricted``; a privileged Pod is refused there;
- upgrade: the output of an older revision, then today's, applied over it, leaves exactly today's;
- immutable fields: a changed Deployment selector, StatefulSet volumeClaimTemplates or serviceName, a Job's
  pod template, a Service made headless, a claim's access modes or a smaller request, an immutable ConfigMap's
  data, a CloudNativePG Database's cluster (a CEL transition rule: CEL rules are live) are refused, as on a
  real cluster; a headless Service whose clusterIP is dropped is accepted and stays headless;
- ``python app.py diff``: its `recreated` (claims: `data loss`) class covers each of these, it predicts exactly
  the objects the API server refuses (here and on the upgrade of every environment), and the `kubectl delete`
  its line gives makes the apply go through;
- name lengths: every shipped environment at the longest ``name`` and ``namespace`` synthesis accepts is taken,
  and so is what its controllers would make from it (``mlflow_constructs.k8s.controllers``, created in a dry
  run); one character more is refused by synthesis and by the API server;
- the model registry in a database of its own on the bundled PostgreSQL and on CloudNativePG, at the longest
  names: accepted and admitted by Pod Security ``restricted``;
- idempotence: applying the same file again changes nothing (``kubectl diff --server-side`` is empty, the
  stored objects stay the same and, PersistentVolumeClaims aside, so do their resourceVersions), so a
  GitOps controller does not loop.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cluster import REPO, Cluster, dump, namespace_for, namespaces_of, rename_namespaces

from mlflow_constructs.review import diff as review_diff
from mlflow_constructs.review import facts as review_diff_facts
from mlflow_constructs.review import render

sys.path.insert(0, str(REPO / "tests" / "validity"))
from _k8s import environment_names, manifests, pod_templates  # noqa: E402
from repo_paths import environment_file, shipped_environments  # noqa: E402

from mlflow_constructs.config import ConfigError, load_environment, parse_environment  # noqa: E402
from mlflow_constructs.environment.chart import environment_objects  # noqa: E402
from mlflow_constructs.environment.limits import longest_accepted  # noqa: E402
from mlflow_constructs.k8s.controllers import made_from  # noqa: E402
from mlflow_constructs.synth import build_app  # noqa: E402

ENVS = environment_names()
FIELD_MANAGER = "mlflow-k8s"

# The revision whose snapshots the upgrade test applies first: the first commit with every auth mode,
# secret provider and CRD binding (2026-11-27). Fixed, so the test means the same thing on every commit.
UPGRADE_FROM = "c666d516a9611cf9945747fa10d3f18ed9789d41"
SNAPSHOTS = "tests/__snapshots__/test_snapshots"


# --- helpers ---------------------------------------------------------------------------------------------
class Applied:
    """One environment applied into namespaces of its own."""

    def __init__(self, cluster: Cluster, objs: list[dict[str, Any]], tag: str, workdir: Path) -> None:
        self.cluster = cluster
        self.rename = {ns: namespace_for(ns, tag) for ns in namespaces_of(objs)}
        self.objs = rename_namespaces(objs, self.rename)
        self.file = workdir / f"{tag}.k8s.yaml"
        self.file.write_text(dump(self.objs))

    def apply(self, objs: list[dict[str, Any]] | None = None):
        """Server-side apply of this environment (or of ``objs``, renamed the same way)."""
        path = self.file
        if objs is not None:
            path = self.file.with_suffix(f".{len(list(self.file.parent.iterdir()))}.yaml")
            path.write_text(dump(rename_namespaces(objs, self.rename)))
        return self.cluster.kubectl("apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "-f", str(path))

    def create_dry_run(self, objs: list[dict[str, Any]]):
        """``kubectl create --dry-run=server`` of ``objs`` (renamed the same way): validated and admitted, not
        stored. Every object is tried; the exit code is 1 if any is refused."""
        path = self.file.with_suffix(f".{len(list(self.file.parent.iterdir()))}.yaml")
        path.write_text(dump(rename_namespaces(objs, self.rename)))
        return self.cluster.kubectl("create", "--dry-run=server", "-o", "name", "-f", str(path))

    def add_default_service_accounts(self) -> None:
        """What kube-controller-manager's serviceaccount controller does in every namespace of a real
        cluster (it does not run here): create ``default``, which pods without ``serviceAccountName`` use."""
        for ns in self.rename.values():
            got = self.cluster.kubectl("create", "serviceaccount", "default", "-n", ns)
            assert got.returncode == 0 or "AlreadyExists" in got.stderr, str(got)

    def live(self) -> dict[str, dict[str, Any]]:
        """``Kind/namespace/name`` -> the object as stored."""
        got = self.cluster.kubectl("get", "-f", str(self.file), "-o", "json", check=True)
        data = json.loads(got.stdout)
        items = data.get("items", [data]) if data.get("kind", "").endswith("List") else [data]
        return {f"{o['kind']}/{o['metadata'].get('namespace', '')}/{o['metadata']['name']}": o for o in items}


@pytest.fixture(scope="module")
def fresh(cluster: Cluster, synthesized: dict[str, list[dict]], tmp_path_factory: pytest.TempPathFactory):
    """env -> its output applied once into an empty cluster (the apply result is kept for the test)."""
    workdir = tmp_path_factory.mktemp("fresh")
    cache: dict[str, tuple[Applied, Any]] = {}

    def get(env: str) -> tuple[Applied, Any]:
        if env not in cache:
            applied = Applied(cluster, manifests(synthesized, env), f"fresh-{env}", workdir)
            result = applied.apply()
            if result.returncode == 0:
                applied.add_default_service_accounts()
            cache[env] = (applied, result)
        return cache[env]

    return get


def pod_from_template(owner: dict[str, Any], template: dict[str, Any], namespace: str) -> dict[str, Any]:
    """The Pod its controller would create (ordinal 0 for a StatefulSet), as far as admission can tell."""
    meta = template.get("metadata") or {}
    spec = copy.deepcopy(template.get("spec") or {})
    # The StatefulSet controller adds one PersistentVolumeClaim volume per volumeClaimTemplate.
    for claim in (owner.get("spec") or {}).get("volumeClaimTemplates") or []:
        name = claim["metadata"]["name"]
        claim_name = f"{name}-{owner['metadata']['name']}-0"
        spec.setdefault("volumes", []).append({"name": name, "persistentVolumeClaim": {"claimName": claim_name}})
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{owner['metadata']['name'][:50]}-podcheck",
            "namespace": namespace,
            "labels": meta.get("labels") or {},
            "annotations": meta.get("annotations") or {},
        },
        "spec": spec,
    }


def restricted_namespaces(objs: list[dict[str, Any]]) -> list[str]:
    return [
        o["metadata"]["name"]
        for o in objs
        if o.get("kind") == "Namespace"
        and (o["metadata"].get("labels") or {}).get("pod-security.kubernetes.io/enforce") == "restricted"
    ]


def old_snapshot(env: str) -> str | None:
    """The env's output at UPGRADE_FROM, or None when the env did not exist (or had no snapshot) then."""
    path = f"{SNAPSHOTS}/test_{env.replace('-', '_')}.yaml"
    got = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{UPGRADE_FROM}:{path}"], capture_output=True, text=True, check=False
    )
    if got.returncode != 0:
        exists = subprocess.run(
            ["git", "-C", str(REPO), "cat-file", "-e", f"{UPGRADE_FROM}^{{commit}}"], capture_output=True, check=False
        )
        assert exists.returncode == 0, f"revision {UPGRADE_FROM} not in this clone (a shallow clone?): {got.stderr}"
        return None
    return got.stdout


def first(objs: list[dict[str, Any]], kind: str, where=lambda o: True) -> dict[str, Any]:
    found = [o for o in objs if o.get("kind") == kind and where(o)]
    assert found, f"no {kind} in the output"
    return found[0]


# --- every object accepted -------------------------------------------------------------------------------
@pytest.mark.parametrize("env", ENVS)
def test_every_object_accepted(fresh, env: str) -> None:
    applied, result = fresh(env)
    assert result.returncode == 0, f"env {env}: the API server refused the output\n{result}"
    live = applied.live()
    assert len(live) == len(applied.objs), f"env {env}: applied {len(applied.objs)} objects, found {sorted(live)}"


# --- Pod Security, enforced by the API server ------------------------------------------------------------
@pytest.mark.parametrize("env", ENVS)
def test_pod_templates_admitted_by_restricted_namespace(fresh, env: str) -> None:
    applied, result = fresh(env)
    assert result.returncode == 0, f"env {env}: not applied\n{result}"
    restricted = restricted_namespaces(applied.objs)
    templates = pod_templates(applied.objs)
    assert templates, f"env {env}: no pod template"
    refused = []
    for t in templates:
        ns = t.owner["metadata"].get("namespace", "default")
        assert ns in restricted, f"env {env}: {t.where} runs in {ns}, which does not enforce restricted"
        pod = pod_from_template(t.owner, t.template, ns)
        got = applied.cluster.kubectl("create", "--dry-run=server", "-o", "name", "-f", "-", stdin=dump([pod]))
        if got.returncode != 0 or "PodSecurity" in got.stderr:
            refused.append(f"{t.where}:\n{got}")
    assert not refused, f"env {env}: pods refused in a restricted namespace:\n" + "\n".join(refused)


@pytest.mark.parametrize("env", ENVS)
def test_restricted_namespace_refuses_privileged_pod(fresh, env: str) -> None:
    """Negative control: the admission above is live, and these namespaces do refuse what is not restricted."""
    applied, result = fresh(env)
    assert result.returncode == 0, f"env {env}: not applied\n{result}"
    restricted = restricted_namespaces(applied.objs)
    assert restricted, f"env {env}: no Namespace enforces Pod Security restricted"
    for ns in restricted:
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "privileged", "namespace": ns},
            "spec": {
                "automountServiceAccountToken": False,
                "containers": [{"name": "c", "image": "busybox:1.37", "securityContext": {"privileged": True}}],
            },
        }
        got = applied.cluster.kubectl("create", "--dry-run=server", "-f", "-", stdin=dump([pod]))
        assert got.returncode != 0, f"env {env}: namespace {ns} admitted a privileged pod\n{got}"
        assert 'violates PodSecurity "restricted:latest"' in got.stderr, got.stderr
        assert "privileged" in got.stderr, got.stderr


# --- idempotence -----------------------------------------------------------------------------------------
# kube-apiserver writes a PersistentVolumeClaim on every server-side apply, even one that changes nothing:
# its resourceVersion moves, nothing else does (the class of kubernetes/kubernetes#95460). What a GitOps
# controller compares, the object (and `kubectl diff`), stays the same; that is what is checked for these.
NOOP_WRITE_KINDS = frozenset({"PersistentVolumeClaim"})


def without_write_marks(obj: dict[str, Any]) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    obj["metadata"].pop("resourceVersion", None)
    for entry in obj["metadata"].get("managedFields") or []:
        entry.pop("time", None)
    return obj


@pytest.mark.parametrize("env", ENVS)
def test_second_apply_changes_nothing(fresh, env: str) -> None:
    applied, result = fresh(env)
    assert result.returncode == 0, f"env {env}: not applied\n{result}"
    before = applied.live()
    diff = applied.cluster.kubectl("diff", "--server-side", f"--field-manager={FIELD_MANAGER}", "-f", str(applied.file))
    assert (diff.returncode, diff.stdout) == (0, ""), f"env {env}: applying again would change objects\n{diff}"
    again = applied.apply()
    assert again.returncode == 0, f"env {env}: second apply failed\n{again}"
    after = applied.live()
    assert sorted(after) == sorted(before)
    moved = sorted(
        key
        for key, obj in before.items()
        if obj["metadata"]["resourceVersion"] != after[key]["metadata"]["resourceVersion"]
        and obj["kind"] not in NOOP_WRITE_KINDS
    )
    assert not moved, f"env {env}: a second apply of the same file wrote {moved}"
    changed = sorted(key for key in before if without_write_marks(before[key]) != without_write_marks(after[key]))
    assert not changed, f"env {env}: a second apply of the same file changed {changed}"


# --- upgrade ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("env", ENVS)
def test_upgrade_from_older_revision(cluster: Cluster, synthesized, tmp_path: Path, env: str) -> None:
    current = manifests(synthesized, env)
    text = old_snapshot(env)
    old = [d for d in yaml.safe_load_all(text) if d] if text is not None else []
    # Old and new share one renaming, so an object keeps its namespace across the upgrade.
    applied = Applied(cluster, old + current, f"upgrade-{env}", tmp_path)
    if old:
        got = applied.apply(old)
        assert got.returncode == 0, f"env {env}: the output at {UPGRADE_FROM[:7]} is refused today\n{got}"
    # An env absent at UPGRADE_FROM has nothing to upgrade from: its first apply is the upgrade.
    got = applied.apply(current)
    assert got.returncode == 0, f"env {env}: upgrading from {UPGRADE_FROM[:7]} fails\n{got}"
    # Fields the old output set and today's drops are gone (field ownership): the result is today's output.
    current_file = applied.file.with_suffix(".current.yaml")
    current_file.write_text(dump(rename_namespaces(current, applied.rename)))
    diff = cluster.kubectl("diff", "--server-side", f"--field-manager={FIELD_MANAGER}", "-f", str(current_file))
    assert (diff.returncode, diff.stdout) == (0, ""), f"env {env}: after the upgrade, objects differ\n{diff}"


def refused_by_server(stderr: str) -> set[str]:
    """``Kind/name`` of each object in kubectl's ``Error from server ... <Kind> "<name>" is invalid``."""
    found = set()
    for line in stderr.splitlines():
        match = re.search(r'(?:^The |Error from server.*?: )(\w+)(?:\.[\w.]+)? "([^"]+)" is invalid', line)
        if match:
            found.add(f"{match.group(1)}/{match.group(2)}")
    return found


# --- immutable fields ------------------------------------------------------------------------------------
# Each change: the environment it starts from, the object it edits, and what kube-apiserver answers (None: it
# accepts the apply but keeps the old value, which only recreating the object changes).
@dataclass(frozen=True)
class Immutable:
    env: str
    kind: str
    edit: Callable[[list[dict[str, Any]]], str]  # edits the objects in place, returns the object's name
    refusal: str | None
    setup: Callable[[list[dict[str, Any]]], None] = lambda objs: None  # applied to both sides first


def change_deployment_selector(objs: list[dict[str, Any]]) -> str:
    dep = first(objs, "Deployment")
    dep["spec"]["selector"]["matchLabels"]["mlflow-k8s/track"] = "changed"
    dep["spec"]["template"]["metadata"]["labels"]["mlflow-k8s/track"] = "changed"
    return dep["metadata"]["name"]


def change_volume_claim_template(objs: list[dict[str, Any]]) -> str:
    sts = first(objs, "StatefulSet", lambda o: o["spec"].get("volumeClaimTemplates"))
    sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] = "123Gi"
    return sts["metadata"]["name"]


def change_service_name(objs: list[dict[str, Any]]) -> str:
    sts = first(objs, "StatefulSet")
    sts["spec"]["serviceName"] = "renamed"
    return sts["metadata"]["name"]


def change_job_template(objs: list[dict[str, Any]]) -> str:
    job = first(objs, "Job")
    job["spec"]["template"]["spec"]["containers"][0]["image"] = "example.com/other:1"
    return job["metadata"]["name"]


def make_headless(objs: list[dict[str, Any]]) -> str:
    service = first(objs, "Service", lambda o: not o["spec"].get("clusterIP"))
    service["spec"]["clusterIP"] = "None"
    return service["metadata"]["name"]


def drop_headless(objs: list[dict[str, Any]]) -> str:
    service = first(objs, "Service", lambda o: o["spec"].get("clusterIP") == "None")
    del service["spec"]["clusterIP"]
    return service["metadata"]["name"]


def change_access_mode(objs: list[dict[str, Any]]) -> str:
    claim = first(objs, "PersistentVolumeClaim")
    claim["spec"]["accessModes"] = ["ReadWriteMany"]
    return claim["metadata"]["name"]


def shrink_claim(objs: list[dict[str, Any]]) -> str:
    claim = first(objs, "PersistentVolumeClaim")
    claim["spec"]["resources"]["requests"]["storage"] = "1Gi"
    return claim["metadata"]["name"]


def freeze_settings(objs: list[dict[str, Any]]) -> None:
    first(objs, "ConfigMap", lambda o: o["metadata"]["name"].endswith("-settings"))["immutable"] = True


def change_frozen_settings(objs: list[dict[str, Any]]) -> str:
    settings = first(objs, "ConfigMap", lambda o: o["metadata"]["name"].endswith("-settings"))
    settings["data"]["HOME"] = "/home"
    return settings["metadata"]["name"]


def move_database(objs: list[dict[str, Any]]) -> str:
    database = first(objs, "Database")
    database["spec"]["cluster"]["name"] = "another-cluster"
    return database["metadata"]["name"]


IMMUTABLE_CHANGES = {
    "deployment-selector": Immutable(
        "default", "Deployment", change_deployment_selector, "spec.selector: Invalid value"
    ),
    "statefulset-volumeclaimtemplates": Immutable(
        "default", "StatefulSet", change_volume_claim_template, "spec.volumeClaimTemplates: Invalid value"
    ),
    "statefulset-servicename": Immutable(
        "default", "StatefulSet", change_service_name, "spec.serviceName: Invalid value"
    ),
    "job-template": Immutable("default", "Job", change_job_template, "spec.template: Invalid value"),
    "service-made-headless": Immutable("default", "Service", make_headless, "may not change once set"),
    "service-headless-dropped": Immutable("default", "Service", drop_headless, None),
    "claim-access-modes": Immutable("default", "PersistentVolumeClaim", change_access_mode, "spec is immutable"),
    "claim-shrunk": Immutable("default", "PersistentVolumeClaim", shrink_claim, "spec"),
    "configmap-immutable": Immutable(
        "default", "ConfigMap", change_frozen_settings, "field is immutable when `immutable` is set", freeze_settings
    ),
    # A CEL transition rule of CloudNativePG's CRD (x-kubernetes-validations): the control that CEL rules are live.
    "cnpg-database-cluster": Immutable(
        "aks-azure", "Database", move_database, "cluster reference is immutable after creation"
    ),
}


def immutable_pair(synthesized, change: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    case = IMMUTABLE_CHANGES[change]
    before = copy.deepcopy(manifests(synthesized, case.env))
    case.setup(before)
    after = copy.deepcopy(before)
    return before, after, case.edit(after)


@pytest.mark.parametrize("change", sorted(IMMUTABLE_CHANGES))
def test_immutable_field_change_is_refused(cluster: Cluster, synthesized, tmp_path: Path, change: str) -> None:
    """What kube-apiserver does with each change the diff calls `recreated` (or, for a claim, `data loss`)."""
    case = IMMUTABLE_CHANGES[change]
    before, after, name = immutable_pair(synthesized, change)
    applied = Applied(cluster, before, f"immutable-{change}"[:40], tmp_path)
    got = applied.apply()
    assert got.returncode == 0, f"{case.env} env not applied\n{got}"
    got = applied.apply(after)
    if case.refusal is None:
        assert got.returncode == 0, str(got)
        return
    assert got.returncode != 0, f"the API server accepted a changed {case.kind} {name}\n{got}"
    # Only that object is refused, for that field, the way a real cluster says it.
    assert refused_by_server(got.stderr) == {f"{case.kind}/{name}"}, str(got)
    refusal = next(line for line in got.stderr.splitlines() if f'"{name}" is invalid' in line)
    assert case.refusal in got.stderr, refusal


def test_environments_covered() -> None:
    """The parametrization sees the shipped environments and the library example's chart."""
    assert len(ENVS) >= 2, ENVS
    assert any(old_snapshot(env) is not None for env in ENVS), f"no env has a snapshot at {UPGRADE_FROM}"


# --- CEL rules of the CRDs are live (CloudNativePG's Database: `cnpg-database-cluster` above) --------------
def test_http_route_cel_rules_are_enforced(cluster: Cluster, synthesized, tmp_path: Path) -> None:
    """Control for the HTTPRoute of ``gateway-api``: the Gateway API CRD's CEL rules run on it. The same
    Gateway named twice, once without a listener, is refused with the CRD's own message (the config refuses
    it earlier, see ``Ingress``), and so is a path prefix with ``/../`` in it."""
    current = manifests(synthesized, "gateway-api")
    applied = Applied(cluster, current, "cel-gateway-api", tmp_path)
    assert applied.apply().returncode == 0
    twice, dotted = copy.deepcopy(current), copy.deepcopy(current)
    route = first(twice, "HTTPRoute")
    route["spec"]["parentRefs"].append({k: v for k, v in route["spec"]["parentRefs"][0].items() if k != "sectionName"})
    first(dotted, "HTTPRoute")["spec"]["rules"][0]["matches"][0]["path"]["value"] = "/mlflow/../admin"
    for changed, message in (
        (twice, "sectionName must be specified when parentRefs includes 2 or more references to the same parent"),
        (dotted, "must not contain '/../' when type one of ['Exact', 'PathPrefix']"),
    ):
        got = applied.apply(changed)
        assert got.returncode != 0, f"the API server accepted an HTTPRoute its CRD refuses\n{got}"
        assert refused_by_server(got.stderr) == {f"HTTPRoute/{route['metadata']['name']}"}, str(got)
        assert message in got.stderr, str(got)


def test_longest_gateway_names_are_accepted(cluster: Cluster, tmp_path: Path) -> None:
    """What a Gateway route adds at the longest the config accepts (a Gateway namespace of 63 characters, Gateway
    and listener names of 253, a 201-character prefix) makes objects the API server takes: the HTTPRoute and the
    policy ``mlflow-allow-mlflow-from-<Gateway namespace>``."""
    subdomain = ".".join(["g" * 63] * 3) + "." + "g" * 61
    parent = {"name": subdomain, "namespace": "g" * 63, "section_name": subdomain}
    gateway = {"enabled": True, "kind": "httproute", "hosts": ["ml.example.com"], "gateway": {"parent_refs": [parent]}}
    config = {
        "ingress": gateway,
        "network_policies": {"ingress_from_namespaces": {"kubernetes.io/metadata.name": "ingress"}},
        "server": {"static_prefix": "/" + "p" * 200},
    }
    env = parse_environment(config, source="longest.yaml")
    objs = [d for d in yaml.safe_load_all(build_app({"longest": env}, tmp_path / "out").synth_yaml()) if d]
    assert len(subdomain) == 253
    assert first(objs, "NetworkPolicy", lambda o: o["metadata"]["name"].endswith("-from-" + "g" * 63))
    got = Applied(cluster, objs, "longest-gateway", tmp_path).apply()
    assert got.returncode == 0, f"the API server refused the longest Gateway names\n{got}"


# --- the longest names the config accepts ---------------------------------------------------------------
# A container for the pod specs of an operator's objects (CloudNativePG's instances and Jobs), whose containers
# the output does not hold, meeting Pod Security "restricted".
PLACEHOLDER_CONTAINER = {
    "name": "placeholder",
    "image": "registry.example.com/placeholder:1",
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    },
}
# Kinds controllers make whose CRD is not in crds/: their metadata is what the checks are about, and the API
# server validates a name and labels the same way for every kind, so a ConfigMap carries it.
UNSERVED_KINDS = frozenset({("postgresql.cnpg.io", "Backup")})


def made_objects(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What controllers make from ``objs`` (see ``mlflow_constructs.k8s.controllers``), as the API server can take
    them in a dry run."""
    made = []
    for original in (m for o in objs for m in made_from(o)):
        obj = original
        if (original["apiVersion"].rpartition("/")[0], original["kind"]) in UNSERVED_KINDS:
            obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": original["metadata"]}
        spec = obj.get("spec") or {}
        pod_spec = spec if obj["kind"] == "Pod" else (spec.get("template") or {}).get("spec")
        if pod_spec is not None and not pod_spec.get("containers"):
            pod_spec["containers"] = [PLACEHOLDER_CONTAINER]
        made.append(obj)
    return made


@pytest.mark.parametrize("env", shipped_environments())
def test_longest_names_are_accepted_and_one_more_is_refused(cluster: Cluster, tmp_path: Path, env: str) -> None:
    """Each shipped environment at the longest `name` and `namespace` synthesis accepts is applied, and the
    objects its controllers would make (StatefulSet pods and revisions, Job pods, CronJob Jobs, ReplicaSets,
    CloudNativePG's instances, Services and Jobs, Backups, Secrets) are created in a dry run: all accepted. With
    a `name` one character longer synthesis stops, and the API server agrees: the output, synthesized without
    the check, or what its controllers would make from it, is refused."""
    config = load_environment(environment_file(env))
    name_length = longest_accepted(config, "name", environment_objects)
    config = config.model_copy(update={"name": "n" * name_length})
    namespace_length = longest_accepted(config, "namespace", environment_objects)
    config = config.model_copy(update={"namespace": "s" * namespace_length})
    objs = [d for d in yaml.safe_load_all(build_app({env: config}, tmp_path / "out").synth_yaml()) if d]
    applied = Applied(cluster, objs, f"longest-{env}", tmp_path)
    assert all(len(ns) == namespace_length for ns in applied.rename.values())
    got = applied.apply()
    assert got.returncode == 0, f"env {env}: the API server refused names of {name_length} characters\n{got}"
    applied.add_default_service_accounts()
    made = made_objects(applied.objs)
    got = applied.create_dry_run(made)
    assert got.returncode == 0, f"env {env}: what controllers make was refused\n{got}"

    longer = config.model_copy(update={"name": "n" * (name_length + 1)})
    with pytest.raises(ConfigError, match=f"the longest name that works here has {name_length} characters"):
        build_app({env: longer}, tmp_path / "longer")
    unchecked = environment_objects(longer)
    applied_output = applied.apply(unchecked)
    applied_made = applied.create_dry_run(made_objects(rename_namespaces(unchecked, applied.rename)))
    refused = refused_by_server(applied_output.stderr) | refused_by_server(applied_made.stderr)
    assert refused, f"env {env}: the API server took a name one character longer\n{applied_output}\n{applied_made}"


REGISTRY_DATABASES = {
    "bundled": {"registry": {"enabled": True}},
    "cloudnativepg": {"type": "cloudnativepg", "backup": {"enabled": False}, "registry": {"enabled": True}},
}


@pytest.mark.parametrize("database", sorted(REGISTRY_DATABASES))
def test_a_registry_database_of_its_own_is_accepted_at_the_longest_names(
    cluster: Cluster, tmp_path: Path, database: str
) -> None:
    """``database.registry`` on the bundled PostgreSQL (an init script and the container's ``postStart`` hook)
    and on CloudNativePG (a second ``Database``) at the longest `name` and `namespace` synthesis accepts: every
    object is taken (the ``Database`` CRD's schema and CEL rules included), and each pod template is admitted by
    the namespace's Pod Security ``restricted``."""
    config = parse_environment({"database": REGISTRY_DATABASES[database]}, source=f"registry-{database}.yaml")
    config = config.model_copy(update={"name": "n" * longest_accepted(config, "name", environment_objects)})
    config = config.model_copy(update={"namespace": "s" * longest_accepted(config, "namespace", environment_objects)})
    objs = [d for d in yaml.safe_load_all(build_app({database: config}, tmp_path / "out").synth_yaml()) if d]
    applied = Applied(cluster, objs, f"registry-{database}", tmp_path)
    got = applied.apply()
    assert got.returncode == 0, f"{database}: the API server refused the registry database's objects\n{got}"
    if database == "bundled":
        postgres = first(applied.objs, "StatefulSet", lambda o: o["metadata"]["name"].endswith("-postgresql"))
        assert postgres["spec"]["template"]["spec"]["containers"][0]["lifecycle"]["postStart"]["exec"]
    else:
        assert first(applied.objs, "Database", lambda o: o["spec"]["name"] == "mlflow-registry")
    applied.add_default_service_accounts()
    refused = []
    for t in pod_templates(applied.objs):
        pod = pod_from_template(t.owner, t.template, t.owner["metadata"]["namespace"])
        got = cluster.kubectl("create", "--dry-run=server", "-o", "name", "-f", "-", stdin=dump([pod]))
        if got.returncode != 0 or "PodSecurity" in got.stderr:
            refused.append(f"{t.where}:\n{got}")
    assert not refused, f"{database}: pods refused in a restricted namespace:\n" + "\n".join(refused)


# --- `python app.py diff` agrees with the API server -----------------------------------------------------
# mlflow_constructs.review.diff (the `diff` subcommand) classifies each change: `recreated` (or `data loss` for a
# claim) when the object must be deleted and created again, with the command to do it, and `refused` when the
# apply fails until then. These tests hold that against the API server's answers.


def predicted_refusals(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> set[str]:
    """``Kind/name`` of each object the diff says the apply will fail on."""
    return {f"{v.kind}/{v.ref.rsplit('/', 1)[-1]}" for v in review_diff.diff_objects(before, after) if v.refused}


def verdict_for(before: list[dict[str, Any]], after: list[dict[str, Any]], kind: str, name: str):
    found = [v for v in review_diff.diff_objects(before, after) if v.kind == kind and v.ref.endswith(f"/{name}")]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("change", sorted(IMMUTABLE_CHANGES))
def test_review_diff_predicts_immutable_refusal(cluster: Cluster, synthesized, tmp_path: Path, change: str) -> None:
    """The diff says `recreated` (a claim: `data loss`) for every change only recreating the object applies,
    and predicts exactly the objects the API server refuses."""
    case = IMMUTABLE_CHANGES[change]
    before, after, name = immutable_pair(synthesized, change)
    verdict = verdict_for(before, after, case.kind, name)
    assert verdict.cls in (review_diff.RECREATED, review_diff.DATA_LOSS), verdict
    applied = Applied(cluster, before, f"review-{change}"[:40], tmp_path)
    assert applied.apply().returncode == 0
    got = applied.apply(after)
    assert predicted_refusals(before, after) == refused_by_server(got.stderr), f"diff: {verdict}\n{got}"
    if case.refusal is None:  # accepted, but the live object keeps its old value until it is recreated
        obj = first(applied.objs, case.kind, lambda o: o["metadata"]["name"] == name)
        live = applied.live()[f"{case.kind}/{obj['metadata']['namespace']}/{name}"]
        assert live["spec"]["clusterIP"] == obj["spec"]["clusterIP"], live["spec"]


# Deleting a StatefulSet with --cascade=orphan, or a claim (pvc-protection), waits for controllers this API server
# runs without (garbage collector, pvc-protection); the other commands take effect at once.
ADVICE_RUNS_HERE = sorted(
    c for c, case in IMMUTABLE_CHANGES.items() if case.kind not in ("StatefulSet", "PersistentVolumeClaim")
)


@pytest.mark.parametrize("change", ADVICE_RUNS_HERE)
def test_the_recreate_command_of_the_diff_makes_the_apply_work(
    cluster: Cluster, synthesized, tmp_path: Path, change: str
) -> None:
    """Run the `kubectl` command the diff line gives, as written (in the test's namespace), then apply: the
    change is accepted and the live object has it."""
    case = IMMUTABLE_CHANGES[change]
    before, after, name = immutable_pair(synthesized, change)
    line = render.line(verdict_for(before, after, case.kind, name))
    command = re.search(r"`kubectl -n (\S+) (delete [^`]+)`", line)
    assert command, line
    applied = Applied(cluster, before, f"advice-{change}"[:40], tmp_path)
    assert applied.apply().returncode == 0
    deleted = cluster.kubectl("-n", applied.rename[command.group(1)], *command.group(2).split())
    assert deleted.returncode == 0, str(deleted)
    got = applied.apply(after)
    assert got.returncode == 0, f"after `{command.group(0)}` the apply still fails\n{got}"
    obj = first(rename_namespaces(after, applied.rename), case.kind, lambda o: o["metadata"]["name"] == name)
    live = applied.live()[f"{case.kind}/{obj['metadata']['namespace']}/{name}"]
    changed = [
        c for c in review_diff_facts.changes(first(before, case.kind, lambda o: o["metadata"]["name"] == name), obj)
    ]
    for item in changed:
        if item.path[0] in ("spec", "data"):  # a field set is set; a field dropped lost its old value
            now = review_diff_facts.lookup(live, item.path)
            assert now == item.new if item.new is not None else now != item.old, (item, live)


@pytest.mark.parametrize("env", ENVS)
def test_review_diff_agrees_on_upgrade(cluster: Cluster, synthesized, tmp_path: Path, env: str) -> None:
    current = manifests(synthesized, env)
    text = old_snapshot(env)
    old = [d for d in yaml.safe_load_all(text) if d] if text is not None else []
    predicted = predicted_refusals(old, current)
    applied = Applied(cluster, old + current, f"review-up-{env}", tmp_path)
    if old:
        assert applied.apply(old).returncode == 0
    got = applied.apply(current)
    assert predicted == refused_by_server(got.stderr), f"env {env}: diff predicted {predicted}\n{got}"
