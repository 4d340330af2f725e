"""Contracts of MLflow's AI gateway: the passphrase of the provider keys stored in it comes from the Secret."""

from __future__ import annotations

import pytest
from helpers import DEFAULT_SECRET_KEYS, INGRESS, OIDC, OIDC_SERVER, container, env_of, find, synth

from mlflow_constructs.config import ConfigError

PASSPHRASE = {"secretKeyRef": {"key": "kek-passphrase", "name": "mlflow-credentials"}}
CLOUD = {
    "server": {**OIDC_SERVER, "service_account_annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/r"}},
    "ingress": INGRESS,
    "auth": OIDC,
    "database": {"type": "external"},
    "artifacts": {"type": "s3", "s3": {"bucket": "b", "credentials": "irsa"}},
    "secrets": {"provider": "aws-secrets-manager", "aws_secrets_manager": {"secret_name": "s", "region": "r"}},
}


def settings(objs) -> dict[str, str]:
    return find(objs, "ConfigMap", "mlflow-settings")["data"]


def test_the_server_reads_the_passphrase_from_the_secret(tmp_path):
    """MLflow's fallback passphrase is public: the gateway (on by default) gets the Secret's instead."""
    objs = synth({}, tmp_path)
    server = container(find(objs, "Deployment", "mlflow"), "mlflow")
    assert env_of(server)["MLFLOW_CRYPTO_KEK_PASSPHRASE"] == PASSPHRASE
    assert settings(objs)["MLFLOW_ENABLE_AI_GATEWAY"] == "true"


def test_only_the_server_container_sees_the_passphrase(tmp_path):
    """Least privilege: migrations never decrypt a stored key, so the Job and the server's gate get nothing."""
    objs = synth({}, tmp_path)
    readers = [
        (obj["kind"], c["name"])
        for obj in objs
        if "template" in obj.get("spec", {}) and "spec" in obj["spec"]["template"]
        for c in [
            *obj["spec"]["template"]["spec"].get("initContainers", []),
            *obj["spec"]["template"]["spec"]["containers"],
        ]
        if "MLFLOW_CRYPTO_KEK_PASSPHRASE" in env_of(c)
    ]
    assert readers == [("Deployment", "mlflow")]


def test_a_gateway_turned_off_reads_no_passphrase(tmp_path):
    """`server.ai_gateway: false` turns MLflow's gateway off; the Secret then needs no passphrase."""
    objs = synth({"server": {"ai_gateway": False}}, tmp_path)
    assert settings(objs)["MLFLOW_ENABLE_AI_GATEWAY"] == "false"
    assert "MLFLOW_CRYPTO_KEK_PASSPHRASE" not in env_of(container(find(objs, "Deployment", "mlflow"), "mlflow"))
    assert synth({"server": {"ai_gateway": {"enabled": False}}}, tmp_path / "mapping") == objs


def test_an_external_secret_needs_the_passphrase_only_with_the_gateway_on(tmp_path):
    """The provider produces exactly the keys the pods read: the passphrase is one of them while the gateway is on."""
    keys = [key for key in DEFAULT_SECRET_KEYS if key != "kek-passphrase"]
    external = {"store_ref": {"name": "vault"}, "remote_refs": {k: {"key": f"mlflow/{k}"} for k in keys}}
    secrets = {"provider": "external-secrets", "external_secrets": external}
    objs = synth({"secrets": secrets, "server": {"ai_gateway": False}}, tmp_path / "off")
    assert "kek-passphrase" not in {d["secretKey"] for d in find(objs, "ExternalSecret")["spec"]["data"]}
    with pytest.raises(ConfigError, match="secrets.external_secrets.remote_refs: no entry for kek-passphrase"):
        synth({"secrets": secrets}, tmp_path / "on")


def test_with_a_cloud_store_the_plugins_providers_deliver_the_passphrase(tmp_path):
    """No Secret exists with the plugin's cloud stores: the launcher has the plugin deliver the passphrase."""
    objs = synth(CLOUD, tmp_path)
    server = container(find(objs, "Deployment", "mlflow"), "mlflow")
    assert "MLFLOW_CRYPTO_KEK_PASSPHRASE" not in env_of(server)
    assert "MLFLOW_ENV_MAPPINGS.setdefault(name, name)" in server["command"][2]
    assert settings(objs)["MLFLOW_ENABLE_AI_GATEWAY"] == "true"
