"""Sealed Secrets: a ``SealedSecret`` holding the ``kubeseal`` ciphertexts from the config file."""

from __future__ import annotations

from constructs import Construct

from mlflow_constructs.config.secrets import SealedValues
from mlflow_constructs.k8s.naming import Naming
from mlflow_constructs.secrets.source import require_keys

SCOPE_ANNOTATIONS = {
    "strict": {},
    "namespace-wide": {"sealedsecrets.bitnami.com/namespace-wide": "true"},
    "cluster-wide": {"sealedsecrets.bitnami.com/cluster-wide": "true"},
}


class SealedSecretProvider(Construct):
    """A ``SealedSecret`` producing the Secret ``name`` from ``values`` (configured at ``key_path``), which must
    hold a ciphertext for each of ``keys``."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        values: SealedValues,
        key_path: str,
        naming: Naming,
        keys: list[str],
    ) -> None:
        super().__init__(scope, id)
        from mlflow_constructs.imports.sealedsecrets.com.bitnami import (  # noqa: PLC0415  (CRD bindings load slowly)
            SealedSecret,
            SealedSecretSpec,
            SealedSecretSpecTemplate,
            SealedSecretSpecTemplateMetadata,
        )

        require_keys(
            keys,
            values.encrypted_data,
            key_path=f"{key_path}.encrypted_data",
            example="the kubeseal ciphertext of each (see README, 'Sealed Secrets')",
        )
        annotations = SCOPE_ANNOTATIONS[values.scope]
        labels = naming.labels("secrets")
        SealedSecret(
            self,
            "sealedsecret",
            metadata={"name": name, "labels": labels, "annotations": annotations},
            spec=SealedSecretSpec(
                encrypted_data=dict(sorted(values.encrypted_data.items())),
                template=SealedSecretSpecTemplate(
                    metadata=SealedSecretSpecTemplateMetadata(
                        name=name, labels=labels, annotations=annotations or None
                    ),
                    type="Opaque",
                ),
            ),
        )
