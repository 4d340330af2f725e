"""The environment's Namespace, with Pod Security "restricted" enforced."""

from __future__ import annotations

from collections.abc import Sequence

from cdk8s import JsonPatch
from cdk8s_plus_27 import k8s
from constructs import Construct

from mlflow_constructs.k8s.naming import PREREQUISITES_ANNOTATION, Naming
from mlflow_constructs.k8s.objects import meta


class MlflowNamespace(Construct):
    """The Namespace; ``prerequisites`` (objects the user must create first, e.g. ``Secret/mlflow-credentials``)
    are listed in its ``mlflow-k8s/prerequisites`` annotation."""

    def __init__(self, scope: Construct, id: str, *, naming: Naming, prerequisites: Sequence[str] = ()) -> None:
        super().__init__(scope, id)
        annotations = {PREREQUISITES_ANNOTATION: ",".join(sorted(set(prerequisites)))} if prerequisites else None
        namespace = k8s.KubeNamespace(
            self,
            "namespace",
            metadata=meta(
                naming.namespace,
                {
                    **dict(naming.extra_labels),
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                    "pod-security.kubernetes.io/warn": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                },
                annotations,
            ),
        )
        # A chart's namespace is stamped on every object; a Namespace itself is cluster-scoped.
        namespace.add_json_patch(JsonPatch.remove("/metadata/namespace"))
