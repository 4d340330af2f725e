"""Contracts of the secret providers: the Secret the pods read is exactly the one the provider makes."""

from __future__ import annotations

import base64

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

from mlflow_constructs.config import ConfigError, parse_environment
from mlflow_constructs.config.secrets import PROJECT_MOUNTS, MountAsFiles
from mlflow_constructs.server.launcher import launcher_command

CIPHERTEXT = base64.b64encode(bytes(range(200))).decode()


def referenced_secret_keys(objs) -> dict[str, set[str]]:
    """Secret name -> keys, over every secretKeyRef and secret volume item of every pod template."""
    refs: dict[str, set[str]] = {}
    for obj in objs:
        pod = obj.get("spec", {}).get("template", {}).get("spec")
        if not pod:
            continue
        for c in [*pod.get("initContainers", []), *pod["containers"]]:
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    refs.setdefault(ref["name"], set()).add(ref["key"])
        for v in pod.get("volumes", []):
            if "secret" in v:
                refs.setdefault(v["secret"]["secretName"], set()).update(i["key"] for i in v["secret"].get("items", []))
    return refs


def error_for(config, tmp_path) -> str:
    with pytest.raises(ConfigError) as info:
        synth(config, tmp_path)
    return str(info.value)


def test_existing_secret_is_a_declared_prerequisite(tmp_path):
    objs = synth({"secrets": {"generate": False}}, tmp_path)
    namespace = find(objs, "Namespace")
    assert namespace["metadata"]["annotations"]["mlflow-k8s/prerequisites"] == "Secret/mlflow-credentials"
    assert set(referenced_secret_keys(objs)) == {"mlflow-credentials"}


