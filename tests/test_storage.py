"""Contracts of the database, the migration Job and each artifact backend."""

from __future__ import annotations

import os
import subprocess

from helpers import container, env_of, find, find_all, synth

from mlflow_constructs.server import transfers


def test_bundled_postgres_creates_tracking_and_auth_databases(tmp_path):
    objs = synth({}, tmp_path)
    sts = find(objs, "StatefulSet", "mlflow-postgresql")
    pg = container(sts, "postgresql")
    assert env_of(pg)["POSTGRES_DB"] == "mlflow"
    assert env_of(pg)["POSTGRES_PASSWORD"] == {
        "secretKeyRef": {"name": "mlflow-credentials", "key": "postgres-password"}
    }
    init = find(objs, "ConfigMap", "mlflow-postgresql-init")
    assert 'CREATE DATABASE "mlflow_auth" OWNER "mlflow";' in init["data"]["10-databases.sql"]
    claim = sts["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"


def test_bundled_postgres_service_matches_its_pods(tmp_path):
    objs = synth({}, tmp_path)
    service = find(objs, "Service", "mlflow-postgresql")
    labels = find(objs, "StatefulSet", "mlflow-postgresql")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()


def test_migration_job_upgrades_the_store_before_the_server(tmp_path):
    """The Job runs the upgrade procedure with a pg-dump sidecar for the backup before it; the server waits
    for the schema in its gate (every apply path), and Argo CD also orders the Job before the server."""
    objs = synth({}, tmp_path)
    job = find_all(objs, "Job")
    migrate = next(j for j in job if j["metadata"]["name"].startswith("mlflow-migrate-"))
    spec = migrate["spec"]["template"]["spec"]
    assert [(c["name"], c.get("restartPolicy")) for c in spec["initContainers"]] == [("pg-dump", "Always")]
    (upgrade,) = spec["containers"]
    assert upgrade["command"] == ["python", "/mlflow/schema/upgrade.py"]
    assert env_of(upgrade)["SCHEMA_STORES"] == "tracking" and env_of(upgrade)["BACKUP"] == "pg-dump"
    gate = find(objs, "Deployment", "mlflow")["spec"]["template"]["spec"]["initContainers"][-1]
    assert gate["command"] == ["python", "/mlflow/schema/wait_for_schema.py"]
    annotations = migrate["metadata"]["annotations"]
    deployment = find(objs, "Deployment", "mlflow")
    assert int(annotations["argocd.argoproj.io/sync-wave"]) < int(
        deployment["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]
    )


def test_migration_job_name_changes_with_the_image(tmp_path):
    """Jobs are immutable: a new image must make a new Job, not a failing apply."""
    image = {"registry": "ghcr.io/mlflow", "name": "mlflow", "tag": "v3.18.0-full"}
    names = [
        {j["metadata"]["name"] for j in find_all(synth(cfg, tmp_path / str(i)), "Job")}
        for i, cfg in enumerate([{}, {"server": {"image": image}}])
    ]
    assert names[0] != names[1]


REGISTRY_ON_HOST = {
    "type": "external",
    "external": {"host": "pg.example.com", "credentials": {"secret": "pg-app"}},
    "registry": {"enabled": True, "name": "models"},
}


def migrate_and_gate(objs: list[dict]) -> list[dict]:
    """The migration Job's ``upgrade`` container and the server pod's ``wait-for-schema`` gate."""
    migrate = next(j for j in find_all(objs, "Job") if j["metadata"]["name"].startswith("mlflow-migrate-"))
    return [container(migrate, "upgrade"), container(find(objs, "Deployment", "mlflow"), "wait-for-schema")]


def test_a_registry_database_on_the_external_host_is_served_migrated_and_waited_for(tmp_path):
    """With ``database.registry`` on an external host, the server reads its registry from that database (same
    host, port and credentials, no password in the URI), and the migration Job and the gate handle it as a
    store of its own, so a registry database left behind never meets a newer server."""
    objs = synth({"database": REGISTRY_ON_HOST}, tmp_path)
    server = env_of(container(find(objs, "Deployment", "mlflow"), "mlflow"))
    assert server["MLFLOW_REGISTRY_STORE_URI"] == "postgresql+psycopg2://pg.example.com:5432/models"
    assert server["MLFLOW_BACKEND_STORE_URI"] == "postgresql+psycopg2://pg.example.com:5432/mlflow"
    for pod in migrate_and_gate(objs):
        env = env_of(pod)
        assert env["SCHEMA_STORES"] == "tracking registry", pod["name"]
        assert env["MLFLOW_REGISTRY_STORE_URI"] == server["MLFLOW_REGISTRY_STORE_URI"], pod["name"]
        assert env["PGPASSWORD"] == {"secretKeyRef": {"name": "pg-app", "key": "password"}}, pod["name"]


def test_a_registry_uri_comes_from_its_secret_key(tmp_path):
    """A full registry URI holds a password: every pod of the image reads it from the Secret key
    ``registry-database-uri``, never as a literal or an argument."""
    objs = synth({"database": {"type": "external", "registry": {"enabled": True}}}, tmp_path)
    ref = {"secretKeyRef": {"name": "mlflow-credentials", "key": "registry-database-uri"}}
    for pod in [container(find(objs, "Deployment", "mlflow"), "mlflow"), *migrate_and_gate(objs)]:
        assert env_of(pod)["MLFLOW_REGISTRY_STORE_URI"] == ref, pod["name"]


def test_the_bundled_postgres_creates_serves_and_backs_up_a_registry_database(tmp_path):
    """With ``database.registry`` on the bundled PostgreSQL, an init script creates the registry database
    owned by the MLflow user beside the auth one (on an existing data directory, which the image's init skips,
    the container's start hook runs the same idempotent script); the server, the Job and the gate reach it with
    the tracking store's user and ``PGPASSWORD`` (no password in the URI), and the nightly dumps include it."""
    objs = synth({"database": {"registry": {"enabled": True}}}, tmp_path)
    init = find(objs, "ConfigMap", "mlflow-postgresql-init")["data"]
    assert init["20-registry-database.sql"].splitlines() == [
        "SELECT format('CREATE DATABASE %I OWNER %I', 'mlflow-registry', 'mlflow')",
        "WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'mlflow-registry')\\gexec",
    ]
    hook = container(find(objs, "StatefulSet", "mlflow-postgresql"), "postgresql")["lifecycle"]["postStart"]
    assert hook["exec"]["command"][-1].endswith("-f /docker-entrypoint-initdb.d/20-registry-database.sql")
    server = env_of(container(find(objs, "Deployment", "mlflow"), "mlflow"))
    assert server["MLFLOW_REGISTRY_STORE_URI"] == "postgresql+psycopg2://mlflow@mlflow-postgresql:5432/mlflow-registry"
    for pod in migrate_and_gate(objs):
        env = env_of(pod)
        assert env["SCHEMA_STORES"] == "tracking registry", pod["name"]
        assert env["MLFLOW_REGISTRY_STORE_URI"] == server["MLFLOW_REGISTRY_STORE_URI"], pod["name"]
    nightly = find(objs, "CronJob", "mlflow-postgresql-backup")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (dumps,) = nightly["containers"]
    assert env_of(dumps)["DATABASES"] == "mlflow mlflow_auth mlflow-registry"


def test_cloudnativepg_declares_the_registry_database_beside_the_auth_one(tmp_path):
    """On CloudNativePG a second ``Database`` makes the operator create the registry database, owned by the
    application user; the server reaches it through ``<cluster>-rw`` with the ``-app`` Secret's password."""
    cnpg = {"type": "cloudnativepg", "backup": {"enabled": False}, "registry": {"enabled": True, "name": "models"}}
    objs = synth({"database": cnpg}, tmp_path)
    databases = {d["metadata"]["name"]: d["spec"] for d in find_all(objs, "Database")}
    assert databases["mlflow-registry-db"] == {"cluster": {"name": "mlflow-db"}, "name": "models", "owner": "mlflow"}
    assert databases["mlflow-auth-db"]["name"] == "mlflow_auth"
    for pod in [container(find(objs, "Deployment", "mlflow"), "mlflow"), *migrate_and_gate(objs)]:
        env = env_of(pod)
        assert env["MLFLOW_REGISTRY_STORE_URI"] == "postgresql+psycopg2://mlflow@mlflow-db-rw:5432/models", pod["name"]
        assert env["PGPASSWORD"] == {"secretKeyRef": {"name": "mlflow-db-app", "key": "password"}}, pod["name"]


def test_the_registry_shares_the_tracking_database_by_default(tmp_path):
    """Without ``database.registry`` the registry is the tracking database, and only one store is migrated."""
    objs = synth({"database": {"type": "external"}}, tmp_path)
    server = env_of(container(find(objs, "Deployment", "mlflow"), "mlflow"))
    assert server["MLFLOW_REGISTRY_STORE_URI"] == server["MLFLOW_BACKEND_STORE_URI"]
    assert all(env_of(pod)["SCHEMA_STORES"] == "tracking" for pod in migrate_and_gate(objs))


def test_minio_bucket_job_uses_a_dedicated_user_and_no_anonymous_access(tmp_path):
    objs = synth({}, tmp_path)
    job = next(j for j in find_all(objs, "Job") if j["metadata"]["name"].startswith("mlflow-minio-bucket-"))
    mc = container(job, "mc")
    script = mc["command"][-1]
    assert "mc anonymous set none" in script
    assert "mc admin user add" in script
    server = env_of(container(find(objs, "Deployment", "mlflow"), "mlflow"))
    assert server["AWS_ACCESS_KEY_ID"]["secretKeyRef"]["key"] == "s3-access-key-id"
    assert "minio-root" not in str(server)


# Stands in for mc: logs each call's arguments and stdin, and answers `admin policy attach` as told.
FAKE_MC = """\
#!/bin/sh
{ printf 'ARGS %s\\n' "$*"; [ -t 0 ] || sed 's/^/STDIN /'; } >> "$MC_LOG"
case "$*" in
  "admin policy attach"*) [ -z "$ATTACH_ERROR" ] || { echo "mc: <ERROR> $ATTACH_ERROR" >&2; exit 1; } ;;
esac
"""


def run_bucket_script(tmp_path, attach_error: str) -> tuple[subprocess.CompletedProcess, str]:
    """The bucket Job's script, as synthesized, against the stand-in mc; returns the run and mc's log."""
    job = next(j for j in find_all(synth({}, tmp_path), "Job") if j["metadata"]["name"].startswith("mlflow-minio-"))
    mc = container(job, "mc")
    (tmp_path / "bin").mkdir(parents=True)
    (tmp_path / "bin" / "mc").write_text(FAKE_MC)
    (tmp_path / "bin" / "mc").chmod(0o755)
    env = {name: value for name, value in env_of(mc).items() if isinstance(value, str)}
    env |= {
        "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
        "MC_LOG": str(tmp_path / "mc.log"),
        "ATTACH_ERROR": attach_error,
        "MINIO_ROOT_USER": "root",
        "MINIO_ROOT_PASSWORD": "p@ss:w/rd#?%",
        "S3_ACCESS_KEY_ID": "mlflow",
        "S3_SECRET_ACCESS_KEY": "s3cr3t@/:#",
    }
    run = subprocess.run(mc["command"], env=env, capture_output=True, text=True, timeout=30, check=False)
    return run, (tmp_path / "mc.log").read_text()


def test_minio_bucket_job_keeps_keys_out_of_urls_and_arguments(tmp_path):
    """Root and MLflow keys reach mc on stdin as they are (any character), never in an `MC_HOST_` URL, where
    `@ : / # ?` break the URL, nor in an argument anyone on the node can read."""
    run, log = run_bucket_script(tmp_path, attach_error="")
    assert run.returncode == 0, run.stderr
    assert "STDIN root\nSTDIN p@ss:w/rd#?%\n" in log and "STDIN mlflow\nSTDIN s3cr3t@/:#\n" in log
    assert not [line for line in log.splitlines() if line.startswith("ARGS") and ("p@ss" in line or "s3cr3t" in line)]
    assert "ARGS alias set local http://mlflow-minio:9000 --api S3v4" in log


def test_minio_bucket_job_is_idempotent_and_fails_loudly(tmp_path):
    """A re-run, where MinIO answers that readwrite is already attached, succeeds; any other refusal fails the
    Job with mc's message, instead of passing and leaving MLflow to meet AccessDenied later."""
    again, _ = run_bucket_script(tmp_path / "again", "The specified policy change is already in effect.")
    assert again.returncode == 0 and "bucket mlflow ready" in again.stdout, again.stderr
    denied, _ = run_bucket_script(tmp_path / "denied", "Access Denied.")
    assert denied.returncode != 0 and "Access Denied." in denied.stderr
    assert "bucket mlflow ready" not in denied.stdout


def test_minio_endpoint_matches_its_service(tmp_path):
    objs = synth({}, tmp_path)
    service = find(objs, "Service", "mlflow-minio")
    port = service["spec"]["ports"][0]["port"]
    assert find(objs, "ConfigMap", "mlflow-settings") is not None
    server = env_of(container(find(objs, "Deployment", "mlflow"), "mlflow"))
    assert server["MLFLOW_S3_ENDPOINT_URL"] == f"http://mlflow-minio:{port}"


def test_s3_with_secret_credentials_and_custom_endpoint(tmp_path):
    config = {
        "database": {"type": "external"},
        "artifacts": {"type": "s3", "s3": {"bucket": "b", "prefix": "p", "endpoint_url": "https://s3.internal:9000"}},
    }
    server = container(find(synth(config, tmp_path), "Deployment", "mlflow"), "mlflow")
    env = env_of(server)
    assert env["MLFLOW_S3_ENDPOINT_URL"] == "https://s3.internal:9000"
    assert env["AWS_SECRET_ACCESS_KEY"] == {
        "secretKeyRef": {"name": "mlflow-credentials", "key": "s3-secret-access-key"}
    }
    assert server["args"][server["args"].index("--artifacts-destination") + 1] == "s3://b/p"


def test_s3_with_irsa_has_no_static_keys(tmp_path):
    config = {
        "database": {"type": "external"},
        "server": {"service_account_annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/r"}},
        "artifacts": {"type": "s3", "s3": {"bucket": "b", "credentials": "irsa"}},
    }
    env = env_of(container(find(synth(config, tmp_path), "Deployment", "mlflow"), "mlflow"))
    assert "AWS_ACCESS_KEY_ID" not in env and "AWS_SECRET_ACCESS_KEY" not in env


def test_azure_connection_string_from_secret(tmp_path):
    config = {
        "database": {"type": "external"},
        "artifacts": {"type": "azure", "azure": {"container": "runs", "storage_account": "acme"}},
    }
    server = container(find(synth(config, tmp_path), "Deployment", "mlflow"), "mlflow")
    assert server["args"][server["args"].index("--artifacts-destination") + 1] == (
        "wasbs://runs@acme.blob.core.windows.net"
    )
    assert env_of(server)["AZURE_STORAGE_CONNECTION_STRING"]["secretKeyRef"]["key"] == "azure-storage-connection-string"


def test_azure_workload_identity_labels_the_pod(tmp_path):
    config = {
        "database": {"type": "external"},
        "server": {"service_account_annotations": {"azure.workload.identity/client-id": "0000"}},
        "artifacts": {
            "type": "azure",
            "azure": {"container": "runs", "storage_account": "acme", "credentials": "workload-identity"},
        },
    }
    deployment = find(synth(config, tmp_path), "Deployment", "mlflow")
    assert deployment["spec"]["template"]["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    assert "AZURE_STORAGE_CONNECTION_STRING" not in env_of(container(deployment, "mlflow"))


def test_gcs_key_file_is_mounted_and_named_by_env(tmp_path):
    config = {"database": {"type": "external"}, "artifacts": {"type": "gcs", "gcs": {"bucket": "b"}}}
    deployment = find(synth(config, tmp_path), "Deployment", "mlflow")
    server = container(deployment, "mlflow")
    path = env_of(server)["GOOGLE_APPLICATION_CREDENTIALS"]
    mount = next(m for m in server["volumeMounts"] if m["name"] == "gcs-key")
    assert path.startswith(mount["mountPath"] + "/") and mount["readOnly"] is True
    volume = next(v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "gcs-key")
    assert volume["secret"]["items"] == [{"key": "gcs-key.json", "path": path.rsplit("/", 1)[1]}]


def test_pvc_artifacts_mount_where_the_server_writes(tmp_path):
    objs = synth({"artifacts": {"type": "pvc"}}, tmp_path)
    claim = find(objs, "PersistentVolumeClaim", "mlflow-artifacts")
    server = container(find(objs, "Deployment", "mlflow"), "mlflow")
    destination = server["args"][server["args"].index("--artifacts-destination") + 1]
    assert {"name": "artifacts", "mountPath": destination} in server["volumeMounts"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]


def _hooked(objs) -> bool:
    """Whether the server loads the start-up hook that keeps artifact transfers on the server."""
    deployment = find(objs, "Deployment", "mlflow")
    mounts = container(deployment, "mlflow").get("volumeMounts", [])
    hooked = any(m["mountPath"] == "/mlflow/hooks" for m in mounts)
    settings = find(objs, "ConfigMap", "mlflow-settings")["data"]
    assert hooked == (settings.get("PYTHONPATH") == "/mlflow/hooks")
    assert hooked == any(o["kind"] == "ConfigMap" and o["metadata"]["name"] == "mlflow-server-hooks" for o in objs)
    return hooked


def test_stores_clients_cannot_reach_keep_transfers_on_the_server(tmp_path):
    """Bundled MinIO and S3 behind an endpoint_url: presigned transfers would send clients to the store."""
    s3 = {"bucket": "b", "endpoint_url": "http://minio.storage.svc.cluster.local:9000"}
    objs = synth({}, tmp_path / "minio")
    assert _hooked(objs)
    hook = find(objs, "ConfigMap", "mlflow-server-hooks")
    mount = next(
        m
        for m in container(find(objs, "Deployment", "mlflow"), "mlflow")["volumeMounts"]
        if m["name"] == "server-hooks"
    )
    assert mount["readOnly"] is True
    assert "def patch(handlers)" in hook["data"]["sitecustomize.py"]
    assert _hooked(synth({"artifacts": {"type": "s3", "s3": s3}}, tmp_path / "s3-endpoint"))


def test_stores_clients_reach_keep_presigned_transfers(tmp_path):
    """AWS S3, an endpoint declared reachable, or unproxied artifacts: no hook."""
    s3 = {"bucket": "b", "endpoint_url": "https://s3.example.com"}
    cases = {
        "aws": {"artifacts": {"type": "s3", "s3": {"bucket": "b"}}},
        "declared": {"artifacts": {"type": "s3", "s3": {**s3, "direct_client_access": True}}},
        "unproxied": {"artifacts": {"type": "s3", "proxied": False, "s3": s3}},
        "gcs": {"artifacts": {"type": "gcs", "gcs": {"bucket": "b"}}},
    }
    for name, cfg in cases.items():
        assert not _hooked(synth(cfg, tmp_path / name)), name


def test_the_hook_rolls_the_server_pods(tmp_path, monkeypatch):
    """The hook is read once at start: a changed hook must change the pod template."""

    def checksum(objs):
        return find(objs, "Deployment", "mlflow")["spec"]["template"]["metadata"]["annotations"]["checksum/config"]

    before = checksum(synth({}, tmp_path / "a"))
    changed = tmp_path / "hook.py"
    changed.write_text(transfers.HOOK_SOURCE.read_text() + "\n# changed\n")
    monkeypatch.setattr(transfers, "HOOK_SOURCE", changed)
    assert checksum(synth({}, tmp_path / "b")) != before
