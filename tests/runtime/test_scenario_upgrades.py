"""Upgrading MLflow over a populated database keeps every record (default and basic-auth environments).

For each old release (the last MLflow 2.x and the first 3.x; test-only venvs, ``venvs.OLD_RELEASES``),
on the stand-ins of the environment's bundled PostgreSQL (and, for the default environment, MinIO):

1. the old release's ``mlflow server`` (``--app-name basic-auth`` for that environment) creates its
   schema, and the old client writes records through it (``client_scripts/upgrade_records.py``); the
   old client's reading of every record is the capture;
2. the environment's migration Job runs exactly as synthesized, then runs a second time;
3. the synthesized server pod serves the migrated database, and the current client reads every record
   back: it must equal the capture, with only the fields newer MLflow adds (``ADDED_FIELDS``) removed.
"""

from __future__ import annotations

import configparser
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import requests
import venvs
from client_venv import client_env, run_client
from podrunner import find_object, run_job, run_pod
from postgres import PostgresServer, free_port
from s3_standin import S3StandIn
from scenario import (
    container_of,
    database_state,
    default_credentials,
    hashed_job,
    literal_env,
    migration_job,
    require_free_port,
    service_port,
    service_url,
    shipped_config,
    start_bundled_postgres,
    synth_environment,
)

pytestmark = pytest.mark.runtime

RELEASES = ("mlflow-2.22.5", "mlflow-3.0.0")
ENVIRONMENTS = ("default", "basic-auth")
SERVICE_HOST = "mlflow.mlflow.svc.cluster.local"
ADMIN, ADMIN_PASSWORD = "admin", "admin-password-for-upgrades"
POSTGRES_PASSWORD = "pg-password-for-upgrades"
# The basic-auth environment's Secret; the default environment's comes from ``default_credentials``.
BASIC_AUTH_SECRETS = {
    "mlflow-basic-auth": {
        "admin-username": ADMIN,
        "admin-password": ADMIN_PASSWORD,
        "flask-secret-key": "flask-secret-key-for-tests-0123456789abcdef",
        "postgres-password": POSTGRES_PASSWORD,
        "s3-access-key-id": "unused-in-this-scenario",
        "s3-secret-access-key": "unused-in-this-scenario",
    }
}
# The basic-auth environment's artifact store is outside the cluster; artifacts are checked in the default one.
RECORD_FLAGS = {"default": ("--artifacts",), "basic-auth": ("--users",)}
DATABASES = {"default": ("mlflow",), "basic-auth": ("mlflow", "mlflow_auth")}
# The basic-auth environment's `auth.basic.default_permission`; the maps of a user's permissions in the dump.
DEFAULT_PERMISSION = "READ"
PERMISSION_MAPS = ("experiments", "models")
# As upgrade_records.py sets them.
USER_PASSWORDS = {"alice": "alice-password-0123", "bob": "bob-password-4567890", "carol": "carol-password-13579"}

# Fields MLflow 3.x adds to what an older client read, with the value each has on a migrated record; only
# a field with exactly that value is removed before comparing (by the key the entity sits under).
ADDED_FIELDS: dict[str, dict[str, object]] = {
    "experiments": {"workspace": "default"},  # workspaces: what existed before lands in the default one
    "models": {"deployment_job_state": "DEPLOYMENT_JOB_CONNECTION_STATE_UNSPECIFIED"},  # 3.0: no deployment job
    "run": {"outputs": {}},  # 3.0: logged-model outputs of a run; none for runs logged by 2.x
}


def _admin_env(env: str) -> dict[str, str]:
    if env != "basic-auth":
        return {}
    return {"MLFLOW_TRACKING_USERNAME": ADMIN, "MLFLOW_TRACKING_PASSWORD": ADMIN_PASSWORD}


