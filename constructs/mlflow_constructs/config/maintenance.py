"""Config of MLflow's housekeeping: ``mlflow gc`` as a CronJob."""

from __future__ import annotations

from pydantic import Field

from mlflow_constructs.config.base import Model, Resources, resources_of
from mlflow_constructs.config.types import CronSchedule, GcAge


class GarbageCollection(Model):
    """``mlflow gc``: permanently deletes what users deleted (runs, experiments, logged models) and their
    artifacts."""

    enabled: bool = False
    """Run `mlflow gc` as the CronJob `<name>-gc`. Off by default: it makes permanent the deletions MLflow
    otherwise keeps restorable (a deleted run can be restored until gc removes it, then only from a backup
    taken before), so when deleted means gone is a retention decision of yours."""
    schedule: CronSchedule = "30 4 * * *"
    """When, in UTC: a 5-field cron expression (default daily at 04:30, after the database backup)."""
    older_than: GcAge = "30d"
    """`--older-than`: only what was deleted longer ago than this (days, hours, minutes, seconds: `30d`, `1d12h`)."""
    resources: Resources = Field(default_factory=lambda: resources_of("50m", "512Mi", "1", "1536Mi"))
    """Container resources: `mlflow gc` and, for proxied artifacts, an artifacts-only `mlflow server` on loopback
    (two MLflow processes, ~250 MB each)."""


class Maintenance(Model):
    """Scheduled housekeeping, each a CronJob of the server image with the server's credentials."""

    gc: GarbageCollection = Field(default_factory=GarbageCollection)
    """`mlflow gc` (see README, "Maintenance")."""
