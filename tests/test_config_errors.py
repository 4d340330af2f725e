"""Bad config is refused with a message naming the file, the key and the fix."""

from __future__ import annotations

from helpers import config_error


def test_unknown_key_suggests_the_right_one():
    message = config_error({"server": {"replica": 2}})
    assert "config/bad.yaml" in message and "server.replica" in message and "did you mean 'replicas'" in message


def test_wrong_type_names_the_key():
    assert "server.port" in config_error({"server": {"port": "http"}})


def test_bad_quantity_says_what_is_valid():
    message = config_error({"database": {"bundled": {"storage_size": "10 gigs"}}})
    assert "database.bundled.storage_size" in message and "512Mi" in message


def test_replicas_on_a_read_write_once_volume_is_refused():
    message = config_error({"server": {"replicas": 2}, "artifacts": {"type": "pvc"}})
    assert "ReadWriteMany" in message


def test_irsa_without_its_annotation_is_refused():
    message = config_error({"artifacts": {"type": "s3", "s3": {"bucket": "b", "credentials": "irsa"}}})
    assert "eks.amazonaws.com/role-arn" in message


def test_missing_backend_section_is_refused():
    assert "'s3' section is missing" in config_error({"artifacts": {"type": "s3"}})


def test_top_level_must_be_a_mapping():
    assert "mapping" in config_error(["not", "a", "mapping"])


def test_cloudnativepg_backups_to_the_bundled_minio_are_refused():
    message = config_error({"database": {"type": "cloudnativepg"}, "artifacts": {"type": "minio"}})
    assert "database.backup.object_store" in message and "database.backup.enabled: false" in message


def test_cloudnativepg_backups_with_pvc_artifacts_are_refused():
    message = config_error({"database": {"type": "cloudnativepg"}, "artifacts": {"type": "pvc"}})
    assert "database.backup.object_store" in message and "PVC artifacts are not an object store" in message


def test_backup_settings_for_an_external_database_are_refused():
    message = config_error({"database": {"type": "external", "backup": {"schedule": "0 1 * * *"}}})
    assert "database.backup" in message and "enabled: false" in message


def test_backup_setting_of_the_other_database_type_is_refused():
    message = config_error({"database": {"backup": {"retention": "7d"}}})
    assert "database.backup.retention" in message and "type 'bundled'" in message


def test_backup_retention_must_be_days_weeks_or_months():
    message = config_error({"database": {"type": "cloudnativepg", "backup": {"enabled": False, "retention": "30"}}})
    assert "database.backup.retention" in message and "30d" in message


def test_backup_upload_to_pvc_artifacts_is_refused():
    message = config_error({"database": {"backup": {"destination": "artifact-store"}}, "artifacts": {"type": "pvc"}})
    assert "database.backup.destination" in message and "destination: pvc" in message


def test_metrics_port_must_differ_from_the_servers():
    """The metrics container listens beside MLflow in one pod: the same port would fail one of them at start."""
    message = config_error({"metrics": {"enabled": True, "port": 5000}})
    assert "metrics.port" in message and "server.port" in message
