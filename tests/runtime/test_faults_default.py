"""Faults while a client logs continuously, in the default environment: nothing acknowledged is lost.

The stack is test_scenario_default's: the bundled MinIO run as synthesized with its bucket Job (its data
directory kept, so stopping and starting its pod is a restart on the same volume), PostgreSQL 16 for the
bundled StatefulSet, the server pod as synthesized. The client is MLflow's, with its default settings
(built-in HTTP retries with backoff). Each test prints its figures; docs/measurements.md, "Faults under
load", quotes them.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from bundled_minio import BundledMinio
from client_venv import BackgroundClient, run_client
from faults import LoggingClient, ProbeWatch, restart_budget
from podrunner import find_object, run_pod
from scenario import (
    SERVICE_HOST,
    container_of,
    default_credentials,
    literal_env,
    migrated_bundled_postgres,
    require_free_port,
    service_port,
    service_url,
)

pytestmark = pytest.mark.runtime

ENV = "default"
DATABASE = "mlflow"  # POSTGRES_DB of the bundled StatefulSet
POSTGRES_DOWN_SECONDS = 10
STORE_DOWN_SECONDS = 5
ACKS = 20  # acknowledged calls before a fault and after recovery


@pytest.fixture(scope="module")
def stack(synthesized, tmp_path_factory):
    """MinIO and its bucket Job, the PostgreSQL stand-in, the migration Job, the server pod (ready)."""
    objects = synthesized[ENV]
    deployment = find_object(objects, "Deployment", "mlflow")
    secrets = default_credentials("faults-pg-password")
    minio = BundledMinio(objects, secrets, tmp_path_factory.mktemp("minio-data"))
    with minio as store, migrated_bundled_postgres(objects, secrets) as pg:
        # The stand-in runs with synchronous_commit off for speed; the postgres image keeps it on,
        # which is what makes a commit survive a crash of the server (set before the server connects).
        pg.psql(f"ALTER DATABASE {DATABASE} SET synchronous_commit = on")
        require_free_port(service_port(objects, "mlflow"), "the MLflow server")
        with run_pod(deployment, objects, secrets) as pod:
            pod.wait_for_probe(timeout=180)
            yield {
                "objects": objects,
                "secrets": secrets,
                "deployment": deployment,
                "pod": pod,
                "pg": pg,
                "store": store,
                "url": service_url(objects),
            }


def logging_client(stack, tmp_path) -> LoggingClient:
    return LoggingClient(stack["url"], tmp_path, hosts=[SERVICE_HOST])


def stored_steps(stack, run_id: str) -> list[int]:
    """The steps of ``loss`` in PostgreSQL, read directly."""
    sql = f"SELECT step FROM metrics WHERE run_uuid = '{run_id}' AND key = 'loss'"
    return [int(step) for step in stack["pg"].psql(sql, database=DATABASE).split()]


def assert_nothing_acknowledged_lost(stack, client: LoggingClient, recovered_at: float):
    """Every acknowledged step is in PostgreSQL and in the API's metric history; a call the client
    retried (same request body) is stored once."""
    result = client.finish()
    outcome = client.outcome(recovered_at)
    stored = stored_steps(stack, result["run_id"])
    assert set(outcome.acknowledged) - set(stored) == set()
    assert set(outcome.acknowledged) - set(result["steps_read_back"]) == set()
    assert len(stored) == len(set(stored)), "a retried call was stored twice"
    return outcome


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_postgres_restart_is_ridden_out_by_the_same_server(stack, tmp_path, mode):
    """PostgreSQL stopped for 10 s (``fast``: sessions cut, checkpoint; ``immediate``: a crash, redone
    from the WAL at start) and started again while a client logs every 50 ms: the same server process
    recovers by itself (its liveness probe never fails for as long as the kubelet needs to restart it),
    and every metric the client was told was logged is in the database and in the API."""
    pod, pg = stack["pod"], stack["pg"]
    assert pg.psql("SHOW synchronous_commit", database=DATABASE) == "on"
    server = pod.container()
    pid = server.init_pid
    with logging_client(stack, tmp_path) as client:
        client.wait_for_acks(ACKS)
        with ProbeWatch(server.container, ("livenessProbe", "readinessProbe"), pod.info.pod_ip) as watch:
            pg.halt(mode)
            time.sleep(POSTGRES_DOWN_SECONDS)
            pg.resume()
            up_at = time.time()
            client.wait_for_acks(ACKS, after=up_at)
        outcome = assert_nothing_acknowledged_lost(stack, client, up_at)
    print(
        f"\n[faults] PostgreSQL stopped ({mode}) for {POSTGRES_DOWN_SECONDS} s: {outcome.figures()}; "
        f"probe failures {watch.longest}"
    )
    assert server.running and server.init_pid == pid, "the server process was replaced"
    liveness = server.container["livenessProbe"]
    assert watch.longest["livenessProbe"] < restart_budget(liveness), watch.longest
    assert outcome.failed == [], outcome.failed[:3]


def artifact(stack, run_id: str, name: str, **env: str) -> dict:
    return run_client(
        "artifact_logging.py", stack["url"], run_id, name, f"{name} text\n", hosts=[SERVICE_HOST], env=env
    )


def test_artifact_store_outage_is_reported_then_over(stack):
    """With MinIO's pod stopped, ``log_artifact`` raises (nothing unstored is acknowledged) and the server's
    log names the store's endpoint; once the pod is started again on its volume, uploads work again and the
    artifacts logged before are intact."""
    store, pod = stack["store"], stack["pod"]
    endpoint = literal_env(container_of(stack["deployment"], "mlflow"))["MLFLOW_S3_ENDPOINT_URL"]
    first = artifact(stack, "new", "before.txt")
    assert first["ok"], first
    logged_before = len(pod.logs())
    store.stop()
    try:
        # MLflow's client retries a 5xx for about four minutes by default; one retry shows the error.
        failed = artifact(stack, first["run_id"], "during.txt", MLFLOW_HTTP_REQUEST_MAX_RETRIES="1")
    finally:
        store.start()
    server_log = pod.logs()[logged_before:]
    after = artifact(stack, first["run_id"], "after.txt")
    print(f"\n[faults] MinIO stopped: log_artifact raised after {failed['seconds']:.1f} s: {failed['error']}")
    assert not failed["ok"]
    assert f'EndpointConnectionError: Could not connect to the endpoint URL: "{endpoint}/' in server_log
    assert after["ok"], after
    assert after["artifacts"] == {"before.txt": "before.txt text\n", "after.txt": "after.txt text\n"}


def test_artifact_store_back_within_the_client_retries(stack, tmp_path):
    """An upload started while MinIO's pod is stopped succeeds once it is started again, through the client's
    default retries, without the caller seeing an error."""
    store = stack["store"]
    store.stop()
    try:
        upload = BackgroundClient(
            "artifact_logging.py",
            stack["url"],
            "new",
            "retried.txt",
            "retried.txt text\n",
            workdir=tmp_path,
            hosts=[SERVICE_HOST],
        )
        time.sleep(STORE_DOWN_SECONDS)
    finally:
        store.start()
    result = upload.result()
    print(
        f"\n[faults] MinIO stopped, started again {STORE_DOWN_SECONDS} s later (ready {store.ready_seconds:.1f} s "
        f"after its start): upload returned after {result['seconds']:.1f} s"
    )
    assert result["ok"], result
    assert result["artifacts"] == {"retried.txt": "retried.txt text\n"}


def test_server_killed_and_started_again(stack, tmp_path):
    """Last: the server process SIGKILLed and its pod started again (as the kubelet restarts a crashed
    container): the client's retries carry it through and no acknowledged metric is lost."""
    pod = stack["pod"]
    with logging_client(stack, tmp_path) as client:
        client.wait_for_acks(ACKS)
        killed_at = time.time()
        os.kill(pod.container().init_pid, signal.SIGKILL)
        pod.container().wait(30)
        with run_pod(stack["deployment"], stack["objects"], stack["secrets"]) as again:
            again.wait_for_probe(timeout=180)
            ready_at = time.time()
            client.wait_for_acks(ACKS, after=ready_at)
            outcome = assert_nothing_acknowledged_lost(stack, client, killed_at)
    print(
        f"\n[faults] server SIGKILLed, pod started again (ready after {ready_at - killed_at:.1f} s, first log "
        f"{killed_at + outcome.recovery_seconds - ready_at:.1f} s after ready), from the kill: {outcome.figures()}"
    )
    assert outcome.failed == [], outcome.failed[:3]
