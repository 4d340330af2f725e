"""The one Secret an environment's pods read: references by logical key, never a value.

Constructs take a :class:`SecretSource` and ask it for the keys they need
(``source.env("PGPASSWORD", "postgres_password")``); each construct lists the logical keys it read in its
``secret_keys`` attribute, and a provider (``SecretProvider``) is made from those lists, so the Secret it
produces has exactly the keys the manifests reference.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from cdk8s_plus_27 import k8s

from mlflow_constructs.config.errors import ConfigError
from mlflow_constructs.config.secrets import PLUGIN_KEYS, Secrets
from mlflow_constructs.k8s.pods import SecretRef, secret_env


@dataclass(frozen=True)
class SecretSource:
    """The environment's Secret (``config.name``) and how its logical keys are spelled (``config.keys``)."""

    config: Secrets = field(default_factory=Secrets)

    @property
    def name(self) -> str:
        return self.config.name

    def ref(self, logical_key: str) -> SecretRef:
        """The Secret key holding one value (a field name of ``SecretKeys``)."""
        self._served(logical_key)
        return SecretRef(name=self.name, key=getattr(self.config.keys, logical_key))

    def named(self, secret: str | None, key: str) -> SecretRef:
        """A key of a Secret a config section names for its own concern (``None``: the environment's Secret,
        whose provider then produces the key too; see ``SecretProvider``)."""
        if secret is None or secret == self.name:
            self._served(key)
        return SecretRef(name=secret or self.name, key=key)

    def _served(self, key: str) -> None:
        if self.config.cloud:
            raise ConfigError(
                f"secrets.provider: {self.config.provider!r} only serves the oidc plugin's own settings "
                f"({', '.join(PLUGIN_KEYS.values())}), but this environment also needs "
                f"'{key}' from a Secret; use workload identity for artifacts and an external or "
                "CloudNativePG database, or choose provider external-secrets"
            )

    def env(self, variable: str, logical_key: str) -> k8s.EnvVar:
        """An env var read from the Secret."""
        return secret_env(variable, self.ref(logical_key))

    def key_names(self, logical_keys: Iterable[str]) -> list[str]:
        """The Secret's key names for logical keys, sorted and unique (what the Secret must contain)."""
        return sorted({self.ref(key).key for key in logical_keys})


def require_keys(keys: list[str], provided: dict, *, key_path: str, example: str) -> None:
    """Stop with a config error naming every key the pods read that a provider has no entry for."""
    missing = [key for key in keys if key not in provided]
    if missing:
        raise ConfigError(
            f"{key_path}: no entry for {', '.join(missing)}, which this environment's pods read from the Secret; "
            f"add {example}"
        )
