"""One Chart per environment: composes the constructs in the order ``kubectl apply`` needs."""

from __future__ import annotations

from cdk8s import Chart
from constructs import Construct

from mlflow_constructs.artifacts import Artifacts
from mlflow_constructs.config import Environment
from mlflow_constructs.credentials import Credentials
from mlflow_constructs.database import POSTGRES_PORT, DatabaseAccess, build_database
from mlflow_constructs.ingress import KubernetesIngress
from mlflow_constructs.migration import MigrationJob
from mlflow_constructs.minio import MINIO_PORT
from mlflow_constructs.namespace import Namespace
from mlflow_constructs.naming import Naming
from mlflow_constructs.network import Flow, NetworkPolicies
from mlflow_constructs.server import MlflowServer, ServerExtras


class MlflowChart(Chart):
    """Everything one environment deploys, Namespace first."""

    def __init__(self, scope: Construct, id: str, *, env: Environment) -> None:
        super().__init__(scope, id, namespace=env.namespace, disable_resource_name_hashes=True)
        naming = Naming.of(env)
        namespace = Namespace(self, "namespace", naming=naming)
        credentials = Credentials(self, "credentials", config=env.secrets)
        database: DatabaseAccess = build_database(self, env=env, naming=naming, credentials=credentials)
        artifacts = Artifacts(self, "artifacts", env=env, naming=naming, credentials=credentials).access
        migration = MigrationJob(self, "migration", env=env, naming=naming, database=database)
        server = MlflowServer(
            self,
            "server",
            env=env,
            naming=naming,
            database=database,
            artifacts=artifacts,
            extras=ServerExtras(),
            reachable_as=[],
        )
        if env.ingress.enabled:
            KubernetesIngress(
                self, "ingress", config=env.ingress, naming=naming, service=server.service_name, port_name=server.port_name
            )
        if env.network_policies.enabled:
            flows = [
                Flow(
                    name="mlflow",
                    to=server.selector,
                    port=server.port_name,
                    sources=None,
                    namespaces=env.network_policies.ingress_from_namespaces or None,
                )
            ]
            if database.pod_selector:
                flows.append(
                    Flow(
                        name="postgresql",
                        to=database.pod_selector,
                        port=POSTGRES_PORT,
                        sources=(server.selector, migration.selector),
                    )
                )
            if artifacts.store_selector:
                flows.append(
                    Flow(
                        name="minio",
                        to=artifacts.store_selector,
                        port=MINIO_PORT,
                        sources=(server.selector, naming.selector("minio-bucket")),
                    )
                )
            NetworkPolicies(self, "network", naming=naming, flows=flows)
        namespace.declare_prerequisites([*credentials.prerequisites, *database.prerequisites])
