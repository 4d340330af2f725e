"""``python app.py diff``: each change classified by its consequence for a live cluster and its data (``data
loss``, ``recreated``, ``rollout``, ``in place``), one line per object, the summary led by the worst class.

Each case is a real before/after pair: two configs, both synthesized. Where no config can express the case (a
selector, a clusterIP, an immutable ConfigMap), the synthesized objects are edited the way a construct change
would edit them.
"""

from __future__ import annotations

import copy
import subprocess

import pytest
import yaml
from helpers import DEFAULT_SECRET_KEYS, INGRESS, find, run_app, synth
from repo_paths import REPO, environment_file

from mlflow_constructs.config import ConfigError
from mlflow_constructs.review.diff import DATA_LOSS, IN_PLACE, RECREATED, ROLLOUT, Verdict, diff_objects
from mlflow_constructs.review.facts import HOLDERS, SERVER, data_of, server_of
from mlflow_constructs.review.objects import component
from mlflow_constructs.review.render import EnvironmentReport, render
from mlflow_constructs.synth import RESERVED_NAMES, discover

BASE = {"namespace": "mlflow"}  # bundled PostgreSQL (StatefulSet, backups PVC) and MinIO (StatefulSet, bucket Job)
S3 = {"type": "s3", "s3": {"bucket": "team-ml", "prefix": "mlflow", "region": "eu-west-1"}}
PVC = {"namespace": "mlflow", "artifacts": {"type": "pvc", "pvc": {"size": "50Gi"}}}
CNPG = {"namespace": "mlflow", "database": {"type": "cloudnativepg", "backup": {"enabled": False}}, "artifacts": S3}


def merged(base: dict, **sections) -> dict:
    return {**copy.deepcopy(base), **sections}


def pair(before: dict, after: dict, tmp_path) -> list[Verdict]:
    """The verdicts of changing config ``before`` into ``after``."""
    return diff_objects(synth(before, tmp_path / "before"), synth(after, tmp_path / "after"))


def line_of(verdicts: list[Verdict], ref: str) -> Verdict:
    """The one verdict of an object (``Kind/namespace/name``, or ``old -> new`` when replaced)."""
    found = [v for v in verdicts if v.ref == ref]
    assert len(found) == 1, f"expected one line for {ref}, got:\n" + report(verdicts)
    return found[0]


def report(verdicts: list[Verdict]) -> str:
    return render([EnvironmentReport("test", "dist/test.k8s.yaml", verdicts)])


def text(verdict: Verdict) -> str:
    return report([verdict]).splitlines()[-2]


@pytest.fixture
def base(tmp_path):
    return synth(BASE, tmp_path / "base")


# --- data loss ------------------------------------------------------------------------------------------


def test_a_namespace_change_loses_every_volume_of_the_old_namespace(tmp_path):
    """Pruning the old Namespace deletes the database, MinIO and backups claims; the new ones start empty."""
    verdicts = pair(BASE, merged(BASE, namespace="mlflow-prod"), tmp_path)
    namespace = line_of(verdicts, "Namespace/mlflow -> mlflow-prod")
    assert namespace.cls == DATA_LOSS
    for claim in ("data-mlflow-postgresql-0", "data-mlflow-minio-0", "mlflow-postgresql-backups"):
        assert claim in text(namespace)
    assert "kubectl delete namespace" not in report(verdicts)
    database = line_of(verdicts, "StatefulSet/mlflow/mlflow-postgresql -> mlflow-prod/mlflow-postgresql")
    assert database.cls == DATA_LOSS and "tracking and auth databases" in text(database)
    assert line_of(verdicts, "Deployment/mlflow/mlflow -> mlflow-prod/mlflow").cls == RECREATED
    summary = report(verdicts).splitlines()
    assert summary[0].startswith("test: DATA LOSS, 24 objects change (4 data loss, 17 recreated, 3 rollout)")
    assert summary[1].startswith("  lost unless you act: everything in Namespace mlflow")
    assert summary[2].startswith("  to keep it: ") and 'README "Renaming without recreating"' in summary[2]
    # the keygen Job makes the Secret in the new namespace: nothing to create by hand
    assert "Secret mlflow-credentials in namespace mlflow-prod" not in report(verdicts)


