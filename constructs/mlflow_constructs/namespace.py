"""The environment's Namespace, first in the output, with Pod Security "restricted" enforced."""

from __future__ import annotations

from constructs import Construct

from mlflow_constructs.naming import Naming
from mlflow_constructs.objects import k8s_object

PREREQUISITES_ANNOTATION = "mlflow-k8s/prerequisites"


class Namespace(Construct):
    """Creates the Namespace; prerequisites (objects the user provides) are listed on it."""

    def __init__(self, scope: Construct, id: str, *, naming: Naming) -> None:
        super().__init__(scope, id)
        self.object = k8s_object(
            self,
            "namespace",
            api_version="v1",
            kind="Namespace",
            name=naming.namespace,
            labels={
                **dict(naming.extra_labels),
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
            },
            namespaced=False,
        )

    def declare_prerequisites(self, items: list[str]) -> None:
        if items:
            self.object.metadata.add_annotation(PREREQUISITES_ANNOTATION, ",".join(sorted(set(items))))
