"""What an environment is made of, read from its synthesized objects alone (so it holds for any environment):
the server and its login, the routes in, the stores the pods use, who makes each Secret, the pods and the flows
between them. ``explain`` writes it up as Markdown and ``diagram`` draws it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlparse

from mlflow_constructs.review.facts import REGISTRY_STORE, TRACKING_STORE, server_of
from mlflow_constructs.review.objects import (
    WORKLOAD_KINDS,
    Obj,
    containers,
    group_of,
    pod_labels,
    pod_template,
    secret_references,
    selector_matches,
)

POD_KINDS = (*WORKLOAD_KINDS, "Job")
OAUTH2_PROXY = "oauth2-proxy"  # the component label of the OAuth2-Proxy front
PLUGIN_PROVIDERS = {
    "CONFIG_AWS_SECRETS_": "AWS Secrets Manager",
    "CONFIG_AWS_PARAMETER_STORE_": "AWS Parameter Store",
    "CONFIG_AZURE_KEYVAULT_": "Azure Key Vault",
    "CONFIG_VAULT_": "HashiCorp Vault",
    "CONFIG_K8S_SECRETS_": "files mounted from a Secret",
}
CLOUD_IDENTITIES = {
    "eks.amazonaws.com/role-arn": "the IAM role {} must trust this ServiceAccount (IRSA)",
    "azure.workload.identity/client-id": "the Azure identity {} must have a federated credential for this "
    "ServiceAccount (workload identity)",
    "iam.gke.io/gcp-service-account": "the Google service account {} must allow this ServiceAccount "
    "(workload identity)",
}
STORE_KINDS = {"s3": "S3 bucket", "wasbs": "Azure Blob container", "abfss": "Azure storage", "gs": "GCS bucket"}


def of_kind(objects: list[Obj], *kinds: str) -> list[Obj]:
    return [o for o in objects if o["kind"] in kinds]


def name_of(obj: Obj) -> str:
    return obj["metadata"]["name"]


def arg_of(container: Obj, flag: str) -> str | None:
    args = [*container.get("command", []), *container.get("args", [])]
    return args[args.index(flag) + 1] if flag in args and args.index(flag) + 1 < len(args) else None


def env_of(container: Obj, name: str) -> Obj | None:
    return next((e for e in container.get("env", []) if e["name"] == name), None)


def server_and_container(objects: list[Obj]) -> tuple[Obj, Obj] | None:
    """The MLflow server's Deployment (by its component label) and main container (its first)."""
    server = server_of(objects)
    return (server, pod_template(server)["spec"]["containers"][0]) if server else None


def selected_by(service: Obj, objects: list[Obj]) -> list[Obj]:
    """Workloads (and CloudNativePG Clusters) whose pods a Service selects."""
    selector = service.get("spec", {}).get("selector") or {}
    return [o for o in objects if selector and selector_matches(selector, pod_labels(o))]


def service_named(objects: list[Obj], host: str | None, namespace: str) -> Obj | None:
    if not host:
        return None
    parts = host.split(".")
    for service in of_kind(objects, "Service"):
        if parts[0] == name_of(service) and (len(parts) == 1 or parts[1] == namespace):
            return service
    return None


def _below(host: str, path: str | None) -> str:
    """``host`` and the path a route matches there (nothing for the whole host)."""
    return host + (path or "/").rstrip("/")


def _origin_scheme(objects: list[Obj], host: str, route_scheme: str = "http(s)") -> str:
    """How clients reach ``host``: the scheme of that host among the server's allowed CORS origins (TLS at a
    Gateway listener or in front of the cluster is not in the output), else the route's own."""
    for config_map in of_kind(objects, "ConfigMap"):
        origins = (config_map.get("data") or {}).get("MLFLOW_SERVER_CORS_ALLOWED_ORIGINS", "")
        for origin in origins.split(","):
            if urlparse(origin).hostname == host:
                return urlparse(origin).scheme
    return route_scheme


