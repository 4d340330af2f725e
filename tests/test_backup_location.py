"""Derived backup locations lie beside the artifact tree MLflow serves, never in it; where none can be
derived, or a configured one lies in the tree, the config is refused."""

from __future__ import annotations

import pytest
from helpers import config_error

from mlflow_constructs.config.artifacts import Artifacts
from mlflow_constructs.config.backup_location import (
    beside_artifacts,
    segments,
    store_within_artifacts,
    within_artifacts,
)
from mlflow_constructs.config.database import BackupObjectStore

CLOUDS = {
    "s3": {"bucket": "team-ml"},
    "gcs": {"bucket": "team-ml"},
    "azure": {"container": "ml", "storage_account": "acme"},
}


def artifacts(kind: str = "s3", prefix: str = "artifacts", **extra: object) -> Artifacts:
    return Artifacts.model_validate({"type": kind, kind: {**CLOUDS[kind], "prefix": prefix}, **extra})


@pytest.mark.parametrize("prefix", ["artifacts", "/team/a/", "mlflow-backups-old", "a/mlflow-backups"])
@pytest.mark.parametrize("kind", sorted(CLOUDS))
def test_derived_location_is_beside_the_prefix_never_under_it(kind, prefix):
    store = artifacts(kind, prefix)
    for barman in (False, True):
        location = beside_artifacts(store, "postgresql", barman=barman)
        tail = ["mlflow-backups", *segments(prefix), "postgresql"]
        assert location is not None and segments(location)[-len(tail) :] == tail
        assert not within_artifacts(store, location, barman=barman)


def test_derived_locations_name_the_bucket_or_container():
    assert beside_artifacts(artifacts("s3", "/a/b/"), "pg") == "s3://team-ml/mlflow-backups/a/b/pg"
    assert beside_artifacts(artifacts("gcs"), "x") == "gs://team-ml/mlflow-backups/artifacts/x"
    azure = "wasbs://ml@acme.blob.core.windows.net/mlflow-backups/artifacts/x"
    assert beside_artifacts(artifacts("azure"), "x") == azure
    barman = beside_artifacts(artifacts("azure"), "x", barman=True)
    assert barman == "https://acme.blob.core.windows.net/ml/mlflow-backups/artifacts/x"


def test_environments_sharing_a_bucket_get_their_own_backup_location():
    assert beside_artifacts(artifacts(prefix="staging"), "pg") != beside_artifacts(artifacts(prefix="prod"), "pg")


@pytest.mark.parametrize(
    "store",
    [
        artifacts(prefix=""),
        artifacts(prefix="/"),
        artifacts(prefix="mlflow-backups"),
        artifacts(prefix="mlflow-backups/artifacts"),
        artifacts(proxied=False),
        Artifacts(type="minio"),
        Artifacts(type="pvc"),
    ],
    ids=["bucket-root", "slash", "prefix-is-the-sibling", "prefix-under-the-sibling", "unproxied", "minio", "pvc"],
)
def test_nothing_is_derived_where_the_whole_store_is_readable(store):
    assert beside_artifacts(store, "postgresql") is None


@pytest.mark.parametrize(
    ("path", "inside"),
    [
        ("s3://team-ml/artifacts/backups", True),
        ("s3://team-ml/artifacts", True),
        ("s3://team-ml//artifacts/x", True),
        ("s3://team-ml/artifacts-backups/x", False),
        ("s3://team-ml/mlflow-backups/artifacts/cloudnativepg", False),
        ("s3://other/artifacts/x", False),
        ("gs://team-ml/artifacts/x", False),
    ],
)
def test_a_configured_store_is_in_the_tree_only_under_the_prefix_of_the_same_bucket(path, inside):
    assert store_within_artifacts(artifacts(), BackupObjectStore(destination_path=path)) is inside


def test_a_configured_store_at_another_endpoint_is_another_store():
    store = BackupObjectStore(destination_path="s3://team-ml/artifacts/x", endpoint_url="http://minio.backup:9000")
    assert not store_within_artifacts(artifacts(), store)


def test_without_proxying_anything_in_the_bucket_is_readable_by_clients():
    store = BackupObjectStore(destination_path="s3://team-ml/mlflow-backups/x")
    assert store_within_artifacts(artifacts(proxied=False), store)
    assert not store_within_artifacts(artifacts(), store)


def test_with_an_empty_prefix_anything_in_the_bucket_or_container_is_in_the_tree():
    azure = BackupObjectStore(destination_path="https://acme.blob.core.windows.net/ml/backups")
    assert store_within_artifacts(artifacts("azure", ""), azure)
    assert not store_within_artifacts(artifacts("azure", "a"), azure)


UPLOAD = {"database": {"backup": {"destination": "artifact-store"}}}


@pytest.mark.parametrize(
    ("artifacts_config", "why"),
    [
        ({"type": "minio"}, "bundled MinIO's whole bucket"),
        ({"type": "s3", "s3": {"bucket": "b"}}, "artifacts.s3.prefix is empty"),
        ({"type": "s3", "proxied": False, "s3": {"bucket": "b", "prefix": "a"}}, "proxied: false"),
        ({"type": "gcs", "gcs": {"bucket": "b", "prefix": "mlflow-backups/a"}}, "starts with 'mlflow-backups'"),
    ],
)
def test_upload_without_a_location_beside_the_artifacts_is_refused(artifacts_config, why):
    message = config_error({**UPLOAD, "artifacts": artifacts_config})
    assert "database.backup.destination: artifact-store" in message and why in message
    assert "destination: pvc" in message and "orphans" in message


def test_cloudnativepg_backups_from_bucket_root_artifacts_are_refused():
    config = {"database": {"type": "cloudnativepg"}, "artifacts": {"type": "s3", "s3": {"bucket": "b"}}}
    message = config_error(config)
    assert "database.backup.object_store" in message and "artifacts.s3.prefix is empty" in message
    assert "another bucket/container" in message


def test_cloudnativepg_store_configured_inside_the_artifact_tree_is_refused():
    store = {"destination_path": "s3://b/artifacts/pg"}
    config = {
        "database": {"type": "cloudnativepg", "backup": {"object_store": store}},
        "artifacts": {"type": "s3", "s3": {"bucket": "b", "prefix": "artifacts"}},
    }
    message = config_error(config)
    assert "database.backup.object_store.destination_path" in message and "another bucket/container" in message
