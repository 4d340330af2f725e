"""Each construct works alone in a bare chart with its own props (no environment file), and its handles
are what others wire to."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cdk8s
from constructs import Construct
from helpers import container, env_of, find, find_all

from mlflow_constructs import (
    BundledPostgres,
    ExternalDatabase,
    GatewayHttpRoute,
    KubernetesIngress,
    MinioArtifactStore,
    MlflowServer,
    MlflowServiceMonitor,
    Naming,
    OAuth2ProxyFront,
    S3ArtifactStore,
    SchemaScripts,
    SecretProvider,
    SecretSource,
    ServerAddon,
    ServerPod,
)
from mlflow_constructs.config import (
    BundledPostgres as BundledPostgresConfig,
)
from mlflow_constructs.config import (
    Gateway,
    GatewayParent,
    Ingress,
    Metrics,
    MinioArtifacts,
    OAuth2Proxy,
    S3Artifacts,
    Secrets,
    Server,
)
from mlflow_constructs.review.objects import load_documents
from mlflow_constructs.server.addon import NO_ADDON
from mlflow_constructs.server.ai_gateway import ai_gateway_access

NAMING = Naming(base="tracking", namespace="team")
SECRETS = SecretSource(Secrets(name="team-credentials"))
PROXY = OAuth2Proxy(issuer_url="https://sso.example.com/realms/ml", client_id="mlflow", allowed_groups=["ml"])


def objects_of(build: Callable[[Construct], Any], tmp_path) -> list[dict[str, Any]]:
    """The manifests a bare chart holds after ``build(chart)``."""
    app = cdk8s.App(outdir=str(tmp_path))
    build(cdk8s.Chart(app, "bare", namespace=NAMING.namespace, disable_resource_name_hashes=True))
    return load_documents(app.synth_yaml())


def server_on_s3(
    scope: Construct, config: Server | None = None, addon: ServerAddon = NO_ADDON, metrics: Metrics | None = None
) -> MlflowServer:
    database = ExternalDatabase(scope, "db", secrets=SECRETS).access
    config = config or Server()
    gateway = ai_gateway_access(config.ai_gateway, SECRETS)
    pod = ServerPod(config=config, database=database, service_account="tracking", addon=addon, gateway=gateway)
    return MlflowServer(
        scope,
        "server",
        pod=pod,
        naming=NAMING,
        artifacts=S3ArtifactStore(scope, "s3", config=S3Artifacts(bucket="b"), secrets=SECRETS).access,
        metrics=metrics,
        scripts=SchemaScripts(scope, "schema", naming=NAMING),
    )


def test_server_service_targets_its_named_port(tmp_path):
    """The Service, the probes and anything fronting the server meet at one port name."""
    handles = {}

    def build(chart):
        handles["server"] = server_on_s3(chart)

    objs = objects_of(build, tmp_path)
    server = handles["server"]
    port = find(objs, "Service", server.service_name)["spec"]["ports"][0]
    assert port == {"name": server.port_name, "port": server.port, "targetPort": server.port_name}
    assert {"name": server.port_name, "containerPort": server.port} in container(
        find(objs, "Deployment", "tracking"), "mlflow"
    )["ports"]


def test_secret_references_use_the_sources_secret_and_key_names(tmp_path):
    """A store reads the Secret it is given, under the key names that Secret's config spells."""
    server = container(find(objects_of(server_on_s3, tmp_path), "Deployment", "tracking"), "mlflow")
    assert env_of(server)["AWS_ACCESS_KEY_ID"] == {
        "secretKeyRef": {"name": "team-credentials", "key": "s3-access-key-id"}
    }


def test_stores_declare_the_secret_keys_they_read(tmp_path):
    """A provider is built from these declarations, so each must list every key the pods read."""
    handles = {}

    def build(chart):
        handles["s3"] = S3ArtifactStore(chart, "s3", config=S3Artifacts(bucket="b"), secrets=SECRETS)
        handles["minio"] = MinioArtifactStore(chart, "minio", config=MinioArtifacts(), naming=NAMING, secrets=SECRETS)

    objs = objects_of(build, tmp_path)
    referenced = {
        e["valueFrom"]["secretKeyRef"]["key"]
        for o in find_all(objs, "StatefulSet") + find_all(objs, "Job")
        for c in o["spec"]["template"]["spec"]["containers"]
        for e in c.get("env", [])
        if "valueFrom" in e
    }
    declared = SECRETS.key_names([*handles["s3"].access.secret_keys, *handles["minio"].access.secret_keys])
    assert referenced <= set(declared)
    assert set(SECRETS.key_names(handles["s3"].access.secret_keys)) == {"s3-access-key-id", "s3-secret-access-key"}


def test_external_secret_provides_exactly_the_declared_keys(tmp_path):
    """The ExternalSecret's data is the union of what the consumers declared, no more, no less."""
    source = SecretSource(
        Secrets(
            provider="external-secrets",
            name="team-credentials",
            external_secrets={
                "store_ref": {"name": "vault"},
                "remote_refs": {k: {"key": f"ml/{k}"} for k in ("database-uri", "postgres-password", "unused")},
            },
        )
    )

    def build(chart):
        SecretProvider(chart, "secrets", source=source, naming=NAMING, keys=["database_uri", "postgres_password"])

    external = find(objects_of(build, tmp_path), "ExternalSecret", "team-credentials")
    assert [d["secretKey"] for d in external["spec"]["data"]] == ["database-uri", "postgres-password"]