def test_a_name_change_replaces_the_volumes_with_empty_ones(tmp_path):
    verdicts = pair(BASE, merged(BASE, name="tracking"), tmp_path)
    for old, new, claim in [
        ("StatefulSet/mlflow/mlflow-postgresql", "mlflow/tracking-postgresql", "data-mlflow-postgresql-0"),
        ("StatefulSet/mlflow/mlflow-minio", "mlflow/tracking-minio", "data-mlflow-minio-0"),
        ("PersistentVolumeClaim/mlflow/mlflow-postgresql-backups", "mlflow/tracking-postgresql-backups", ""),
    ]:
        verdict = line_of(verdicts, f"{old} -> {new}")
        assert verdict.cls == DATA_LOSS and "its name changed: the new" in text(verdict) and claim in text(verdict)
    server = line_of(verdicts, "Deployment/mlflow/mlflow -> mlflow/tracking")
    assert server.labelled("tracking database changed") and server.labelled("artifact store changed")
    assert line_of(verdicts, "Service/mlflow/mlflow -> mlflow/tracking").cls == RECREATED
    assert "new name, created anew" in text(line_of(verdicts, "Service/mlflow/mlflow -> mlflow/tracking"))
    assert "store credentials" not in report(verdicts), "the new MinIO's bucket Job creates the user from the keys"


def test_switching_minio_to_s3_strands_the_artifacts_and_needs_aws_credentials(tmp_path):
    verdicts = pair(BASE, merged(BASE, artifacts=S3), tmp_path)
    minio = line_of(verdicts, "StatefulSet/mlflow/mlflow-minio")
    assert minio.cls == DATA_LOSS and "PVC data-mlflow-minio-0 holds the artifacts (bundled MinIO)" in text(minio)
    server = line_of(verdicts, "Deployment/mlflow/mlflow")
    switch = server.labelled("artifact store changed")
    assert switch is not None and switch.cls == DATA_LOSS
    assert "s3://team-ml/mlflow instead of s3://mlflow at http://mlflow-minio:9000" in switch.detail
    assert "no longer served" in switch.detail
    credentials = server.labelled("store credentials")
    assert credentials is not None and "now authenticate to AWS S3" in credentials.detail
    assert "s3-access-key-id, s3-secret-access-key of Secret mlflow-credentials" in credentials.detail
    summary = report(verdicts)
    assert "lost unless you act: the artifacts (bundled MinIO) on PVC data-mlflow-minio-0" in summary
    assert "`mc mirror`" in summary and "before applying: keys s3-access-key-id" in summary


def test_switching_pvc_artifacts_to_s3_prunes_the_claim(tmp_path):
    verdicts = pair(PVC, merged(PVC, artifacts=S3), tmp_path)
    claim = line_of(verdicts, "PersistentVolumeClaim/mlflow/mlflow-artifacts")
    assert claim.cls == DATA_LOSS and "its volume too unless the PersistentVolume's reclaim policy" in text(claim)
    switch = line_of(verdicts, "Deployment/mlflow/mlflow").labelled("artifact store changed")
    assert switch is not None and "instead of /mlflow/artifacts" in switch.detail
    assert switch.lost is None, "the claim's own line says what is lost"


def test_a_new_s3_prefix_leaves_the_logged_artifacts_unserved(tmp_path):
    before = merged(BASE, artifacts=S3)
    after = merged(BASE, artifacts={"type": "s3", "s3": {**S3["s3"], "prefix": "v2"}})
    server = line_of(pair(before, after, tmp_path), "Deployment/mlflow/mlflow")
    assert server.cls == DATA_LOSS
    assert "the artifacts logged so far in s3://team-ml/mlflow" in (
        server.labelled("artifact store changed").lost or ""
    )
    assert not server.labelled("store credentials"), "the same AWS account: the keys stay valid"


def test_a_new_root_without_proxying_moves_only_new_runs(tmp_path):
    """With `proxied: false` runs keep absolute URIs in the old bucket, which clients still read."""
    before = merged(BASE, artifacts={**S3, "proxied": False})
    after = merged(BASE, artifacts={"type": "s3", "proxied": False, "s3": {**S3["s3"], "prefix": "v2"}})
    server = line_of(pair(before, after, tmp_path), "Deployment/mlflow/mlflow")
    assert server.cls == ROLLOUT and server.labelled("artifact root changed").cls == IN_PLACE