def routes_into(objects: list[Obj]) -> list[tuple[Obj, list[str], str, str, str | None]]:
    """(Ingress, IngressRoute or HTTPRoute, hosts with the path routed, scheme, backend Service, backend port)."""
    found = []
    for ingress in of_kind(objects, "Ingress"):
        spec = ingress.get("spec", {})
        scheme = "https" if spec.get("tls") else "http"
        for rule in spec.get("rules", []):
            for path in rule.get("http", {}).get("paths", []):
                backend = path["backend"]["service"]
                port = backend.get("port", {})
                host = rule.get("host", "*")
                where = [_below(host, path.get("path"))]
                scheme_of = _origin_scheme(objects, host, scheme)
                found.append((ingress, where, scheme_of, backend["name"], port.get("name", port.get("number"))))
    for route in of_kind(objects, "IngressRoute"):
        spec = route.get("spec", {})
        scheme = "https" if spec.get("tls") else "http"
        for rule in spec.get("routes", []):
            hosts = re.findall(r"Host\(`([^`]+)`\)", rule.get("match", "")) or ["*"]
            path = next(iter(re.findall(r"Path(?:Prefix)?\(`([^`]+)`\)", rule.get("match", ""))), None)
            scheme_of = _origin_scheme(objects, hosts[0], scheme)  # one scheme for every host of a rule
            for service in rule.get("services", []):
                found.append((route, [_below(h, path) for h in hosts], scheme_of, service["name"], service.get("port")))
    for route in of_kind(objects, "HTTPRoute"):
        spec = route.get("spec", {})
        hosts = spec.get("hostnames") or ["*"]
        for rule in spec.get("rules", []):
            paths = [(m.get("path") or {}).get("value") for m in rule.get("matches") or [{}]]
            for backend in rule.get("backendRefs", []):
                for host in hosts:
                    where = [_below(host, path) for path in paths]
                    found.append((route, where, _origin_scheme(objects, host), backend["name"], backend.get("port")))
    return found


def tls_secrets(objects: list[Obj]) -> list[tuple[Obj, str, list[str]]]:
    found = []
    for ingress in of_kind(objects, "Ingress"):
        for tls in ingress.get("spec", {}).get("tls", []):
            if tls.get("secretName"):
                found.append((ingress, tls["secretName"], tls.get("hosts", [])))
    for route in of_kind(objects, "IngressRoute"):
        tls = route.get("spec", {}).get("tls") or {}
        if tls.get("secretName"):
            hosts = sorted(
                {
                    h
                    for r in route["spec"].get("routes", [])
                    for h in re.findall(r"Host\(`([^`]+)`\)", r.get("match", ""))
                }
            )
            found.append((route, tls["secretName"], hosts))
    return found


def secret_makers(objects: list[Obj]) -> dict[str, str]:
    """Secret name -> what makes it in the cluster (objects of the output, or the operator they start)."""
    made = {}
    for obj in objects:
        kind, name = obj["kind"], name_of(obj)
        if kind == "ExternalSecret":
            store = obj["spec"].get("secretStoreRef", {})
            target = (obj["spec"].get("target") or {}).get("name") or name
            made[target] = f"ExternalSecret `{name}` (from {store.get('kind', 'SecretStore')} `{store.get('name')}`)"
        elif kind == "SealedSecret":
            made[name] = f"SealedSecret `{name}` (its sealed values are in the output)"
        elif kind == "Secret":
            made[name] = f"Secret `{name}` in the output"
        elif group_of(obj) == "postgresql.cnpg.io" and kind == "Cluster":
            made[f"{name}-app"] = f"the CloudNativePG operator (Cluster `{name}`)"
    return made


