"""Sealed Secrets: a ``SealedSecret`` holding the ``kubeseal`` ciphertexts from the config file."""

from __future__ import annotations

from constructs import Construct

from mlflow_constructs.config.errors import required
from mlflow_constructs.config.secrets import Secrets
from mlflow_constructs.k8s.naming import Naming
from mlflow_constructs.secrets.source import require_keys

SCOPE_ANNOTATIONS = {
    "strict": {},
    "namespace-wide": {"sealedsecrets.bitnami.com/namespace-wide": "true"},
    "cluster-wide": {"sealedsecrets.bitnami.com/cluster-wide": "true"},
}


class SealedSecretProvider(Construct):
    """A ``SealedSecret`` holding the ``kubeseal`` ciphertexts from the config file."""

    def __init__(self, scope: Construct, id: str, *, config: Secrets, naming: Naming, keys: list[str]) -> None:
        super().__init__(scope, id)
        from mlflow_constructs.imports.sealedsecrets.com.bitnami import (  # noqa: PLC0415  (CRD bindings load slowly)
            SealedSecret,
            SealedSecretSpec,
            SealedSecretSpecTemplate,
            SealedSecretSpecTemplateMetadata,
        )

        cfg = required(config.sealed_secrets, "secrets.sealed_secrets")
        require_keys(
            keys,
            cfg.encrypted_data,
            key_path="secrets.sealed_secrets.encrypted_data",
            example="the kubeseal ciphertext of each (see README, 'Sealed Secrets')",
        )
        annotations = SCOPE_ANNOTATIONS[cfg.scope]
        labels = naming.labels("secrets")
        SealedSecret(
            self,
            "sealedsecret",
            metadata={"name": config.name, "labels": labels, "annotations": annotations},
            spec=SealedSecretSpec(
                encrypted_data=dict(sorted(cfg.encrypted_data.items())),
                template=SealedSecretSpecTemplate(
                    metadata=SealedSecretSpecTemplateMetadata(
                        name=config.name, labels=labels, annotations=annotations or None
                    ),
                    type="Opaque",
                ),
            ),
        )
