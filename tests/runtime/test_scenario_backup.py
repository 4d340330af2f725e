"""The default environment's backup CronJob run for real, and a restore with the README's commands.

MLflow (migration Job + server) fills the bundled-PostgreSQL stand-in; the CronJob's pod template dumps
it onto a host dir standing in for the backup PVC; retention and a failing run are checked on that dir;
then the README's ``pg_restore`` line runs in the same pod environment against a new, empty PostgreSQL,
and a server on it reads everything back through the MLflow client.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
from pathlib import Path

import pytest
import requests
import venvs
from client_venv import client_env, run_client
from pod_images import PG_BIN, ImageRuntime, helper_runtime
from podrunner import find_object, pod_template, run_job, run_pod
from s3_standin import S3StandIn
from scenario import (
    SERVICE_HOST,
    container_of,
    migrated_bundled_postgres,
    migration_job,
    placeholder_secret_values,
    readme_exec_line,
    service_port,
    service_url,
    shipped_config,
    start_bundled_postgres,
    synth_environment,
    with_command,
)

pytestmark = pytest.mark.runtime

ENV = "default"
POSTGRES_PASSWORD = "pg/p@ss:w%rd#&'\" ?"
CRONJOB, CLAIM = "mlflow-postgresql-backup", "mlflow-postgresql-backups"
DUMP = re.compile(r"^(mlflow|mlflow_auth)-\d{8}T\d{6}Z\.dump$")
RESTORE_MARKER = "<!-- restore-bundled:"
BUCKET, PREFIX = "mlflow", "artifacts"
UPLOADS = "mlflow-backups/artifacts/postgresql"
S3_HOST, S3_PORT = "s3.storage.svc.cluster.local", 9000  # another namespace; moto serves it path-style
ENDPOINT = f"http://{S3_HOST}:{S3_PORT}"


def recording_pg_dump(directory: Path, ref: str) -> dict[str, ImageRuntime]:
    """The postgres image with a ``pg_dump`` that logs the argv it was started with, then runs the real one."""
    directory.chmod(0o755)
    wrapper = directory / "pg_dump"
    wrapper.write_text(f'#!/bin/sh\necho "pg_dump argv: $*" >&2\nexec {PG_BIN}/pg_dump "$@"\n')
    wrapper.chmod(0o755)
    base = helper_runtime(ref)
    assert base is not None
    return {ref: dataclasses.replace(base, path=f"{directory}:{base.path}", ro_binds=(*base.ro_binds, directory))}


def tracking_state(objects: list[dict], secrets: dict, mode: str) -> dict:
    with run_pod(find_object(objects, "Deployment", "mlflow"), objects, secrets) as pod:
        pod.wait_for_probe(timeout=180)
        return run_client("backup_state.py", service_url(objects), mode, hosts=[SERVICE_HOST])


def dumps(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if DUMP.match(p.name))


@pytest.fixture(scope="module")
def scenario(synthesized, tmp_path_factory):
    """Seed through MLflow, back up (then once more with a wrong password), restore into new empty
    databases with the README's line, read back through MLflow."""
    objects = synthesized[ENV]
    cronjob = find_object(objects, "CronJob", CRONJOB)
    secrets = placeholder_secret_values(objects)  # the S3 keys go unused: no artifacts are logged
    secrets["mlflow-credentials"]["postgres-password"] = POSTGRES_PASSWORD
    backups = tmp_path_factory.mktemp("backups")
    # Older dumps than retention keeps, a stale partial file and a file that is not a dump.
    old = [f"{db}-2020010{i}T000000Z.dump" for db in ("mlflow", "mlflow_auth") for i in range(1, 9)]
    for name in [*old, ".mlflow-20200101T000000Z.dump.partial", "notes.txt"]:
        (backups / name).write_text("old")
    pvc = {CLAIM: backups}

    with migrated_bundled_postgres(objects, secrets):
        seeded = tracking_state(objects, secrets, "seed")
        image = container_of(cronjob, "pg-dump")["image"]
        images = recording_pg_dump(tmp_path_factory.mktemp("wrapper"), image)
        backup = run_job(cronjob, objects, secrets, pvc_dirs=pvc, images=images, timeout=300)
        after_backup = dumps(backups)
        wrong = {"mlflow-credentials": {**secrets["mlflow-credentials"], "postgres-password": "not-the-password"}}
        failed = run_job(cronjob, objects, wrong, pvc_dirs=pvc, timeout=300, check=False)
        after_failure = sorted(p.name for p in backups.iterdir())

    (stamp,) = {m.group(1) for n in after_backup if (m := re.search(r"-(\d{8}T\d{6}Z)\.dump$", n)) and "2020" not in n}
    pg = start_bundled_postgres(objects, secrets)  # a new server: both databases exist and are empty
    try:
        assert pg.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", database="mlflow") == "0"
        restore_command = readme_exec_line(RESTORE_MARKER, "mlflow-restore", stamp)
        restore = run_job(with_command(cronjob, restore_command), objects, secrets, pvc_dirs=pvc)
        restored = tracking_state(objects, secrets, "read")
    finally:
        pg.stop()
    return {
        "cronjob": cronjob,
        "seeded": seeded,
        "backup": backup,
        "stamp": stamp,
        "after_backup": after_backup,
        "failed": failed,
        "after_failure": after_failure,
        "restore": restore,
        "restored": restored,
    }


