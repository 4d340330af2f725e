"""What an environment deploys and needs, as Markdown with a Mermaid diagram, derived from its synthesized
objects alone (so it holds for any environment): ``python app.py explain <env>`` and
``docs/environments/<env>.md``."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlparse

from mlflow_constructs.k8s.naming import EXTRA_ENV_ANNOTATION, EXTRA_OBJECT_ANNOTATION, EXTRA_VOLUMES_ANNOTATION
from mlflow_constructs.review.facts import data_of, server_of
from mlflow_constructs.review.objects import (
    WORKLOAD_KINDS,
    Obj,
    annotations,
    component,
    containers,
    group_of,
    is_custom,
    key_of,
    operator_for,
    pod_labels,
    pod_template,
    prerequisites,
    run_once_prefix,
    secret_references,
    selector_matches,
)

POD_KINDS = (*WORKLOAD_KINDS, "Job")
OAUTH2_PROXY = "oauth2-proxy"  # the component label of the OAuth2-Proxy front
STORE_URI = "MLFLOW_BACKEND_STORE_URI"
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


# ---------------------------------------------------------------- reading the objects


def _of(objects: list[Obj], *kinds: str) -> list[Obj]:
    return [o for o in objects if o["kind"] in kinds]


def _name(obj: Obj) -> str:
    return obj["metadata"]["name"]


def _arg(container: Obj, flag: str) -> str | None:
    args = [*container.get("command", []), *container.get("args", [])]
    return args[args.index(flag) + 1] if flag in args and args.index(flag) + 1 < len(args) else None


def _env(container: Obj, name: str) -> Obj | None:
    return next((e for e in container.get("env", []) if e["name"] == name), None)


def _server(objects: list[Obj]) -> tuple[Obj, Obj] | None:
    """The MLflow server's Deployment (by its component label) and main container (its first)."""
    server = server_of(objects)
    return (server, pod_template(server)["spec"]["containers"][0]) if server else None


def _behind(service: Obj, objects: list[Obj]) -> list[Obj]:
    """Workloads (and CloudNativePG Clusters) whose pods a Service selects."""
    selector = service.get("spec", {}).get("selector") or {}
    return [o for o in objects if selector and selector_matches(selector, pod_labels(o))]


def _service_named(objects: list[Obj], host: str | None, namespace: str) -> Obj | None:
    if not host:
        return None
    parts = host.split(".")
    for service in _of(objects, "Service"):
        if parts[0] == _name(service) and (len(parts) == 1 or parts[1] == namespace):
            return service
    return None


def _below(host: str, path: str | None) -> str:
    """``host`` and the path a route matches there (nothing for the whole host)."""
    return host + (path or "/").rstrip("/")


def _origin_scheme(objects: list[Obj], host: str, route_scheme: str = "http(s)") -> str:
    """How clients reach ``host``: the scheme of that host among the server's allowed CORS origins (TLS at a
    Gateway listener or in front of the cluster is not in the output), else the route's own."""
    for config_map in _of(objects, "ConfigMap"):
        origins = (config_map.get("data") or {}).get("MLFLOW_SERVER_CORS_ALLOWED_ORIGINS", "")
        for origin in origins.split(","):
            if urlparse(origin).hostname == host:
                return urlparse(origin).scheme
    return route_scheme


def _routes(objects: list[Obj]) -> list[tuple[Obj, list[str], str, str, str | None]]:
    """(Ingress, IngressRoute or HTTPRoute, hosts with the path routed, scheme, backend Service, backend port)."""
    found = []
    for ingress in _of(objects, "Ingress"):
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
    for route in _of(objects, "IngressRoute"):
        spec = route.get("spec", {})
        scheme = "https" if spec.get("tls") else "http"
        for rule in spec.get("routes", []):
            hosts = re.findall(r"Host\(`([^`]+)`\)", rule.get("match", "")) or ["*"]
            path = next(iter(re.findall(r"Path(?:Prefix)?\(`([^`]+)`\)", rule.get("match", ""))), None)
            scheme_of = _origin_scheme(objects, hosts[0], scheme)  # one scheme for every host of a rule
            for service in rule.get("services", []):
                found.append((route, [_below(h, path) for h in hosts], scheme_of, service["name"], service.get("port")))
    for route in _of(objects, "HTTPRoute"):
        spec = route.get("spec", {})
        hosts = spec.get("hostnames") or ["*"]
        for rule in spec.get("rules", []):
            paths = [(m.get("path") or {}).get("value") for m in rule.get("matches") or [{}]]
            for backend in rule.get("backendRefs", []):
                for host in hosts:
                    where = [_below(host, path) for path in paths]
                    found.append((route, where, _origin_scheme(objects, host), backend["name"], backend.get("port")))
    return found


