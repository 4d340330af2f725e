"""What an environment deploys and needs, as a Markdown page with its diagram: ``python app.py explain <env>``
and ``docs/environments/<env>.md``. The facts come from ``topology``, the diagram from ``diagram``."""

from __future__ import annotations

from mlflow_constructs.k8s.naming import EXTRA_ENV_ANNOTATION, EXTRA_OBJECT_ANNOTATION, EXTRA_VOLUMES_ANNOTATION
from mlflow_constructs.review.diagram import LEGEND, allowed_flows, diagram
from mlflow_constructs.review.objects import (
    WORKLOAD_KINDS,
    Obj,
    annotations,
    component,
    containers,
    generated_keys,
    is_custom,
    key_of,
    operator_for,
    pod_template,
    prerequisites,
    run_once_prefix,
    secret_references,
)
from mlflow_constructs.review.topology import (
    CLOUD_IDENTITIES,
    OAUTH2_PROXY,
    POD_KINDS,
    artifact_store,
    database_store,
    env_of,
    is_default_deny,
    login_of,
    name_of,
    of_kind,
    pod_runners,
    registry_database,
    routes_into,
    secret_makers,
    selected_by,
    server_and_container,
    tls_secrets,
)


def _summary(name: str, objects: list[Obj], namespace: str) -> str:
    sentences = [f"`{name}` deploys {len(objects)} objects into Namespace `{namespace}`."]
    found = server_and_container(objects)
    if found is None:
        return " ".join([*sentences, "No MLflow server Deployment was found in it."])
    server, container = found
    sentences += [_server_sentence(objects, server, container), _reach_sentence(objects, server)]
    database = database_store(objects, namespace)
    if database:
        sentences.append(f"The tracking database is {database.summary}.")
    registry = registry_database(container)
    if registry:
        sentences.append(f"The model registry is in a database of its own: {registry}.")
    artifacts = artifact_store(objects, server, container, namespace)
    if artifacts:
        sentences.append(f"Artifacts go to {artifacts.summary}.")
    jobs = [o for o in of_kind(objects, "Job") if run_once_prefix(o)]
    if jobs:
        names = ", ".join(f"`{name_of(j)}`" for j in jobs)
        sentences.append(
            f"Run-once Jobs ({names}) run as Argo CD hooks and get a new name whenever their pod template changes."
        )
    sentences.append(_policies_sentence(objects))
    return " ".join(sentences)


def _server_sentence(objects: list[Obj], server: Obj, container: Obj) -> str:
    """The server's workload, pod count, image and login."""
    hpa = next(
        (
            h
            for h in of_kind(objects, "HorizontalPodAutoscaler")
            if h["spec"]["scaleTargetRef"]["name"] == name_of(server)
        ),
        None,
    )
    pods = (
        f"{hpa['spec'].get('minReplicas', 1)} to {hpa['spec']['maxReplicas']} pods (HorizontalPodAutoscaler)"
        if hpa
        else f"{server['spec'].get('replicas', 1)} pod{'s' if server['spec'].get('replicas', 1) != 1 else ''}"
    )
    login = {
        "basic-auth": "with MLflow's basic-auth login",
        "oidc": "with OIDC login through the mlflow-oidc-auth plugin",
    }.get(login_of(container) or "", "with no login of its own")
    return (
        f"The MLflow server runs as {server['kind']} `{name_of(server)}` ({pods}, image `{container['image']}`) "
        f"{login}."
    )