@dataclass
class Store:
    """A data store the pods use: in this environment (``node`` is one of its objects) or outside it."""

    summary: str
    external_label: str | None = None  # a node of its own in the diagram
    users: tuple[Obj, ...] = ()
    proxied: bool = True  # served through the MLflow server; False: clients reach it directly


def _database_at(host: str | None, objects: list[Obj], namespace: str, users: tuple[Obj, ...]) -> Store:
    """The database behind a URI's host: a Service of the output, a CloudNativePG Cluster, or outside."""
    service = service_named(objects, host, namespace)
    if service:
        behind = selected_by(service, objects)
        what = ", ".join(f"{o['kind']} `{name_of(o)}`" for o in behind) or f"Service `{name_of(service)}`"
        extra = ""
        for cluster in behind:
            if cluster["kind"] == "Cluster":
                spec = cluster["spec"]
                extra = (
                    f", run by the CloudNativePG operator: {spec.get('instances', 1)} instance(s) of "
                    f"{spec.get('storage', {}).get('size', '?')} each"
                )
        return Store(f"PostgreSQL in {what} (Service `{name_of(service)}`){extra}")
    for cluster in of_kind(objects, "Cluster"):  # CloudNativePG makes <cluster>-rw, -ro and -r Services itself
        if group_of(cluster) == "postgresql.cnpg.io" and (host or "").split(".")[0] in {
            f"{name_of(cluster)}-{suffix}" for suffix in ("rw", "ro", "r")
        }:
            spec = cluster["spec"]
            return Store(
                f"PostgreSQL run by the CloudNativePG operator as Cluster `{name_of(cluster)}` "
                f"({spec.get('instances', 1)} instance(s) of {spec.get('storage', {}).get('size', '?')} each, "
                f"reached through the operator's Service `{host}`)"
            )
    return Store(f"an external PostgreSQL at `{host}`", f"external PostgreSQL<br/>{host}", users)


def registry_database(container: Obj) -> str | None:
    """Where the server's model registry lives when not in the tracking database (``MLFLOW_REGISTRY_STORE_URI``
    set apart from ``MLFLOW_BACKEND_STORE_URI``), in words; None when it shares the tracking database."""
    registry, tracking = env_of(container, REGISTRY_STORE), env_of(container, TRACKING_STORE)
    if registry is None or tracking is None or registry.get("value", registry) == tracking.get("value", tracking):
        return None
    if "value" in registry:
        uri = urlparse(registry["value"])
        return f"database `{uri.path.lstrip('/')}` on `{uri.hostname}`"
    ref = registry.get("valueFrom", {}).get("secretKeyRef", {})
    return f"the database whose URI is in Secret `{ref.get('name')}` (key `{ref.get('key')}`)"


def database_store(objects: list[Obj], namespace: str) -> Store | None:
    users = tuple(
        o
        for o in of_kind(objects, *POD_KINDS)
        if any(env_of(c, TRACKING_STORE) for c in containers(o))
        or any(key == TRACKING_STORE for _, key in secret_references(o))
        or any(e["name"].startswith(tuple(PLUGIN_PROVIDERS)) for c in containers(o) for e in c.get("env", []))
    )
    if not users:
        return None
    sources = [(c, env_of(c, TRACKING_STORE)) for o in users for c in containers(o)]
    literal = next((e["value"] for _, e in sources if e and "value" in e), None)
    if literal:
        return _database_at(urlparse(literal).hostname, objects, namespace, users)
    ref = next(
        (e["valueFrom"]["secretKeyRef"] for _, e in sources if e and "secretKeyRef" in e.get("valueFrom", {})), None
    )
    if ref:
        where = f"Secret {ref['name']}, key {ref['key']}"
        return Store(
            f"an external PostgreSQL whose URI is in Secret `{ref['name']}` (key `{ref['key']}`)",
            f"external PostgreSQL<br/>URI from {where}",
            users,
        )
    mounted = next(((s, k) for o in users for s, k in secret_references(o) if k == TRACKING_STORE), None)
    if mounted:
        return Store(
            f"an external PostgreSQL whose URI is mounted as a file from Secret `{mounted[0]}` (key `{mounted[1]}`)",
            f"external PostgreSQL<br/>URI from Secret {mounted[0]}",
            users,
        )
    names = {e["name"] for o in users for c in containers(o) for e in c.get("env", [])}
    provider = next(
        (p for prefix, p in PLUGIN_PROVIDERS.items() if any(n.startswith(prefix) for n in names)), "its provider"
    )
    return Store(
        f"an external PostgreSQL whose URI the oidc plugin reads from {provider}",
        f"external PostgreSQL<br/>URI from {provider}",
        users,
    )


