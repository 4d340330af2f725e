"""The typed config of an environment (``config/<env>.yaml``) and its sections.

Constructs take the section they need (``Server``, ``Database``, ``OAuth2Proxy``, ...), never the whole
:class:`Environment`; only the front end (:mod:`mlflow_constructs.environment.chart`) reads that.
"""

from mlflow_constructs.config.artifacts import (
    Artifacts,
    AzureArtifacts,
    GcsArtifacts,
    MinioArtifacts,
    PvcArtifacts,
    S3Artifacts,
)
from mlflow_constructs.config.auth import Auth, BasicAuth, OAuth2Proxy, Oidc, RedisCache
from mlflow_constructs.config.base import Image, Model, ResourceList, Resources, resources_of
from mlflow_constructs.config.database import BundledPostgres, CloudNativePg, Database
from mlflow_constructs.config.environment import Environment
from mlflow_constructs.config.errors import ConfigError
from mlflow_constructs.config.loading import load_environment, parse_environment
from mlflow_constructs.config.network import Gateway, GatewayParent, Ingress, NetworkPolicies, Tls
from mlflow_constructs.config.secrets import SecretKeys, Secrets
from mlflow_constructs.config.server import Autoscaling, Metrics, Server

__all__ = [
    "Artifacts",
    "Auth",
    "Autoscaling",
    "AzureArtifacts",
    "BasicAuth",
    "BundledPostgres",
    "CloudNativePg",
    "ConfigError",
    "Database",
    "Environment",
    "Gateway",
    "GatewayParent",
    "GcsArtifacts",
    "Image",
    "Ingress",
    "Metrics",
    "MinioArtifacts",
    "Model",
    "NetworkPolicies",
    "OAuth2Proxy",
    "Oidc",
    "PvcArtifacts",
    "RedisCache",
    "ResourceList",
    "Resources",
    "S3Artifacts",
    "SecretKeys",
    "Secrets",
    "Server",
    "Tls",
    "load_environment",
    "parse_environment",
    "resources_of",
]
