"""How the mlflow-oidc-auth plugin's secret settings reach its containers: env vars from the Secret,
the Secret mounted as files (``CONFIG_K8S_SECRETS_*``), or a cloud store the plugin reads itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cdk8s_plus_27 import k8s

from mlflow_constructs.config.errors import required
from mlflow_constructs.config.secrets import PLUGIN_KEYS
from mlflow_constructs.k8s.pods import SecretRef, env_values, mount, secret_env, secret_volume
from mlflow_constructs.secrets.source import SecretSource

PLUGIN_SECRETS_VOLUME = "oidc-secrets"


@dataclass(frozen=True)
class PluginDelivery:
    """What a container of the plugin's image needs to see its settings."""

    env: tuple[k8s.EnvVar, ...] = ()
    volumes: tuple[k8s.Volume, ...] = ()
    mounts: tuple[k8s.VolumeMount, ...] = ()
    loads_providers: bool = False  # scripts must load the plugin's providers before reading the URIs
    secret_keys: tuple[str, ...] = ()  # logical keys read from the environment's Secret
    prerequisites: tuple[str, ...] = ()  # other objects the user must create (e.g. Vault credentials)


def plugin_delivery(source: SecretSource, logical_keys: Sequence[str]) -> PluginDelivery:
    """Deliver the plugin's settings (``SECRET_KEY``, ``OIDC_CLIENT_ID``, ...) by the configured means."""
    mode = source.config.plugin_delivery
    if mode == "env":
        return PluginDelivery(
            env=tuple(source.env(PLUGIN_KEYS[k], k) for k in logical_keys), secret_keys=tuple(logical_keys)
        )
    if mode == "files":
        path = source.config.mount_as_files.path
        return PluginDelivery(
            env=tuple(env_values({"CONFIG_K8S_SECRETS_ENABLED": "true", "CONFIG_K8S_SECRETS_PATH": path})),
            volumes=(
                secret_volume(
                    PLUGIN_SECRETS_VOLUME,
                    source.name,
                    {source.ref(k).key: PLUGIN_KEYS[k] for k in logical_keys},
                    mode=0o440,
                ),
            ),
            mounts=(mount(PLUGIN_SECRETS_VOLUME, path, read_only=True),),
            loads_providers=True,
            secret_keys=tuple(logical_keys),
        )
    return _cloud(source)


def _cloud(source: SecretSource) -> PluginDelivery:
    cfg = source.config
    if cfg.aws_secrets_manager:
        sm = cfg.aws_secrets_manager
        values = {
            "CONFIG_AWS_SECRETS_ENABLED": "true",
            "CONFIG_AWS_SECRETS_NAME": sm.secret_name,
            "CONFIG_AWS_SECRETS_REGION": sm.region,
            "CONFIG_AWS_SECRETS_CACHE_TTL": str(sm.cache_ttl_seconds),
        }
        return PluginDelivery(env=tuple(env_values(values)), loads_providers=True)
    if cfg.aws_parameter_store:
        ps = cfg.aws_parameter_store
        values = {
            "CONFIG_AWS_PARAMETER_STORE_ENABLED": "true",
            "CONFIG_AWS_PARAMETER_STORE_PREFIX": ps.prefix,
            "CONFIG_AWS_PARAMETER_STORE_REGION": ps.region,
        }
        return PluginDelivery(env=tuple(env_values(values)), loads_providers=True)
    if cfg.azure_key_vault:
        values = {"CONFIG_AZURE_KEYVAULT_ENABLED": "true", "CONFIG_AZURE_KEYVAULT_NAME": cfg.azure_key_vault.vault_name}
        return PluginDelivery(env=tuple(env_values(values)), loads_providers=True)
    vault = required(cfg.vault, "secrets.vault")
    values = {
        "CONFIG_VAULT_ENABLED": "true",
        "CONFIG_VAULT_ADDR": str(vault.address).rstrip("/"),
        "CONFIG_VAULT_PATH": vault.path,
        "CONFIG_VAULT_KV_VERSION": str(vault.kv_version),
    }
    if vault.namespace:
        values["CONFIG_VAULT_NAMESPACE"] = vault.namespace
    if vault.auth == "approle":
        values["CONFIG_VAULT_ROLE_ID"] = vault.role_id or ""
        credential = secret_env("CONFIG_VAULT_SECRET_ID", SecretRef(vault.credentials_secret, "secret-id"))
    else:
        credential = secret_env("CONFIG_VAULT_TOKEN", SecretRef(vault.credentials_secret, "token"))
    return PluginDelivery(
        env=(*env_values(values), credential),
        loads_providers=True,
        prerequisites=(f"Secret/{vault.credentials_secret}",),
    )
