"""``python app.py diff``: what each kind of change to the synthesized objects does to a live cluster.

Each case starts from real synthesized objects (a config dict before and after); where no config can
express the case (a selector, a clusterIP), the synthesized objects are edited the way a construct
change would edit them.
"""

from __future__ import annotations

import copy
import subprocess

import pytest
from helpers import INGRESS, find, run_app, synth
from repo_paths import REPO

from mlflow_constructs.config import ConfigError
from mlflow_constructs.review.diff import (
    ADDED,
    IMMUTABLE,
    IN_PLACE,
    PODS_ROLL,
    PREREQUISITE,
    REMOVED,
    RUNS_AGAIN,
    STORAGE,
    Verdict,
    diff_objects,
)
from mlflow_constructs.review.render import EnvironmentReport, render
from mlflow_constructs.synth import discover

BASE = {"namespace": "mlflow"}  # bundled PostgreSQL (StatefulSet) and MinIO (StatefulSet + bucket Job)
PVC = {"namespace": "mlflow", "artifacts": {"type": "pvc", "pvc": {"size": "50Gi"}}}


def merged(base: dict, **sections) -> dict:
    return {**copy.deepcopy(base), **sections}


def verdicts_of(verdicts: list[Verdict], kind: str, ref: str | None = None) -> list[Verdict]:
    return [v for v in verdicts if v.kind == kind and (ref is None or v.ref == ref)]


def one(verdicts: list[Verdict], kind: str, ref: str) -> Verdict:
    found = verdicts_of(verdicts, kind, ref)
    assert len(found) == 1, f"expected one {kind} verdict for {ref}, got:\n" + "\n".join(map(str, verdicts))
    return found[0]


@pytest.fixture
def base(tmp_path):
    return synth(BASE, tmp_path / "base")


@pytest.fixture
def pvc(tmp_path):
    return synth(PVC, tmp_path / "pvc")


def test_unchanged_output_gives_an_empty_report(base, tmp_path):
    assert diff_objects(base, synth(BASE, tmp_path / "again")) == []
    text = render([EnvironmentReport("test", "dist/test.k8s.yaml", [])])
    assert "test: no change" in text and "nothing changed" in text


def test_a_new_object_is_added(base, tmp_path):
    verdicts = diff_objects(base, synth(merged(BASE, ingress=INGRESS), tmp_path / "after"))
    assert one(verdicts, ADDED, "Ingress/mlflow/mlflow").label == "object added"


def test_a_removed_object_says_who_prunes_it_and_how_to_delete_it(base, tmp_path):
    before = synth(merged(BASE, ingress=INGRESS), tmp_path / "before")
    verdict = one(diff_objects(before, base), REMOVED, "Ingress/mlflow/mlflow")
    assert "pruned by Argo CD/Flux with prune on" in verdict.detail
    assert "plain `kubectl apply` leaves it running" in verdict.detail
    assert "kubectl -n mlflow delete ingress mlflow" in verdict.detail


def test_a_changed_pod_template_rolls_the_pods_and_names_the_fields(base, tmp_path):
    after = synth(merged(BASE, server={"extra_allowed_hosts": ["mlflow.internal"]}), tmp_path / "after")
    verdicts = diff_objects(base, after)
    roll = one(verdicts, PODS_ROLL, "Deployment/mlflow/mlflow")
    assert roll.paths == ("annotation checksum/config",)
    assert one(verdicts, IN_PLACE, "ConfigMap/mlflow/mlflow-settings").paths == ("data.MLFLOW_SERVER_ALLOWED_HOSTS",)


