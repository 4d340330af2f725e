"""An environment file's deployment: the constructs of ``mlflow_constructs`` composed from one
:class:`~mlflow_constructs.config.Environment`, in the order ``kubectl apply`` needs (Namespace first).

This module is the only one that reads the whole environment; every construct gets its own section.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from cdk8s import App, Chart
from constructs import Construct

from mlflow_constructs.auth.basic import BasicAuth
from mlflow_constructs.auth.oauth2_proxy import OAuth2ProxyFront
from mlflow_constructs.auth.oidc import OidcAuth
from mlflow_constructs.config.environment import Environment
from mlflow_constructs.config.errors import ConfigError, required
from mlflow_constructs.database.access import DatabaseAccess
from mlflow_constructs.database.bundled import PASSWORD_KEY as POSTGRES_PASSWORD_KEY
from mlflow_constructs.database.bundled import BundledPostgres
from mlflow_constructs.database.cloudnativepg import CloudNativePgDatabase
from mlflow_constructs.database.cnpg_backup import PLUGIN as CNPG_BACKUP_PLUGIN
from mlflow_constructs.database.dumps import DumpUpload, PostgresDumps
from mlflow_constructs.database.external import ExternalDatabase
from mlflow_constructs.database.pre_upgrade import CnpgUpgradeBackups, PreUpgradeBackup
from mlflow_constructs.environment.extra_objects import ExtraObjects, refuse_taken_objects
from mlflow_constructs.environment.limits import refuse_names_kubernetes_refuses, refuse_oversized_data
from mlflow_constructs.environment.namespace import MlflowNamespace
from mlflow_constructs.k8s.naming import Naming
from mlflow_constructs.maintenance import MlflowGc, MlflowTraceArchival, TraceArchivalConfig
from mlflow_constructs.maintenance.task import ServerContext
from mlflow_constructs.maintenance.trace_archival import location_uri
from mlflow_constructs.network.ingress import routes_for
from mlflow_constructs.network.policies import Flow, NetworkPolicies
from mlflow_constructs.observability.service_monitor import MlflowServiceMonitor
from mlflow_constructs.secrets.generated import GENERATED, MINIO_ONLY, GeneratedCredentials
from mlflow_constructs.secrets.provider import SecretProvider
from mlflow_constructs.secrets.source import SecretSource
from mlflow_constructs.server.addon import NO_ADDON, ServerAddon
from mlflow_constructs.server.ai_gateway import ai_gateway_access
from mlflow_constructs.server.extra import extra_prerequisites
from mlflow_constructs.server.identity import MlflowServiceAccount
from mlflow_constructs.server.migration import MlflowMigration
from mlflow_constructs.server.pod import ServerPod, telemetry_settings
from mlflow_constructs.server.schema import SchemaScripts
from mlflow_constructs.server.server import MlflowServer
from mlflow_constructs.storage.access import ArtifactAccess
from mlflow_constructs.storage.azure import WORKLOAD_IDENTITY_LABEL, AzureArtifactStore
from mlflow_constructs.storage.gcs import GcsArtifactStore
from mlflow_constructs.storage.minio import MinioArtifactStore
from mlflow_constructs.storage.pvc import PvcArtifactStore
from mlflow_constructs.storage.s3 import S3ArtifactStore
from mlflow_constructs.version import VERSION, VERSION_LABEL

CNPG_STATUS_PORT = 8000


def naming_of(env: Environment) -> Naming:
    return Naming(
        base=env.name,
        namespace=env.namespace,
        cluster_domain=env.cluster_domain,
        extra_labels=tuple(sorted(env.labels.items())),
    )


def gateway_namespaces(env: Environment) -> list[str]:
    """The namespaces of the Gateways the HTTPRoute attaches to (a parent without one: the route's own)."""
    gateway = env.ingress.gateway
    parents = gateway.parent_refs if gateway else ()
    return sorted({parent.namespace or env.namespace for parent in parents})


def public_urls(env: Environment) -> list[str]:
    """``<scheme>://<host>`` of ``public_url`` first (the login callbacks derive from it), then of every ingress
    host, in the scheme clients use (``public_url``'s, else the route's)."""
    urls = [f"{url.scheme}://{url.netloc}" for url in [urlsplit(env.public_url)] if env.public_url]
    if env.ingress.enabled:
        urls += [f"{env.public_scheme}://{host}" for host in env.ingress.hosts]
    return list(dict.fromkeys(urls))


class MlflowEnvironment(Construct):
    """Everything one environment deploys. Objects are written in construct-tree order, so the Namespace
    and the Secret's provider get their places first and are filled in once every construct has said
    which Secret keys it reads (their ``secret_keys``)."""

    def __init__(self, scope: Construct, id: str, *, env: Environment) -> None:
        super().__init__(scope, id)
        naming = naming_of(env)
        namespace_slot = Construct(self, "namespace")
        secrets_slot = Construct(self, "secrets")
        secrets = SecretSource(env.secrets)
        account = MlflowServiceAccount(
            self, "identity", naming=naming, annotations=env.server.service_account_annotations
        )
        database = self._database(env, naming, secrets)
        backup_slot = Construct(self, "database-backup")  # output order: beside the database
        artifacts = self._artifacts(env, naming, secrets)
        dumps = self._dumps(backup_slot, env, naming, secrets, artifacts, account.name)
        identity_labels = dict(artifacts.pod_labels)
        if env.secrets.provider == "azure-key-vault":
            identity_labels |= WORKLOAD_IDENTITY_LABEL

        addon, oidc = self._auth(env, naming, secrets, database)
        pod = ServerPod(
            config=env.server,
            database=database,
            service_account=account.name,
            addon=addon,
            pod_labels=identity_labels,
            gateway=ai_gateway_access(env.server.ai_gateway, secrets),
        )
        scripts = SchemaScripts(self, "schema", naming=naming)
        migration = MlflowMigration(
            self,
            "migration",
            pod=pod,
            naming=naming,
            scripts=scripts,
            backup=self._upgrade_backup(env, naming, dumps),
        )
        archival = self._trace_archival_config(env, naming, artifacts)
        proxied = env.auth.mode == "oauth2-proxy"
        server = MlflowServer(
            self,
            "server",
            pod=pod,
            naming=naming,
            artifacts=artifacts,
            scripts=scripts,
            public_urls=public_urls(env),
            also_reachable_as=[OAuth2ProxyFront.service_name_for(naming)] if proxied else [],
            metrics=env.metrics,
            trace_archival=archival,
        )
        context = ServerContext(
            pod=pod, naming=naming, scripts=scripts, artifacts=artifacts, server_selector=server.selector
        )
        tasks = self._maintenance(env, context, archival)
        proxy = self._oauth2_proxy(env, naming, secrets, server)
        front = proxy or server
        proxy_keys, proxy_refs = (proxy.secret_keys, proxy.secret_refs) if proxy else ((), ())
        if env.ingress.enabled:
            routes_for(self, "ingress", config=env.ingress, naming=naming, backend=front)
        if env.metrics.enabled and env.metrics.service_monitor:
            MlflowServiceMonitor(self, "monitoring", config=env.metrics, naming=naming, server=server)
        if env.network_policies.enabled:
            flows = self._flows(env, server, front, migration, database, artifacts, oidc, dumps, tasks)
            NetworkPolicies(self, "network", naming=naming, flows=flows)

        keys = [*database.secret_keys, *artifacts.secret_keys, *addon.secret_keys, *server.secret_keys, *proxy_keys]
        generated = self._generated(env, secrets, keys)
        if generated:
            GeneratedCredentials(
                secrets_slot, "generated", naming=naming, image=env.server.image, secret=secrets.name, keys=generated
            )
        provider = SecretProvider(
            secrets_slot,
            "provider",
            source=secrets,
            naming=naming,
            keys=keys,
            refs=[*database.secret_refs, *artifacts.secret_refs, *addon.secret_refs, *proxy_refs],
            generated=list(generated),
        )
        MlflowNamespace(
            namespace_slot,
            "namespace",
            naming=naming,
            prerequisites=[
                *provider.prerequisites,
                *addon.plugin.prerequisites,
                *extra_prerequisites(env.server),
            ],
        )

    @staticmethod
    def _generated(env: Environment, secrets: SecretSource, keys: list[str]) -> dict[str, str]:
        """The Secret keys the keygen Job generates (Secret key -> format): those of ``keys`` (logical) that
        hold what the environment bundles, when ``secrets.generate`` is on (unset: on with provider
        ``existing-secret`` and a bundled PostgreSQL or MinIO)."""
        minio = env.artifacts.type == "minio"
        generate = env.secrets.generate
        if generate is None:
            generate = env.secrets.provider == "existing-secret" and (env.database.type == "bundled" or minio)
        generated = {
            secrets.ref(key).key: GENERATED[key]
            for key in keys
            if key in GENERATED and (minio or key not in MINIO_ONLY)
        }
        if generate and not generated:
            raise ConfigError(
                "secrets.generate: true, but this environment reads none of the values it can generate (bundled "
                f"stores' passwords, session and cookie secrets: {', '.join(GENERATED)}); remove it"
            )
        return generated if generate else {}

    def _auth(
        self, env: Environment, naming: Naming, secrets: SecretSource, database: DatabaseAccess
    ) -> tuple[ServerAddon, OidcAuth | None]:
        """What the auth mode adds to MLflow's pods, and the oidc plugin's construct (its Redis) in that mode."""
        if env.auth.mode == "basic":
            basic = BasicAuth(
                self,
                "basic-auth",
                config=env.auth.basic_settings,
                naming=naming,
                image=env.server.image,
                secrets=secrets,
                database=database,
            )
            return basic.addon, None
        if env.auth.mode == "oidc":
            oidc_config = required(env.auth.oidc, "auth.oidc")
            oidc = OidcAuth(
                self,
                "oidc-auth",
                config=oidc_config,
                naming=naming,
                secrets=secrets,
                database=database,
                redirect_uri=str(oidc_config.redirect_uri or f"{public_urls(env)[0]}/callback"),
                secure_cookies=bool(public_urls(env)) and env.public_scheme == "https",
                database_uri_from_plugin=self._uri_from_plugin(env),
            )
            return oidc.addon, oidc
        return NO_ADDON, None

    def _trace_archival_config(
        self, env: Environment, naming: Naming, artifacts: ArtifactAccess
    ) -> TraceArchivalConfig | None:
        """MLflow's trace archival config file, read by the server and the archival CronJob, when archival is on."""
        config = env.maintenance.trace_archival
        if not config.enabled:
            return None
        return TraceArchivalConfig(
            self,
            "trace-archival-config",
            config=config,
            naming=naming,
            location=config.location or location_uri(artifacts.destination),
        )

    def _maintenance(
        self, env: Environment, context: ServerContext, archival: TraceArchivalConfig | None
    ) -> list[dict[str, str]]:
        """The maintenance CronJobs; returns the selectors of their pods, admitted to the stores."""
        housekeeping = env.maintenance
        tasks: list[dict[str, str]] = []
        if housekeeping.gc.enabled:
            tasks.append(MlflowGc(self, "gc", config=housekeeping.gc, server=context).selector)
        if archival is not None:
            trace_archival = housekeeping.trace_archival
            tasks.append(
                MlflowTraceArchival(
                    self, "trace-archival", config=trace_archival, settings=archival, server=context
                ).selector
            )
        return tasks

    def _oauth2_proxy(
        self, env: Environment, naming: Naming, secrets: SecretSource, server: MlflowServer
    ) -> OAuth2ProxyFront | None:
        """OAuth2-Proxy in front of the server, in the oauth2-proxy mode."""
        if env.auth.mode != "oauth2-proxy":
            return None
        return OAuth2ProxyFront(
            self,
            "oauth2-proxy",
            config=required(env.auth.oauth2_proxy, "auth.oauth2_proxy"),
            naming=naming,
            secrets=secrets,
            upstream=server,
            public_url=next(iter(public_urls(env)), None),
        )

    def _database(self, env: Environment, naming: Naming, secrets: SecretSource) -> DatabaseAccess:
        db = env.database
        registry = db.registry.database
        if db.type == "bundled":
            return BundledPostgres(
                self,
                "database",
                config=db.bundled,
                naming=naming,
                secrets=secrets,
                database=db.name,
                auth_database=db.auth_name,
                registry_database=registry,
            ).access
        if db.type == "cloudnativepg":
            backed_up = env.backups_enabled
            return CloudNativePgDatabase(
                self,
                "database",
                config=db.cloudnativepg,
                naming=naming,
                database=db.name,
                auth_database=db.auth_name,
                registry_database=registry,
                secrets=secrets,
                backup=db.backup if backed_up else None,
                store=env.backup_object_store if backed_up else None,
                read_replica=db.read_replica.enabled,
            ).access
        return ExternalDatabase(
            self,
            "database",
            secrets=secrets,
            uri_from_plugin=self._uri_from_plugin(env),
            read_replica=db.read_replica.enabled,
            config=db.external,
            database=db.name,
            auth_database=db.auth_name,
            registry_database=registry,
        ).access

    @staticmethod
    def _uri_from_plugin(env: Environment) -> bool:
        """Whether the oidc plugin's providers (files, cloud) deliver the tracking store's URI: an external
        database's full URI, when the plugin's settings do not come as env vars."""
        db = env.database
        plugin_delivered = env.auth.mode == "oidc" and env.secrets.plugin_delivery != "env"
        return db.type == "external" and db.external is None and plugin_delivered

    @staticmethod
    def _dumps(
        scope: Construct,
        env: Environment,
        naming: Naming,
        secrets: SecretSource,
        artifacts: ArtifactAccess,
        service_account: str,
    ) -> PostgresDumps | None:
        """The bundled PostgreSQL's backup CronJob, when backups are on."""
        db = env.database
        if db.type != "bundled" or not env.backups_enabled:
            return None
        upload = None
        if db.backup.destination == "artifact-store":
            uri = required(env.dump_upload_uri, "database.backup.location")
            upload = DumpUpload(
                uri=uri,
                image=env.server.image,
                service_account=service_account,
                artifacts=artifacts,
                mlflow_env=telemetry_settings(env.server),
            )
        return PostgresDumps(
            scope,
            "dumps",
            config=db.backup,
            naming=naming,
            image=db.bundled.image,
            secrets=secrets,
            password_key=POSTGRES_PASSWORD_KEY,
            host=naming.component("postgresql").name,
            user=db.bundled.user,
            databases=tuple(name for name in (db.name, db.auth_name, db.registry.database) if name),
            upload=upload,
        )

    def _upgrade_backup(self, env: Environment, naming: Naming, dumps: PostgresDumps | None) -> PreUpgradeBackup:
        """What the migration Job backs up with before it migrates (see ``database/pre_upgrade.py``)."""
        confirmed = env.upgrade_backup_confirmed
        if dumps is not None:
            return dumps.pre_upgrade(confirmed=confirmed)
        if env.database.type == "cloudnativepg" and env.backups_enabled:
            return CnpgUpgradeBackups(
                self,
                "upgrade-backups",
                naming=naming,
                cluster=CloudNativePgDatabase.cluster_name_for(naming),
                plugin=CNPG_BACKUP_PLUGIN,
                confirmed=confirmed,
            ).backup
        return PreUpgradeBackup(confirmed=confirmed)

    def _artifacts(self, env: Environment, naming: Naming, secrets: SecretSource) -> ArtifactAccess:
        cfg = env.artifacts
        if cfg.type == "pvc":
            return PvcArtifactStore(self, "artifacts", config=cfg.pvc, naming=naming).access
        if cfg.type == "minio":
            return MinioArtifactStore(self, "artifacts", config=cfg.minio, naming=naming, secrets=secrets).access
        store = {"s3": S3ArtifactStore, "azure": AzureArtifactStore, "gcs": GcsArtifactStore}[cfg.type]
        return store(self, "artifacts", config=getattr(cfg, cfg.type), secrets=secrets, proxied=cfg.proxied).access

    @staticmethod
    def _flows(
        env: Environment,
        server: MlflowServer,
        front: MlflowServer | OAuth2ProxyFront,
        migration: MlflowMigration,
        database: DatabaseAccess,
        artifacts: ArtifactAccess,
        oidc: OidcAuth | None,
        dumps: PostgresDumps | None,
        tasks: list[dict[str, str]],
    ) -> list[Flow]:
        """The traffic each pod must accept, from the handles of the constructs that take part."""
        entry = "oauth2-proxy" if front is not server else "mlflow"
        admitted = env.network_policies.ingress_from_namespaces
        flows = [
            Flow(name=entry, to=front.selector, ports=(front.port_name,), sources=None, namespaces=admitted or None)
        ]
        if admitted and env.ingress.enabled and env.ingress.kind == "httproute":
            # The Gateways' namespaces, where their proxies usually run, next to the namespaces admitted anyway.
            flows += [
                Flow(
                    name=f"{entry}-from-{namespace}",
                    to=front.selector,
                    ports=(front.port_name,),
                    sources=None,
                    namespaces={"kubernetes.io/metadata.name": namespace},
                )
                for namespace in gateway_namespaces(env)
            ]
        if front is not server:
            flows.append(
                Flow(name="mlflow-from-proxy", to=server.selector, ports=(server.port_name,), sources=(front.selector,))
            )
        # Prometheus scrapes the pods' metrics port, and reaches nothing else of MLflow's through this flow.
        if server.metrics_port_name:
            flows.append(
                Flow(
                    name="metrics",
                    to=server.selector,
                    ports=(server.metrics_port_name,),
                    sources=None,
                    namespaces=env.metrics.scraper_namespace_labels,
                )
            )
        if database.pod_selector:
            flows.append(
                Flow(
                    name="postgresql",
                    to=database.pod_selector,
                    ports=(database.port,),
                    sources=(server.selector, migration.selector, *([dumps.selector] if dumps else []), *tasks),
                )
            )
            if database.operator_namespace:
                flows += [
                    Flow(
                        name="cnpg-operator",
                        to=database.pod_selector,
                        ports=(CNPG_STATUS_PORT, database.port),
                        sources=None,
                        namespaces={"kubernetes.io/metadata.name": database.operator_namespace},
                    ),
                    Flow(
                        name="cnpg-replication",
                        to=database.pod_selector,
                        ports=(database.port,),
                        sources=(database.pod_selector,),
                    ),
                ]
        if artifacts.store_selector and artifacts.store_port:
            flows.append(
                Flow(
                    name="minio",
                    to=artifacts.store_selector,
                    ports=(artifacts.store_port,),
                    sources=(server.selector, *artifacts.store_clients, *tasks),
                )
            )
        if oidc and oidc.redis:
            flows.append(
                Flow(name="redis", to=oidc.redis.selector, ports=(oidc.redis.port,), sources=(server.selector,))
            )
        return flows


class MlflowChart(Chart):
    """One environment as one chart (one ``dist/<env>.k8s.yaml``), namespaced to ``env.namespace``. A name or
    label value Kubernetes would refuse, here or in what its controllers make, or a ConfigMap over 1 MiB, is a
    :class:`ConfigError`."""

    def __init__(self, scope: Construct, id: str, *, env: Environment) -> None:
        labels = {VERSION_LABEL: VERSION}
        super().__init__(scope, id, namespace=env.namespace, labels=labels, disable_resource_name_hashes=True)
        MlflowEnvironment(self, "mlflow", env=env)
        ExtraObjects(self, "extra-objects", manifests=env.extra_objects)
        objects = self.to_json()
        refuse_taken_objects(objects)
        refuse_oversized_data(objects)
        refuse_names_kubernetes_refuses(env, objects, build=environment_objects)


def environment_objects(env: Environment) -> list[dict[str, Any]]:
    """``env``'s objects as manifests, built in an app of their own (nothing is checked or written)."""
    chart = Chart(App(), "environment", namespace=env.namespace, disable_resource_name_hashes=True)
    MlflowEnvironment(chart, "mlflow", env=env)
    return chart.to_json()