@contextmanager
def old_server(
    venv: venvs.VenvSpec, pg: PostgresServer, workdir: Path, env: str, s3: S3StandIn | None, bucket: str | None
) -> Iterator[str]:
    """The old release's ``mlflow server`` on the migrated-to-be database; yields its URL."""
    port = free_port()
    args = ["--backend-store-uri", pg.uri("mlflow", user="mlflow", password=POSTGRES_PASSWORD)]
    server_env: dict[str, str] = {}
    if s3 is not None:
        args += ["--artifacts-destination", f"s3://{bucket}"]
        server_env |= {
            "MLFLOW_S3_ENDPOINT_URL": s3.endpoint,
            "AWS_ACCESS_KEY_ID": s3.credentials["access_key_id"],
            "AWS_SECRET_ACCESS_KEY": s3.credentials["secret_access_key"],
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    if env == "basic-auth":
        ini = configparser.ConfigParser(interpolation=None)
        ini["mlflow"] = {
            "default_permission": "READ",
            "database_uri": pg.uri("mlflow_auth", user="mlflow", password=POSTGRES_PASSWORD),
            "admin_username": ADMIN,
            "admin_password": ADMIN_PASSWORD,
            "authorization_function": "mlflow.server.auth:authenticate_request_basic_auth",
        }
        path = workdir / "basic_auth.ini"
        with path.open("w") as out:
            ini.write(out)
        args += ["--app-name", "basic-auth"]
        server_env["MLFLOW_AUTH_CONFIG_PATH"] = str(path)
        server_env["MLFLOW_FLASK_SERVER_SECRET_KEY"] = BASIC_AUTH_SECRETS["mlflow-basic-auth"]["flask-secret-key"]
    log = workdir / "old-server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                str(venv.bin_dir / "mlflow"),
                "server",
                *args,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            env=client_env(env=server_env),
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, f"old mlflow server exited {proc.returncode}\n{log.read_text()[-4000:]}"
            try:
                if requests.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, f"old mlflow server not ready\n{log.read_text()[-4000:]}"
            time.sleep(0.5)
        yield url
    finally:
        subprocess.run(["kill", "--", f"-{proc.pid}"], check=False)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            subprocess.run(["kill", "-KILL", "--", f"-{proc.pid}"], check=False)
            proc.wait(10)


def drop_added(record: object, added: dict[str, dict[str, object]], kind: str = "") -> object:
    """``record`` without the ``ADDED_FIELDS`` of each entity kind (a dict key names the kind below it)."""
    if isinstance(record, dict):
        expected = added.get(kind, {})
        kept = {k: v for k, v in record.items() if k not in expected or v != expected[k]}
        return {k: drop_added(v, added, k) for k, v in kept.items()}
    if isinstance(record, list):
        return [drop_added(v, added, kind) for v in record]
    return record


def differences(old: object, new: object, path: str = "") -> list[str]:
    """Where ``new`` differs from ``old``: ``path: old -> new`` for each differing leaf or key."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = [f"{path}/{k}: only {'before' if k in old else 'after'}" for k in old.keys() ^ new.keys()]
        return found + [d for k in old.keys() & new.keys() for d in differences(old[k], new[k], f"{path}/{k}")]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [d for i, (a, b) in enumerate(zip(old, new, strict=True)) for d in differences(a, b, f"{path}[{i}]")]
    return [] if old == new else [f"{path}: {old!r} -> {new!r}"]


@pytest.fixture(
    scope="module", params=[(e, r) for e in ENVIRONMENTS for r in RELEASES], ids=lambda p: f"{p[0]}-from-{p[1]}"
)
def upgrade(request, synthesized, tmp_path_factory):
    """Old release populates, migration Job runs twice, synthesized server pod serves; what each saw."""
    env, release = request.param
    objects = synthesized[env]
    old = venvs.old_release_venv(release)
    secrets = BASIC_AUTH_SECRETS
    flags = RECORD_FLAGS[env]
    workdir = tmp_path_factory.mktemp(f"upgrade-{env}-{release}")
    with ExitStack() as stack:
        s3 = bucket = None
        if env == "default":
            bucket = literal_env(container_of(hashed_job(objects, "mlflow-minio-bucket"), "mc"))["BUCKET"]
            s3 = stack.enter_context(S3StandIn(service_port(objects, "mlflow-minio")))
            keys = s3.provision(bucket, user="mlflow")
            secrets = default_credentials(POSTGRES_PASSWORD, keys)
        pg = start_bundled_postgres(objects, secrets)
        stack.callback(pg.stop)
        with old_server(old, pg, workdir, env, s3, bucket) as url:
            run_client("upgrade_records.py", "populate", url, *flags, env=_admin_env(env), venv=old)
            captured = run_client("upgrade_records.py", "dump", url, *flags, env=_admin_env(env), venv=old)
        before = {db: database_state(pg, db) for db in DATABASES[env]}
        refused = refused_state = None
        if env == "basic-auth":
            # As shipped, the Job refuses to drop the old release's denies; then with them accepted.
            refused = run_job(migration_job(objects), objects, secrets, timeout=600, check=False)
            refused_state = database_state(pg, "mlflow_auth")
            accepting = shipped_config(env)
            accepting["auth"]["basic"]["accept_dropped_denies"] = True
            objects = synth_environment(accepting, env, workdir / "accepting")
        first = run_job(migration_job(objects), objects, secrets, timeout=600)
        migrated = {db: database_state(pg, db) for db in DATABASES[env]}
        second = run_job(migration_job(objects), objects, secrets, timeout=600, check=False)
        again = {db: database_state(pg, db) for db in DATABASES[env]}
        require_free_port(service_port(objects, "mlflow"), "the MLflow server")
        with run_pod(find_object(objects, "Deployment", "mlflow"), objects, secrets) as pod:
            pod.wait_for_probe(timeout=180)
            url = service_url(objects)
            read_back = run_client(
                "upgrade_records.py", "dump", url, *flags, hosts=[SERVICE_HOST], env=_admin_env(env), timeout=600
            )
            logins = {}
            if env == "basic-auth":
                for user, password in USER_PASSWORDS.items():
                    creds = {"MLFLOW_TRACKING_USERNAME": user, "MLFLOW_TRACKING_PASSWORD": password}
                    logins[user] = run_client("upgrade_records.py", "login", url, hosts=[SERVICE_HOST], env=creds)
        print(
            f"\n[upgrade {env} from {release}] migration Job {first.seconds:.1f} s, second run {second.seconds:.1f} s"
        )
        yield {
            "env": env,
            "objects": objects,
            "release": release,
            "captured": captured,
            "read_back": read_back,
            "before": before,
            "migrated": migrated,
            "again": again,
            "refused": refused,
            "refused_state": refused_state,
            "first": first,
            "second": second,
            "logins": logins,
        }


def test_migration_job_upgrades_the_populated_database(upgrade):
    """The Job brings the old release's schema to the current head (one revision per Alembic table)."""
    assert upgrade["first"].succeeded, upgrade["first"].logs
    for db, state in upgrade["migrated"].items():
        assert state["alembic"], f"{db}: no Alembic version table"
        assert all(rev and "\n" not in rev for rev in state["alembic"].values()), state["alembic"]
    assert upgrade["migrated"]["mlflow"]["alembic"] != upgrade["before"]["mlflow"]["alembic"]


def test_job_refuses_to_drop_denies_unless_accepted(upgrade):
    """As shipped (``default_permission: READ``), the basic-auth Job stops before MLflow's migration to roles
    would turn the old release's ``NO_PERMISSIONS`` grants into ``READ``: it fails naming each deny and the
    fix, and leaves the auth database as it was. (The default environment has no auth database.)"""
    refused = upgrade["refused"]
    if upgrade["env"] != "basic-auth":
        assert refused is None
        return
    assert refused.exit_codes["upgrade-auth-db"] != 0, refused.exit_codes
    log = refused.logs["upgrade-auth-db"]
    assert "drops the 2 explicit NO_PERMISSIONS grant(s)" in log, log
    assert "username=alice" in log and "username=carol" in log, log
    assert "auth.basic.accept_dropped_denies: true" in log, log
    assert upgrade["refused_state"] == upgrade["before"]["mlflow_auth"], "the refused Job changed the auth database"


def test_second_migration_run_is_a_no_op(upgrade):
    """Run again, the Job exits 0 and leaves schema, data and Alembic revisions exactly as they were."""
    assert upgrade["second"].succeeded, upgrade["second"].logs
    for db in upgrade["migrated"]:
        migrated, again = upgrade["migrated"][db], upgrade["again"][db]
        assert again["alembic"] == migrated["alembic"], db
        assert again["schema"] == migrated["schema"], f"{db}: schema changed by the second run"
        assert again["data"] == migrated["data"], f"{db}: data changed by the second run"


def test_capture_holds_every_kind_of_record(upgrade):
    """What the old release wrote and read back is the full set: deleted experiment and run, metric
    histories of several keys and steps, model versions with tags and aliases, artifact files (default),
    users with an admin flag and permissions (basic-auth)."""
    captured = upgrade["captured"]
    stages = sorted(e["lifecycle_stage"] for e in captured["experiments"])
    assert stages == ["active", "active", "active", "deleted"], stages  # Default + 2 + 1 deleted
    runs = captured["runs"].values()
    assert len(runs) == 4 and sum(r["run"]["info"]["lifecycle_stage"] == "deleted" for r in runs) == 1
    assert all(len(h) == 5 for r in runs for h in r["history"].values()) and all(len(r["history"]) == 3 for r in runs)
    for name, versions in captured["versions"].items():
        assert len(versions) == 3 and all(v["tags"] for v in versions), name
    assert all({a["alias"] for a in m["aliases"]} == {"champion", "challenger"} for m in captured["models"])
    if "--artifacts" in RECORD_FLAGS[upgrade["env"]]:
        assert all(len(r["artifacts"]) == 4 for r in runs)
    if "--users" in RECORD_FLAGS[upgrade["env"]]:
        users = captured["users"]
        assert users["bob"]["is_admin"] and not users["alice"]["is_admin"]
        assert sorted(users["alice"]["experiments"].values()) == ["EDIT", "NO_PERMISSIONS", "READ", "READ"]
        assert sorted(users["alice"]["models"].values()) == ["MANAGE", "READ"]
        assert sorted(users["carol"]["models"].values()) == ["NO_PERMISSIONS", "READ"]


def without_denies(captured: dict) -> dict:
    """The capture as MLflow 3.17 keeps it: its migration of the auth database to roles drops resource
    grants of ``NO_PERMISSIONS`` (an explicit deny is no longer supported), so those users get the
    environment's default permission (``READ`` in examples/basic-auth.yaml) on those resources."""
    users = {
        name: {
            k: {r: DEFAULT_PERMISSION if p == "NO_PERMISSIONS" else p for r, p in v.items()}
            if k in PERMISSION_MAPS
            else v
            for k, v in user.items()
        }
        for name, user in captured.get("users", {}).items()
    }
    return {**captured, **({"users": users} if users else {})}


def test_every_record_reads_back_as_before(upgrade):
    """Every record, read by the current client through the synthesized server, equals what the old
    client read before the upgrade: experiments, runs with params, tags and metric histories, artifact
    files by SHA-256, registered models and versions with tags and aliases, users and the permission of
    each on each experiment and model, with explicit denies replaced as ``without_denies`` says."""
    captured = drop_added(without_denies(upgrade["captured"]), ADDED_FIELDS)
    changed = differences(captured, drop_added(upgrade["read_back"], ADDED_FIELDS))
    assert not changed, "\n".join(changed)


def test_explicit_denies_become_the_default_permission(upgrade):
    """The one change the upgrade makes to what users may do: a ``NO_PERMISSIONS`` grant written by the old
    release reads back as the default permission (see the README's Upgrades section)."""
    before, after = upgrade["captured"].get("users", {}), upgrade["read_back"].get("users", {})
    denied = [
        (n, k, r)
        for n, u in before.items()
        for k in PERMISSION_MAPS
        for r, p in u.get(k, {}).items()
        if p == "NO_PERMISSIONS"
    ]
    assert len(denied) == (2 if before else 0), denied
    if denied:
        template = find_object(upgrade["objects"], "ConfigMap", "mlflow-auth-template")["data"]
        assert f"default_permission = {DEFAULT_PERMISSION}\n" in template["basic_auth.ini.template"]
    assert all(after[n][k][r] == DEFAULT_PERMISSION for n, k, r in denied)


def test_users_sign_in_with_their_old_passwords(upgrade):
    """Every user the old basic-auth app created signs in to the new server with the password it had."""
    assert set(upgrade["logins"]) == set(upgrade["captured"].get("users", {})) - {ADMIN}
    for user, seen in upgrade["logins"].items():
        assert "upgrade-experiment-0" in seen["experiments"], (user, seen)