def _tls_secrets(objects: list[Obj]) -> list[tuple[Obj, str, list[str]]]:
    found = []
    for ingress in _of(objects, "Ingress"):
        for tls in ingress.get("spec", {}).get("tls", []):
            if tls.get("secretName"):
                found.append((ingress, tls["secretName"], tls.get("hosts", [])))
    for route in _of(objects, "IngressRoute"):
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


def _made_by(objects: list[Obj]) -> dict[str, str]:
    """Secret name -> what makes it in the cluster (objects of the output, or the operator they start)."""
    made = {}
    for obj in objects:
        kind, name = obj["kind"], _name(obj)
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


def _database_at(host: str | None, objects: list[Obj], namespace: str, users: tuple[Obj, ...]) -> Store:
    """The database behind a URI's host: a Service of the output, a CloudNativePG Cluster, or outside."""
    service = _service_named(objects, host, namespace)
    if service:
        behind = _behind(service, objects)
        what = ", ".join(f"{o['kind']} `{_name(o)}`" for o in behind) or f"Service `{_name(service)}`"
        extra = ""
        for cluster in behind:
            if cluster["kind"] == "Cluster":
                spec = cluster["spec"]
                extra = (
                    f", run by the CloudNativePG operator: {spec.get('instances', 1)} instance(s) of "
                    f"{spec.get('storage', {}).get('size', '?')} each"
                )
        return Store(f"PostgreSQL in {what} (Service `{_name(service)}`){extra}")
    for cluster in _of(objects, "Cluster"):  # CloudNativePG makes <cluster>-rw, -ro and -r Services itself
        if group_of(cluster) == "postgresql.cnpg.io" and (host or "").split(".")[0] in {
            f"{_name(cluster)}-{suffix}" for suffix in ("rw", "ro", "r")
        }:
            spec = cluster["spec"]
            return Store(
                f"PostgreSQL run by the CloudNativePG operator as Cluster `{_name(cluster)}` "
                f"({spec.get('instances', 1)} instance(s) of {spec.get('storage', {}).get('size', '?')} each, "
                f"reached through the operator's Service `{host}`)"
            )
    return Store(f"an external PostgreSQL at `{host}`", f"external PostgreSQL<br/>{host}", users)


def _database(objects: list[Obj], namespace: str) -> Store | None:
    users = tuple(
        o
        for o in _of(objects, *POD_KINDS)
        if any(_env(c, STORE_URI) for c in containers(o))
        or any(key == STORE_URI for _, key in secret_references(o))
        or any(e["name"].startswith(tuple(PLUGIN_PROVIDERS)) for c in containers(o) for e in c.get("env", []))
    )
    if not users:
        return None
    sources = [(c, _env(c, STORE_URI)) for o in users for c in containers(o)]
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
    mounted = next(((s, k) for o in users for s, k in secret_references(o) if k == STORE_URI), None)
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


def _artifacts(objects: list[Obj], server: Obj, container: Obj, namespace: str) -> Store | None:
    proxied = "--serve-artifacts" in container.get("args", [])
    destination = _arg(container, "--artifacts-destination" if proxied else "--default-artifact-root")
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
        pvc = next((p for p in _of(objects, "PersistentVolumeClaim") if _name(p) == claim), None)
        size = pvc["spec"]["resources"]["requests"]["storage"] if pvc else "?"
        where = f"PersistentVolumeClaim `{claim}` ({size})" if claim else "a volume"
        return Store(f"`{destination}` on {where}, {access}")
    endpoint = (_env(container, "MLFLOW_S3_ENDPOINT_URL") or {}).get("value")
    if endpoint:
        service = _service_named(objects, urlparse(endpoint).hostname, namespace)
        if service:
            behind = ", ".join(f"{o['kind']} `{_name(o)}`" for o in _behind(service, objects))
            return Store(f"`{destination}` on the in-cluster store {behind} (Service `{_name(service)}`), {access}")
    kind = STORE_KINDS.get(scheme, f"{scheme} store")
    at = f" at {endpoint}" if endpoint else ""
    return Store(f"the {kind} `{destination}`{at}, {access}", f"{kind}<br/>{destination}{at}", (server,))


