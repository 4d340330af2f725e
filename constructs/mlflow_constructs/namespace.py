"""The environment's Namespace, first in the output, with Pod Security "restricted" enforced."""

from __future__ import annotations

from constructs import Construct

from mlflow_constructs.naming import Naming
from mlflow_constructs.objects import k8s_object

PREREQUISITES_ANNOTATION = "mlflow-k8s/prerequisites"


class Namespace(Construct):
    """Holds the Namespace, created by :meth:`finalize` once the prerequisites (objects the user must
    provide) are known; being the chart's first child, it is still the first object written."""

    def __init__(self, scope: Construct, id: str, *, naming: Naming) -> None:
        super().__init__(scope, id)
        self.naming = naming

    def finalize(self, prerequisites: list[str]) -> None:
        annotations = {PREREQUISITES_ANNOTATION: ",".join(sorted(set(prerequisites)))} if prerequisites else None
        k8s_object(
            self,
            "namespace",
            api_version="v1",
            kind="Namespace",
            name=self.naming.namespace,
            labels={
                **dict(self.naming.extra_labels),
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
            },
            annotations=annotations,
            namespaced=False,
        )
