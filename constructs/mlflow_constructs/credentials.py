"""The environment's Secret: one place that hands out references to secret values.

Constructs never see a secret value. They ask for a logical key (``credentials.ref("postgres_password")``)
and get a ``secretKeyRef``; the provider then makes sure a Secret with exactly those keys exists. With
``existing-secret`` the user creates it, so it is recorded as a prerequisite of the environment.
"""

from __future__ import annotations

from constructs import Construct

from mlflow_constructs.config import Secrets


class Credentials(Construct):
    """Hands out ``secretKeyRef``s into the environment's Secret and records which keys are used."""

    def __init__(self, scope: Construct, id: str, *, config: Secrets) -> None:
        super().__init__(scope, id)
        self.config = config
        self.secret_name = config.name
        self._used: dict[str, str] = {}

    def ref(self, logical_key: str) -> dict[str, str]:
        """A ``secretKeyRef`` body for one logical key (a field name of ``SecretKeys``)."""
        key = getattr(self.config.keys, logical_key)
        self._used[logical_key] = key
        return {"name": self.secret_name, "key": key}

    @property
    def used_keys(self) -> list[str]:
        """Secret keys referenced so far, sorted (what the user's Secret must contain)."""
        return sorted(set(self._used.values()))

    @property
    def prerequisites(self) -> list[str]:
        return [f"Secret/{self.secret_name}"] if self._used else []
