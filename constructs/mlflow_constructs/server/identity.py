"""The identity of MLflow's pods (server and migrations)."""

from __future__ import annotations

from collections.abc import Mapping

from constructs import Construct

from mlflow_constructs.k8s.naming import Naming
from mlflow_constructs.k8s.objects import service_account


class MlflowServiceAccount(Construct):
    """A ServiceAccount named after the deployment, with no API token mounted; ``annotations`` carry IRSA
    or workload-identity bindings."""

    def __init__(
        self, scope: Construct, id: str, *, naming: Naming, annotations: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(scope, id)
        self.name = naming.name()
        service_account(self, "serviceaccount", name=self.name, labels=naming.labels("mlflow"), annotations=annotations)
