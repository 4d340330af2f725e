"""One Chart per environment: composes the constructs in the order ``kubectl apply`` needs."""

from __future__ import annotations

from cdk8s import Chart
from constructs import Construct

from mlflow_constructs.artifacts import Artifacts
from mlflow_constructs.auth_basic import BasicAuth
from mlflow_constructs.auth_oauth2_proxy import OAuth2ProxyAuth, proxy_service_name
from mlflow_constructs.auth_oidc import OidcAuth
from mlflow_constructs.config import Environment
from mlflow_constructs.credentials import Credentials
from mlflow_constructs.database import POSTGRES_PORT, build_database
from mlflow_constructs.ingress import build_ingress
from mlflow_constructs.migration import MigrationJob
from mlflow_constructs.minio import MINIO_PORT
from mlflow_constructs.monitoring import MlflowServiceMonitor
from mlflow_constructs.namespace import Namespace
from mlflow_constructs.naming import Naming
from mlflow_constructs.network import Flow, NetworkPolicies
from mlflow_constructs.redis import REDIS_PORT
from mlflow_constructs.server import MlflowServer, MlflowServiceAccount, ServerExtras

AZURE_WORKLOAD_IDENTITY = {"azure.workload.identity/use": "true"}


class MlflowChart(Chart):
    """Everything one environment deploys, Namespace first."""

    def __init__(self, scope: Construct, id: str, *, env: Environment) -> None:
        super().__init__(scope, id, namespace=env.namespace, disable_resource_name_hashes=True)
        naming = Naming.of(env)
        namespace = Namespace(self, "namespace", naming=naming)
        credentials = Credentials(self, "credentials", config=env.secrets, naming=naming)
        account = MlflowServiceAccount(self, "identity", env=env, naming=naming)
        mode = env.auth.mode
        uri_via_plugin = mode == "oidc" and env.secrets.plugin_delivery != "env"
        database = build_database(self, env=env, naming=naming, credentials=credentials, uri_via_plugin=uri_via_plugin)
        artifacts = Artifacts(self, "artifacts", env=env, naming=naming, credentials=credentials).access
        identity_labels = dict(artifacts.pod_labels)
        if env.secrets.provider == "azure-key-vault":
            identity_labels |= AZURE_WORKLOAD_IDENTITY

        extras, migration_containers, migration_volumes = ServerExtras(), [], []
        oidc: OidcAuth | None = None
        if mode == "basic":
            basic = BasicAuth(self, "basic-auth", env=env, naming=naming, credentials=credentials, database=database)
            extras, migration_containers, migration_volumes = basic.extras, basic.migration_containers, basic.volumes
        elif mode == "oidc":
            oidc = OidcAuth(self, "oidc-auth", env=env, naming=naming, credentials=credentials, database=database)
            extras = oidc.extras

        migration = MigrationJob(
            self,
            "migration",
            env=env,
            naming=naming,
            database=database,
            extra_containers=migration_containers,
            extra_volumes=migration_volumes,
            plugin=extras.plugin,
            service_account=account.name,
            pod_labels=identity_labels,
        )
        proxy_name = proxy_service_name(naming) if mode == "oauth2-proxy" else None
        server = MlflowServer(
            self,
            "server",
            env=env,
            naming=naming,
            database=database,
            artifacts=artifacts,
            extras=extras,
            reachable_as=[proxy_name] if proxy_name else [],
            service_account=account.name,
            pod_labels=identity_labels,
        )
        front_service, front_port, front_selector = server.service_name, server.port_name, server.selector
        proxy: OAuth2ProxyAuth | None = None
        if mode == "oauth2-proxy":
            proxy = OAuth2ProxyAuth(
                self,
                "oauth2-proxy",
                env=env,
                naming=naming,
                credentials=credentials,
                upstream_service=server.service_name,
                upstream_port=server.port,
            )
            front_service, front_port, front_selector = proxy.service_name, proxy.port_name, proxy.selector
        if env.ingress.enabled:
            build_ingress(
                self,
                config=env.ingress,
                naming=naming,
                service=front_service,
                port_name=front_port,
                port=proxy.port if proxy else server.port,
            )
        if env.metrics.enabled and env.metrics.service_monitor:
            MlflowServiceMonitor(self, "monitoring", config=env.metrics, naming=naming, server=server)

        if env.network_policies.enabled:
            flows = [
                Flow(
                    name="oauth2-proxy" if proxy else "mlflow",
                    to=front_selector,
                    ports=(front_port,),
                    sources=None,
                    namespaces=env.network_policies.ingress_from_namespaces or None,
                )
            ]
            if proxy:
                flows.append(
                    Flow(
                        name="mlflow-from-proxy",
                        to=server.selector,
                        ports=(server.port_name,),
                        sources=(proxy.selector,),
                    )
                )
                if env.metrics.enabled:
                    flows.append(
                        Flow(
                            name="metrics",
                            to=server.selector,
                            ports=(server.port_name,),
                            sources=None,
                            namespaces=env.metrics.scraper_namespace_labels,
                        )
                    )
            if database.pod_selector:
                flows.append(
                    Flow(
                        name="postgresql",
                        to=database.pod_selector,
                        ports=(POSTGRES_PORT,),
                        sources=(server.selector, migration.selector),
                    )
                )
            if database.operator_namespace and database.pod_selector:
                flows += [
                    Flow(
                        name="cnpg-operator",
                        to=database.pod_selector,
                        ports=(8000, POSTGRES_PORT),
                        sources=None,
                        namespaces={"kubernetes.io/metadata.name": database.operator_namespace},
                    ),
                    Flow(
                        name="cnpg-replication",
                        to=database.pod_selector,
                        ports=(POSTGRES_PORT,),
                        sources=(database.pod_selector,),
                    ),
                ]
            if artifacts.store_selector:
                flows.append(
                    Flow(
                        name="minio",
                        to=artifacts.store_selector,
                        ports=(MINIO_PORT,),
                        sources=(server.selector, naming.selector("minio-bucket")),
                    )
                )
            if oidc and oidc.redis:
                flows.append(
                    Flow(name="redis", to=oidc.redis.selector, ports=(REDIS_PORT,), sources=(server.selector,))
                )
            NetworkPolicies(self, "network", naming=naming, flows=flows)
        namespace.finalize(credentials.finalize())