# ---------------------------------------------------------------- the document


def _summary(name: str, objects: list[Obj], namespace: str) -> str:
    sentences = [f"`{name}` deploys {len(objects)} objects into Namespace `{namespace}`."]
    found = _server(objects)
    if found is None:
        return " ".join([*sentences, "No MLflow server Deployment was found in it."])
    server, container = found
    hpa = next(
        (h for h in _of(objects, "HorizontalPodAutoscaler") if h["spec"]["scaleTargetRef"]["name"] == _name(server)),
        None,
    )
    pods = (
        f"{hpa['spec'].get('minReplicas', 1)} to {hpa['spec']['maxReplicas']} pods (HorizontalPodAutoscaler)"
        if hpa
        else f"{server['spec'].get('replicas', 1)} pod{'s' if server['spec'].get('replicas', 1) != 1 else ''}"
    )
    command = container.get("command", [])
    app = _arg(container, "--app-name")
    if app == "basic-auth":
        login = "with MLflow's basic-auth login"
    elif app == "oidc-auth" or any("mlflow-oidc-server" in part for part in command):
        login = "with OIDC login through the mlflow-oidc-auth plugin"
    else:
        login = "with no login of its own"
    sentences.append(
        f"The MLflow server runs as {server['kind']} `{_name(server)}` ({pods}, image `{container['image']}`) {login}."
    )
    routes = _routes(objects)
    server_services = {_name(s) for s in _of(objects, "Service") if server in _behind(s, objects)}
    if routes:
        urls = sorted({f"{scheme}://{host}" for _, hosts, scheme, _, _ in routes for host in hosts})
        fronts = sorted({f"{r['kind']} `{_name(r)}`" for r, *_ in routes})
        sentence = f"It is reachable at {', '.join(urls)} through {', '.join(fronts)}"
        others = sorted({svc for *_, svc, _ in routes if svc not in server_services})
        for svc in others:
            service = next((s for s in _of(objects, "Service") if _name(s) == svc), None)
            behind = ", ".join(f"{o['kind']} `{_name(o)}`" for o in _behind(service, objects)) if service else ""
            proxy = service and any(component(o) == OAUTH2_PROXY for o in _behind(service, objects))
            front = "OAuth2-Proxy, which does the login" if proxy else "in front of the server"
            sentence += f", which sends traffic to Service `{svc}` ({behind}: {front})"
        sentences.append(sentence + ".")
    else:
        sentences.append(
            f"It has no Ingress: inside the cluster it is Service `{', '.join(sorted(server_services))}`; from a "
            "workstation, use `kubectl port-forward`."
        )
    database = _database(objects, namespace)
    if database:
        sentences.append(f"The tracking database is {database.summary}.")
    artifacts = _artifacts(objects, server, container, namespace)
    if artifacts:
        sentences.append(f"Artifacts go to {artifacts.summary}.")
    jobs = [o for o in _of(objects, "Job") if run_once_prefix(o)]
    if jobs:
        names = ", ".join(f"`{_name(j)}`" for j in jobs)
        sentences.append(
            f"Run-once Jobs ({names}) run as Argo CD hooks and get a new name whenever their pod template changes."
        )
    policies = _of(objects, "NetworkPolicy")
    if policies:
        deny = [p for p in policies if _is_default_deny(p)]
        allow = len(policies) - len(deny)
        flows = len(_flows(objects, _pods(objects))[0])
        sentence = (
            f"{len(policies)} NetworkPolicies: {allow} allow{'s' if allow == 1 else ''} {flows} "
            f"flow{'s' if flows != 1 else ''} into its pods (the thick arrows of the diagram)"
        )
        if deny:
            sentence += f", and {', '.join(f'`{_name(p)}`' for p in deny)} denies all other ingress"
        sentences.append(sentence + ".")
    else:
        sentences.append("It has no NetworkPolicies: every pod accepts traffic from anywhere in the cluster.")
    return " ".join(sentences)


