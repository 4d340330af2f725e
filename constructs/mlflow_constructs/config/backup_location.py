"""Where database backups may go in the artifacts' bucket or container: beside the artifact tree, never in it.

With proxied artifacts MLflow serves every path under its artifacts destination to any user the default
permission lets read (and without auth to anyone who reaches it); with `proxied: false` clients hold the store
credentials themselves. A backup under the destination (database dumps hold the auth database's password
hashes) would be readable by them, so a location is derived only beside a non-empty prefix of proxied
artifacts, as ``<bucket or container>/mlflow-backups/<prefix>/<kind>`` (the prefix keeps the backups of
environments sharing a bucket apart, as it keeps their artifacts apart).
"""

from __future__ import annotations

from mlflow_constructs.config.artifacts import Artifacts
from mlflow_constructs.config.database import BackupObjectStore
from mlflow_constructs.config.errors import ConfigError

BACKUP_DIRECTORY = "mlflow-backups"
"""The directory beside the artifacts' prefix that derived backup locations are in."""


def segments(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


def refusal(artifacts: Artifacts) -> str | None:
    """Why no backup location can be derived beside these artifacts (none: it can)."""
    if artifacts.type == "pvc":
        return "PVC artifacts are not an object store"
    if artifacts.type == "minio":
        return "the bundled MinIO's whole bucket is the artifacts destination, and it lives in this namespace"
    if not artifacts.proxied:
        return "with artifacts.proxied: false clients read the bucket with their own credentials"
    prefix = segments(getattr(artifacts, artifacts.type).prefix)
    if not prefix:
        return f"artifacts.{artifacts.type}.prefix is empty, so the whole bucket/container is served as artifacts"
    if prefix[0] == BACKUP_DIRECTORY:
        return f"artifacts.{artifacts.type}.prefix starts with '{BACKUP_DIRECTORY}', where backups would go"
    return None


def _root(artifacts: Artifacts, *, barman: bool) -> str:
    """The bucket or container as a URI: MLflow's form, or the Barman Cloud Plugin's (Azure over https)."""
    store = getattr(artifacts, artifacts.type)
    if artifacts.type == "azure":
        account = f"{store.storage_account}.blob.core.windows.net"
        return f"https://{account}/{store.container}" if barman else f"wasbs://{store.container}@{account}"
    return f"{'gs' if artifacts.type == 'gcs' else 's3'}://{store.bucket}"


def beside_artifacts(artifacts: Artifacts, kind: str, *, barman: bool = False) -> str | None:
    """``<bucket or container>/mlflow-backups/<prefix>/<kind>``, or none when :func:`refusal` gives a reason."""
    if refusal(artifacts) is not None:
        return None
    prefix = "/".join(segments(getattr(artifacts, artifacts.type).prefix))
    location = f"{_root(artifacts, barman=barman)}/{BACKUP_DIRECTORY}/{prefix}/{kind}"
    if within_artifacts(artifacts, location, barman=barman):  # refusal() rules this out; never serve dumps
        raise ConfigError(f"backups at {location} would be served as artifacts: set database.backup.location")
    return location


def within_artifacts(artifacts: Artifacts, uri: str, *, barman: bool = True) -> bool:
    """Whether ``uri`` (its scheme is not compared) lies where artifact users read: under the prefix, or
    anywhere in the bucket or container with ``proxied: false``."""
    if artifacts.type not in ("s3", "azure", "gcs"):
        return False
    store = getattr(artifacts, artifacts.type)
    tree = segments(_root(artifacts, barman=barman).split("://", 1)[1])
    tree += segments(store.prefix) if artifacts.proxied else []
    return segments(uri.split("://", 1)[-1])[: len(tree)] == tree


def store_within_artifacts(artifacts: Artifacts, store: BackupObjectStore) -> bool:
    """Whether an explicit CloudNativePG destination lies where artifact users read (same cloud, bucket or
    container and endpoint, and under the prefix or, with ``proxied: false``, anywhere)."""
    if store.cloud != artifacts.type:
        return False
    if artifacts.type == "s3" and store.endpoint_url != artifacts.s3.endpoint_url:
        return False
    return within_artifacts(artifacts, store.destination_path)
