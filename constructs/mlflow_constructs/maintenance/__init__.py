"""Scheduled housekeeping of the MLflow image: ``mlflow gc`` and trace archival."""

from mlflow_constructs.maintenance.gc import MlflowGc
from mlflow_constructs.maintenance.trace_archival import MlflowTraceArchival, TraceArchivalConfig

__all__ = ["MlflowGc", "MlflowTraceArchival", "TraceArchivalConfig"]