def _deploys(objects: list[Obj]) -> list[str]:
    by_kind: dict[str, list[str]] = {}
    for obj in objects:
        by_kind.setdefault(f"{obj['kind']} ({obj['apiVersion']})", []).append(f"`{_name(obj)}`")
    lines = ["| kind | objects |", "| --- | --- |"]
    lines += [f"| {kind} | {', '.join(names)} |" for kind, names in by_kind.items()]
    return lines


def _needs(objects: list[Obj]) -> list[str]:
    lines: list[str] = []
    made = _made_by(objects)
    secrets: dict[str, dict[str | None, list[str]]] = {}
    for obj in _of(objects, *POD_KINDS, "CronJob"):
        for secret, key in secret_references(obj):
            readers = secrets.setdefault(secret, {}).setdefault(key, [])
            if f"{obj['kind']} `{_name(obj)}`" not in readers:
                readers.append(f"{obj['kind']} `{_name(obj)}`")
    lines += ["### Secrets the pods read", ""]
    if secrets:
        lines += ["| Secret | key | read by | provided by |", "| --- | --- | --- | --- |"]
        for secret in sorted(secrets):
            source = made.get(secret, "you: create it before applying")
            for key in sorted(secrets[secret], key=lambda k: k or ""):
                shown = f"`{key}`" if key else "(every key)"
                lines.append(f"| `{secret}` | {shown} | {', '.join(secrets[secret][key])} | {source} |")
    else:
        lines.append("None: no pod reads a Kubernetes Secret.")
    tls = _tls_secrets(objects)
    if tls:
        lines += ["", "### TLS certificates", ""]
        for route, secret, hosts in tls:
            lines.append(
                f"- Secret `{secret}` (type `kubernetes.io/tls`) for {', '.join(hosts) or 'the routes'} of "
                f"{route['kind']} `{_name(route)}`: create it, or have cert-manager issue it."
            )
    operators: dict[str, list[str]] = {}
    for obj in objects:
        if is_custom(obj):
            kinds = operators.setdefault(operator_for(obj), [])
            if f"{obj['kind']} ({obj['apiVersion']})" not in kinds:
                kinds.append(f"{obj['kind']} ({obj['apiVersion']})")
    lines += ["", "### Operators and CRDs", ""]
    lines += [f"- {op}: for {', '.join(kinds)}" for op, kinds in operators.items()] or [
        "None: every object is a built-in Kubernetes kind."
    ]
    cluster = []
    for ingress in _of(objects, "Ingress"):
        if ingress.get("spec", {}).get("ingressClassName"):
            cluster.append(
                f"- an ingress controller serving class `{ingress['spec']['ingressClassName']}` "
                f"(Ingress `{_name(ingress)}`)"
            )
    for route in _of(objects, "HTTPRoute"):
        for parent in route.get("spec", {}).get("parentRefs", []):
            listener = f", listener `{parent['sectionName']}`" if parent.get("sectionName") else ""
            namespace_of_route = key_of(route)[2]
            cluster.append(
                f"- Gateway `{parent.get('namespace', namespace_of_route)}/{parent['name']}`{listener}, admitting "
                f"routes from Namespace `{namespace_of_route}` (its `allowedRoutes`), for HTTPRoute `{_name(route)}`"
            )
    if _of(objects, "NetworkPolicy"):
        cluster.append("- a CNI that enforces NetworkPolicies (otherwise they are silently ignored)")
    for account in _of(objects, "ServiceAccount"):
        for annotation, text in CLOUD_IDENTITIES.items():
            if annotation in annotations(account):
                value = f"`{annotations(account)[annotation]}`"
                cluster.append(f"- ServiceAccount `{_name(account)}`: {text.format(value)}")
    if cluster:
        lines += ["", "### In the cluster and the cloud", "", *cluster]
    listed = [p for ns in _of(objects, "Namespace") for p in prerequisites(ns)]
    lines += ["", "### Listed in the Namespace annotation `mlflow-k8s/prerequisites`", ""]
    lines += [f"- `{p}`" for p in listed] or ["(empty)"]
    return lines


