"""``database.read_replica`` with CloudNativePG: the server reads from the standbys' ``-ro`` Service.

The default environment on ``database.type: cloudnativepg`` with two instances and ``read_replica`` on. Two
PostgreSQL 15 servers stand in for the operator's instances: the primary behind ``<cluster>-rw`` on
127.0.0.1:5432 and a real streaming standby of it (``pg_basebackup -R``, hot standby) behind ``<cluster>-ro``
on 127.0.0.2:5432. The migration Job runs on the primary, then the server pod as synthesized. Which server
answers a read is shown by holding the standby's replay: a write reaches the primary, and the server does not
see it until the standby replays it.
"""

from __future__ import annotations

import pytest
import requests
from podrunner import find_object, run_job, run_pod
from postgres import PostgresStandby
from scenario import (
    migration_job,
    placeholder_secret_values,
    require_free_port,
    service_port,
    shipped_config,
    start_cnpg_postgres,
    synth_environment,
)

pytestmark = pytest.mark.runtime

DB_PASSWORD = "cnpg/app pass:w%rd'\""
DATABASE = {
    "type": "cloudnativepg",
    "cloudnativepg": {"instances": 2},
    "backup": {"enabled": False},
    "read_replica": {"enabled": True},
}
CONFIG = shipped_config("default") | {"database": DATABASE}
HOSTS = {"mlflow-db-rw": "127.0.0.1", "mlflow-db-ro": "127.0.0.2"}
API = "/api/2.0/mlflow/experiments"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Primary and standby, the migration Job on the primary, then the server pod (ready)."""
    objects = synth_environment(CONFIG, "default-read-replica", tmp_path_factory.mktemp("replica"))
    secrets = placeholder_secret_values(objects)
    secrets["mlflow-db-app"] = {"username": "mlflow", "password": DB_PASSWORD}
    primary = start_cnpg_postgres(objects, DB_PASSWORD)
    standby = PostgresStandby(primary, host=HOSTS["mlflow-db-ro"])
    try:
        run_job(migration_job(objects), objects, secrets, timeout=300, extra_hosts=HOSTS)
        standby.start()
        standby.catch_up()
        require_free_port(service_port(objects, "mlflow"), "the MLflow server")
        with run_pod(find_object(objects, "Deployment", "mlflow"), objects, secrets, extra_hosts=HOSTS) as pod:
            pod.wait_for_probe(timeout=180)
            yield {"url": f"http://127.0.0.1:{pod.port('http', 'mlflow')}", "primary": primary, "standby": standby}
    finally:
        standby.stop()
        primary.stop()


def experiment(stack: dict, experiment_id: str) -> requests.Response:
    return requests.get(f"{stack['url']}{API}/get", params={"experiment_id": experiment_id}, timeout=30)


def searched(stack: dict) -> set[str]:
    response = requests.post(f"{stack['url']}{API}/search", json={"max_results": 100}, timeout=30)
    assert response.status_code == 200, response.text
    return {e["name"] for e in response.json()["experiments"]}


def test_reads_come_from_the_standby_and_writes_go_to_the_primary(stack):
    """With the standby's replay held, an experiment the server creates is in the primary (writes go there; the
    standby would refuse them) but neither the server's get nor its search finds it: both read the standby.
    Once the standby replays the WAL, the server reads it."""
    primary, standby = stack["primary"], stack["standby"]
    standby.pause_replay()
    try:
        created = requests.post(f"{stack['url']}{API}/create", json={"name": "written-while-lagging"}, timeout=30)
        assert created.status_code == 200, created.text
        experiment_id = created.json()["experiment_id"]
        query = f"SELECT name FROM experiments WHERE experiment_id = {int(experiment_id)}"
        assert primary.psql(query, database="mlflow") == "written-while-lagging"
        assert standby.psql(query, database="mlflow") == ""
        lagging = experiment(stack, experiment_id)
        assert lagging.status_code == 404 and lagging.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST", lagging.text
        assert "written-while-lagging" not in searched(stack)
    finally:
        standby.resume_replay()
    standby.catch_up()
    replayed = experiment(stack, experiment_id)
    assert replayed.status_code == 200 and replayed.json()["experiment"]["name"] == "written-while-lagging"
    assert "written-while-lagging" in searched(stack)


def test_the_server_holds_connections_to_the_standby_as_its_user(stack):
    """The server reaches the standby through ``<cluster>-ro`` as the application user, with the password of
    the operator's ``<cluster>-app`` Secret (the standby enforces it, as the primary does)."""
    searched(stack)
    users = stack["standby"].psql("SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = 'mlflow'")
    assert users.split() == ["mlflow"], users
