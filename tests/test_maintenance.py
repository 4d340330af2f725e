"""Housekeeping: the ``mlflow gc`` and trace archival CronJobs (what they run as, what may reach what) and
the read replica."""

from __future__ import annotations

import pytest
import yaml
from helpers import config_error, container, env_of, find, find_all, synth
from test_backups import cron_pod

GC = {"maintenance": {"gc": {"enabled": True}}}


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


@pytest.mark.parametrize("task", ["gc", "trace-archival"])
def test_maintenance_pods_are_admitted_to_the_database_and_the_bundled_store_only(task, tmp_path):
    """With NetworkPolicies on, the pods of each maintenance CronJob reach the bundled PostgreSQL and MinIO,
    and no other pod."""
    config = {"maintenance": {"gc": {"enabled": True}, "trace_archival": {"enabled": True}}}
    labels = {"app.kubernetes.io/name": task, "app.kubernetes.io/instance": "mlflow"}
    admitted = {
        p["metadata"]["name"]
        for p in find_all(synth(config, tmp_path), "NetworkPolicy")
        for rule in p["spec"].get("ingress", [])
        for peer in rule.get("from", [])
        if peer.get("podSelector", {}).get("matchLabels") == labels
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


ARCHIVAL = {"maintenance": {"trace_archival": {"enabled": True, "retention": "12h"}}}


def test_trace_archival_is_off_by_default(tmp_path):
    """As in MLflow: without ``trace_archival.enabled`` the server gets no archival config and nothing runs."""
    objs = synth({}, tmp_path)
    assert "--trace-archival-config" not in container(find(objs, "Deployment", "mlflow"), "mlflow")["args"]
    assert "mlflow-trace-archival" not in {c["metadata"]["name"] for c in find_all(objs, "CronJob")}


def test_server_and_archival_pass_read_one_config_of_the_artifacts_store(tmp_path):
    """The server (``--trace-archival-config``, which it reports and resolves retention from) and the CronJob
    that runs MLflow's archival pass read the same ConfigMap file; with no ``location`` it is the artifacts'
    own destination, so the server reads archived payloads with the credentials it already has."""
    objs = synth(ARCHIVAL, tmp_path)
    server = container(find(objs, "Deployment", "mlflow"), "mlflow")
    path = server["args"][server["args"].index("--trace-archival-config") + 1]
    config = yaml.safe_load(find(objs, "ConfigMap", "mlflow-trace-archival")["data"]["trace-archival.yaml"])
    assert config == {
        "trace_archival": {"enabled": True, "location": "s3://mlflow", "retention": "12h", "interval_seconds": 300}
    }
    task = container({"spec": {"template": cron_pod(find(objs, "CronJob", "mlflow-trace-archival"))}}, "trace-archival")
    assert env_of(task)["MLFLOW_TRACE_ARCHIVAL_CONFIG"] == path
    mounted = {m["mountPath"] for m in task["volumeMounts"]} & {m["mountPath"] for m in server["volumeMounts"]}
    assert path.rsplit("/", 1)[0] in mounted


def test_a_config_change_rolls_the_server(tmp_path):
    """MLflow reads the file at start: a new retention must restart the server pods (pod template checksum)."""
    checksums = [
        find(synth({"maintenance": {"trace_archival": {"enabled": True, "retention": r}}}, tmp_path / r), "Deployment")[
            "spec"
        ]["template"]["metadata"]["annotations"]["checksum/config"]
        for r in ("12h", "30d")
    ]
    assert checksums[0] != checksums[1]


def test_pvc_artifacts_are_archived_as_a_file_uri(tmp_path):
    """MLflow's archival takes store URIs: a PVC destination (a path) becomes ``file://<path>``."""
    objs = synth({**ARCHIVAL, "artifacts": {"type": "pvc"}}, tmp_path)
    config = yaml.safe_load(find(objs, "ConfigMap", "mlflow-trace-archival")["data"]["trace-archival.yaml"])
    assert config["trace_archival"]["location"].startswith("file:///")


@pytest.mark.parametrize("retention", ["0d", "30", "1w", "1d12h"])
def test_retention_refuses_what_mlflow_archival_cannot_parse(retention):
    """MLflow takes one whole number of minutes, hours or days; the config refuses the rest before the server
    would fail to start on it."""
    message = config_error({"maintenance": {"trace_archival": {"enabled": True, "retention": retention}}})
    assert "maintenance.trace_archival.retention" in message and "30d" in message


def test_gc_collects_every_workspace(tmp_path):
    """With workspaces on, `mlflow gc` alone collects the workspace `default` only: the CronJob passes
    `--all-workspaces`, and its loopback artifacts server (which MLflow would refuse with workspaces) runs without."""
    config = {"server": {"workspaces": True}, "auth": {"mode": "basic"}, "maintenance": {"gc": {"enabled": True}}}
    gc = gc_pod(synth(config, tmp_path))["spec"]["containers"][0]
    assert env_of(gc)["MLFLOW_ENABLE_WORKSPACES"] == "true"
    script = gc["command"][2]
    assert 'if os.environ.get("MLFLOW_ENABLE_WORKSPACES") == "true":\n    args.append("--all-workspaces")' in script
    assert '"MLFLOW_ENABLE_WORKSPACES")\n    env = {k: v for k, v in os.environ.items() if k not in drop}' in script
