"""Contracts of MLflow's AI gateway: the passphrase of the provider keys stored in it comes from the Secret."""

from __future__ import annotations

import pytest
from helpers import (
    DEFAULT_SECRET_KEYS,
    INGRESS,
    OIDC,
    OIDC_SERVER,
    config_error,
    container,
    env_of,
    find,
    find_all,
    synth,
)

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


def passphrase_readers(objs) -> list[tuple[str, str, str]]:
    """(kind, container, variable) of every container given a passphrase from the Secret."""
    return [
        (obj["kind"], c["name"], name)
        for obj in objs
        if "template" in obj.get("spec", {}) and "spec" in obj["spec"]["template"]
        for c in [
            *obj["spec"]["template"]["spec"].get("initContainers", []),
            *obj["spec"]["template"]["spec"]["containers"],
        ]
        for name in ("MLFLOW_CRYPTO_KEK_PASSPHRASE", "PREVIOUS_KEK_PASSPHRASE")
        if name in env_of(c)
    ]


def test_only_the_server_and_its_gate_see_the_passphrase(tmp_path):
    """Least privilege: the server decrypts, its gate checks the stored keys unwrap before it starts; the
    migration Job reads no passphrase unless it rotates."""
    objs = synth({}, tmp_path)
    assert passphrase_readers(objs) == [
        ("Deployment", "wait-for-schema", "MLFLOW_CRYPTO_KEK_PASSPHRASE"),
        ("Deployment", "mlflow", "MLFLOW_CRYPTO_KEK_PASSPHRASE"),
    ]
    gate = env_of(container(find(objs, "Deployment", "mlflow"), "wait-for-schema"))
    assert gate["MLFLOW_CRYPTO_KEK_VERSION"] == "1" == settings(objs)["MLFLOW_CRYPTO_KEK_VERSION"]


def test_a_rotation_gives_the_job_both_passphrases_and_the_new_version(tmp_path):
    """``rotate_kek``: the migration Job alone reads the previous passphrase (from its own Secret key) beside
    the new one, and the version the server, the gate and the Job use is ``kek_version``."""
    objs = synth({"server": {"ai_gateway": {"kek_version": 2, "rotate_kek": True}}}, tmp_path)
    (migration,) = [o for o in find_all(objs, "Job") if o["metadata"]["name"].startswith("mlflow-migrate-")]
    job = env_of(container(migration, "upgrade"))
    assert job["PREVIOUS_KEK_PASSPHRASE"] == {
        "secretKeyRef": {"key": "previous-kek-passphrase", "name": "mlflow-credentials"}
    }
    assert job["MLFLOW_CRYPTO_KEK_PASSPHRASE"] == PASSPHRASE
    assert job["MLFLOW_CRYPTO_KEK_VERSION"] == "2" and job["ROTATE_KEK"] == "true"
    assert settings(objs)["MLFLOW_CRYPTO_KEK_VERSION"] == "2"
    assert [r for r in passphrase_readers(objs) if r[2] == "PREVIOUS_KEK_PASSPHRASE"] == [
        ("Job", "upgrade", "PREVIOUS_KEK_PASSPHRASE")
    ]


def test_an_external_secret_fetches_the_previous_passphrase_while_rotating(tmp_path):
    """The provider produces the previous passphrase's key only while the rotation needs it."""
    external = {"store_ref": {"name": "vault"}, "remote_refs": {k: {"key": f"mlflow/{k}"} for k in DEFAULT_SECRET_KEYS}}
    secrets = {"provider": "external-secrets", "external_secrets": external}
    rotating = {"kek_version": 2, "rotate_kek": True}
    with pytest.raises(ConfigError, match="remote_refs: no entry for previous-kek-passphrase"):
        synth({"secrets": secrets, "server": {"ai_gateway": rotating}}, tmp_path / "missing")
    external["remote_refs"]["previous-kek-passphrase"] = {"key": "mlflow/previous"}
    objs = synth({"secrets": secrets, "server": {"ai_gateway": rotating}}, tmp_path / "rotating")
    assert "previous-kek-passphrase" in {d["secretKey"] for d in find(objs, "ExternalSecret")["spec"]["data"]}


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


def test_the_ssrf_limits_are_written_out_with_safe_defaults(tmp_path):
    """Where the gateway may send requests is explicit in the manifests: public HTTPS upstreams only, so a
    user who may store a key cannot point the server at the metadata endpoint, the database or other pods."""
    data = settings(synth({}, tmp_path))
    assert data["MLFLOW_GATEWAY_API_BASE_ALLOWED_SCHEMES"] == "https"
    assert data["MLFLOW_GATEWAY_API_BASE_ALLOW_PRIVATE_IPS"] == "false"
    assert "MLFLOW_GATEWAY_ALLOWED_PROVIDERS" not in data


def test_an_in_cluster_model_server_is_an_explicit_choice(tmp_path):
    gateway = {
        "allowed_providers": ["openai", "anthropic"],
        "api_base": {"allowed_schemes": ["https", "http"], "allow_private_addresses": True},
    }
    data = settings(synth({"server": {"ai_gateway": gateway}}, tmp_path))
    assert data["MLFLOW_GATEWAY_API_BASE_ALLOWED_SCHEMES"] == "https,http"
    assert data["MLFLOW_GATEWAY_API_BASE_ALLOW_PRIVATE_IPS"] == "true"
    assert data["MLFLOW_GATEWAY_ALLOWED_PROVIDERS"] == "openai,anthropic"


def test_a_gateway_turned_off_has_no_limits_to_set():
    """Limits under a gateway that is off would do nothing: refused, so nobody believes they apply."""
    message = config_error(
        {"server": {"ai_gateway": {"enabled": False, "api_base": {"allow_private_addresses": True}}}}
    )
    assert "server.ai_gateway" in message and "api_base: the AI gateway is off" in message