def _reach_sentence(objects: list[Obj], server: Obj) -> str:
    """Where users reach the server: its URLs and what stands in front of it, or its Service."""
    routes = routes_into(objects)
    server_services = {name_of(s) for s in of_kind(objects, "Service") if server in selected_by(s, objects)}
    if not routes:
        return (
            f"It has no Ingress: inside the cluster it is Service `{', '.join(sorted(server_services))}`; from a "
            "workstation, use `kubectl port-forward`."
        )
    urls = sorted({f"{scheme}://{host}" for _, hosts, scheme, _, _ in routes for host in hosts})
    fronts = sorted({f"{r['kind']} `{name_of(r)}`" for r, *_ in routes})
    sentence = f"It is reachable at {', '.join(urls)} through {', '.join(fronts)}"
    others = sorted({svc for *_, svc, _ in routes if svc not in server_services})
    for svc in others:
        service = next((s for s in of_kind(objects, "Service") if name_of(s) == svc), None)
        behind = ", ".join(f"{o['kind']} `{name_of(o)}`" for o in selected_by(service, objects)) if service else ""
        proxy = service and any(component(o) == OAUTH2_PROXY for o in selected_by(service, objects))
        front = "OAuth2-Proxy, which does the login" if proxy else "in front of the server"
        sentence += f", which sends traffic to Service `{svc}` ({behind}: {front})"
    return sentence + "."


def _policies_sentence(objects: list[Obj]) -> str:
    """The NetworkPolicies: how many flows they allow and which one denies the rest."""
    policies = of_kind(objects, "NetworkPolicy")
    if not policies:
        return "It has no NetworkPolicies: every pod accepts traffic from anywhere in the cluster."
    deny = [p for p in policies if is_default_deny(p)]
    allow = len(policies) - len(deny)
    flows = len(allowed_flows(objects, pod_runners(objects))[0])
    sentence = (
        f"{len(policies)} NetworkPolicies: {allow} allow{'s' if allow == 1 else ''} {flows} "
        f"flow{'s' if flows != 1 else ''} into its pods (the thick arrows of the diagram)"
    )
    if deny:
        sentence += f", and {', '.join(f'`{name_of(p)}`' for p in deny)} denies all other ingress"
    return sentence + "."


def _deploys(objects: list[Obj]) -> list[str]:
    by_kind: dict[str, list[str]] = {}
    for obj in objects:
        by_kind.setdefault(f"{obj['kind']} ({obj['apiVersion']})", []).append(f"`{name_of(obj)}`")
    lines = ["| kind | objects |", "| --- | --- |"]
    lines += [f"| {kind} | {', '.join(names)} |" for kind, names in by_kind.items()]
    return lines


def _secrets_read(objects: list[Obj]) -> list[str]:
    """The Secrets (and keys) the pods read, who reads each and what makes it in the cluster."""
    made = secret_makers(objects)
    generated = generated_keys(objects)
    secrets: dict[str, dict[str | None, list[str]]] = {}
    for obj in of_kind(objects, *POD_KINDS, "CronJob"):
        for secret, key in secret_references(obj):
            readers = secrets.setdefault(secret, {}).setdefault(key, [])
            if f"{obj['kind']} `{name_of(obj)}`" not in readers:
                readers.append(f"{obj['kind']} `{name_of(obj)}`")
    lines = ["### Secrets the pods read", ""]
    if not secrets:
        return [*lines, "None: no pod reads a Kubernetes Secret."]
    lines += ["| Secret | key | read by | provided by |", "| --- | --- | --- | --- |"]
    for secret in sorted(secrets):
        source = made.get(secret, "you: create it before applying")
        for key in sorted(secrets[secret], key=lambda k: k or ""):
            shown = f"`{key}`" if key else "(every key)"
            job = generated.get((secret, key or ""))
            provider = f"Job `{name_of(job)}`: generated in the cluster unless present" if job else source
            lines.append(f"| `{secret}` | {shown} | {', '.join(secrets[secret][key])} | {provider} |")
    return lines


def _certificates(objects: list[Obj]) -> list[str]:
    lines = [
        f"- Secret `{secret}` (type `kubernetes.io/tls`) for {', '.join(hosts) or 'the routes'} of "
        f"{route['kind']} `{name_of(route)}`: create it, or have cert-manager issue it."
        for route, secret, hosts in tls_secrets(objects)
    ]
    return ["", "### TLS certificates", "", *lines] if lines else []