def test_a_new_image_rolls_the_pods_and_runs_the_migration_again(base, tmp_path):
    after = synth(merged(BASE, server={"image": "ghcr.io/mlflow/mlflow:v3.18.0-full"}), tmp_path / "after")
    verdicts = diff_objects(base, after)
    assert "containers[mlflow].image" in one(verdicts, PODS_ROLL, "Deployment/mlflow/mlflow").paths
    old_job = find(base, "Job", None if False else [o for o in base if o["kind"] == "Job"][-1]["metadata"]["name"])
    new_job = [o for o in after if o["kind"] == "Job" and o["metadata"]["name"].startswith("mlflow-migrate-")][0]
    rerun = one(verdicts, RUNS_AGAIN, f"Job/mlflow/{new_job['metadata']['name']}")
    assert rerun.label == "migration runs again"
    assert f"replaces {old_job['metadata']['name']}" in rerun.detail
    assert "containers[upgrade].image" in rerun.paths
    assert not verdicts_of(verdicts, ADDED) and not verdicts_of(verdicts, REMOVED), "a rerun is not add + remove"


def test_a_new_database_name_runs_the_migration_again(base, tmp_path):
    after = synth(merged(BASE, database={"name": "tracking"}), tmp_path / "after")
    rerun = [v for v in diff_objects(base, after) if v.kind == RUNS_AGAIN and "mlflow-migrate-" in v.ref]
    assert len(rerun) == 1 and "containers[upgrade].env[MLFLOW_BACKEND_STORE_URI]" in rerun[0].paths


def test_a_new_bucket_runs_the_bucket_setup_again(base, tmp_path):
    after = synth(merged(BASE, artifacts={"type": "minio", "minio": {"bucket": "models"}}), tmp_path / "after")
    rerun = [v for v in diff_objects(base, after) if v.kind == RUNS_AGAIN and "mlflow-minio-bucket-" in v.ref]
    assert len(rerun) == 1 and rerun[0].label == "bucket setup runs again"


def _edited(objects: list[dict], kind: str, name: str, edit) -> list[dict]:
    after = copy.deepcopy(objects)
    edit(find(after, kind, name))
    return after


def test_a_deployment_selector_change_fails_and_says_to_delete_the_deployment(base):
    after = _edited(base, "Deployment", "mlflow", lambda d: d["spec"]["selector"]["matchLabels"].update(tier="web"))
    verdict = one(diff_objects(base, after), IMMUTABLE, "Deployment/mlflow/mlflow")
    assert "spec.selector, the apply will fail" in verdict.detail
    assert "delete the Deployment first (`kubectl -n mlflow delete deployment mlflow`)" in verdict.detail


def test_a_statefulset_selector_change_fails_and_says_to_delete_the_statefulset(base):
    after = _edited(
        base, "StatefulSet", "mlflow-postgresql", lambda s: s["spec"]["selector"]["matchLabels"].update(tier="db")
    )
    verdict = one(diff_objects(base, after), IMMUTABLE, "StatefulSet/mlflow/mlflow-postgresql")
    assert "kubectl -n mlflow delete statefulset mlflow-postgresql`" in verdict.detail
    assert "PVCs and data stay" in verdict.detail


def test_a_daemonset_selector_change_fails_and_says_to_delete_the_daemonset(base):
    daemons = copy.deepcopy(base)
    for obj in daemons:
        if obj["kind"] == "Deployment":
            obj["kind"] = "DaemonSet"
    after = _edited(daemons, "DaemonSet", "mlflow", lambda d: d["spec"]["selector"]["matchLabels"].update(tier="x"))
    verdict = one(diff_objects(daemons, after), IMMUTABLE, "DaemonSet/mlflow/mlflow")
    assert "delete the DaemonSet first (`kubectl -n mlflow delete daemonset mlflow`)" in verdict.detail


def test_a_new_volume_claim_template_fails_and_says_to_orphan_the_statefulset(base, tmp_path):
    after = synth(merged(BASE, database={"bundled": {"storage_class": "fast-ssd"}}), tmp_path / "after")
    verdicts = diff_objects(base, after)
    verdict = one(verdicts, IMMUTABLE, "StatefulSet/mlflow/mlflow-postgresql")
    assert verdict.paths == ("spec.volumeClaimTemplates",)
    assert (
        "`kubectl -n mlflow delete statefulset mlflow-postgresql --cascade=orphan` first, then apply" in verdict.detail
    )
    assert not verdicts_of(verdicts, STORAGE), "a storage class is not a size"


