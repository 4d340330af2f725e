"""Housekeeping: the ``mlflow gc`` CronJob (what it runs as, what may reach what) and the read replica."""

from __future__ import annotations

import pytest
from helpers import config_error, container, env_of, find, find_all, synth
from test_backups import cron_pod

GC = {"maintenance": {"gc": {"enabled": True}}}
GC_LABELS = {"app.kubernetes.io/name": "gc", "app.kubernetes.io/instance": "mlflow"}


def gc_pod(objs: list[dict]) -> dict:
    return cron_pod(find(objs, "CronJob", "mlflow-gc"))


def test_gc_is_off_by_default(tmp_path):
    """gc makes deletions permanent that MLflow otherwise keeps restorable: nothing runs unless asked."""
    assert not [c for c in find_all(synth({}, tmp_path), "CronJob") if c["metadata"]["name"] == "mlflow-gc"]


def test_gc_runs_daily_one_at_a_time_as_the_server_without_a_token(tmp_path):
    """The CronJob never overlaps itself, runs the server's image as its ServiceAccount (the store
    credentials), mounts no API token and purges what was deleted longer ago than ``older_than``."""
    objs = synth({"maintenance": {"gc": {"enabled": True, "older_than": "7d12h"}}}, tmp_path)
    cronjob = find(objs, "CronJob", "mlflow-gc")
    spec = cronjob["spec"]
    assert (spec["schedule"], spec["timeZone"], spec["concurrencyPolicy"]) == ("30 4 * * *", "Etc/UTC", "Forbid")
    pod = gc_pod(objs)["spec"]
    server = find(objs, "Deployment", "mlflow")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == server["serviceAccountName"]
    assert pod["automountServiceAccountToken"] is False and pod["restartPolicy"] == "Never"
    gc = container({"spec": {"template": gc_pod(objs)}}, "gc")
    assert gc["image"] == container(find(objs, "Deployment", "mlflow"), "mlflow")["image"]
    assert env_of(gc)["OLDER_THAN"] == "7d12h"
    assert gc["resources"]["requests"] and gc["resources"]["limits"]


def test_gc_starts_only_on_a_schema_at_its_image_head(tmp_path):
    """gc writes to MLflow's database, so like the server it waits for the migration Job's schema first
    (the same ``wait-for-schema`` init container and scripts)."""
    objs = synth(GC, tmp_path)
    (gate,) = gc_pod(objs)["spec"]["initContainers"]
    server_gate = find(objs, "Deployment", "mlflow")["spec"]["template"]["spec"]["initContainers"][0]
    assert gate["name"] == server_gate["name"] == "wait-for-schema"
    assert gate["command"] == server_gate["command"] and gate["image"] == server_gate["image"]
    assert env_of(gate)["SCHEMA_STORES"] == "tracking"


def test_proxied_artifacts_are_deleted_through_a_loopback_artifacts_server(tmp_path):
    """Runs logged through the server's proxy have ``mlflow-artifacts:/`` URIs that only a tracking server
    resolves: gc serves the server's ``--artifacts-destination`` itself; without the proxy it needs none."""
    proxied = env_of(container({"spec": {"template": gc_pod(synth(GC, tmp_path / "proxied"))}}, "gc"))
    assert proxied["ARTIFACTS_DESTINATION"] == "s3://mlflow"
    s3 = {"bucket": "team-ml", "region": "eu-west-1"}
    direct = {**GC, "database": {"type": "external"}, "artifacts": {"type": "s3", "proxied": False, "s3": s3}}
    assert "ARTIFACTS_DESTINATION" not in env_of(
        container({"spec": {"template": gc_pod(synth(direct, tmp_path / "direct"))}}, "gc")
    )