def _operators(objects: list[Obj]) -> list[str]:
    operators: dict[str, list[str]] = {}
    for obj in objects:
        if is_custom(obj):
            kinds = operators.setdefault(operator_for(obj), [])
            if f"{obj['kind']} ({obj['apiVersion']})" not in kinds:
                kinds.append(f"{obj['kind']} ({obj['apiVersion']})")
    lines = [f"- {op}: for {', '.join(kinds)}" for op, kinds in operators.items()]
    return ["", "### Operators and CRDs", "", *(lines or ["None: every object is a built-in Kubernetes kind."])]


def _in_the_cluster(objects: list[Obj]) -> list[str]:
    """What the cluster and the cloud must provide: ingress controller, Gateway, CNI, workload identities."""
    lines = [
        f"- an ingress controller serving class `{ingress['spec']['ingressClassName']}` (Ingress `{name_of(ingress)}`)"
        for ingress in of_kind(objects, "Ingress")
        if ingress.get("spec", {}).get("ingressClassName")
    ]
    for route in of_kind(objects, "HTTPRoute"):
        for parent in route.get("spec", {}).get("parentRefs", []):
            listener = f", listener `{parent['sectionName']}`" if parent.get("sectionName") else ""
            namespace_of_route = key_of(route)[2]
            lines.append(
                f"- Gateway `{parent.get('namespace', namespace_of_route)}/{parent['name']}`{listener}, admitting "
                f"routes from Namespace `{namespace_of_route}` (its `allowedRoutes`), for HTTPRoute `{name_of(route)}`"
            )
    if of_kind(objects, "NetworkPolicy"):
        lines.append("- a CNI that enforces NetworkPolicies (otherwise they are silently ignored)")
    for account in of_kind(objects, "ServiceAccount"):
        for annotation, text in CLOUD_IDENTITIES.items():
            if annotation in annotations(account):
                value = f"`{annotations(account)[annotation]}`"
                lines.append(f"- ServiceAccount `{name_of(account)}`: {text.format(value)}")
    return ["", "### In the cluster and the cloud", "", *lines] if lines else []


def _needs(objects: list[Obj]) -> list[str]:
    listed = [p for ns in of_kind(objects, "Namespace") for p in prerequisites(ns)]
    return [
        *_secrets_read(objects),
        *_certificates(objects),
        *_operators(objects),
        *_in_the_cluster(objects),
        "",
        "### Listed in the Namespace annotation `mlflow-k8s/prerequisites`",
        "",
        *([f"- `{p}`" for p in listed] or ["(empty)"]),
    ]


def _by_hand(objects: list[Obj]) -> list[str]:
    """What the config adds beyond what the model names (``server.extra_env``, ``extra_volumes``), as a section of
    its own."""
    lines = []
    for owner in of_kind(objects, *WORKLOAD_KINDS):
        names = [n for n in annotations(owner).get(EXTRA_ENV_ANNOTATION, "").split(",") if n]
        for container, name in ((c, n) for c in containers(owner) for n in names if env_of(c, n)):
            var = env_of(container, name) or {}
            refs = var.get("valueFrom") or {}
            kind, ref = (
                ("Secret", refs["secretKeyRef"])
                if "secretKeyRef" in refs
                else ("ConfigMap", refs.get("configMapKeyRef"))
            )
            shown = f"{kind} `{ref['name']}` key `{ref['key']}`" if ref else f"`{var.get('value', '')}`"
            lines.append(f"| {owner['kind']} `{name_of(owner)}`, `{container['name']}` | env `{name}` | {shown} |")
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
            lines.append(f"| {owner['kind']} `{name_of(owner)}` | volume `{name}` ({source}) | {used} |")
    for obj in objects:
        if annotations(obj).get(EXTRA_OBJECT_ANNOTATION) == "true":
            lines.append(f"| `extra_objects` | {obj['kind']} `{name_of(obj)}` | as written in the config |")
    if not lines:
        return []
    heading = [
        "## Set by hand (`server.extra_*`, `extra_objects`)",
        "",
        "| where | what | value |",
        "| --- | --- | --- |",
    ]
    return [*heading, *lines, ""]


def explain_environment(name: str, objects: list[Obj], source: str | None = None) -> str:
    """The Markdown page of one environment."""
    namespace = next((name_of(o) for o in objects if o["kind"] == "Namespace"), None) or next(
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
