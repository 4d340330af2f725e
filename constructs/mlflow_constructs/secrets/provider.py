"""The construct that makes the environment's Secret exist, whatever ``secrets.provider`` says."""

from __future__ import annotations

from collections.abc import Sequence

from constructs import Construct

from mlflow_constructs.k8s.naming import Naming
from mlflow_constructs.k8s.pods import SecretRef
from mlflow_constructs.secrets.external_secrets import ExternalSecretProvider
from mlflow_constructs.secrets.sealed_secrets import SealedSecretProvider
from mlflow_constructs.secrets.source import SecretSource


class SecretProvider(Construct):
    """Produces the Secret with exactly ``keys`` (logical keys: the union of the ``secret_keys`` of every
    construct that reads it): an ``ExternalSecret`` or a ``SealedSecret``; with ``existing-secret`` nothing
    is created and the Secret becomes a prerequisite. ``refs`` are keys of Secrets named per concern: those of
    the environment's Secret join ``keys``, the others are Secrets the user (or an operator) provides.
    ``prerequisites`` lists what the user must provide."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        source: SecretSource,
        naming: Naming,
        keys: Sequence[str],
        refs: Sequence[SecretRef] = (),
    ) -> None:
        super().__init__(scope, id)
        config = source.config
        names = source.key_names(keys) if keys and not config.cloud else []
        names = sorted({*names, *(ref.key for ref in refs if ref.name == source.name)})
        self.prerequisites = sorted({f"Secret/{ref.name}" for ref in refs if ref.name != source.name})
        if not names:
            return
        if config.provider == "external-secrets":
            ExternalSecretProvider(self, "external-secret", config=config, naming=naming, keys=names)
            store = config.external_secrets.store_ref if config.external_secrets else None
            if store:
                self.prerequisites.append(f"{store.kind}/{store.name}")
        elif config.provider == "sealed-secrets":
            SealedSecretProvider(self, "sealed-secret", config=config, naming=naming, keys=names)
        else:
            self.prerequisites.append(f"Secret/{source.name}")
