"""Contracts of ``database.external`` with credentials: the store URIs are composed from host, port and name,
and the user name and password come from a Secret of their own (CloudNativePG's ``<cluster>-app`` shape)."""

from __future__ import annotations

import pytest
from helpers import INGRESS, OIDC, OIDC_SERVER, container, env_of, find, synth

from mlflow_constructs.config import ConfigError

EXTERNAL = {
    "type": "external",
    "external": {
        "host": "postgres-cluster-rw.postgres",
        "port": 5433,
        "credentials": {"secret": "mlflow-db-secret", "username_key": "username", "password_key": "password"},
    },
}
URI = "postgresql+psycopg2://postgres-cluster-rw.postgres:5433/mlflow"


def test_store_uris_hold_host_port_and_name_and_libpq_reads_the_credentials(tmp_path):
    """The server and the migration Job connect as the Secret's user: PGUSER and PGPASSWORD come from the named
    Secret (libpq reads them as they are, so a password needs no URL encoding), the URIs carry neither."""
    objs = synth({"database": EXTERNAL}, tmp_path)
    migration = next(o for o in objs if o["metadata"]["name"].startswith("mlflow-migrate-"))
    for workload in (find(objs, "Deployment", "mlflow"), migration):
        env = env_of(container(workload, "mlflow" if workload["kind"] == "Deployment" else "upgrade"))
        assert env["PGUSER"] == {"secretKeyRef": {"name": "mlflow-db-secret", "key": "username"}}
        assert env["PGPASSWORD"] == {"secretKeyRef": {"name": "mlflow-db-secret", "key": "password"}}
        assert env["MLFLOW_BACKEND_STORE_URI"] == URI
        assert env["MLFLOW_REGISTRY_STORE_URI"] == URI


def test_the_credentials_secret_is_a_prerequisite_beside_the_environments(tmp_path):
    """A Secret named for the database is the user's (or an operator's) to create: the Namespace lists it, and
    the environment's Secret is no longer asked for a database URI."""
    objs = synth({"database": EXTERNAL}, tmp_path)
    prerequisites = find(objs, "Namespace")["metadata"]["annotations"]["mlflow-k8s/prerequisites"]
    assert prerequisites.split(",") == ["Secret/mlflow-credentials", "Secret/mlflow-db-secret"]
    assert "database-uri" not in str(objs)


def test_auth_databases_are_composed_beside_the_tracking_one(tmp_path):
    """basic-auth and the oidc plugin reach `<name>_auth` on the same server as the same user, without a URI
    key in any Secret."""
    basic = synth({"database": EXTERNAL, "auth": {"mode": "basic"}}, tmp_path / "basic")
    render = container(find(basic, "Deployment", "mlflow"), "render-auth-config")
    assert env_of(render)["AUTH_DATABASE_URI"] == f"{URI}_auth"
    assert "auth-database-uri" not in str(basic)
    oidc = synth({"database": EXTERNAL, "auth": OIDC, "server": OIDC_SERVER, "ingress": INGRESS}, tmp_path / "oidc")
    assert find(oidc, "ConfigMap", "mlflow-settings")["data"]["OIDC_USERS_DB_URI"] == f"{URI}_auth"
    assert "auth-database-uri" not in str(oidc)


def test_credentials_in_the_environments_secret_come_from_its_provider(tmp_path):
    """Without `credentials.secret`, the keys are read from `secrets.name`, so the provider produces them with
    the others: an ExternalSecret needs a remote_ref for each."""
    database = {"type": "external", "external": {"host": "db.example.com"}}
    secrets = {
        "provider": "external-secrets",
        "external_secrets": {"store_ref": {"name": "vault"}, "remote_refs": {"kek-passphrase": {"key": "kek"}}},
    }
    with pytest.raises(ConfigError) as refused:
        synth({"database": database, "artifacts": {"type": "pvc"}, "secrets": secrets}, tmp_path / "refused")
    message = str(refused.value)
    assert "secrets.external_secrets.remote_refs" in message and "password, username" in message
    refs = {key: {"key": key} for key in ("kek-passphrase", "username", "password")}
    secrets["external_secrets"]["remote_refs"] = refs
    objs = synth({"database": database, "artifacts": {"type": "pvc"}, "secrets": secrets}, tmp_path)
    produced = [d["secretKey"] for d in find(objs, "ExternalSecret", "mlflow-credentials")["spec"]["data"]]
    assert produced == ["kek-passphrase", "password", "username"]
    prerequisites = find(objs, "Namespace")["metadata"]["annotations"]["mlflow-k8s/prerequisites"]
    assert prerequisites == "ClusterSecretStore/vault"