def test_backup_writes_a_dump_of_each_database_and_keeps_the_newest(scenario):
    """One run writes ``<db>-<UTC stamp>.dump`` for the tracking and the auth database, then keeps the
    newest ``KEEP`` (7) of each: its own dump and the six newest older ones; other files stay."""
    stamp, names = scenario["stamp"], scenario["after_backup"]
    assert scenario["backup"].succeeded
    for db in ("mlflow", "mlflow_auth"):
        kept = [n for n in names if n.startswith(f"{db}-")]
        assert kept == [f"{db}-2020010{i}T000000Z.dump" for i in range(3, 9)] + [f"{db}-{stamp}.dump"]
    assert "notes.txt" in scenario["after_failure"]
    assert "wrote /backups/mlflow-" in scenario["backup"].logs["pg-dump"]


def test_a_failed_backup_leaves_no_dump_and_prunes_nothing(scenario):
    """With a wrong password the Job fails; no new or partial file, the earlier dumps are untouched."""
    assert not scenario["failed"].succeeded
    assert "password authentication failed" in scenario["failed"].logs["pg-dump"]
    assert scenario["after_failure"] == sorted([*scenario["after_backup"], "notes.txt"])


def test_the_password_is_never_in_the_backup_container_args(scenario):
    """``pg_dump`` gets the password as ``PGPASSWORD`` from the Secret: neither the container's command nor
    the argv each ``pg_dump`` process was started with holds it."""
    log = scenario["backup"].logs["pg-dump"]
    started = [line for line in log.splitlines() if line.startswith("pg_dump argv: ")]
    assert len(started) == 2 and all("--format=custom" in line for line in started)
    assert POSTGRES_PASSWORD not in log
    container = container_of(scenario["cronjob"], "pg-dump")
    argv = " ".join([*container.get("command", []), *container.get("args", [])])
    assert POSTGRES_PASSWORD not in argv and "PASSWORD" not in argv
    (password,) = [e for e in container["env"] if e["name"] == "PGPASSWORD"]
    assert password["valueFrom"]["secretKeyRef"] == {"name": "mlflow-credentials", "key": "postgres-password"}


def test_readme_restore_into_an_empty_database_brings_everything_back(scenario):
    """The README's pg_restore line, run in the backup pod's environment against empty databases, restores
    every run (params, metrics and their history, tags), the experiment and the registered model."""
    assert scenario["restore"].succeeded, scenario["restore"].logs
    seeded, restored = scenario["seeded"], scenario["restored"]
    assert len(seeded["runs"]) == 3 and seeded["model"]["versions"]
    assert restored == seeded


@pytest.fixture(scope="module")
def uploaded(tmp_path_factory):
    """The default environment with proxied S3 artifacts under ``prefix: artifacts`` (the S3 stand-in at an
    ``endpoint_url`` no manifest defines) and ``destination: artifact-store``: the CronJob's dump (init
    container) and upload (server image) run against PostgreSQL with MLflow's schema, then the server lists
    its artifacts destination."""
    config = shipped_config(ENV)
    store = {"bucket": BUCKET, "prefix": PREFIX, "endpoint_url": ENDPOINT, "region": "us-east-1"}
    config["artifacts"] = {"type": "s3", "s3": store}
    config["database"]["backup"] = {"destination": "artifact-store", "keep": 2}
    objects = synth_environment(config, ENV, tmp_path_factory.mktemp("dist"))
    cronjob = find_object(objects, "CronJob", CRONJOB)
    hosts = {S3_HOST: "127.0.0.1"}
    with S3StandIn(S3_PORT) as s3:
        keys = s3.provision(BUCKET, user="mlflow")
        secrets = placeholder_secret_values(objects)
        secrets["mlflow-credentials"] |= {
            "postgres-password": POSTGRES_PASSWORD,
            "s3-access-key-id": keys["access_key_id"],
            "s3-secret-access-key": keys["secret_access_key"],
        }
        old = [f"{UPLOADS}/{db}-2020010{i}T000000Z.dump" for db in ("mlflow", "mlflow_auth") for i in range(1, 4)]
        for key in [*old, f"{UPLOADS}/README.txt", f"{PREFIX}/0/unrelated-artifact.txt"]:
            s3.put(BUCKET, key, "old")
        pg = start_bundled_postgres(objects, secrets)
        try:
            # A schema an older release made (MLflow 3.0.0's store initializes it): the migration Job backs
            # the database up before it migrates, uploaded like the scheduled dumps.
            old = venvs.old_release_venv("mlflow-3.0.0")
            uri = pg.uri("mlflow", user="mlflow", password=POSTGRES_PASSWORD)
            init = (
                f"from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore; SqlAlchemyStore({uri!r}, '/tmp')"
            )
            subprocess.run([str(old.python_exe), "-c", init], check=True, capture_output=True, env=client_env())
            migration = run_job(migration_job(objects), objects, secrets, timeout=300, extra_hosts=hosts)
            run = run_job(cronjob, objects, secrets, timeout=300, extra_hosts=hosts)
            with run_pod(find_object(objects, "Deployment", "mlflow"), objects, secrets, extra_hosts=hosts) as pod:
                pod.wait_for_probe(timeout=180)
                api = f"http://127.0.0.1:{service_port(objects, 'mlflow')}/api/2.0/mlflow-artifacts/artifacts"
                header = {"Host": f"{SERVICE_HOST}:{service_port(objects, 'mlflow')}"}
                listed = requests.get(api, headers=header, timeout=30)
                dump = next(k for k in s3.keys(BUCKET) if k.startswith(f"{UPLOADS}/mlflow-") and "2020" not in k)
                escaped = requests.get(f"{api}/%2E%2E/{dump}", headers=header, timeout=30)
        finally:
            pg.stop()
        yield {
            "cronjob": cronjob,
            "migration": migration,
            "run": run,
            "keys": s3.keys(BUCKET),
            "listed": listed,
            "escaped": escaped,
        }


