"""Config of MLflow's housekeeping: ``mlflow gc`` and server-owned trace archival, each as a CronJob."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from mlflow_constructs.config.base import Model, Resources, resources_of
from mlflow_constructs.config.types import CronSchedule, GcAge, TraceRetention

ArchiveLocation = Annotated[
    str,
    Field(pattern=r"^(s3|gs|wasbs|abfss|file)://[^\s]+$"),
]


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


class TraceArchival(Model):
    """MLflow 3.17's server-owned trace archival: span payloads of old traces move from the database to the
    artifact store, where the server still reads them."""

    enabled: bool = False
    """Archive traces older than `retention`: the server gets `--trace-archival-config` and the CronJob
    `<name>-trace-archival` runs MLflow's archival pass. Off by default, as in MLflow."""
    retention: TraceRetention = "30d"
    """How long span payloads stay in the database (`<n>m`, `<n>h` or `<n>d`); older traces are archived. An
    experiment's tag `mlflow.trace.archivalRetention` overrides it."""
    location: ArchiveLocation | None = None
    """Where archived payloads go, a store URI the server can read with its credentials (`s3://`, `gs://`,
    `wasbs://`, `file://`); none: the artifacts' own store (their `--artifacts-destination`), under
    `<experiment id>/traces/<trace id>/`, beside each experiment's artifacts and readable like them."""
    long_retention_experiments: tuple[Annotated[str, Field(pattern=r"^[0-9]+$")], ...] = ()
    """Experiment ids whose traces are never archived by the global `retention` (`long_retention_allowlist`)."""
    max_traces_per_pass: int | None = Field(None, ge=1)
    """At most this many traces per pass (none: all that are due)."""
    schedule: CronSchedule = "15 * * * *"
    """When the archival pass runs, in UTC (default hourly)."""
    resources: Resources = Field(default_factory=lambda: resources_of("50m", "384Mi", "1", "1536Mi"))
    """Container resources of the archival pass."""


class Maintenance(Model):
    """Scheduled housekeeping, each a CronJob of the server image with the server's credentials."""

    gc: GarbageCollection = Field(default_factory=GarbageCollection)
    """`mlflow gc` (see README, "Maintenance")."""
    trace_archival: TraceArchival = Field(default_factory=TraceArchival)
    """Trace archival to the artifact store (see README, "Maintenance")."""