def test_switching_to_an_external_database_prunes_the_bundled_one(tmp_path):
    verdicts = pair(BASE, merged(BASE, database={"type": "external"}), tmp_path)
    database = line_of(verdicts, "StatefulSet/mlflow/mlflow-postgresql")
    assert database.cls == DATA_LOSS and "Kubernetes keeps it when the StatefulSet goes" in text(database)
    assert line_of(verdicts, "PersistentVolumeClaim/mlflow/mlflow-postgresql-backups").cls == DATA_LOSS
    switch = line_of(verdicts, "Deployment/mlflow/mlflow").labelled("tracking database changed")
    assert switch is not None and "Secret mlflow-credentials key database-uri instead of" in switch.detail
    assert "before applying: Secret mlflow-credentials in namespace mlflow with key database-uri" in report(verdicts)


def test_a_new_database_name_leaves_the_old_records_unserved(tmp_path):
    """The same PostgreSQL, another database: nothing is pruned, yet the server starts on an empty schema."""
    verdicts = pair(BASE, merged(BASE, database={"name": "tracking"}), tmp_path)
    server = line_of(verdicts, "Deployment/mlflow/mlflow")
    assert server.cls == DATA_LOSS
    assert "(no longer served)" in (server.labelled("tracking database changed").lost or "")
    assert "pods roll" in text(server) and "env[MLFLOW_BACKEND_STORE_URI]" in text(server)


def test_a_registry_database_of_its_own_leaves_the_old_models_unserved(tmp_path):
    """Turning ``database.registry`` on moves the registry to another database while the tracking one stays:
    the registered models kept so far in the tracking database are no longer served, which the diff calls data
    loss on the server's line, naming both stores."""
    external = merged(BASE, database={"type": "external"})
    after = merged(BASE, database={"type": "external", "registry": {"enabled": True}})
    server = line_of(pair(external, after, tmp_path), "Deployment/mlflow/mlflow")
    switch = server.labelled("model registry database changed")
    assert server.cls == DATA_LOSS and switch is not None and server.labelled("tracking database changed") is None
    assert "Secret mlflow-credentials key registry-database-uri instead of Secret mlflow-credentials key " in (
        switch.detail
    )
    assert "(no longer served)" in (switch.lost or "")


def test_removing_cloudnativepg_deletes_its_instances(tmp_path):
    verdicts = pair(CNPG, merged(CNPG, database={"type": "external"}), tmp_path)
    cluster = line_of(verdicts, "Cluster/mlflow/mlflow-db")
    assert cluster.cls == DATA_LOSS and "the operator deletes it with the Cluster's instances" in text(cluster)
    assert "PVC mlflow-db-1 holds the tracking and auth databases (CloudNativePG)" in text(cluster)


def test_a_pvc_class_change_fails_and_recreating_the_claim_loses_it(tmp_path):
    after = merged(PVC, artifacts={"type": "pvc", "pvc": {"size": "50Gi", "storage_class": "fast"}})
    claim = line_of(pair(PVC, after, tmp_path), "PersistentVolumeClaim/mlflow/mlflow-artifacts")
    assert claim.cls == DATA_LOSS and claim.refused
    assert "spec.storageClassName added: fast" in text(claim)
    assert "`kubectl -n mlflow delete persistentvolumeclaim mlflow-artifacts`" in text(claim)


def test_external_stores_keep_their_data_across_a_namespace_change(tmp_path):
    """eks-s3 (external database, S3 through IRSA): a new namespace recreates objects and loses nothing."""
    config = yaml.safe_load(environment_file("eks-s3").read_text())
    verdicts = pair(config, merged(config, namespace="ml-prod"), tmp_path)
    assert {v.cls for v in verdicts} == {RECREATED, ROLLOUT}
    assert report(verdicts).startswith("test: RECREATED")


# --- recreated ------------------------------------------------------------------------------------------


def _edited(objects: list[dict], kind: str, name: str, edit) -> list[dict]:
    after = copy.deepcopy(objects)
    edit(find(after, kind, name))
    return after