def artifact_store(objects: list[Obj], server: Obj, container: Obj, namespace: str) -> Store | None:
    proxied = "--serve-artifacts" in container.get("args", [])
    destination = arg_of(container, "--artifacts-destination" if proxied else "--default-artifact-root")
    if not destination:
        return None
    access = (
        "served through the MLflow server (clients never reach the store)"
        if proxied
        else ("not proxied: clients read and write it directly, with their own credentials")
    )
    scheme = urlparse(destination).scheme
    if not scheme:  # a path: a mounted volume
        mount = max(
            (m for m in container.get("volumeMounts", []) if destination.startswith(m["mountPath"])),
            key=lambda m: len(m["mountPath"]),
            default=None,
        )
        volume = next(
            (v for v in pod_template(server)["spec"].get("volumes", []) if mount and v["name"] == mount["name"]), {}
        )
        claim = volume.get("persistentVolumeClaim", {}).get("claimName")
        pvc = next((p for p in of_kind(objects, "PersistentVolumeClaim") if name_of(p) == claim), None)
        size = pvc["spec"]["resources"]["requests"]["storage"] if pvc else "?"
        where = f"PersistentVolumeClaim `{claim}` ({size})" if claim else "a volume"
        return Store(f"`{destination}` on {where}, {access}")
    endpoint = (env_of(container, "MLFLOW_S3_ENDPOINT_URL") or {}).get("value")
    if endpoint:
        service = service_named(objects, urlparse(endpoint).hostname, namespace)
        if service:
            behind = ", ".join(f"{o['kind']} `{name_of(o)}`" for o in selected_by(service, objects))
            return Store(f"`{destination}` on the in-cluster store {behind} (Service `{name_of(service)}`), {access}")
    kind = STORE_KINDS.get(scheme, f"{scheme} store")
    at = f" at {endpoint}" if endpoint else ""
    return Store(f"the {kind} `{destination}`{at}, {access}", f"{kind}<br/>{destination}{at}", (server,), proxied)


LOGINS = {"basic-auth": "basic-auth", "oidc-auth": "oidc"}


def login_of(container: Obj) -> str | None:
    """The login the server does itself, from its own command line (``--app-name``, or the oidc plugin's
    ``mlflow-oidc-server`` entry point): ``basic-auth``, ``oidc`` or none."""
    if any("mlflow-oidc-server" in part for part in container.get("command", [])):
        return "oidc"
    return LOGINS.get(arg_of(container, "--app-name") or "")


def is_default_deny(policy: Obj) -> bool:
    spec = policy.get("spec", {})
    return not spec.get("podSelector") and "Ingress" in spec.get("policyTypes", []) and not spec.get("ingress")


def pod_runners(objects: list[Obj]) -> list[Obj]:
    """The objects that run pods: workloads, Jobs, CronJobs, CloudNativePG Clusters."""
    return [
        o
        for o in objects
        if o["kind"] in (*POD_KINDS, "CronJob") or (group_of(o) == "postgresql.cnpg.io" and o["kind"] == "Cluster")
    ]


def services_of(obj: Obj, objects: list[Obj]) -> list[Obj]:
    return [s for s in of_kind(objects, "Service") if obj in selected_by(s, objects)]
