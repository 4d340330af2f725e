"""The ``mlflow gc`` CronJob of the default environment run for real against a server's records.

The default environment with ``maintenance.gc`` on (``older_than: 1s``): moto stands in for the bundled MinIO
and PostgreSQL 15 for the bundled StatefulSet; the migration Job runs, then the server pod. Through the
server the client logs two runs with an artifact each and deletes one; the CronJob's pod template then runs
as synthesized (``wait-for-schema``, then gc with its loopback artifacts server) and the database, the bucket
and the server say what is left.
"""

from __future__ import annotations

import time

import pytest
from client_venv import run_client
from podrunner import find_object, run_job, run_pod
from s3_standin import S3StandIn
from scenario import (
    container_of,
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

from mlflow_constructs.maintenance.gc import ARTIFACTS_PORT

pytestmark = pytest.mark.runtime

POSTGRES_PASSWORD = "gc/p@ss:w%rd#&'\" ?"
SERVICE_HOST = "mlflow.mlflow.svc.cluster.local"
CONFIG = shipped_config("default") | {"maintenance": {"gc": {"enabled": True, "older_than": "1s"}}}


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    """Seed through the server, wait past ``older_than``, run the gc CronJob's pod once, read back."""
    objects = synth_environment(CONFIG, "default-gc", tmp_path_factory.mktemp("gc"))
    cronjob = find_object(objects, "CronJob", "mlflow-gc")
    bucket = literal_env(container_of(hashed_job(objects, "mlflow-minio-bucket"), "mc"))["BUCKET"]
    with S3StandIn(service_port(objects, "mlflow-minio")) as s3:
        secrets = default_credentials(POSTGRES_PASSWORD, s3.provision(bucket, user="mlflow"))
        pg = start_bundled_postgres(objects, secrets)
        try:
            run_job(migration_job(objects), objects, secrets, timeout=300)
            require_free_port(service_port(objects, "mlflow"), "the MLflow server")
            require_free_port(ARTIFACTS_PORT, "gc's loopback artifacts server")
            with run_pod(find_object(objects, "Deployment", "mlflow"), objects, secrets) as pod:
                pod.wait_for_probe(timeout=180)
                url = service_url(objects)
                seeded = run_client("maintenance_records.py", "seed", url, hosts=[SERVICE_HOST])
                run_ids = [seeded["runs"][name]["run_id"] for name in ("deleted", "live")]
                keys_before = s3.keys(bucket)
                time.sleep(2)  # past older_than
                gc = run_job(cronjob, objects, secrets, timeout=300)
                read = run_client("maintenance_records.py", "read", url, *run_ids, hosts=[SERVICE_HOST])
            rows = {
                run_id: int(pg.psql(f"SELECT count(*) FROM runs WHERE run_uuid = '{run_id}'", database="mlflow"))
                for run_id in run_ids
            }
            params = pg.psql("SELECT run_uuid FROM params ORDER BY run_uuid", database="mlflow").split()
        finally:
            pg.stop()
        keys_after = s3.keys(bucket)
    return {
        "seeded": seeded,
        "gc": gc,
        "read": read,
        "rows": rows,
        "params": params,
        "keys_before": keys_before,
        "keys_after": keys_after,
    }


def run_keys(keys: list[str], run_id: str) -> list[str]:
    return [key for key in keys if f"/{run_id}/artifacts/" in key]


def test_gc_removes_a_deleted_run_and_its_artifacts(scenario):
    """The run deleted longer ago than ``older_than`` is gone for good: its rows (``runs``, ``params``), its
    artifact file in the bucket, and the server answers RESOURCE_DOES_NOT_EXIST for it."""
    assert scenario["gc"].succeeded, scenario["gc"].logs
    deleted = scenario["seeded"]["runs"]["deleted"]["run_id"]
    assert scenario["seeded"]["runs"]["deleted"]["artifact_uri"].startswith("mlflow-artifacts:/")
    assert run_keys(scenario["keys_before"], deleted), scenario["keys_before"]  # it was there
    assert run_keys(scenario["keys_after"], deleted) == []
    assert scenario["rows"][deleted] == 0 and deleted not in scenario["params"]
    assert scenario["read"]["runs"][deleted] == {"error_code": "RESOURCE_DOES_NOT_EXIST"}
    assert f"Run with ID {deleted} has been permanently deleted" in scenario["gc"].logs["gc"]


def test_gc_keeps_a_live_run_and_its_artifacts(scenario):
    """A run nobody deleted keeps its rows, its artifact file, and reads back through the server."""
    live = scenario["seeded"]["runs"]["live"]["run_id"]
    assert run_keys(scenario["keys_after"], live) == run_keys(scenario["keys_before"], live) != []
    assert scenario["rows"][live] == 1 and live in scenario["params"]
    assert scenario["read"]["runs"][live] == {"lifecycle_stage": "active", "artifacts": ["live.txt"]}
