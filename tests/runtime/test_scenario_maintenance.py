"""The maintenance CronJobs of the default environment run for real against a server's records.

The default environment with ``maintenance.gc`` (``older_than: 1s``) and ``maintenance.trace_archival`` on: the
bundled MinIO runs as synthesized with its bucket Job (bundled_minio.py), PostgreSQL 16 stands in for the
bundled StatefulSet; the migration Job runs, then the server pod. Through the server the client logs two runs
with an artifact each and deletes one, and records two traces in an experiment that asks for archival at the
next pass; each CronJob's pod template then runs once as synthesized (``wait-for-schema``, then gc with its
loopback artifacts server; then MLflow's archival pass) and the database, the bucket and the server say what is
left and where.
"""

from __future__ import annotations

import time

import pytest
from bundled_minio import BundledMinio
from client_venv import run_client
from podrunner import find_object, run_job, run_pod
from scenario import (
    SERVICE_HOST,
    default_credentials,
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
MAINTENANCE = {"gc": {"enabled": True, "older_than": "1s"}, "trace_archival": {"enabled": True}}
CONFIG = shipped_config("default") | {"maintenance": MAINTENANCE}


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    """Seed through the server, wait past ``older_than``, run the gc and the archival CronJobs' pods once each,
    read back."""
    objects = synth_environment(CONFIG, "default-gc", tmp_path_factory.mktemp("gc"))
    gc_job, archival_job = (find_object(objects, "CronJob", f"mlflow-{task}") for task in ("gc", "trace-archival"))
    secrets = default_credentials(POSTGRES_PASSWORD)
    with BundledMinio(objects, secrets) as s3:
        bucket = s3.bucket
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
                spans = f"SELECT count(*) FROM spans WHERE content <> '' AND trace_id IN {tuple(seeded['traces'])}"
                spans_before = int(pg.psql(spans, database="mlflow"))
                time.sleep(2)  # past older_than
                gc = run_job(gc_job, objects, secrets, timeout=300)
                archival = run_job(archival_job, objects, secrets, timeout=600)
                ids = [*run_ids, "--traces", *seeded["traces"]]
                read = run_client("maintenance_records.py", "read", url, *ids, hosts=[SERVICE_HOST])
            spans_after = int(pg.psql(spans, database="mlflow"))
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
        "archival": archival,
        "bucket": bucket,
        "spans_before": spans_before,
        "spans_after": spans_after,
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


def test_archival_moves_span_payloads_to_the_artifact_store(scenario):
    """MLflow's archival pass, run by the CronJob, moves each trace's spans to the artifacts' bucket (the
    server's ``--artifacts-destination``) and empties their content in the database."""
    assert scenario["archival"].succeeded, scenario["archival"].logs
    assert "archived 2 trace(s) to s3://" in scenario["archival"].logs["trace-archival"]
    assert scenario["spans_before"] == 4 and scenario["spans_after"] == 0
    for trace_id in scenario["seeded"]["traces"]:
        location = scenario["read"]["traces"][trace_id]["archive_location"]
        assert location.startswith(f"s3://{scenario['bucket']}/"), location
        prefix = location.removeprefix(f"s3://{scenario['bucket']}/")
        assert [key for key in scenario["keys_after"] if key.startswith(prefix)], (prefix, scenario["keys_after"])


def test_archived_traces_still_read_through_the_server(scenario):
    """The server, given the same config file, reads archived spans back from the store: every span of each
    trace is returned, and the trace says its spans are in the archive."""
    for trace_id in scenario["seeded"]["traces"]:
        trace = scenario["read"]["traces"][trace_id]
        assert trace["spans"] == ["answer", "step"] and trace["spans_location"] == "ARCHIVE_REPO", trace