@pytest.mark.parametrize(("field", "value"), [("serviceName", "postgres"), ("podManagementPolicy", "Parallel")])
def test_other_fixed_statefulset_fields_fail_and_say_to_orphan(base, field, value):
    after = _edited(base, "StatefulSet", "mlflow-postgresql", lambda s: s["spec"].update({field: value}))
    verdict = one(diff_objects(base, after), IMMUTABLE, "StatefulSet/mlflow/mlflow-postgresql")
    assert verdict.paths == (f"spec.{field}",) and "--cascade=orphan" in verdict.detail


def test_a_job_changed_under_the_same_name_fails_and_says_to_delete_it(base):
    job = next(o for o in base if o["kind"] == "Job")

    def edit(j):
        j["spec"]["template"]["spec"]["containers"][0]["image"] = "example.com/other:1"

    verdict = one(
        diff_objects(base, _edited(base, "Job", job["metadata"]["name"], edit)),
        IMMUTABLE,
        f"Job/mlflow/{job['metadata']['name']}",
    )
    assert verdict.paths == ("spec.template",)
    assert f"delete the Job first (`kubectl -n mlflow delete job {job['metadata']['name']}`)" in verdict.detail


def test_a_service_turning_headless_or_back_fails_and_says_to_delete_it(base):
    after = _edited(base, "Service", "mlflow-postgresql", lambda s: s["spec"].pop("clusterIP"))
    verdict = one(diff_objects(base, after), IMMUTABLE, "Service/mlflow/mlflow-postgresql")
    assert "spec.clusterIP None -> (allocated)" in verdict.detail
    assert "delete the Service first (`kubectl -n mlflow delete service mlflow-postgresql`)" in verdict.detail


@pytest.mark.parametrize(
    ("pvc_config", "path"),
    [({"storage_class": "fast"}, "spec.storageClassName"), ({"access_mode": "ReadWriteMany"}, "spec.accessModes")],
)
def test_a_pvc_class_or_access_mode_change_fails_and_says_to_recreate_the_claim(pvc, tmp_path, pvc_config, path):
    after = synth(merged(PVC, artifacts={"type": "pvc", "pvc": {"size": "50Gi", **pvc_config}}), tmp_path / "a")
    verdict = one(diff_objects(pvc, after), IMMUTABLE, "PersistentVolumeClaim/mlflow/mlflow-artifacts")
    assert verdict.paths == (path,)
    assert "delete the claim (`kubectl -n mlflow delete persistentvolumeclaim mlflow-artifacts`" in verdict.detail
    assert "reclaim policy is Retain" in verdict.detail


def test_immutable_configmap_data_fails_and_says_to_delete_it(base):
    frozen = _edited(base, "ConfigMap", "mlflow-settings", lambda c: c.update(immutable=True))
    after = _edited(frozen, "ConfigMap", "mlflow-settings", lambda c: c["data"].update(HOME="/home"))
    verdict = one(diff_objects(frozen, after), IMMUTABLE, "ConfigMap/mlflow/mlflow-settings")
    assert "delete it first (`kubectl -n mlflow delete configmap mlflow-settings`)" in verdict.detail


def test_a_pvc_that_grows_needs_volume_expansion(pvc, tmp_path):
    after = synth(merged(PVC, artifacts={"type": "pvc", "pvc": {"size": "100Gi"}}), tmp_path / "after")
    verdicts = diff_objects(pvc, after)
    verdict = one(verdicts, STORAGE, "PersistentVolumeClaim/mlflow/mlflow-artifacts")
    assert "50Gi -> 100Gi" in verdict.detail and "allowVolumeExpansion: true" in verdict.detail
    assert not verdicts_of(verdicts, IMMUTABLE), "growing a claim is allowed in place"


