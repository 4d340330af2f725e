"""What every pod of the MLflow image needs, whether it serves or migrates: the handle that
``MlflowServer`` and ``MlflowMigration`` share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cdk8s_plus_27 import k8s

from mlflow_constructs.config.server import Server
from mlflow_constructs.database.access import DatabaseAccess
from mlflow_constructs.k8s.pods import TMP_MOUNT, env_values
from mlflow_constructs.server.addon import NO_ADDON, ServerAddon
from mlflow_constructs.server.ai_gateway import AiGatewayAccess

# MLflow's usage telemetry switches (`import mlflow` starts its client): either turns it off.
TELEMETRY_OFF = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


def telemetry_settings(config: Server) -> dict[str, str]:
    """Env for every container that runs MLflow: telemetry off unless ``server.telemetry``."""
    return {} if config.telemetry else dict(TELEMETRY_OFF)


def workspace_settings(config: Server) -> dict[str, str]:
    """Env for the server, its plugin and the schema scripts: ``MLFLOW_ENABLE_WORKSPACES`` when workspaces are on
    (the variable ``mlflow server``, the oidc plugin and MLflow's stores all read)."""
    return {"MLFLOW_ENABLE_WORKSPACES": "true"} if config.workspaces.enabled else {}


@dataclass(frozen=True)
class ServerPod:
    """The image and resources (``config``), the database, the auth ``addon``, the AI ``gateway`` and the
    identity (``service_account``, extra ``pod_labels`` such as workload identity) of MLflow's pods."""

    config: Server
    database: DatabaseAccess
    service_account: str
    addon: ServerAddon = NO_ADDON
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    gateway: AiGatewayAccess = field(default_factory=AiGatewayAccess)

    @property
    def schema_stores(self) -> tuple[str, ...]:
        """The Alembic histories the image migrates: MLflow's tracking store, its model registry's when that has a
        database of its own, plus the auth mode's."""
        registry = ("registry",) if self.database.registry_store else ()
        store = self.addon.schema.store
        return ("tracking", *registry, *((store,) if store else ()))

    def schema_env(self) -> list[k8s.EnvVar]:
        """What the schema scripts need to find every store (see ``server/schema.py``)."""
        plugin = self.addon.plugin
        settings = {
            "SCHEMA_STORES": " ".join(self.schema_stores),
            **telemetry_settings(self.config),
            **workspace_settings(self.config),
        }
        if plugin.loads_providers:
            settings["LOAD_PLUGIN_PROVIDERS"] = "true"
        return [*self.database.env, *plugin.env, *self.addon.schema.env, *env_values(settings)]

    def schema_mounts(self) -> list[k8s.VolumeMount]:
        return [TMP_MOUNT, *self.addon.plugin.mounts, *self.addon.schema.mounts]
