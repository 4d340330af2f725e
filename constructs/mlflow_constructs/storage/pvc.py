"""Artifacts on a PersistentVolumeClaim mounted into the server, always served through MLflow."""

from __future__ import annotations

from constructs import Construct

from mlflow_constructs.config.artifacts import PvcArtifacts
from mlflow_constructs.k8s.naming import Naming
from mlflow_constructs.k8s.objects import persistent_volume_claim
from mlflow_constructs.k8s.pods import claim_volume, mount
from mlflow_constructs.storage.access import ArtifactAccess, server_args

ARTIFACTS_PATH = "/mlflow/artifacts"


class PvcArtifactStore(Construct):
    """The claim ``<name>-artifacts``; a ReadWriteOnce claim makes server updates replace pods."""

    def __init__(self, scope: Construct, id: str, *, config: PvcArtifacts, naming: Naming) -> None:
        super().__init__(scope, id)
        self.claim_name = naming.name("artifacts")
        persistent_volume_claim(
            self,
            "pvc",
            name=self.claim_name,
            labels=naming.labels("mlflow"),
            size=config.size,
            storage_class=config.storage_class,
            access_mode=config.access_mode,
        )
        self.access = ArtifactAccess(
            args=server_args(ARTIFACTS_PATH, proxied=True),
            volumes=(claim_volume("artifacts", self.claim_name),),
            mounts=(mount("artifacts", ARTIFACTS_PATH),),
            single_attach=config.access_mode != "ReadWriteMany",
        )
