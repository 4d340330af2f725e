"""Every default container image, and the programs and versions each one carries.

This is the one place that names a default image. The config models take their defaults from here,
and the runtime tests build a virtual environment for each image that declares ``python`` and
``requirements``, so the versions the manifests pin and the versions the tests run cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImageSpec:
    """A default image: where it lives, what it carries, and (Python images) how to rebuild its contents."""

    registry: str
    name: str
    tag: str
    carries: str
    python: str | None = None
    requirements: tuple[str, ...] = ()
    dockerfile: str | None = None
    # Go images: the module `go install` builds the image's program from, at ``tag`` (runtime tests),
    # or at ``go_version`` when the tag is no Go module version (MinIO's ``RELEASE.*`` tags).
    go_install: str | None = None
    go_version: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.registry}/{self.name}:{self.tag}"


MLFLOW_VERSION = "3.17.2"
OIDC_PLUGIN_VERSION = "11.0.2"

# The official "full" image: mlflow[extras,azure,db,gateway,genai,auth] on Python 3.11.
MLFLOW = ImageSpec(
    registry="ghcr.io/mlflow",
    name="mlflow",
    tag=f"v{MLFLOW_VERSION}-full",
    carries=(
        f"MLflow {MLFLOW_VERSION} with extras,azure,db,gateway,genai,auth: psycopg2 (write `postgresql+psycopg2://`), "
        "boto3, azure-storage-blob/azure-identity, google-cloud-storage, prometheus-flask-exporter, the basic-auth app"
    ),
    python="3.11",
    requirements=(
        f"mlflow[auth,db]=={MLFLOW_VERSION}",
        "boto3",
        "prometheus-flask-exporter",
    ),
)

# Not a default: no public image carries plugin 11 with MLflow 3.17 (the plugin's own
# ghcr.io/mlflow-oidc/mlflow-tracking-server builds carry plugin 7.x with MLflow 3.15 and lack
# prometheus-flask-exporter, hvac and azure-keyvault-secrets), so oidc environments must name the image
# they built from images/mlflow-oidc/. `registry.example.com/mlflow` stands for that registry in the
# examples and tests. The plugin does not import on Python 3.11, hence 3.12.
MLFLOW_OIDC = ImageSpec(
    registry="registry.example.com/mlflow",
    name="mlflow-oidc",
    tag=f"{MLFLOW_VERSION}-oidc{OIDC_PLUGIN_VERSION}",
    carries=(
        f"Python 3.12, MLflow {MLFLOW_VERSION} [auth,db], mlflow-oidc-auth {OIDC_PLUGIN_VERSION} [cloud], "
        "azure-storage-blob, google-cloud-storage, prometheus-flask-exporter, redis"
    ),
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

POSTGRES = ImageSpec(
    registry="docker.io/library", name="postgres", tag="16.6", carries="PostgreSQL 16.6 (runs as UID 999)"
)
# The module proxy serves MinIO and mc only at pseudo-versions, not at the RELEASE tags of the images: the
# runtime tests build the commits below (mc: a month before the image's release; minio: the only one served).
MINIO = ImageSpec(
    registry="quay.io/minio",
    name="minio",
    tag="RELEASE.2025-04-22T22-12-26Z",
    carries="MinIO server",
    go_install="github.com/minio/minio",
    go_version="v0.0.0-20260212201848-7aac2a2c5b7c",
)
MINIO_CLIENT = ImageSpec(
    registry="quay.io/minio",
    name="mc",
    tag="RELEASE.2025-04-16T18-13-26Z",
    carries="MinIO client `mc`, /bin/sh",
    go_install="github.com/minio/mc",
    go_version="v0.0.0-20250313080218-cf909e1063a9",
)
REDIS = ImageSpec(registry="docker.io/library", name="redis", tag="7.4.2-alpine", carries="Redis 7.4.2, /bin/sh")
OAUTH2_PROXY = ImageSpec(
    registry="quay.io/oauth2-proxy",
    name="oauth2-proxy",
    tag="v7.15.6",
    carries="OAuth2-Proxy 7.15.6 (ENTRYPOINT /bin/oauth2-proxy, distroless, UID 65532)",
    go_install="github.com/oauth2-proxy/oauth2-proxy/v7",
)
