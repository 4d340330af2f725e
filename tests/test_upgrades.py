"""Upgrades: the server pods wait for the schema, the migration Job backs up before it migrates, whatever
the apply order (the runtime scenarios in tests/runtime/test_scenario_upgrades.py run them for real)."""

from __future__ import annotations

from helpers import container, env_of, find, find_all, synth

from mlflow_constructs.server.schema import SCRIPTS, script_texts

CNPG_S3 = {
    "database": {"type": "cloudnativepg"},
    "artifacts": {"type": "s3", "s3": {"bucket": "team-ml", "prefix": "artifacts", "region": "eu-west-1"}},
}
IMAGE = "ghcr.io/mlflow/mlflow:v3.17.2-full"


def migration(objs: list[dict]) -> dict:
    (job,) = [j for j in find_all(objs, "Job") if j["metadata"]["name"].startswith("mlflow-migrate-")]
    return job


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def test_the_server_never_migrates_and_waits_for_the_schema_in_every_mode(tmp_path):
    """Whatever the auth mode, the last init container of the server pod is the schema gate, run from the
    ConfigMap; no container of the server pod runs a migration."""
    modes = {
        "none": {},
        "basic": {"auth": {"mode": "basic"}},
        "oidc": {
            "server": {"image": "registry.example.com/mlflow/mlflow-oidc:3.17.2-oidc11.0.2"},
            "ingress": {"enabled": True, "hosts": ["mlflow.example.com"], "tls": {"secret_name": "tls"}},
            "auth": {
                "mode": "oidc",
                "oidc": {"discovery_url": "https://sso.example.com/.well-known/openid-configuration"},
            },
        },
    }
    for mode, config in modes.items():
        objs = synth(config, tmp_path / mode)
        spec = pod_spec(find(objs, "Deployment", "mlflow"))
        gate = spec["initContainers"][-1]
        assert gate["name"] == "wait-for-schema" and gate["command"] == ["python", "/mlflow/schema/wait_for_schema.py"]
        volume = next(v for v in spec["volumes"] if v["name"] == "schema-scripts")
        assert volume["configMap"]["name"] == "mlflow-schema", mode
        assert not [c for c in [*spec["initContainers"], *spec["containers"]] if "upgrade" in " ".join(c["command"])]


def test_the_schema_configmap_holds_the_scripts_as_they_are_in_the_repository(tmp_path):
    """A reviewer reads the code the pods run in the diff: the ConfigMap is the files, byte for byte, and
    both pod templates carry a checksum of them (a change rolls the servers and renames the Job)."""
    objs = synth({}, tmp_path)
    assert find(objs, "ConfigMap", "mlflow-schema")["data"] == script_texts()
    assert sorted(script_texts()) == sorted(SCRIPTS)
    edited = synth({"server": {"pod_annotations": {"team": "ml"}}}, tmp_path / "annotated")
    assert migration(edited)["metadata"]["name"] == migration(objs)["metadata"]["name"], "the Job ignores it"


def test_a_refusal_fails_the_job_at_once_and_other_failures_are_retried(tmp_path):
    """Exit 3 (refused, nothing changed) fails the Job without retries, so the rollout stops visibly with the
    old pods serving; any other failure is retried up to backoffLimit with a new pod."""
    job = migration(synth({}, tmp_path))
    assert job["spec"]["podFailurePolicy"] == {
        "rules": [{"action": "FailJob", "onExitCodes": {"containerName": "upgrade", "operator": "In", "values": [3]}}]
    }
    assert job["spec"]["backoffLimit"] == 6 and pod_spec(job)["restartPolicy"] == "Never"


def test_bundled_postgres_is_dumped_by_a_sidecar_of_its_own_image_onto_the_backups_pvc(tmp_path):
    """The pre-upgrade dump uses the database's image (pg_dump matches the server) with the password from the
    Secret, writes where the nightly dumps go, and runs beside the upgrade container (a native sidecar)."""
    objs = synth({}, tmp_path)
    job = migration(objs)
    (sidecar,) = pod_spec(job)["initContainers"]
    assert sidecar["name"] == "pg-dump" and sidecar["restartPolicy"] == "Always"
    assert sidecar["image"] == container(find(objs, "StatefulSet", "mlflow-postgresql"), "postgresql")["image"]
    assert env_of(sidecar)["PGPASSWORD"] == {"secretKeyRef": {"name": "mlflow-credentials", "key": "postgres-password"}}
    backups = next(v for v in pod_spec(job)["volumes"] if v["name"] == "backups")
    assert backups["persistentVolumeClaim"]["claimName"] == "mlflow-postgresql-backups"
    upgrade = env_of(container(job, "upgrade"))
    assert (upgrade["BACKUP"], upgrade["BACKUP_CONFIRMED"]) == ("pg-dump", "false")
    assert pod_spec(job)["automountServiceAccountToken"] is False


