"""Container images and the programs each one carries.

This is the single place that says which image runs which program at which version. The runtime
tests build a virtual environment per image from ``python`` and ``requirements`` below, so the
versions the manifests pin and the versions the tests run cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImageSpec:
    """A default image: where it lives, what it is built from and what it carries."""

    registry: str
    name: str
    tag: str
    python: str
    requirements: tuple[str, ...]
    dockerfile: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.registry}/{self.name}:{self.tag}"


MLFLOW_VERSION = "3.17.2"
OIDC_PLUGIN_VERSION = "11.0.2"

# The official "full" image: mlflow[extras,azure,db,gateway,genai,auth] on Python 3.11. It carries
# psycopg2 (write `postgresql+psycopg2://`), boto3, azure-storage-blob/azure-identity,
# google-cloud-storage, prometheus-flask-exporter and the basic-auth app.
MLFLOW = ImageSpec(
    registry="ghcr.io/mlflow",
    name="mlflow",
    tag=f"v{MLFLOW_VERSION}-full",
    python="3.11",
    requirements=(
        f"mlflow[auth,db]=={MLFLOW_VERSION}",
        "boto3",
        "prometheus-flask-exporter",
    ),
)

# No public image carries mlflow-oidc-auth 11 with MLflow 3: built from images/mlflow-oidc/.
# The plugin does not import on Python 3.11, hence 3.12.
MLFLOW_OIDC = ImageSpec(
    registry="ghcr.io/mlflow-k8s",
    name="mlflow-oidc",
    tag=f"{MLFLOW_VERSION}-oidc{OIDC_PLUGIN_VERSION}",
    python="3.12",
    requirements=(
        f"mlflow[auth,db]=={MLFLOW_VERSION}",
        f"mlflow-oidc-auth[cloud]=={OIDC_PLUGIN_VERSION}",
        "boto3",
        "azure-storage-blob",
        "google-cloud-storage",
        "prometheus-flask-exporter",
        "redis",
    ),
    dockerfile="images/mlflow-oidc/Dockerfile",
)
