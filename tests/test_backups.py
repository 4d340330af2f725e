"""Database backups: what is backed up by default, where to, and what may reach the database."""

from __future__ import annotations

from helpers import container, env_of, find, find_all, synth

CNPG_S3 = {
    "database": {"type": "cloudnativepg"},
    "artifacts": {"type": "s3", "s3": {"bucket": "team-ml", "prefix": "artifacts", "region": "eu-west-1"}},
}


def cron_pod(cronjob: dict) -> dict:
    return cronjob["spec"]["jobTemplate"]["spec"]["template"]


def test_bundled_postgres_is_dumped_nightly_to_its_own_pvc_by_default(tmp_path):
    objs = synth({}, tmp_path)
    cronjob = find(objs, "CronJob", "mlflow-postgresql-backup")
    spec = cronjob["spec"]
    assert (spec["schedule"], spec["timeZone"], spec["concurrencyPolicy"]) == ("0 3 * * *", "Etc/UTC", "Forbid")
    pod = cron_pod(cronjob)["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == "backups")
    assert volume["persistentVolumeClaim"]["claimName"] == "mlflow-postgresql-backups"
    find(objs, "PersistentVolumeClaim", "mlflow-postgresql-backups")
    assert pod["automountServiceAccountToken"] is False and pod["restartPolicy"] == "Never"
    dump = container({"spec": {"template": cron_pod(cronjob)}}, "pg-dump")
    assert dump["image"] == container(find(objs, "StatefulSet", "mlflow-postgresql"), "postgresql")["image"]
    assert env_of(dump)["PGPASSWORD"] == {"secretKeyRef": {"name": "mlflow-credentials", "key": "postgres-password"}}
    assert env_of(dump)["DATABASES"] == "mlflow mlflow_auth" and env_of(dump)["KEEP"] == "7"


def test_backup_pods_may_reach_postgresql_and_nothing_admits_them_elsewhere(tmp_path):
    objs = synth({}, tmp_path)
    backup_labels = {"app.kubernetes.io/name": "postgresql-backup", "app.kubernetes.io/instance": "mlflow"}
    admitted = {
        p["metadata"]["name"]
        for p in find_all(objs, "NetworkPolicy")
        for rule in p["spec"].get("ingress", [])
        for peer in rule.get("from", [])
        if peer.get("podSelector", {}).get("matchLabels") == backup_labels
    }
    assert admitted == {"mlflow-allow-postgresql"}


def test_upload_goes_beside_the_artifact_prefix_with_the_server_identity(tmp_path):
    config = {"database": {"backup": {"destination": "artifact-store"}}, "artifacts": CNPG_S3["artifacts"]}
    objs = synth(config, tmp_path)
    pod = cron_pod(find(objs, "CronJob", "mlflow-postgresql-backup"))["spec"]
    assert pod["serviceAccountName"] == "mlflow"
    assert not [c for c in find_all(objs, "PersistentVolumeClaim") if "backups" in c["metadata"]["name"]]
    (upload,) = pod["containers"]
    assert env_of(upload)["BACKUP_URI"] == "s3://team-ml/mlflow-backups/artifacts/postgresql"


def test_backups_can_be_switched_off(tmp_path):
    objs = synth({"database": {"backup": {"enabled": False}}}, tmp_path)
    assert not find_all(objs, "CronJob")


def test_cloudnativepg_backs_up_beside_the_s3_artifact_prefix_with_their_keys(tmp_path):
    objs = synth(CNPG_S3, tmp_path)
    store = find(objs, "ObjectStore", "mlflow-db-backups")["spec"]
    config = store["configuration"]
    assert config["destinationPath"] == "s3://team-ml/mlflow-backups/artifacts/cloudnativepg"
    assert config["s3Credentials"]["accessKeyId"] == {"name": "mlflow-credentials", "key": "s3-access-key-id"}
    assert store["retentionPolicy"] == "30d"
    (plugin,) = find(objs, "Cluster", "mlflow-db")["spec"]["plugins"]
    assert plugin == {
        "name": "barman-cloud.cloudnative-pg.io",
        "isWALArchiver": True,
        "parameters": {"barmanObjectName": "mlflow-db-backups"},
    }
    scheduled = find(objs, "ScheduledBackup", "mlflow-db-scheduled")["spec"]
    assert scheduled["schedule"] == "0 0 3 * * *" and scheduled["method"] == "plugin"
    assert scheduled["backupOwnerReference"] == "self"
    assert scheduled["pluginConfiguration"] == {"name": "barman-cloud.cloudnative-pg.io"}


def test_cloudnativepg_workload_identity_annotates_the_instances_service_account(tmp_path):
    store = {
        "destination_path": "gs://team-ml-backups/mlflow",
        "credentials": "workload-identity",
        "service_account_annotations": {"iam.gke.io/gcp-service-account": "pg-backup@p.iam.gserviceaccount.com"},
    }
    objs = synth({"database": {"type": "cloudnativepg", "backup": {"object_store": store}}}, tmp_path)
    config = find(objs, "ObjectStore")["spec"]["configuration"]
    assert config["googleCredentials"] == {"gkeEnvironment": True}
    cluster = find(objs, "Cluster")["spec"]
    assert cluster["serviceAccountTemplate"]["metadata"]["annotations"] == store["service_account_annotations"]


def test_an_external_database_gets_no_backup_objects(tmp_path):
    objs = synth({"database": {"type": "external"}}, tmp_path)
    assert not [o for o in objs if o["kind"] in ("CronJob", "ObjectStore", "ScheduledBackup")]