def test_bundled_postgres_gives_pods_the_password_by_reference(tmp_path):
    """``access`` is all a pod needs: a password-less URI and PGPASSWORD from the Secret."""
    handles = {}

    def build(chart):
        handles["db"] = BundledPostgres(
            chart,
            "db",
            config=BundledPostgresConfig(),
            naming=NAMING,
            secrets=SECRETS,
            database="runs",
            auth_database="runs_auth",
        )

    objects_of(build, tmp_path)
    env = {e.name: e for e in handles["db"].access.env}
    assert env["MLFLOW_BACKEND_STORE_URI"].value == "postgresql+psycopg2://mlflow@tracking-postgresql:5432/runs"
    assert env["PGPASSWORD"].value_from.secret_key_ref.key == "postgres-password"


def test_proxy_forwards_to_its_upstream_service(tmp_path):
    """``upstream`` is wired by object: the proxy's --upstream is the server's Service and port."""

    def build(chart):
        OAuth2ProxyFront(chart, "front", config=PROXY, naming=NAMING, secrets=SECRETS, upstream=server_on_s3(chart))

    proxy = container(find(objects_of(build, tmp_path), "Deployment", "tracking-oauth2-proxy"), "oauth2-proxy")
    assert "--upstream=http://tracking:5000/" in proxy["args"]


def test_ingress_routes_to_the_backend_it_is_given(tmp_path):
    def build(chart):
        server = server_on_s3(chart)
        proxy = OAuth2ProxyFront(chart, "front", config=PROXY, naming=NAMING, secrets=SECRETS, upstream=server)
        KubernetesIngress(
            chart, "ingress", config=Ingress(enabled=True, hosts=["ml.example.com"]), naming=NAMING, backend=proxy
        )

    rule = find(objects_of(build, tmp_path), "Ingress", "tracking")["spec"]["rules"][0]
    assert rule["http"]["paths"][0]["backend"] == {
        "service": {"name": "tracking-oauth2-proxy", "port": {"name": "http"}}
    }


def test_service_monitor_scrapes_the_servers_metrics_port_and_labels(tmp_path):
    """The ServiceMonitor takes the server's metrics port name and Service labels by object."""

    def build(chart):
        metrics = Metrics(enabled=True)
        server = server_on_s3(chart, metrics=metrics)
        MlflowServiceMonitor(chart, "metrics", config=metrics, naming=NAMING, server=server)

    objs = objects_of(build, tmp_path)
    monitor = find(objs, "ServiceMonitor", "tracking")["spec"]
    service = find(objs, "Service", "tracking")
    assert monitor["endpoints"][0]["port"] == "metrics"
    assert "metrics" in {port["name"] for port in service["spec"]["ports"]}
    assert monitor["selector"]["matchLabels"] == service["metadata"]["labels"]


def test_http_route_and_proxy_follow_the_servers_path_prefix(tmp_path):
    """``path_prefix`` is wired by object like the Service and port: a proxy in front of a server under
    ``/ml`` forwards that path, and the HTTPRoute given the proxy matches it."""

    def build(chart):
        server = server_on_s3(chart, Server(static_prefix="/ml"))
        proxy = OAuth2ProxyFront(chart, "front", config=PROXY, naming=NAMING, secrets=SECRETS, upstream=server)
        assert server.path_prefix == proxy.path_prefix == "/ml"
        gateway = Gateway(parent_refs=[GatewayParent(name="shared", namespace="gateway-system")])
        config = Ingress(enabled=True, kind="httproute", hosts=["ml.example.com"], gateway=gateway)
        GatewayHttpRoute(chart, "route", config=config, naming=NAMING, backend=proxy)

    objs = objects_of(build, tmp_path)
    (rule,) = find(objs, "HTTPRoute", "tracking")["spec"]["rules"]
    assert rule == {
        "matches": [{"path": {"type": "PathPrefix", "value": "/ml"}}],
        "backendRefs": [{"name": "tracking-oauth2-proxy", "port": 80}],
    }
    assert (
        "--upstream=http://tracking:5000/ml/"
        in container(find(objs, "Deployment", "tracking-oauth2-proxy"), "oauth2-proxy")["args"]
    )


def test_plugin_probes_stay_where_the_plugin_mounts_them(tmp_path):
    """``--static-prefix`` moves MLflow's routes only: an addon whose health routes are the plugin's own
    (``probes_follow_static_prefix=False``, as the oidc plugin's /health/*) keeps its probe paths."""
    plugin = ServerAddon(
        liveness_path="/health/live",
        readiness_path="/health/ready",
        startup_path="/health/startup",
        probes_follow_static_prefix=False,
    )

    def build(chart):
        server_on_s3(chart, Server(static_prefix="/ml"), plugin)

    server = container(find(objects_of(build, tmp_path), "Deployment", "tracking"), "mlflow")
    assert [server[p]["httpGet"]["path"] for p in ("startupProbe", "livenessProbe", "readinessProbe")] == [
        "/health/startup",
        "/health/live",
        "/health/ready",
    ]