@pytest.mark.parametrize(
    ("kind", "name", "advice"),
    [
        ("Deployment", "mlflow", "delete the Deployment first (`kubectl -n mlflow delete deployment mlflow`)"),
        ("StatefulSet", "mlflow-postgresql", "kubectl -n mlflow delete statefulset mlflow-postgresql`; its PVCs"),
        ("DaemonSet", "mlflow", "delete the DaemonSet first (`kubectl -n mlflow delete daemonset mlflow`)"),
    ],
)
def test_a_selector_change_fails_and_says_what_to_delete(base, kind, name, advice):
    before = copy.deepcopy(base)
    for obj in before:
        if kind == "DaemonSet" and obj["kind"] == "Deployment":
            obj["kind"] = "DaemonSet"
    after = _edited(before, kind, name, lambda o: o["spec"]["selector"]["matchLabels"].update(tier="x"))
    verdict = line_of(diff_objects(before, after), f"{kind}/mlflow/{name}")
    assert verdict.cls == RECREATED and verdict.refused
    assert "spec.selector, the apply fails" in text(verdict) and advice in text(verdict)
    assert "spec.selector.matchLabels.tier added: x" in text(verdict)


def test_a_new_volume_claim_template_fails_and_says_to_orphan_the_statefulset(tmp_path):
    verdicts = pair(BASE, merged(BASE, database={"bundled": {"storage_class": "fast-ssd"}}), tmp_path)
    verdict = line_of(verdicts, "StatefulSet/mlflow/mlflow-postgresql")
    assert verdict.cls == RECREATED and verdict.refused
    assert "`kubectl -n mlflow delete statefulset mlflow-postgresql --cascade=orphan` first" in text(verdict)
    assert "volumeClaimTemplates[data].spec.storageClassName added: fast-ssd" in text(verdict)
    assert not verdict.labelled("storage size"), "a storage class is not a size"


@pytest.mark.parametrize(("field", "value"), [("serviceName", "postgres"), ("podManagementPolicy", "Parallel")])
def test_other_fixed_statefulset_fields_fail_and_say_to_orphan(base, field, value):
    after = _edited(base, "StatefulSet", "mlflow-postgresql", lambda s: s["spec"].update({field: value}))
    verdict = line_of(diff_objects(base, after), "StatefulSet/mlflow/mlflow-postgresql")
    assert verdict.cls == RECREATED and "--cascade=orphan" in text(verdict) and f"spec.{field} " in text(verdict)


def test_a_job_changed_under_the_same_name_fails_and_says_to_delete_it(base):
    job = next(o for o in base if o["kind"] == "Job")

    def edit(j):
        j["spec"]["template"]["spec"]["containers"][0]["image"] = "example.com/other:1"

    verdict = line_of(
        diff_objects(base, _edited(base, "Job", job["metadata"]["name"], edit)), f"Job/mlflow/{job['metadata']['name']}"
    )
    assert verdict.cls == RECREATED and verdict.refused
    assert f"delete the Job first (`kubectl -n mlflow delete job {job['metadata']['name']}`)" in text(verdict)


def test_a_service_turning_headless_or_back_fails_and_says_to_delete_it(base):
    after = _edited(base, "Service", "mlflow-postgresql", lambda s: s["spec"].pop("clusterIP"))
    verdict = line_of(diff_objects(base, after), "Service/mlflow/mlflow-postgresql")
    assert verdict.cls == RECREATED and "spec.clusterIP removed (was None)" in text(verdict)
    assert "delete the Service first (`kubectl -n mlflow delete service mlflow-postgresql`)" in text(verdict)


def test_immutable_configmap_data_fails_and_says_to_delete_it(base):
    frozen = _edited(base, "ConfigMap", "mlflow-settings", lambda c: c.update(immutable=True))
    after = _edited(frozen, "ConfigMap", "mlflow-settings", lambda c: c["data"].update(HOME="/home"))
    verdict = line_of(diff_objects(frozen, after), "ConfigMap/mlflow/mlflow-settings")
    assert verdict.cls == RECREATED and "data.HOME /tmp -> /home" in text(verdict)
    assert "delete it first (`kubectl -n mlflow delete configmap mlflow-settings`)" in text(verdict)


def test_moving_a_cloudnativepg_database_to_another_cluster_fails(tmp_path):
    objects = synth(CNPG, tmp_path / "cnpg")
    after = _edited(objects, "Database", "mlflow-auth-db", lambda d: d["spec"]["cluster"].update(name="other"))
    verdict = line_of(diff_objects(objects, after), "Database/mlflow/mlflow-auth-db")
    assert verdict.cls == RECREATED and verdict.refused and "spec.cluster.name mlflow-db -> other" in text(verdict)


def test_a_pvc_that_shrinks_is_refused(tmp_path):
    after = merged(PVC, artifacts={"type": "pvc", "pvc": {"size": "10Gi"}})
    verdict = line_of(pair(PVC, after, tmp_path), "PersistentVolumeClaim/mlflow/mlflow-artifacts")
    assert (
        verdict.cls == RECREATED and verdict.refused and "50Gi -> 10Gi: shrinking a volume is refused" in text(verdict)
    )