def test_external_secret_produces_exactly_the_keys_the_pods_read(tmp_path):
    remote = {key: {"key": f"mlflow/{key}"} for key in DEFAULT_SECRET_KEYS}
    config = {
        "secrets": {
            "provider": "external-secrets",
            "external_secrets": {"store_ref": {"name": "vault", "kind": "ClusterSecretStore"}, "remote_refs": remote},
        }
    }
    objs = synth(config, tmp_path)
    external = find(objs, "ExternalSecret", "mlflow-credentials")
    produced = external["spec"]["target"]["name"]
    keys = {d["secretKey"] for d in external["spec"]["data"]}
    assert referenced_secret_keys(objs) == {produced: keys}
    assert external["spec"]["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "vault"}
    assert external["spec"]["data"][0]["remoteRef"] == {"key": "mlflow/kek-passphrase"}


def test_external_secret_missing_a_remote_ref_is_refused(tmp_path):
    config = {
        "secrets": {
            "provider": "external-secrets",
            "external_secrets": {"store_ref": {"name": "vault"}, "remote_refs": {"postgres-password": {"key": "a"}}},
        }
    }
    message = error_for(config, tmp_path)
    assert "secrets.external_secrets.remote_refs" in message and "minio-root-password" in message


@pytest.mark.parametrize(
    ("store", "annotation"),
    [
        ({"type": "vault", "vault": {"server": "https://vault.example.com", "role": "mlflow"}}, None),
        (
            {
                "type": "aws-secrets-manager",
                "aws": {"region": "eu-west-1", "role_arn": "arn:aws:iam::123456789012:role/eso"},
            },
            "eks.amazonaws.com/role-arn",
        ),
        (
            {
                "type": "azure-key-vault",
                "azure": {"vault_url": "https://kv.vault.azure.net", "client_id": "c", "tenant_id": "t"},
            },
            "azure.workload.identity/client-id",
        ),
    ],
)
def test_created_store_authenticates_as_its_own_service_account(tmp_path, store, annotation):
    config = {
        "database": {"type": "external"},
        "artifacts": {"type": "pvc"},
        "secrets": {
            "provider": "external-secrets",
            "external_secrets": {
                "create_store": store,
                "remote_refs": {"database-uri": {"key": "db"}, "kek-passphrase": {"key": "kek"}},
            },
        },
    }
    objs = synth(config, tmp_path)
    secret_store = find(objs, "SecretStore", "mlflow-secret-store")
    assert find(objs, "ExternalSecret")["spec"]["secretStoreRef"] == {
        "kind": "SecretStore",
        "name": "mlflow-secret-store",
    }
    account = find(objs, "ServiceAccount", "mlflow-secrets-reader")
    assert "mlflow-secrets-reader" in str(secret_store["spec"])
    if annotation:
        assert annotation in account["metadata"]["annotations"]


def test_sealed_secret_carries_ciphertexts_and_its_scope(tmp_path):
    keys = DEFAULT_SECRET_KEYS
    config = {
        "secrets": {
            "provider": "sealed-secrets",
            "sealed_secrets": {
                "scope": "namespace-wide",
                "namespace": "mlflow",
                "encrypted_data": {k: CIPHERTEXT for k in keys},
            },
        }
    }
    objs = synth(config, tmp_path)
    sealed = find(objs, "SealedSecret", "mlflow-credentials")
    assert sealed["spec"]["template"]["metadata"]["name"] == "mlflow-credentials"
    assert set(sealed["spec"]["encryptedData"]) == set(keys) == referenced_secret_keys(objs)["mlflow-credentials"]
    assert sealed["metadata"]["annotations"] == {"sealedsecrets.bitnami.com/namespace-wide": "true"}
    assert "mlflow-k8s/prerequisites" not in find(objs, "Namespace")["metadata"].get("annotations", {})


def test_sealed_secret_missing_a_ciphertext_is_refused(tmp_path):
    config = {
        "secrets": {
            "provider": "sealed-secrets",
            "sealed_secrets": {"scope": "cluster-wide", "encrypted_data": {"postgres-password": CIPHERTEXT}},
        }
    }
    assert "secrets.sealed_secrets.encrypted_data" in error_for(config, tmp_path)


def test_sealed_secret_rejects_plain_text():
    with pytest.raises(ConfigError, match="kubeseal"):
        parse_environment(
            {
                "secrets": {
                    "provider": "sealed-secrets",
                    "sealed_secrets": {"scope": "cluster-wide", "encrypted_data": {"k": "hunter2!"}},
                }
            },
            source="config/bad.yaml",
        )


def sealed(scope: str, deployed_to: str = "mlflow", **sealed_for: str) -> dict:
    """An environment in namespace ``deployed_to`` whose SealedSecret values were sealed with ``scope`` for
    ``sealed_for`` (``namespace``, ``name``: the file states them)."""
    keys = DEFAULT_SECRET_KEYS
    sealed_secrets = {"scope": scope, **sealed_for, "encrypted_data": dict.fromkeys(keys, CIPHERTEXT)}
    return {"namespace": deployed_to, "secrets": {"provider": "sealed-secrets", "sealed_secrets": sealed_secrets}}


def test_a_sealed_secret_states_its_scope():
    """The scope decides where the controller decrypts; a default would hide a copied file's mismatch."""
    config = sealed("strict", namespace="mlflow", name="mlflow-credentials")
    del config["secrets"]["sealed_secrets"]["scope"]
    assert "secrets.sealed_secrets.scope: required key is missing" in config_error(config)


@pytest.mark.parametrize(
    ("scope", "bound", "missing"),
    [
        ("strict", {"namespace": "mlflow"}, "name"),
        ("strict", {"name": "mlflow-credentials"}, "namespace"),
        ("namespace-wide", {}, "namespace"),
    ],
)
def test_a_bound_scope_states_what_the_values_were_sealed_for(scope, bound, missing):
    message = config_error(sealed(scope, **bound))
    assert f"set {missing} to the `kubeseal --{missing}` you sealed with" in message


@pytest.mark.parametrize(
    ("scope", "extra"),
    [("cluster-wide", {"namespace": "mlflow"}), ("namespace-wide", {"namespace": "mlflow", "name": "x"})],
)
def test_a_scope_states_nothing_it_does_not_bind(scope, extra):
    """A namespace or name the ciphertext is not bound to would suggest a check that does not happen."""
    assert f"scope {scope} does not bind the values" in config_error(sealed(scope, **extra))


def test_strict_values_copied_to_another_namespace_are_refused():
    """The example's values, sealed for namespace mlflow, in a new environment's namespace: never decrypted."""
    message = config_error(sealed("strict", "prod", namespace="mlflow", name="mlflow-credentials"))
    assert "sealed for namespace 'mlflow' (strict)" in message and "namespace 'prod'" in message
    assert "kubeseal --raw --scope strict --namespace prod --name mlflow-credentials" in message


def test_strict_values_under_another_secret_name_are_refused():
    message = config_error(sealed("strict", namespace="mlflow", name="mlflow-basic-auth"))
    assert (
        "sealed for a Secret named 'mlflow-basic-auth'" in message and "set secrets.name: mlflow-basic-auth" in message
    )


def test_namespace_wide_values_follow_the_namespace_and_cluster_wide_go_anywhere(tmp_path):
    renamed = sealed("namespace-wide", "team", namespace="team")
    renamed["secrets"]["name"] = "team-credentials"
    assert find(synth(renamed, tmp_path / "ns"), "SealedSecret", "team-credentials")
    assert "sealed for namespace 'mlflow'" in config_error(sealed("namespace-wide", "team", namespace="mlflow"))
    anywhere = sealed("cluster-wide", "elsewhere")
    sealed_secret = find(synth(anywhere, tmp_path / "cw"), "SealedSecret", "mlflow-credentials")
    assert sealed_secret["metadata"]["annotations"] == {"sealedsecrets.bitnami.com/cluster-wide": "true"}


def test_files_mode_mounts_the_plugin_keys_and_still_feeds_mlflow_its_store_uri(tmp_path):
    config = {
        "server": OIDC_SERVER,
        "ingress": INGRESS,
        "database": {"type": "external"},
        "secrets": {"mount_as_files": {"enabled": True}},
        "auth": OIDC,
    }
    objs = synth(config, tmp_path)
    pod = find(objs, "Deployment", "mlflow")["spec"]["template"]["spec"]
    server = container(find(objs, "Deployment", "mlflow"), "mlflow")
    env = env_of(server)
    assert env["CONFIG_K8S_SECRETS_ENABLED"] == "true"
    assert env["CONFIG_K8S_SECRETS_PATH"] == "/var/run/secrets/mlflow-oidc-auth"
    volume = next(v for v in pod["volumes"] if v["name"] == "oidc-secrets")
    paths = {item["path"] for item in volume["secret"]["items"]}
    assert paths == {
        "SECRET_KEY",
        "OIDC_CLIENT_ID",
        "OIDC_CLIENT_SECRET",
        "OIDC_USERS_DB_URI",
        "MLFLOW_BACKEND_STORE_URI",
    }
    # The wrapper (run in-process by the launcher) loads the mounted files before `mlflow server` runs.
    assert "MLFLOW_BACKEND_STORE_URI" not in env and server["command"] == launcher_command(("mlflow-oidc-server",))
    # So does the schema gate, which reads the store URIs from the same files.
    gate = env_of(container(find(objs, "Deployment", "mlflow"), "wait-for-schema"))
    assert gate["LOAD_PLUGIN_PROVIDERS"] == "true" and gate["CONFIG_K8S_SECRETS_ENABLED"] == "true"


def test_files_mode_outside_oidc_is_refused():
    with pytest.raises(ConfigError, match="only the oidc plugin"):
        parse_environment({"secrets": {"mount_as_files": {"enabled": True}}}, source="config/bad.yaml")


def test_cloud_provider_sets_the_plugin_config_and_no_secret(tmp_path):
    config = {
        "ingress": INGRESS,
        "server": {
            **OIDC_SERVER,
            "service_account_annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/r"},
        },
        "database": {"type": "external"},
        "artifacts": {"type": "s3", "s3": {"bucket": "b", "credentials": "irsa"}},
        "secrets": {
            "provider": "aws-secrets-manager",
            "aws_secrets_manager": {"secret_name": "mlflow", "region": "eu-west-1"},
        },
        "auth": OIDC,
    }
    objs = synth(config, tmp_path)
    env = env_of(container(find(objs, "Deployment", "mlflow"), "mlflow"))
    assert env["CONFIG_AWS_SECRETS_ENABLED"] == "true" and env["CONFIG_AWS_SECRETS_NAME"] == "mlflow"
    assert referenced_secret_keys(objs) == {}
    assert not find_all(objs, "ExternalSecret") and not find_all(objs, "SealedSecret")