def test_gc_pods_are_admitted_to_the_database_and_the_bundled_store_only(tmp_path):
    """With NetworkPolicies on, the gc pods reach the bundled PostgreSQL and MinIO, and no other pod."""
    admitted = {
        p["metadata"]["name"]
        for p in find_all(synth(GC, tmp_path), "NetworkPolicy")
        for rule in p["spec"].get("ingress", [])
        for peer in rule.get("from", [])
        if peer.get("podSelector", {}).get("matchLabels") == GC_LABELS
    }
    assert admitted == {"mlflow-allow-postgresql", "mlflow-allow-minio"}


def test_gc_on_a_single_node_volume_runs_beside_the_server(tmp_path):
    """A ``ReadWriteOnce`` artifacts volume mounts on one node: the gc pod is scheduled where the server runs."""
    objs = synth({**GC, "artifacts": {"type": "pvc"}}, tmp_path)
    terms = gc_pod(objs)["spec"]["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    server_labels = find(objs, "Deployment", "mlflow")["spec"]["selector"]["matchLabels"]
    assert terms == [{"labelSelector": {"matchLabels": server_labels}, "topologyKey": "kubernetes.io/hostname"}]


@pytest.mark.parametrize("age", ["30", "1h1d", "2 d", "-1d"])
def test_older_than_refuses_what_mlflow_gc_cannot_parse(age):
    """``mlflow gc --older-than`` takes ``#d#h#m#s`` in that order; anything else is refused by the config."""
    message = config_error({"maintenance": {"gc": {"enabled": True, "older_than": age}}})
    assert "maintenance.gc.older_than" in message and "1d12h" in message


CNPG_TWO = {"type": "cloudnativepg", "cloudnativepg": {"instances": 2}, "backup": {"enabled": False}}


def server_env(objs: list[dict]) -> dict:
    return env_of(container(find(objs, "Deployment", "mlflow"), "mlflow"))


def test_cloudnativepg_reads_come_from_its_standbys(tmp_path):
    """With 2+ instances the server reads through the operator's ``-ro`` Service (the standbys), as the same user
    and password it writes with; the migration Job and gc, which write, stay on the primary alone."""
    objs = synth({**GC, "database": {**CNPG_TWO, "read_replica": {"enabled": True}}}, tmp_path)
    env = server_env(objs)
    assert env["MLFLOW_READ_REPLICA_BACKEND_STORE_URI"] == "postgresql+psycopg2://mlflow@mlflow-db-ro:5432/mlflow"
    assert env["MLFLOW_BACKEND_STORE_URI"] == "postgresql+psycopg2://mlflow@mlflow-db-rw:5432/mlflow"
    assert env["PGPASSWORD"] == {"secretKeyRef": {"name": "mlflow-db-app", "key": "password"}}
    migration = next(j for j in find_all(objs, "Job") if j["metadata"]["name"].startswith("mlflow-migrate-"))
    writers = [container(migration, "upgrade"), container({"spec": {"template": gc_pod(objs)}}, "gc")]
    assert all("MLFLOW_READ_REPLICA_BACKEND_STORE_URI" not in env_of(c) for c in writers)


def test_an_external_replica_uri_comes_from_its_secret_key(tmp_path):
    """An external replica's URI holds a password: it reaches the server from the Secret key
    ``read-replica-database-uri``, never as a literal."""
    objs = synth({"database": {"type": "external", "read_replica": {"enabled": True}}}, tmp_path)
    assert server_env(objs)["MLFLOW_READ_REPLICA_BACKEND_STORE_URI"] == {
        "secretKeyRef": {"name": "mlflow-credentials", "key": "read-replica-database-uri"}
    }


def test_reads_go_to_the_primary_by_default(tmp_path):
    """A standby lags its primary, and MLflow's clients read right after they write: without
    ``read_replica.enabled`` no server gets a replica, whatever the instance count."""
    objs = synth({"database": CNPG_TWO}, tmp_path)
    assert "MLFLOW_READ_REPLICA_BACKEND_STORE_URI" not in server_env(objs)
