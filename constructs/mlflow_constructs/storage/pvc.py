"""Artifacts on a PersistentVolumeClaim mounted into the server, always served through MLflow."""

from __future__ import annotations

from cdk8s_plus_27 import k8s
from constructs import Construct

from mlflow_constructs.config.artifacts import PvcArtifacts
from mlflow_constructs.k8s.naming import Naming
from mlflow_constructs.k8s.objects import meta
from mlflow_constructs.k8s.pods import mount, quantity
from mlflow_constructs.storage.access import ArtifactAccess, server_args

ARTIFACTS_PATH = "/mlflow/artifacts"


class PvcArtifactStore(Construct):
    """The claim ``<name>-artifacts``; a ReadWriteOnce claim makes server updates replace pods."""

    def __init__(self, scope: Construct, id: str, *, config: PvcArtifacts, naming: Naming) -> None:
        super().__init__(scope, id)
        self.claim_name = naming.name("artifacts")
        k8s.KubePersistentVolumeClaim(
            self,
            "pvc",
            metadata=meta(self.claim_name, naming.labels("mlflow")),
            spec=k8s.PersistentVolumeClaimSpec(
                access_modes=[config.access_mode],
                resources=k8s.ResourceRequirements(requests={"storage": quantity(config.size)}),
                storage_class_name=config.storage_class,
            ),
        )
        self.access = ArtifactAccess(
            args=server_args(ARTIFACTS_PATH, proxied=True),
            volumes=(
                k8s.Volume(
                    name="artifacts",
                    persistent_volume_claim=k8s.PersistentVolumeClaimVolumeSource(claim_name=self.claim_name),
                ),
            ),
            mounts=(mount("artifacts", ARTIFACTS_PATH),),
            single_attach=config.access_mode != "ReadWriteMany",
        )