def test_cloud_provider_cannot_serve_other_secrets(tmp_path):
    config = {
        "ingress": INGRESS,
        "server": {
            **OIDC_SERVER,
            "service_account_annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/r"},
        },
        "secrets": {
            "provider": "aws-secrets-manager",
            "aws_secrets_manager": {"secret_name": "mlflow", "region": "eu-west-1"},
        },
        "auth": OIDC,
    }
    message = error_for(config, tmp_path)
    assert "secrets.provider" in message and "postgres_password" in message


def test_vault_plugin_provider_bootstrap_secret_is_a_prerequisite(tmp_path):
    config = {
        "server": OIDC_SERVER,
        "ingress": INGRESS,
        "database": {"type": "external"},
        "artifacts": {"type": "pvc"},
        "secrets": {
            "provider": "vault",
            "vault": {"address": "https://vault.example.com", "path": "secret/data/mlflow", "role_id": "r-1"},
        },
        "auth": OIDC,
    }
    objs = synth(config, tmp_path)
    env = env_of(container(find(objs, "Deployment", "mlflow"), "mlflow"))
    assert env["CONFIG_VAULT_SECRET_ID"] == {"secretKeyRef": {"name": "mlflow-vault-credentials", "key": "secret-id"}}
    assert (
        "Secret/mlflow-vault-credentials"
        in find(objs, "Namespace")["metadata"]["annotations"]["mlflow-k8s/prerequisites"]
    )


def mount_paths(value) -> set[str]:
    """Every ``mountPath`` below ``value`` (containers of pod templates, CronJob job templates included)."""
    if isinstance(value, dict):
        found = {value["mountPath"]} if "mountPath" in value else set()
        return found.union(*(mount_paths(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(mount_paths(v) for v in value))
    return set()


def test_the_secret_files_mount_path_is_refused_where_the_pods_mount_anything_else(synthesized):
    """`mount_as_files.path: /tmp` once gave five containers two mounts at /tmp, which the API server refuses;
    the list the path is checked against must hold every folder the shipped environments mount."""
    files_path = MountAsFiles().path
    for name, objs in synthesized.items():
        for path in mount_paths(objs) - {files_path}:
            assert any(path == t or path.startswith(f"{t}/") for t in PROJECT_MOUNTS), f"{name}: {path}"
            assert "overlaps" in config_error(
                {"auth": OIDC, "server": OIDC_SERVER, "secrets": {"mount_as_files": {"enabled": True, "path": path}}}
            )