def _by_hand(objects: list[Obj]) -> list[str]:
    """What the config adds beyond what the model names (``server.extra_env``, ``extra_volumes``), as a section of
    its own."""
    lines = []
    for owner in _of(objects, *WORKLOAD_KINDS):
        names = [n for n in annotations(owner).get(EXTRA_ENV_ANNOTATION, "").split(",") if n]
        for container, name in ((c, n) for c in containers(owner) for n in names if _env(c, n)):
            var = _env(container, name) or {}
            refs = var.get("valueFrom") or {}
            kind, ref = (
                ("Secret", refs["secretKeyRef"])
                if "secretKeyRef" in refs
                else ("ConfigMap", refs.get("configMapKeyRef"))
            )
            shown = f"{kind} `{ref['name']}` key `{ref['key']}`" if ref else f"`{var.get('value', '')}`"
            lines.append(f"| {owner['kind']} `{_name(owner)}`, `{container['name']}` | env `{name}` | {shown} |")
        extra = [n for n in annotations(owner).get(EXTRA_VOLUMES_ANNOTATION, "").split(",") if n]
        volumes = {v["name"]: v for v in (pod_template(owner) or {}).get("spec", {}).get("volumes", [])}
        for name in (n for n in extra if n in volumes):
            source = next((key for key in volumes[name] if key != "name"), "?")
            where = [
                f"`{c['name']}`:{m['mountPath']}{' (read-only)' if m.get('readOnly') else ''}"
                for c in containers(owner)
                for m in c.get("volumeMounts", [])
                if m["name"] == name
            ]
            used = f"mounted at {', '.join(where)}" if where else "not mounted"
            lines.append(f"| {owner['kind']} `{_name(owner)}` | volume `{name}` ({source}) | {used} |")
    for obj in objects:
        if annotations(obj).get(EXTRA_OBJECT_ANNOTATION) == "true":
            lines.append(f"| `extra_objects` | {obj['kind']} `{_name(obj)}` | as written in the config |")
    if not lines:
        return []
    heading = [
        "## Set by hand (`server.extra_*`, `extra_objects`)",
        "",
        "| where | what | value |",
        "| --- | --- | --- |",
    ]
    return [*heading, *lines, ""]


# ---------------------------------------------------------------- the diagram