# --- rollout --------------------------------------------------------------------------------------------


def test_a_new_image_rolls_the_pods_and_runs_the_migration_again(tmp_path):
    """Old -> new values, and the migration Job is one line (replaced under its new hash), not add + remove."""
    after = merged(BASE, server={"image": "ghcr.io/mlflow/mlflow:v3.18.0-full"})
    verdicts = pair(BASE, after, tmp_path)
    server = line_of(verdicts, "Deployment/mlflow/mlflow")
    assert server.cls == ROLLOUT
    change = "containers[mlflow].image ghcr.io/mlflow/mlflow:v3.17.2-full -> ghcr.io/mlflow/mlflow:v3.18.0-full"
    assert change in text(server)
    migration = [v for v in verdicts if v.kind == "Job" and "mlflow-migrate-" in v.ref]
    assert len(migration) == 1 and migration[0].cls == ROLLOUT
    assert " -> mlflow/mlflow-migrate-" in migration[0].ref and "migration runs again" in text(migration[0])
    assert "containers[upgrade].image ghcr.io/mlflow/mlflow:v3.17.2-full -> " in text(migration[0])
    assert {v.cls for v in verdicts} == {ROLLOUT}, report(verdicts)


def test_a_new_bucket_runs_the_bucket_setup_again(tmp_path):
    verdicts = pair(BASE, merged(BASE, artifacts={"type": "minio", "minio": {"bucket": "models"}}), tmp_path)
    bucket = [v for v in verdicts if "mlflow-minio-bucket-" in v.ref]
    assert len(bucket) == 1 and "bucket setup runs again" in text(bucket[0])


def test_env_vars_are_named_and_said_to_be_added_removed_or_changed(tmp_path):
    added = text(line_of(pair(BASE, merged(BASE, auth={"mode": "basic"}), tmp_path / "a"), "Deployment/mlflow/mlflow"))
    flask = "env[MLFLOW_FLASK_SERVER_SECRET_KEY] added: Secret mlflow-credentials key flask-secret-key"
    assert f"containers[mlflow].{flask}" in added
    gone = text(line_of(pair(BASE, merged(BASE, artifacts=S3), tmp_path / "r"), "Deployment/mlflow/mlflow"))
    assert "containers[mlflow].env[MLFLOW_S3_ENDPOINT_URL] removed (was http://mlflow-minio:9000)" in gone
    changed = text(line_of(pair(BASE, merged(BASE, artifacts=S3), tmp_path / "c"), "Deployment/mlflow/mlflow"))
    assert "containers[mlflow].args -s3://mlflow +s3://team-ml/mlflow" in changed


# --- in place -------------------------------------------------------------------------------------------


def test_a_replica_bump_is_in_place_with_the_old_and_new_count(tmp_path):
    verdicts = pair(merged(BASE, server={"replicas": 2}), merged(BASE, server={"replicas": 3}), tmp_path)
    assert [text(v) for v in verdicts] == ["  in place  Deployment/mlflow/mlflow: changed: spec.replicas 2 -> 3"]
    assert report(verdicts).startswith("test: IN PLACE, 1 object change (1 in place)")


def test_a_new_object_is_added_and_a_removed_one_says_how_it_goes(base, tmp_path):
    with_ingress = synth(merged(BASE, ingress=INGRESS), tmp_path / "ingress")
    assert text(line_of(diff_objects(base, with_ingress), "Ingress/mlflow/mlflow")).endswith(
        "added: created by the apply"
    )
    removed = line_of(diff_objects(with_ingress, base), "Ingress/mlflow/mlflow")
    assert removed.cls == IN_PLACE and "pruned by Argo CD/Flux with prune on" in text(removed)
    assert "plain `kubectl apply` leaves it: delete it yourself (`kubectl -n mlflow delete ingress mlflow`)" in text(
        removed
    )


def test_a_pvc_that_grows_needs_volume_expansion(tmp_path):
    after = merged(PVC, artifacts={"type": "pvc", "pvc": {"size": "100Gi"}})
    verdict = line_of(pair(PVC, after, tmp_path), "PersistentVolumeClaim/mlflow/mlflow-artifacts")
    assert verdict.cls == IN_PLACE and not verdict.refused
    assert "storage size: 50Gi -> 100Gi" in text(verdict) and "allowVolumeExpansion: true" in text(verdict)


