"""External Secrets: an ``ExternalSecret`` that produces the environment's Secret (and optionally the
namespaced ``SecretStore`` it reads from, with its own ServiceAccount)."""

from __future__ import annotations

from constructs import Construct

from mlflow_constructs.config.errors import required
from mlflow_constructs.config.secrets import CreatedStore, Secrets
from mlflow_constructs.k8s.naming import Naming
from mlflow_constructs.k8s.objects import service_account
from mlflow_constructs.secrets.source import require_keys

_CONSTANT = {"SecretStore": "SECRET_STORE", "ClusterSecretStore": "CLUSTER_SECRET_STORE"}


class ExternalSecretProvider(Construct):
    """An ``ExternalSecret`` whose target is the environment's Secret (and optionally its SecretStore), or, with
        ``other``, the Secret of that name a section reads (its ``remote_refs`` in ``other_secrets``). All read the
        environment's store (``store_ref``, or the ``SecretStore`` that :class:`SecretStoreWithIdentity` makes once per
    environment with ``create_store``)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: Secrets,
        naming: Naming,
        keys: list[str],
        other: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        from mlflow_constructs.imports.externalsecrets.io.external_secrets import (  # noqa: PLC0415  (CRD bindings load slowly)
            ExternalSecret,
            ExternalSecretSpec,
            ExternalSecretSpecData,
            ExternalSecretSpecDataRemoteRef,
            ExternalSecretSpecSecretStoreRef,
            ExternalSecretSpecSecretStoreRefKind,
            ExternalSecretSpecTarget,
            ExternalSecretSpecTargetCreationPolicy,
        )

        cfg = required(config.external_secrets, "secrets.external_secrets")
        remote_refs = cfg.other_secrets[other].remote_refs if other else cfg.remote_refs
        target = other or config.name
        require_keys(
            keys,
            remote_refs,
            key_path=f"secrets.external_secrets.other_secrets.{other}.remote_refs"
            if other
            else "secrets.external_secrets.remote_refs",
            example="'<key>: {key: <path in the store>, property: <field>}' for each",
        )
        if cfg.create_store:
            store_name, store_kind = naming.name("secret-store"), "SecretStore"
        else:
            store_ref = required(cfg.store_ref, "secrets.external_secrets.store_ref")
            store_name, store_kind = store_ref.name, store_ref.kind
        labels = naming.labels("secrets")
        ExternalSecret(
            self,
            "externalsecret",
            metadata={"name": target, "labels": labels},
            spec=ExternalSecretSpec(
                refresh_interval=cfg.refresh_interval,
                secret_store_ref=ExternalSecretSpecSecretStoreRef(
                    name=store_name, kind=getattr(ExternalSecretSpecSecretStoreRefKind, _CONSTANT[store_kind])
                ),
                target=ExternalSecretSpecTarget(
                    name=target, creation_policy=ExternalSecretSpecTargetCreationPolicy.OWNER
                ),
                data=[
                    ExternalSecretSpecData(
                        secret_key=key,
                        remote_ref=ExternalSecretSpecDataRemoteRef(
                            key=remote_refs[key].key, property=remote_refs[key].property
                        ),
                    )
                    for key in keys
                ],
            ),
        )


class SecretStoreWithIdentity(Construct):
    """A namespaced ``SecretStore`` for Vault (Kubernetes auth), AWS Secrets Manager (IRSA) or Azure
    Key Vault (workload identity), authenticating as its own ServiceAccount (not MLflow's)."""

    def __init__(self, scope: Construct, id: str, *, config: CreatedStore, naming: Naming, name: str) -> None:
        super().__init__(scope, id)
        from mlflow_constructs.imports.secretstores.io.external_secrets import (  # noqa: PLC0415  (CRD bindings load slowly)
            SecretStore,
            SecretStoreSpec,
            SecretStoreSpecProvider,
            SecretStoreSpecProviderAws,
            SecretStoreSpecProviderAwsAuth,
            SecretStoreSpecProviderAwsAuthJwt,
            SecretStoreSpecProviderAwsAuthJwtServiceAccountRef,
            SecretStoreSpecProviderAwsService,
            SecretStoreSpecProviderAzurekv,
            SecretStoreSpecProviderAzurekvAuthType,
            SecretStoreSpecProviderAzurekvServiceAccountRef,
            SecretStoreSpecProviderVault,
            SecretStoreSpecProviderVaultAuth,
            SecretStoreSpecProviderVaultAuthKubernetes,
            SecretStoreSpecProviderVaultAuthKubernetesServiceAccountRef,
            SecretStoreSpecProviderVaultVersion,
        )

        account = naming.name("secrets-reader")
        annotations: dict[str, str] = {}
        if config.vault:
            vault = config.vault
            provider = SecretStoreSpecProvider(
                vault=SecretStoreSpecProviderVault(
                    server=str(vault.server).rstrip("/"),
                    path=vault.path,
                    version=getattr(SecretStoreSpecProviderVaultVersion, vault.version.upper()),
                    auth=SecretStoreSpecProviderVaultAuth(
                        kubernetes=SecretStoreSpecProviderVaultAuthKubernetes(
                            mount_path=vault.mount_path,
                            role=vault.role,
                            service_account_ref=SecretStoreSpecProviderVaultAuthKubernetesServiceAccountRef(
                                name=account
                            ),
                        )
                    ),
                )
            )
        elif config.aws:
            annotations["eks.amazonaws.com/role-arn"] = config.aws.role_arn
            provider = SecretStoreSpecProvider(
                aws=SecretStoreSpecProviderAws(
                    service=SecretStoreSpecProviderAwsService.SECRETS_MANAGER,
                    region=config.aws.region,
                    auth=SecretStoreSpecProviderAwsAuth(
                        jwt=SecretStoreSpecProviderAwsAuthJwt(
                            service_account_ref=SecretStoreSpecProviderAwsAuthJwtServiceAccountRef(name=account)
                        )
                    ),
                )
            )
        else:
            azure = required(config.azure, "secrets.external_secrets.create_store.azure")
            annotations["azure.workload.identity/client-id"] = azure.client_id
            annotations["azure.workload.identity/tenant-id"] = azure.tenant_id
            provider = SecretStoreSpecProvider(
                azurekv=SecretStoreSpecProviderAzurekv(
                    vault_url=str(azure.vault_url),
                    auth_type=SecretStoreSpecProviderAzurekvAuthType.WORKLOAD_IDENTITY,
                    service_account_ref=SecretStoreSpecProviderAzurekvServiceAccountRef(name=account),
                )
            )
        labels = naming.labels("secrets")
        service_account(self, "serviceaccount", name=account, labels=labels, annotations=annotations)
        SecretStore(
            self, "secretstore", metadata={"name": name, "labels": labels}, spec=SecretStoreSpec(provider=provider)
        )
