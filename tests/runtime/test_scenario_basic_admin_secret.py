"""``auth.basic.admin``: basic-auth's initial admin from a ``kubernetes.io/basic-auth`` shaped Secret, run for
real.

The default environment with basic-auth, PVC artifacts and the admin in ``mlflow-admin`` (keys ``username``
and ``password``); the environment's Secret ``mlflow-credentials`` keeps the rest (test values). PostgreSQL 16
stands in for the bundled StatefulSet; the migration Job runs, then the server pod as synthesized.
"""

from __future__ import annotations

import pytest
import requests
from scenario import (
    migrated_server,
    placeholder_secret_values,
    shipped_config,
    start_bundled_postgres,
    synth_environment,
)

pytestmark = pytest.mark.runtime

ADMIN, ADMIN_PASSWORD = "platform-admin", "Adm/n & \\ $HOME ' \" 100%"
CONFIG = shipped_config("default") | {
    "auth": {"mode": "basic", "basic": {"admin": {"secret": "mlflow-admin"}}},
    "artifacts": {"type": "pvc"},
}
SEARCH = "/api/2.0/mlflow/experiments/search"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The database stand-in, the migration Job to completion, then the server pod (ready)."""
    objects = synth_environment(CONFIG, "default-basic-admin", tmp_path_factory.mktemp("basic-admin"))
    secrets = placeholder_secret_values(objects)
    assert set(secrets["mlflow-admin"]) == {"username", "password"}
    assert not {"admin-username", "admin-password"} & set(secrets["mlflow-credentials"])
    secrets["mlflow-admin"] = {"username": ADMIN, "password": ADMIN_PASSWORD}
    pg = start_bundled_postgres(objects, secrets)
    try:
        with migrated_server(objects, secrets) as (pod, _):
            yield {"url": f"http://127.0.0.1:{pod.port('http', 'mlflow')}", "pg": pg}
    finally:
        pg.stop()


def test_the_admin_of_the_basic_auth_secret_signs_in(stack):
    """The user name and password of mlflow-admin are the server's admin: they are let in, the same name with
    another password is not, and the auth database holds that admin."""
    url = f"{stack['url']}{SEARCH}"
    allowed = requests.post(url, json={"max_results": 1}, auth=(ADMIN, ADMIN_PASSWORD), timeout=30)
    assert allowed.status_code == 200, allowed.text
    refused = requests.post(url, json={"max_results": 1}, auth=(ADMIN, "not-the-password-1234"), timeout=30)
    assert refused.status_code == 401
    admins = stack["pg"].psql("SELECT username FROM users WHERE is_admin", database="mlflow_auth")
    assert admins == ADMIN
