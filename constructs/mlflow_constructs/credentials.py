"""The environment's secrets: one place that hands out references and makes sure they resolve.

Constructs never see a secret value. They ask for a logical key (``credentials.ref("postgres_password")``)
and get a ``secretKeyRef`` into the environment's Secret. Once the chart is built, :meth:`finalize` makes
the configured provider produce exactly that Secret (ExternalSecret, SealedSecret) or records it as a
prerequisite (existing-secret). The oidc plugin's own settings may instead come as mounted files or
from a cloud provider it reads itself (:meth:`plugin_delivery`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from constructs import Construct

from mlflow_constructs.config.errors import ConfigError
from mlflow_constructs.config.secrets import PLUGIN_KEYS, Secrets
from mlflow_constructs.naming import Naming
from mlflow_constructs.security import literal_env, secret_env

PLUGIN_SECRETS_VOLUME = "oidc-secrets"


@dataclass(frozen=True)
class PluginDelivery:
    """How the oidc plugin's secret settings reach its containers."""

    env: list[dict[str, Any]] = field(default_factory=list)
    volumes: list[dict[str, Any]] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    loads_providers: bool = False  # scripts must load the plugin's providers before reading the URIs


class Credentials(Construct):
    """Hands out ``secretKeyRef``s into the environment's Secret and records which keys are used."""

    def __init__(self, scope: Construct, id: str, *, config: Secrets, naming: Naming) -> None:
        super().__init__(scope, id)
        self.config = config
        self.naming = naming
        self.secret_name = config.name
        self._used: dict[str, str] = {}
        self._prerequisites: list[str] = []

    def ref(self, logical_key: str) -> dict[str, str]:
        """A ``secretKeyRef`` body for one logical key (a field name of ``SecretKeys``)."""
        if self.config.cloud:
            raise ConfigError(
                f"secrets.provider: {self.config.provider!r} only serves the oidc plugin's own settings "
                f"({', '.join(PLUGIN_KEYS.values())}), but this environment also needs "
                f"'{logical_key}' from a Secret; use workload identity for artifacts and an external or "
                "CloudNativePG database, or choose provider external-secrets"
            )
        key = getattr(self.config.keys, logical_key)
        self._used[logical_key] = key
        return {"name": self.secret_name, "key": key}

    def plugin_delivery(self, logical_keys: list[str]) -> PluginDelivery:
        """Deliver the oidc plugin's settings (``SECRET_KEY``, ``OIDC_CLIENT_ID``, ...) by the configured means."""
        mode = self.config.plugin_delivery
        if mode == "env":
            return PluginDelivery(env=[secret_env(PLUGIN_KEYS[k], self.ref(k)) for k in logical_keys])
        if mode == "files":
            path = self.config.mount_as_files.path
            items = [{"key": self.ref(k)["key"], "path": PLUGIN_KEYS[k]} for k in logical_keys]
            return PluginDelivery(
                env=literal_env({"CONFIG_K8S_SECRETS_ENABLED": "true", "CONFIG_K8S_SECRETS_PATH": path}),
                volumes=[
                    {
                        "name": PLUGIN_SECRETS_VOLUME,
                        "secret": {"secretName": self.secret_name, "items": items, "defaultMode": 0o440},
                    }
                ],
                mounts=[{"name": PLUGIN_SECRETS_VOLUME, "mountPath": path, "readOnly": True}],
                loads_providers=True,
            )
        return PluginDelivery(env=self._cloud_env(), loads_providers=True)

    def _cloud_env(self) -> list[dict[str, Any]]:
        cfg = self.config
        if cfg.aws_secrets_manager:
            sm = cfg.aws_secrets_manager
            values = {
                "CONFIG_AWS_SECRETS_ENABLED": "true",
                "CONFIG_AWS_SECRETS_NAME": sm.secret_name,
                "CONFIG_AWS_SECRETS_REGION": sm.region,
                "CONFIG_AWS_SECRETS_CACHE_TTL": str(sm.cache_ttl_seconds),
            }
            return literal_env(values)
        if cfg.aws_parameter_store:
            ps = cfg.aws_parameter_store
            return literal_env(
                {
                    "CONFIG_AWS_PARAMETER_STORE_ENABLED": "true",
                    "CONFIG_AWS_PARAMETER_STORE_PREFIX": ps.prefix,
                    "CONFIG_AWS_PARAMETER_STORE_REGION": ps.region,
                }
            )
        if cfg.azure_key_vault:
            return literal_env(
                {"CONFIG_AZURE_KEYVAULT_ENABLED": "true", "CONFIG_AZURE_KEYVAULT_NAME": cfg.azure_key_vault.vault_name}
            )
        vault = cfg.vault
        assert vault is not None
        values = {
            "CONFIG_VAULT_ENABLED": "true",
            "CONFIG_VAULT_ADDR": str(vault.address).rstrip("/"),
            "CONFIG_VAULT_PATH": vault.path,
            "CONFIG_VAULT_KV_VERSION": str(vault.kv_version),
        }
        if vault.namespace:
            values["CONFIG_VAULT_NAMESPACE"] = vault.namespace
        bootstrap = {"name": vault.credentials_secret}
        self._prerequisites.append(f"Secret/{vault.credentials_secret}")
        if vault.auth == "approle":
            values["CONFIG_VAULT_ROLE_ID"] = vault.role_id or ""
            return [*literal_env(values), secret_env("CONFIG_VAULT_SECRET_ID", {**bootstrap, "key": "secret-id"})]
        return [*literal_env(values), secret_env("CONFIG_VAULT_TOKEN", {**bootstrap, "key": "token"})]

    @property
    def used_keys(self) -> list[str]:
        """Secret keys referenced so far, sorted (what the Secret must contain)."""
        return sorted(set(self._used.values()))

    def finalize(self) -> list[str]:
        """Produce the Secret with the provider; returns what the user must provide beforehand."""
        provider = self.config.provider
        if provider == "external-secrets" and self._used:
            from mlflow_constructs.secret_providers import ExternalSecretProvider  # noqa: PLC0415

            ExternalSecretProvider(self, "external-secret", config=self.config, naming=self.naming, keys=self.used_keys)
            store = self.config.external_secrets.store_ref if self.config.external_secrets else None
            if store:
                self._prerequisites.append(f"{store.kind}/{store.name}")
        elif provider == "sealed-secrets" and self._used:
            from mlflow_constructs.secret_providers import SealedSecretProvider  # noqa: PLC0415

            SealedSecretProvider(self, "sealed-secret", config=self.config, naming=self.naming, keys=self.used_keys)
        elif provider == "existing-secret" and self._used:
            self._prerequisites.append(f"Secret/{self.secret_name}")
        return self._prerequisites
