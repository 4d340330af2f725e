"""Scheduled housekeeping of the MLflow image: ``mlflow gc``."""

from mlflow_constructs.maintenance.gc import MlflowGc

__all__ = ["MlflowGc"]