def test_an_artifact_store_destination_uploads_the_dump_with_the_server_credentials(tmp_path):
    """With ``destination: artifact-store`` the sidecar dumps onto a scratch volume and the upgrade container
    uploads beside the artifact prefix, with the S3 keys the server reads."""
    config = {
        "artifacts": {"type": "s3", "s3": {"bucket": "team-ml", "prefix": "artifacts", "region": "eu-west-1"}},
        "database": {"backup": {"destination": "artifact-store"}},
    }
    objs = synth(config, tmp_path)
    job = migration(objs)
    upgrade = container(job, "upgrade")
    env = env_of(upgrade)
    assert env["BACKUP_URI"] == "s3://team-ml/mlflow-backups/artifacts/postgresql"
    assert (
        env["AWS_ACCESS_KEY_ID"] == env_of(container(find(objs, "Deployment", "mlflow"), "mlflow"))["AWS_ACCESS_KEY_ID"]
    )
    assert {"name": "backups", "mountPath": "/backups", "readOnly": True} in upgrade["volumeMounts"]
    assert "emptyDir" in next(v for v in pod_spec(job)["volumes"] if v["name"] == "backups")


def test_cloudnativepg_backs_up_through_a_service_account_that_may_only_create_backups(tmp_path):
    """The only container with an API token: the migration Job's ``upgrade``, to create an on-demand Backup of
    the cluster (a projected token; the pod automounts none); its Role grants create and get on backups and
    nothing else, and the account says why it needs a token."""
    objs = synth(CNPG_S3, tmp_path)
    job = migration(objs)
    spec = pod_spec(job)
    assert spec["serviceAccountName"] == "mlflow-migrate" and spec["automountServiceAccountToken"] is False
    token = next(v for v in spec["volumes"] if v["name"] == "api-token")["projected"]["sources"][0]
    assert token == {"serviceAccountToken": {"expirationSeconds": 3600, "path": "token"}}
    mounted = [c["name"] for c in spec["containers"] if any(m["name"] == "api-token" for m in c["volumeMounts"])]
    assert mounted == ["upgrade"]
    assert "initContainers" not in spec, "no pg-dump sidecar: the operator takes the backup"
    env = env_of(container(job, "upgrade"))
    assert (env["BACKUP"], env["CNPG_CLUSTER"], env["CNPG_PLUGIN"]) == (
        "cloudnativepg",
        "mlflow-db",
        "barman-cloud.cloudnative-pg.io",
    )
    assert find(objs, "Role", "mlflow-migrate")["rules"] == [
        {"apiGroups": ["postgresql.cnpg.io"], "resources": ["backups"], "verbs": ["create", "get"]}
    ]
    binding = find(objs, "RoleBinding", "mlflow-migrate")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "mlflow-migrate"}]
    account = find(objs, "ServiceAccount", "mlflow-migrate")
    assert account["automountServiceAccountToken"] is False and account["metadata"]["annotations"]
    assert pod_spec(find(objs, "Deployment", "mlflow"))["automountServiceAccountToken"] is False


def test_without_a_backup_of_its_own_the_job_needs_one_confirmed_for_the_image_it_rolls_out(tmp_path):
    """An external database: the Job cannot back it up, so it migrates only once the operator confirmed a
    backup for exactly the image being rolled out (a confirmation for an older image does not count)."""

    def backup_env(upgrade: dict) -> tuple[str, str]:
        objs = synth({"database": {"type": "external", "upgrade": upgrade}}, tmp_path / str(len(upgrade)))
        env = env_of(container(migration(objs), "upgrade"))
        return env["BACKUP"], env["BACKUP_CONFIRMED"]

    assert backup_env({}) == ("none", "false")
    assert backup_env({"backup_taken_for_image": IMAGE}) == ("none", "true")
    older = synth(
        {"database": {"type": "external", "upgrade": {"backup_taken_for_image": "ghcr.io/mlflow/mlflow:v3.16.0-full"}}},
        tmp_path / "older",
    )
    assert env_of(container(migration(older), "upgrade"))["BACKUP_CONFIRMED"] == "false"