def _id(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", "_".join(parts))


def _label(text: str) -> str:
    return '"' + text.replace('"', "#quot;") + '"'


def _is_default_deny(policy: Obj) -> bool:
    spec = policy.get("spec", {})
    return not spec.get("podSelector") and "Ingress" in spec.get("policyTypes", []) and not spec.get("ingress")


def _pods_node(selector: dict, pods: list[Obj]) -> list[str]:
    """Node ids of the objects whose pods match a label selector."""
    labels = selector.get("matchLabels") or {}
    if selector.get("matchExpressions") or not labels:
        return []
    return [_node_id(o) for o in pods if selector_matches(labels, pod_labels(o))]


def _node_id(obj: Obj) -> str:
    return _id(obj["kind"].lower(), _name(obj))


def _selector_text(labels: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _ports(rule: Obj) -> str:
    ports = [str(p.get("port", "all")) for p in rule.get("ports", [])]
    return ", ".join(ports) or "all ports"


def _flows(objects: list[Obj], pods: list[Obj]) -> tuple[list[tuple[str, str, str]], dict[str, str]]:
    """(source node, target node, ports) of every ingress flow the NetworkPolicies allow, and the nodes they need
    beyond the environment's own pods (other namespaces, address blocks, unmatched selectors) -> declaration."""
    flows: list[tuple[str, str, str]] = []
    extra: dict[str, str] = {}
    for policy in _of(objects, "NetworkPolicy"):
        spec = policy["spec"]
        if _is_default_deny(policy):
            continue
        targets = _pods_node(spec.get("podSelector") or {}, pods)
        if not targets:
            labels = spec.get("podSelector", {}).get("matchLabels") or {}
            node = _id("pods", _selector_text(labels) or "all")
            extra[node] = f"{node}[{_label('pods ' + (_selector_text(labels) or '(all)'))}]"
            targets = [node]
        for rule in spec.get("ingress", []):
            sources: list[str] = []
            for peer in rule.get("from") or [None]:
                if peer is None:
                    extra["anywhere"] = f"anywhere[{_label('any pod, namespace or address')}]"
                    sources.append("anywhere")
                elif "ipBlock" in peer:
                    node = _id("cidr", peer["ipBlock"]["cidr"])
                    extra[node] = f"{node}[{_label(peer['ipBlock']['cidr'])}]"
                    sources.append(node)
                elif "namespaceSelector" in peer:
                    labels = (peer["namespaceSelector"] or {}).get("matchLabels") or {}
                    node = _id("namespaces", _selector_text(labels) or "all")
                    text = f"namespaces {_selector_text(labels)}" if labels else "all namespaces"
                    if peer.get("podSelector"):
                        text = f"pods {_selector_text(peer['podSelector'].get('matchLabels') or {})} in {text}"
                        node = _id(node, _selector_text(peer["podSelector"].get("matchLabels") or {}))
                    extra[node] = f"{node}[{_label(text)}]"
                    sources.append(node)
                else:
                    matched = _pods_node(peer.get("podSelector") or {}, pods)
                    if not matched:
                        labels = (peer.get("podSelector") or {}).get("matchLabels") or {}
                        node = _id("pods", _selector_text(labels) or "all")
                        extra[node] = f"{node}[{_label('pods ' + (_selector_text(labels) or '(all)'))}]"
                        matched = [node]
                    sources += matched
            flows += [(source, target, _ports(rule)) for source in sources for target in targets]
    return list(dict.fromkeys(flows)), extra


def _pods(objects: list[Obj]) -> list[Obj]:
    """The objects that run pods: workloads, Jobs, CronJobs, CloudNativePG Clusters."""
    return [
        o
        for o in objects
        if o["kind"] in (*POD_KINDS, "CronJob") or (group_of(o) == "postgresql.cnpg.io" and o["kind"] == "Cluster")
    ]


def _services_of(obj: Obj, objects: list[Obj]) -> list[Obj]:
    return [s for s in _of(objects, "Service") if obj in _behind(s, objects)]


def diagram(objects: list[Obj], namespace: str) -> list[str]:
    """A Mermaid flowchart: each workload a node (with the Services that select its pods), the routes in from
    outside, the flows the NetworkPolicies allow (with their ports) and the connections to external stores.

    Services are folded into the workloads they select rather than drawn as nodes of their own with an edge
    to each: that edge ran beside every flow into the same pods, and Mermaid drew some of them through
    unrelated boxes. A default-deny policy is said in the namespace's title, not as a free-floating box."""
    pods = _pods(objects)
    lines = ["```mermaid", "flowchart LR"]
    outside: list[str] = []
    inside: list[str] = []
    edges: list[str] = []
    node_of_service: dict[str, str] = {}
    for obj in pods:
        text = f"{obj['kind']} {_name(obj)}"
        if obj["kind"] == "Job" and run_once_prefix(obj):
            text += "<br/>run-once hook"
        for service in _services_of(obj, objects):
            ports = ", ".join(str(p["port"]) for p in service.get("spec", {}).get("ports", []))
            text += f"<br/>Service {_name(service)} :{ports}"
            node_of_service.setdefault(_name(service), _node_id(obj))
        if obj["kind"] == "Cluster":
            inside.append(f"    {_node_id(obj)}[({_label(text + '<br/>CloudNativePG')})]")
        else:
            inside.append(f"    {_node_id(obj)}[{_label(text)}]")
    for service in _of(objects, "Service"):  # a Service that selects none of the environment's pods
        if _name(service) not in node_of_service:
            ports = ", ".join(str(p["port"]) for p in service.get("spec", {}).get("ports", []))
            inside.append(f"    {_node_id(service)}([{_label(f'Service {_name(service)} :{ports}')}])")
            node_of_service[_name(service)] = _node_id(service)
    routes = _routes(objects)
    sources: list[str] = []  # where traffic comes from, outside the namespace
    if routes:
        sources.append(f"    clients(({_label('clients')}))")
    seen = set()
    for route, hosts, scheme, backend, port in routes:
        node = _node_id(route)
        if node not in seen:
            seen.add(node)
            urls = "<br/>".join(f"{scheme}://{h}" for h in hosts)
            text = _label(f"{route['kind']} {_name(route)}<br/>{urls}")
            inside.append(f"    {node}{{{{{text}}}}}")
            edges.append(f"  clients -->|{_label(scheme)}| {node}")
        if backend in node_of_service:
            edges.append(f"  {node} -->|{_label(f'{backend}:{port}')}| {node_of_service[backend]}")
    flows, extra = _flows(objects, pods)
    sources += [f"    {line}" for node, line in extra.items() if not node.startswith("pods_")]
    inside += [f"    {line}" for node, line in extra.items() if node.startswith("pods_")]
    edges += [f"  {source} ==>|{_label(ports)}| {target}" for source, target, ports in flows]
    database = _database(objects, namespace)
    if database and database.external_label:
        outside.append(f"  external_db[({_label(database.external_label)})]")
        edges += [f"  {_node_id(user)} -.->|{_label('SQL')}| external_db" for user in database.users]
    found = _server(objects)
    if found:
        artifacts = _artifacts(objects, *found, namespace)
        if artifacts and artifacts.external_label:
            outside.append(f"  artifact_store[({_label(artifacts.external_label)})]")
            edges += [f"  {_node_id(user)} -.->|{_label('artifacts')}| artifact_store" for user in artifacts.users]
            if "--serve-artifacts" not in found[1].get("args", []) and routes:
                edges.append(f"  clients -.->|{_label('artifacts, directly')}| artifact_store")
    if found:
        # Invisible links (layout only): batch pods (Jobs, CronJobs) take the column after the server, so the
        # server's arrows to the stores pass between them instead of through them.
        edges += [f"  {_node_id(found[0])} ~~~ {_node_id(o)}" for o in pods if o["kind"] in ("Job", "CronJob")]
    # ... and stores outside the namespace the column after those inside it.
    stores = [n for n in ("external_db", "artifact_store") if any(line.startswith(f"  {n}[") for line in outside)]
    edges += [f"  {_node_id(o)} ~~~ {store}" for o in pods if data_of(o) for store in stores]
    lines += _unique(outside)
    if sources:  # a column of their own, left of the namespace: their arrows never cross its title
        lines += [f"  subgraph outside[{_label('outside the namespace')}]", *_unique(sources), "  end"]
    lines.append(f"  subgraph {_id('ns', namespace)}[{_label(f'Namespace {namespace}')}]")
    lines += _unique(inside)
    lines.append("  end")
    lines += _unique(edges)
    lines.append("```")
    return lines


def _unique(lines: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(lines))


LEGEND = (
    "Each box is a workload, with the Services that select its pods. Thin arrows are routes in from outside "
    "(labelled Service:port), thick arrows the flows the NetworkPolicies allow (labelled with ports), dotted "
    "arrows connections to a store outside the namespace."
)


def explain_environment(name: str, objects: list[Obj], source: str | None = None) -> str:
    """The Markdown page of one environment."""
    namespace = next((_name(o) for o in objects if o["kind"] == "Namespace"), None) or next(
        (key_of(o)[2] for o in objects if key_of(o)[2]), "default"
    )
    origin = f" of `{source}`" if source else ""
    lines = [
        f"# Environment `{name}`",
        "",
        f"<!-- Generated by `python app.py explain --write` from the synthesized objects{origin}; do not edit. -->",
        "",
        _summary(name, objects, namespace),
        "",
        "## What it deploys",
        "",
        *_deploys(objects),
        "",
        "## What must exist first",
        "",
        *_needs(objects),
        "",
        *_by_hand(objects),
        "## Diagram",
        "",
        LEGEND,
        "",
        *diagram(objects, namespace),
    ]
    return "\n".join(lines) + "\n"