def test_a_pvc_that_shrinks_is_refused(pvc, tmp_path):
    after = synth(merged(PVC, artifacts={"type": "pvc", "pvc": {"size": "10Gi"}}), tmp_path / "after")
    verdict = one(diff_objects(pvc, after), STORAGE, "PersistentVolumeClaim/mlflow/mlflow-artifacts")
    assert "50Gi -> 10Gi" in verdict.detail and "shrinking a volume is refused" in verdict.detail


def test_a_statefulset_volume_that_grows_needs_each_pvc_patched(base, tmp_path):
    after = synth(merged(BASE, database={"bundled": {"storage_size": "20Gi"}}), tmp_path / "after")
    verdicts = diff_objects(base, after)
    storage = one(verdicts, STORAGE, "StatefulSet/mlflow/mlflow-postgresql")
    assert "data 10Gi -> 20Gi" in storage.detail
    assert "existing ones (data-mlflow-postgresql-0) keep 10Gi" in storage.detail
    assert (
        "allowVolumeExpansion: true" in storage.detail
        and "kubectl -n mlflow patch pvc data-mlflow-postgresql-0" in storage.detail
    )
    assert "--cascade=orphan" in one(verdicts, IMMUTABLE, "StatefulSet/mlflow/mlflow-postgresql").detail


def test_a_statefulset_volume_that_shrinks_is_refused(base, tmp_path):
    after = synth(merged(BASE, database={"bundled": {"storage_size": "5Gi"}}), tmp_path / "after")
    storage = one(diff_objects(base, after), STORAGE, "StatefulSet/mlflow/mlflow-postgresql")
    assert "10Gi -> 5Gi" in storage.detail and "refused" in storage.detail


def test_switching_to_external_secrets_needs_the_operator_and_the_store(base, tmp_path):
    keys = ["postgres-password", "minio-root-user", "minio-root-password", "s3-access-key-id", "s3-secret-access-key"]
    secrets = {
        "provider": "external-secrets",
        "external_secrets": {"store_ref": {"name": "vault"}, "remote_refs": {k: {"key": k} for k in keys}},
    }
    verdicts = diff_objects(base, synth(merged(BASE, secrets=secrets), tmp_path / "after"))
    operator = one(verdicts, PREREQUISITE, "ExternalSecret/mlflow/mlflow-credentials")
    assert (
        "new custom resource kind ExternalSecret" in operator.detail and "External Secrets Operator" in operator.detail
    )
    namespace = one(verdicts, PREREQUISITE, "Namespace/mlflow")
    assert "ClusterSecretStore/vault must exist before applying" in namespace.detail
    assert not [v for v in verdicts if "add key" in v.detail], "the ExternalSecret makes the Secret"


def test_moving_to_an_http_route_needs_the_gateway_api_crds(tmp_path):
    """gateway.networking.k8s.io ends in .k8s.io but is no built-in group: an HTTPRoute replacing an Ingress
    is a new custom resource kind, whose CRDs and implementation must be installed before the apply."""
    before = synth(merged(BASE, ingress={**INGRESS, "tls": None}), tmp_path / "before")
    gateway = {"kind": "httproute", "gateway": {"parent_refs": [{"name": "shared", "namespace": "gateway-system"}]}}
    after = synth(merged(BASE, ingress={**INGRESS, "tls": None, **gateway}), tmp_path / "after")
    verdicts = diff_objects(before, after)
    crd = one(verdicts, PREREQUISITE, "HTTPRoute/mlflow/mlflow")
    assert "new custom resource kind HTTPRoute" in crd.detail and "Gateway API CRDs" in crd.detail
    one(verdicts, REMOVED, "Ingress/mlflow/mlflow")


def test_a_newly_read_secret_key_must_be_added_to_the_secret(base, tmp_path):
    after = synth(merged(BASE, auth={"mode": "basic"}), tmp_path / "after")
    details = [v.detail for v in verdicts_of(diff_objects(base, after), PREREQUISITE)]
    for key in ("admin-username", "admin-password", "flask-secret-key"):
        assert f"add key {key} to Secret mlflow-credentials before applying" in details
    assert not [d for d in details if "postgres-password" in d], "keys read before are not new"


