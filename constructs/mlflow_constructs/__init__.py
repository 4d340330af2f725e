"""MLflow on Kubernetes as cdk8s constructs.

Compose them in your own chart, each with the config section it needs (see the README, "Use as a
library")::

    from mlflow_constructs import MlflowServer, S3ArtifactStore, SecretSource, ...

Every construct exposes the handles others wire to (``service_name``, ``port_name``, ``selector``,
``access``, ``addon``, ``secret_keys``), so a name is written once. Importing a construct starts the cdk8s
runtime (node); the names below are loaded on first use, so ``mlflow_constructs.config`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> module that defines it
_EXPORTS = {
    # config
    "ConfigError": "mlflow_constructs.config",
    "Environment": "mlflow_constructs.config",
    "load_environment": "mlflow_constructs.config",
    "parse_environment": "mlflow_constructs.config",
    # shared
    "Naming": "mlflow_constructs.k8s.naming",
    "SecretRef": "mlflow_constructs.k8s.pods",
    # secrets
    "SecretSource": "mlflow_constructs.secrets.source",
    "SecretProvider": "mlflow_constructs.secrets.provider",
    "ExternalSecretProvider": "mlflow_constructs.secrets.external_secrets",
    "SealedSecretProvider": "mlflow_constructs.secrets.sealed_secrets",
    # databases
    "DatabaseAccess": "mlflow_constructs.database.access",
    "BundledPostgres": "mlflow_constructs.database.bundled",
    "CloudNativePgDatabase": "mlflow_constructs.database.cloudnativepg",
    "ExternalDatabase": "mlflow_constructs.database.external",
    "PostgresDumps": "mlflow_constructs.database.dumps",
    "DumpUpload": "mlflow_constructs.database.dumps",
    "CnpgBackup": "mlflow_constructs.database.cnpg_backup",
    "PreUpgradeBackup": "mlflow_constructs.database.pre_upgrade",
    "CnpgUpgradeBackups": "mlflow_constructs.database.pre_upgrade",
    # artifact stores
    "ArtifactAccess": "mlflow_constructs.storage.access",
    "PvcArtifactStore": "mlflow_constructs.storage.pvc",
    "S3ArtifactStore": "mlflow_constructs.storage.s3",
    "MinioArtifactStore": "mlflow_constructs.storage.minio",
    "AzureArtifactStore": "mlflow_constructs.storage.azure",
    "GcsArtifactStore": "mlflow_constructs.storage.gcs",
    # server
    "MlflowServer": "mlflow_constructs.server.server",
    "MlflowServiceAccount": "mlflow_constructs.server.identity",
    "MlflowMigration": "mlflow_constructs.server.migration",
    "SchemaScripts": "mlflow_constructs.server.schema",
    "SchemaAddon": "mlflow_constructs.server.addon",
    "ServerAddon": "mlflow_constructs.server.addon",
    "ServerPod": "mlflow_constructs.server.pod",
    "ai_gateway_access": "mlflow_constructs.server.ai_gateway",
    # auth
    "BasicAuth": "mlflow_constructs.auth.basic",
    "OidcAuth": "mlflow_constructs.auth.oidc",
    "OAuth2ProxyFront": "mlflow_constructs.auth.oauth2_proxy",
    "BundledRedis": "mlflow_constructs.auth.redis",
    # network and monitoring
    "KubernetesIngress": "mlflow_constructs.network.ingress",
    "TraefikIngressRoute": "mlflow_constructs.network.ingress",
    "GatewayHttpRoute": "mlflow_constructs.network.ingress",
    "NetworkPolicies": "mlflow_constructs.network.policies",
    "Flow": "mlflow_constructs.network.policies",
    "MlflowServiceMonitor": "mlflow_constructs.observability.service_monitor",
    # a whole environment
    "MlflowNamespace": "mlflow_constructs.environment.namespace",
    "MlflowEnvironment": "mlflow_constructs.environment.chart",
    "MlflowChart": "mlflow_constructs.environment.chart",
}

__all__ = [
    "ArtifactAccess",
    "AzureArtifactStore",
    "BasicAuth",
    "BundledPostgres",
    "BundledRedis",
    "CloudNativePgDatabase",
    "CnpgBackup",
    "CnpgUpgradeBackups",
    "ConfigError",
    "DatabaseAccess",
    "DumpUpload",
    "Environment",
    "ExternalDatabase",
    "ExternalSecretProvider",
    "Flow",
    "GatewayHttpRoute",
    "GcsArtifactStore",
    "KubernetesIngress",
    "MinioArtifactStore",
    "MlflowChart",
    "MlflowEnvironment",
    "MlflowMigration",
    "MlflowNamespace",
    "MlflowServer",
    "MlflowServiceAccount",
    "MlflowServiceMonitor",
    "Naming",
    "NetworkPolicies",
    "OAuth2ProxyFront",
    "OidcAuth",
    "PostgresDumps",
    "PreUpgradeBackup",
    "PvcArtifactStore",
    "S3ArtifactStore",
    "SchemaAddon",
    "SchemaScripts",
    "SealedSecretProvider",
    "SecretProvider",
    "SecretRef",
    "SecretSource",
    "ServerAddon",
    "ServerPod",
    "TraefikIngressRoute",
    "ai_gateway_access",
    "load_environment",
    "parse_environment",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mlflow_constructs' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


if TYPE_CHECKING:  # pragma: no cover - for editors and type checkers only
    from mlflow_constructs.auth.basic import BasicAuth
    from mlflow_constructs.auth.oauth2_proxy import OAuth2ProxyFront
    from mlflow_constructs.auth.oidc import OidcAuth
    from mlflow_constructs.auth.redis import BundledRedis
    from mlflow_constructs.config import ConfigError, Environment, load_environment, parse_environment
    from mlflow_constructs.database.access import DatabaseAccess
    from mlflow_constructs.database.bundled import BundledPostgres
    from mlflow_constructs.database.cloudnativepg import CloudNativePgDatabase
    from mlflow_constructs.database.cnpg_backup import CnpgBackup
    from mlflow_constructs.database.dumps import DumpUpload, PostgresDumps
    from mlflow_constructs.database.external import ExternalDatabase
    from mlflow_constructs.database.pre_upgrade import CnpgUpgradeBackups, PreUpgradeBackup
    from mlflow_constructs.environment.chart import MlflowChart, MlflowEnvironment
    from mlflow_constructs.environment.namespace import MlflowNamespace
    from mlflow_constructs.k8s.naming import Naming
    from mlflow_constructs.k8s.pods import SecretRef
    from mlflow_constructs.network.ingress import GatewayHttpRoute, KubernetesIngress, TraefikIngressRoute
    from mlflow_constructs.network.policies import Flow, NetworkPolicies
    from mlflow_constructs.observability.service_monitor import MlflowServiceMonitor
    from mlflow_constructs.secrets.external_secrets import ExternalSecretProvider
    from mlflow_constructs.secrets.provider import SecretProvider
    from mlflow_constructs.secrets.sealed_secrets import SealedSecretProvider
    from mlflow_constructs.secrets.source import SecretSource
    from mlflow_constructs.server.addon import SchemaAddon, ServerAddon
    from mlflow_constructs.server.ai_gateway import ai_gateway_access
    from mlflow_constructs.server.identity import MlflowServiceAccount
    from mlflow_constructs.server.migration import MlflowMigration
    from mlflow_constructs.server.pod import ServerPod
    from mlflow_constructs.server.schema import SchemaScripts
    from mlflow_constructs.server.server import MlflowServer
    from mlflow_constructs.storage.access import ArtifactAccess
    from mlflow_constructs.storage.azure import AzureArtifactStore
    from mlflow_constructs.storage.gcs import GcsArtifactStore
    from mlflow_constructs.storage.minio import MinioArtifactStore
    from mlflow_constructs.storage.pvc import PvcArtifactStore
    from mlflow_constructs.storage.s3 import S3ArtifactStore