def test_a_statefulset_volume_that_grows_is_one_line_with_the_orphan_and_the_patch(tmp_path):
    verdicts = pair(BASE, merged(BASE, database={"bundled": {"storage_size": "20Gi"}}), tmp_path)
    verdict = line_of(verdicts, "StatefulSet/mlflow/mlflow-postgresql")
    assert verdict.cls == RECREATED and verdict.labelled("immutable field") and verdict.labelled("storage size")
    assert "existing ones (data-mlflow-postgresql-0) keep 10Gi" in text(verdict)
    assert "kubectl -n mlflow patch pvc data-mlflow-postgresql-0" in text(verdict)


def test_switching_to_external_secrets_needs_the_operator_and_the_store(tmp_path):
    keys = DEFAULT_SECRET_KEYS
    secrets = {
        "provider": "external-secrets",
        "external_secrets": {"store_ref": {"name": "vault"}, "remote_refs": {k: {"key": k} for k in keys}},
    }
    verdicts = pair(BASE, merged(BASE, secrets=secrets), tmp_path)
    operator = line_of(verdicts, "ExternalSecret/mlflow/mlflow-credentials").labelled("new prerequisite")
    assert operator is not None and "External Secrets Operator" in operator.detail
    assert "ClusterSecretStore/vault must exist before applying" in text(line_of(verdicts, "Namespace/mlflow"))
    assert "which they did not read before" not in report(verdicts), "the ExternalSecret makes the Secret"


def test_moving_to_an_http_route_needs_the_gateway_api_crds(tmp_path):
    """gateway.networking.k8s.io ends in .k8s.io but is no built-in group: an HTTPRoute replacing an Ingress
    is a new custom resource kind, whose CRDs and implementation must be installed before the apply."""
    before = merged(BASE, ingress={**INGRESS, "tls": None})
    gateway = {"kind": "httproute", "gateway": {"parent_refs": [{"name": "shared", "namespace": "gateway-system"}]}}
    verdicts = pair(before, merged(BASE, ingress={**INGRESS, "tls": None, **gateway}), tmp_path)
    crd = line_of(verdicts, "HTTPRoute/mlflow/mlflow").labelled("new prerequisite")
    assert crd is not None and "new custom resource kind HTTPRoute" in crd.detail and "Gateway API CRDs" in crd.detail
    assert "pruned by Argo CD/Flux" in text(line_of(verdicts, "Ingress/mlflow/mlflow"))


def test_a_newly_read_secret_key_must_be_added_to_the_secret(tmp_path):
    """With a hand-made Secret (`generate: false`), keys a change makes the pods read must be added first."""
    made_by_hand = merged(BASE, secrets={"generate": False})
    summary = report(pair(made_by_hand, merged(made_by_hand, auth={"mode": "basic"}), tmp_path))
    keys = "admin-username, admin-password, flask-secret-key"
    assert f"before applying: Secret mlflow-credentials in namespace mlflow with keys {keys}" in summary


def test_newly_read_keys_the_keygen_job_makes_ask_for_nothing(tmp_path):
    """Keys the keygen Job generates (basic's admin and Flask secret here) need nothing before applying: the
    Job adds them to the Secret it made, which the diff therefore does not ask for."""
    summary = report(pair(BASE, merged(BASE, auth={"mode": "basic"}), tmp_path))
    assert "before applying: Secret mlflow-credentials" not in summary
    assert "must exist before applying" not in summary


def test_a_passphrase_rotation_asks_for_the_previous_passphrase_first(tmp_path):
    """Step 1 of the rotation procedure, surfaced by the diff: the Job reads the old passphrase from its own key."""
    rotating = merged(BASE, server={"ai_gateway": {"kek_version": 2, "rotate_kek": True}})
    summary = report(pair(BASE, rotating, tmp_path))
    assert "before applying: Secret mlflow-credentials in namespace mlflow with key previous-kek-passphrase" in summary


# --- the report -----------------------------------------------------------------------------------------


def test_unchanged_output_gives_an_empty_report(base, tmp_path):
    assert diff_objects(base, synth(BASE, tmp_path / "again")) == []
    assert render([EnvironmentReport("test", "dist/test.k8s.yaml", [])]) == (
        "test: no change, compared with dist/test.k8s.yaml\n1 environment: no change in test\n"
    )