def test_environment_files_named_after_a_subcommand_are_refused(tmp_path):
    (tmp_path / "diff.yaml").write_text("namespace: x\n")
    with pytest.raises(ConfigError, match="'diff' is a command of app.py"):
        discover(tmp_path)


def _git(repo, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def test_base_rev_reads_dist_from_git_and_reports_without_colour(tmp_path):
    """The committed dist/ was synthesized with an older image; the work tree's copy is gone: only git can tell."""
    repo, config = tmp_path / "gitops", tmp_path / "config"
    config.mkdir()
    (config / "default.yaml").write_text("server:\n  image: ghcr.io/mlflow/mlflow:v3.16.0-full\n")
    written = run_app("default", "--config-dir", str(config), "--outdir", str(repo / "dist"))
    assert written.returncode == 0, written.stderr
    current = repo / "dist" / "default.k8s.yaml"
    _git(repo, "init", "-q")
    _git(repo, "add", "dist")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "dist")
    current.unlink()
    (config / "default.yaml").write_text("# the default image now\n")
    (config / "extra.yaml").write_text("namespace: extra\n")

    result = run_app(
        "diff",
        "default",
        "extra",
        "--config-dir",
        str(config),
        "--outdir",
        str(repo / "dist"),
        "--base",
        "HEAD",
        "--exit-code",
    )
    assert result.returncode == 1, result.stderr  # --exit-code: something changed (0 without it)
    assert "default: " in result.stdout and "compared with HEAD:dist/default.k8s.yaml" in result.stdout
    assert "pods roll                Deployment/mlflow/mlflow: containers[mlflow].image" in result.stdout
    assert "migration runs again" in result.stdout
    assert "extra: " in result.stdout and "new environment (not in HEAD:dist/extra.k8s.yaml)" in result.stdout
    assert "\033[" not in result.stdout, "no colour when stdout is not a terminal"

    missing = run_app("diff", "--outdir", str(repo / "dist"), "--base", "no-such-rev")
    assert missing.returncode == 2 and "no such git revision" in missing.stderr


def test_colour_only_when_asked():
    report = [EnvironmentReport("test", "dist/test.k8s.yaml", [Verdict(REMOVED, "Ingress/mlflow/mlflow", "gone")])]
    assert "\033[31m" in render(report, colour=True)
    assert "\033[" not in render(report, colour=False)


def test_a_report_exits_zero_unless_asked_otherwise(tmp_path, monkeypatch, capsys):
    from mlflow_constructs.review import commands  # noqa: PLC0415

    args = ["diff", "default", "--outdir", str(tmp_path / "empty")]
    monkeypatch.setattr(commands, "synthesize_objects", lambda sources: {name: [] for name in sources})
    assert commands.main([*args, "--exit-code"], root=REPO, outdir=tmp_path) == 0  # nothing on either side
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}
    monkeypatch.setattr(commands, "synthesize_objects", lambda sources: {name: [namespace] for name in sources})
    assert commands.main(args, root=REPO, outdir=tmp_path) == 0
    assert commands.main([*args, "--exit-code"], root=REPO, outdir=tmp_path) == 1
    assert "object added             Namespace/x" in capsys.readouterr().out


def test_the_review_package_keeps_cdk8s_out():
    """diff, render, explain and objects work on plain dicts; only commands reaches synthesis (through synth)."""
    import ast  # noqa: PLC0415

    package = REPO / "constructs" / "mlflow_constructs" / "review"
    for path in package.glob("*.py"):
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
        assert not {m for m in imported if m.split(".")[0] in ("cdk8s", "cdk8s_plus_27", "constructs", "imports")}, path
        if path.stem in ("diff", "render", "explain", "objects"):
            assert not [m for m in imported if m.startswith("mlflow_constructs.synth")], path
