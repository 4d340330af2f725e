"""The construct that makes the environment's Secret exist, whatever ``secrets.provider`` says."""

from __future__ import annotations

from collections.abc import Sequence

from constructs import Construct

from mlflow_constructs.config.errors import ConfigError
from mlflow_constructs.k8s.naming import Naming
from mlflow_constructs.k8s.pods import SecretRef
from mlflow_constructs.secrets.external_secrets import ExternalSecretProvider, SecretStoreWithIdentity
from mlflow_constructs.secrets.sealed_secrets import SealedSecretProvider
from mlflow_constructs.secrets.source import SecretSource


class SecretProvider(Construct):
    """Produces the Secret with exactly ``keys`` (logical keys: the union of the ``secret_keys`` of every
    construct that reads it): an ``ExternalSecret`` or a ``SealedSecret``; with ``existing-secret`` nothing
    is created and the Secret becomes a prerequisite. ``refs`` are keys of Secrets named per concern: those of
    the environment's Secret join ``keys``, the others are Secrets the user (or an operator) provides.
    An ExternalSecret or a SealedSecret is made for each of those listed in the provider's ``other_secrets``.
    ``prerequisites`` lists what the user must provide: not the Secret when ``generated`` (its key names made
    in the cluster by ``GeneratedCredentials``) holds all it must contain."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        source: SecretSource,
        naming: Naming,
        keys: Sequence[str],
        refs: Sequence[SecretRef] = (),
        generated: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, id)
        config = source.config
        names = source.key_names(keys) if keys and not config.cloud else []
        names = sorted({*names, *(ref.key for ref in refs if ref.name == source.name)})
        self.prerequisites: list[str] = []
        others: dict[str, set[str]] = {}
        for ref in refs:
            if ref.name != source.name:
                others.setdefault(ref.name, set()).add(ref.key)
        sealed = config.sealed_secrets if config.provider == "sealed-secrets" else None
        external = config.external_secrets if config.provider == "external-secrets" else None
        if external and external.create_store and (names or set(others) & set(external.other_secrets)):
            store = naming.name("secret-store")  # the one store every ExternalSecret of the environment reads
            SecretStoreWithIdentity(self, "store", config=external.create_store, naming=naming, name=store)
        if names and config.provider == "external-secrets":
            ExternalSecretProvider(self, "external-secret", config=config, naming=naming, keys=names)
            store = config.external_secrets.store_ref if config.external_secrets else None
            if store:
                self.prerequisites.append(f"{store.kind}/{store.name}")
        elif names and sealed:
            SealedSecretProvider(
                self,
                "sealed-secret",
                name=source.name,
                values=sealed,
                key_path="secrets.sealed_secrets",
                naming=naming,
                keys=names,
            )
        elif not set(names) <= set(generated):
            self.prerequisites.append(f"Secret/{source.name}")
        for secret, secret_keys in sorted(others.items()):
            if external and secret in external.other_secrets:
                ExternalSecretProvider(
                    self,
                    secret,
                    config=config,
                    naming=naming,
                    keys=sorted(secret_keys),
                    other=secret,
                )
                store = external.store_ref
                if store:
                    self.prerequisites.append(f"{store.kind}/{store.name}")
            elif sealed and secret in sealed.other_secrets:
                key_path = f"secrets.sealed_secrets.other_secrets.{secret}"
                values = sealed.other_secrets[secret]
                SealedSecretProvider(
                    self, secret, name=secret, values=values, key_path=key_path, naming=naming, keys=sorted(secret_keys)
                )
            else:
                self.prerequisites.append(f"Secret/{secret}")
        listed, section = (sealed, "sealed_secrets") if sealed else (external, "external_secrets")
        unread = sorted(set(listed.other_secrets) - set(others)) if listed else []
        if unread:
            raise ConfigError(
                f"secrets.{section}.other_secrets.{unread[0]}: no section of this environment reads a Secret of "
                f"that name (the environment's own is secrets.name, {source.name!r}); name it in the section that "
                "needs it (e.g. database.external.credentials.secret), or remove the entry"
            )
