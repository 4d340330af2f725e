"""What every pod of the MLflow image needs, whether it serves or migrates: the handle that
``MlflowServer`` and ``MlflowMigration`` share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mlflow_constructs.config.server import Server
from mlflow_constructs.database.access import DatabaseAccess
from mlflow_constructs.server.addon import NO_ADDON, ServerAddon

# MLflow's usage telemetry switches (`import mlflow` starts its client): either turns it off.
TELEMETRY_OFF = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


def telemetry_settings(config: Server) -> dict[str, str]:
    """Env for every container that runs MLflow: telemetry off unless ``server.telemetry``."""
    return {} if config.telemetry else dict(TELEMETRY_OFF)


@dataclass(frozen=True)
class ServerPod:
    """The image and resources (``config``), the database, the auth ``addon`` and the identity
    (``service_account``, extra ``pod_labels`` such as workload identity) of MLflow's pods."""

    config: Server
    database: DatabaseAccess
    service_account: str
    addon: ServerAddon = NO_ADDON
    pod_labels: Mapping[str, str] = field(default_factory=dict)