def test_upload_puts_the_dumps_beside_the_artifact_prefix_and_keeps_the_newest(uploaded):
    """Each database's dump lands under ``<bucket>/mlflow-backups/<prefix>/postgresql/``, beside the artifacts'
    prefix, never under it; of the older dumps only the newest ``keep - 1`` stay; other objects are
    untouched."""
    assert uploaded["run"].succeeded, uploaded["run"].logs
    assert f"uploaded s3://{BUCKET}/{UPLOADS}/mlflow-" in uploaded["run"].logs["upload"]
    keys = uploaded["keys"]
    assert f"{PREFIX}/0/unrelated-artifact.txt" in keys and f"{UPLOADS}/README.txt" in keys
    assert not [k for k in keys if k.startswith(f"{PREFIX}/") and k.endswith(".dump")]
    for db in ("mlflow", "mlflow_auth"):
        dumps = sorted(k.rsplit("/", 1)[1] for k in keys if DUMP.match(k.rsplit("/", 1)[1]) and f"/{db}-" in k)
        assert len(dumps) == 2 and dumps[0] == f"{db}-20200103T000000Z.dump" and "2020" not in dumps[1]


def test_the_pre_upgrade_dump_is_uploaded_beside_the_prefix_and_kept(uploaded):
    """The migration Job's backup of a database it is about to migrate goes where the scheduled dumps go, with
    the server's credentials, and the scheduled run's retention (which counts only its own dumps) keeps it."""
    migration = uploaded["migration"]
    assert migration.succeeded, migration.logs
    log = migration.logs["upgrade"]
    assert f"backup verified: s3://{BUCKET}/{UPLOADS}/mlflow-pre-upgrade-" in log, log
    kept = [k for k in uploaded["keys"] if k.startswith(f"{UPLOADS}/mlflow-pre-upgrade-") and k.endswith(".dump")]
    assert len(kept) == 1, uploaded["keys"]


def test_the_server_does_not_serve_the_dumps(uploaded):
    """Listing the artifacts destination's root through MLflow's proxy shows the artifacts, not the backups
    directory, and a path climbing out of the destination to a dump is refused."""
    listed = uploaded["listed"]
    assert listed.status_code == 200, listed.text
    paths = {f["path"] for f in listed.json().get("files", [])}
    assert "0" in paths and not [p for p in paths if "backups" in p]
    assert uploaded["escaped"].status_code != 200 and b"PGDMP" not in uploaded["escaped"].content


def test_the_upload_pod_uses_the_server_credentials_and_no_password_in_args(uploaded):
    """The upload container reads the S3 keys the server reads, and the dump's password only from the Secret."""
    spec = pod_template(uploaded["cronjob"])["spec"]
    (upload,) = spec["containers"]
    (dump,) = spec["initContainers"]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"]["key"] for e in upload["env"] if "valueFrom" in e}
    assert refs == {"AWS_ACCESS_KEY_ID": "s3-access-key-id", "AWS_SECRET_ACCESS_KEY": "s3-secret-access-key"}
    for container in (upload, dump):
        assert POSTGRES_PASSWORD not in " ".join([*container.get("command", []), *container.get("args", [])])