def test_one_line_per_object_and_counts_count_objects(tmp_path):
    verdicts = pair(BASE, merged(BASE, artifacts=S3, server={"replicas": 2}), tmp_path)
    refs = [v.ref for v in verdicts]
    assert len(refs) == len(set(refs))
    lines = report(verdicts).splitlines()
    assert len([line for line in lines if line.startswith("  ") and "/" in line.split(":")[0]]) == len(verdicts)
    assert f"{len(verdicts)} objects change" in lines[0]


def test_colour_only_when_asked(base, tmp_path):
    verdicts = pair(BASE, merged(BASE, artifacts=S3), tmp_path)
    coloured = render([EnvironmentReport("test", "dist/test.k8s.yaml", verdicts)], colour=True)
    assert "\033[1m\033[31mtest: DATA LOSS" in coloured
    assert "\033[" not in render([EnvironmentReport("test", "dist/test.k8s.yaml", verdicts)])


def test_exit_codes_tell_data_loss_from_other_changes(tmp_path, monkeypatch, capsys):
    """`--exit-code`: 0 nothing changed, 1 a change without data loss, 3 data loss (CI can gate on either)."""
    from mlflow_constructs import cli  # noqa: PLC0415

    config = tmp_path / "config"
    config.mkdir()
    (config / "default.yaml").write_text("namespace: mlflow\n")
    outdir = tmp_path / "dist"
    assert run_app("--config-dir", str(config), "--outdir", str(outdir)).returncode == 0
    args = ["diff", "--config-dir", str(config), "--outdir", str(outdir)]
    assert cli.main([*args, "--exit-code"], root=REPO) == 0
    for change, code in [("server: {replicas: 2}", 1), ("namespace: other", 3)]:
        (config / "default.yaml").write_text(f"{change}\n")
        assert cli.main([*args, "--exit-code"], root=REPO) == code, change
        assert cli.main(args, root=REPO) == 0, "without --exit-code a report exits 0"
    capsys.readouterr()


@pytest.mark.parametrize("name", RESERVED_NAMES)
def test_environment_files_named_after_a_subcommand_are_refused(tmp_path, name):
    (tmp_path / f"{name}.yaml").write_text("namespace: x\n")
    with pytest.raises(ConfigError, match=f"'{name}' is a command of app.py"):
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
    assert result.returncode == 1, result.stderr  # --exit-code: something changed, nothing lost
    assert "default: ROLLOUT" in result.stdout and "compared with HEAD:dist/default.k8s.yaml" in result.stdout
    assert "rollout   Deployment/mlflow/mlflow: pods roll: containers[mlflow].image" in result.stdout
    assert "migration runs again" in result.stdout
    assert "extra: IN PLACE" in result.stdout and "new environment (not in HEAD:dist/extra.k8s.yaml)" in result.stdout
    assert "\033[" not in result.stdout, "no colour when stdout is not a terminal"

    missing = run_app("diff", "--outdir", str(repo / "dist"), "--base", "no-such-rev")
    assert missing.returncode == 2 and "no such git revision" in missing.stderr


def test_data_holders_are_recognised_by_their_labels(synthesized):
    """The rules know the bundled PostgreSQL, MinIO, the backups and artifacts PVCs and CloudNativePG by the
    component labels the constructs set; each label in the table is one the constructs really write."""
    seen = {
        (o["kind"], component(o) or "") for objects in synthesized.values() for o in objects if data_of(o) is not None
    }
    assert set(HOLDERS) <= seen, set(HOLDERS) - seen
    assert all(server_of(objects) is not None for objects in synthesized.values())
    assert all(component(server_of(objects)) == SERVER for objects in synthesized.values())


def test_the_review_package_keeps_cdk8s_out():
    """facts, rules, diff, render, explain and objects work on plain dicts; only commands reaches synthesis."""
    import ast  # noqa: PLC0415

    package = REPO / "constructs" / "mlflow_constructs" / "review"
    for path in package.glob("*.py"):
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
        assert not {m for m in imported if m.split(".")[0] in ("cdk8s", "cdk8s_plus_27", "constructs")}, path
        assert not [m for m in imported if m.startswith("mlflow_constructs.imports")], path
        if path.stem in ("facts", "rules", "diff", "render", "explain", "objects"):
            assert not [m for m in imported if m.startswith("mlflow_constructs.synth")], path
