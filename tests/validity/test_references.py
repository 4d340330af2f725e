"""Every name one object uses to reach another resolves inside the same environment's output, or is a
declared prerequisite (annotation `mlflow-k8s/prerequisites` on the Namespace: `Secret/a,Secret/b`).

Kubernetes accepts dangling references without complaint and fails later, at run time: a pod stuck in
CreateContainerConfigError, a Service with no endpoints, a NetworkPolicy that protects nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from _k8s import (
    GENERATES_SECRET_ANNOTATION,
    PodTemplate,
    default_namespace,
    dig,
    environment_names,
    ident,
    manifests,
    namespace_of,
    pod_templates,
    prerequisites,
    selector_matches,
)

ENVS = environment_names()
# Created by Kubernetes in every namespace.
IN_EVERY_NAMESPACE = (("ServiceAccount", "default"), ("ConfigMap", "kube-root-ca.crt"))


@dataclass
class Env:
    """One environment's objects, indexed for reference look-ups."""

    name: str
    objs: list[dict[str, Any]]
    default_ns: str = ""
    # (kind, namespace, name) of everything present, including objects other objects will create.
    provided: set[tuple[str, str, str]] = field(default_factory=set)
    prerequisites: set[str] = field(default_factory=set)
    pods: list[PodTemplate] = field(default_factory=list)
    # Pods as selectors see them: the templates above plus the pods operators create from custom resources.
    selectable: list[PodTemplate] = field(default_factory=list)

    @classmethod
    def of(cls, name: str, objs: list[dict[str, Any]]) -> Env:
        pods = pod_templates(objs)
        selectable = pods + [pod for obj in objs for pod in operator_pods(obj)]
        env = cls(
            name, objs, default_namespace(objs), prerequisites=prerequisites(objs), pods=pods, selectable=selectable
        )
        for obj in objs:
            ns = env.ns(obj)
            env.provided.add((obj["kind"], ns, dig(obj, "metadata", "name")))
            for kind, made in created_by(obj):
                env.provided.add((kind, ns, made))
        for ns in {env.ns(o) for o in objs}:
            env.provided |= {(kind, ns, name) for kind, name in IN_EVERY_NAMESPACE}
        return env

    def ns(self, obj: dict[str, Any]) -> str:
        return namespace_of(obj, self.default_ns)

    def has(self, kind: str, ns: str, name: str) -> bool:
        return (kind, ns, name) in self.provided or f"{kind}/{name}" in self.prerequisites

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objs if o.get("kind") == kind]

    def pods_matching(self, ns: str, selector: dict[str, Any]) -> list[PodTemplate]:
        return [p for p in self.selectable if self.ns(p.owner) == ns and selector_matches(selector, p.labels)]

    def services(self, ns: str, name: str) -> list[dict[str, Any]]:
        return [s for s in self.of_kind("Service") if self.ns(s) == ns and s["metadata"]["name"] == name]


def created_by(obj: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Objects that exist at run time because a controller creates them from ``obj``."""
    kind, name = obj.get("kind"), dig(obj, "metadata", "name")
    if kind == "ExternalSecret":
        yield "Secret", dig(obj, "spec", "target", "name") or name
    elif kind == "SealedSecret":
        yield "Secret", dig(obj, "spec", "template", "metadata", "name") or name
    elif kind == "Job" and dig(obj, "metadata", "annotations", GENERATES_SECRET_ANNOTATION):
        yield "Secret", obj["metadata"]["annotations"][GENERATES_SECRET_ANNOTATION].partition(": ")[0]
    elif kind == "StatefulSet":
        replicas = dig(obj, "spec", "replicas")
        for claim in dig(obj, "spec", "volumeClaimTemplates") or []:
            for ordinal in range(1 if replicas is None else replicas):
                yield "PersistentVolumeClaim", f"{claim['metadata']['name']}-{name}-{ordinal}"
    elif kind == "Cluster" and obj.get("apiVersion", "").startswith("postgresql.cnpg.io/"):
        # CloudNativePG: the app user's Secret unless bootstrap names one, the superuser Secret when enabled,
        # the CA (for sslrootcert) and the -rw/-ro/-r Services.
        if not dig(obj, "spec", "bootstrap", "initdb", "secret", "name"):
            yield "Secret", f"{name}-app"
        if dig(obj, "spec", "enableSuperuserAccess"):
            yield "Secret", f"{name}-superuser"
        yield "Secret", f"{name}-ca"
        for suffix in ("rw", "ro", "r"):
            yield "Service", f"{name}-{suffix}"


def operator_pods(obj: dict[str, Any]) -> Iterator[PodTemplate]:
    """The pods (labels and named ports only) that CloudNativePG runs for a Cluster or a Pooler."""
    if not obj.get("apiVersion", "").startswith("postgresql.cnpg.io/"):
        return
    name = dig(obj, "metadata", "name")
    if obj.get("kind") == "Cluster":
        ports = [
            {"name": "postgresql", "containerPort": 5432},
            {"name": "metrics", "containerPort": 9187},
            {"name": "status", "containerPort": 8000},
        ]
        roles = ["primary"] + (["replica"] if (dig(obj, "spec", "instances") or 1) > 1 else [])
        for role in roles:
            labels = {
                "cnpg.io/cluster": name,
                "cnpg.io/podRole": "instance",
                "cnpg.io/instanceRole": role,
                "role": role,
            }
            yield PodTemplate(
                obj, {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "postgres", "ports": ports}]}}
            )
    elif obj.get("kind") == "Pooler":
        ports = [{"name": "pgbouncer", "containerPort": 5432}, {"name": "metrics", "containerPort": 9127}]
        labels = {"cnpg.io/poolerName": name, "cnpg.io/podRole": "pooler"}
        yield PodTemplate(
            obj, {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "pgbouncer", "ports": ports}]}}
        )


def fail_on(env: str, problems: list[str]) -> None:
    assert not problems, f"env {env}:\n  " + "\n  ".join(problems)


def port_names(pod: PodTemplate) -> set[str]:
    return {p["name"] for _, c in pod.containers(init=False) for p in c.get("ports") or [] if p.get("name")}


def port_numbers(pod: PodTemplate) -> set[int]:
    return {p["containerPort"] for _, c in pod.containers(init=False) for p in c.get("ports") or []}


def service_has_port(service: dict[str, Any], port: str | int | None) -> bool:
    """``port`` as an Ingress, IngressRoute, HTTPRoute or ServiceMonitor names it: a port name or a port number."""
    ports = dig(service, "spec", "ports") or []
    if isinstance(port, int):
        return any(p.get("port") == port for p in ports)
    return any(p.get("name") == port for p in ports)


# --- pods -> Secrets, ConfigMaps, PVCs, ServiceAccounts -------------------------------------------------


def pod_references(pod: PodTemplate) -> Iterator[tuple[str, str, str]]:
    """``(kind, name, where)`` for every object a pod template needs to start."""
    spec = pod.spec
    yield "ServiceAccount", spec.get("serviceAccountName") or "default", "spec.serviceAccountName"
    for ref in spec.get("imagePullSecrets") or []:
        yield "Secret", ref["name"], "spec.imagePullSecrets"
    for role, c in pod.containers():
        where = f"{role} {c.get('name')!r}"
        for var in c.get("env") or []:
            source = var.get("valueFrom") or {}
            if source.get("secretKeyRef") and not source["secretKeyRef"].get("optional"):
                yield "Secret", source["secretKeyRef"]["name"], f"{where} env {var['name']}"
            if source.get("configMapKeyRef") and not source["configMapKeyRef"].get("optional"):
                yield "ConfigMap", source["configMapKeyRef"]["name"], f"{where} env {var['name']}"
        for source in c.get("envFrom") or []:
            for key, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
                if source.get(key) and not source[key].get("optional"):
                    yield kind, source[key]["name"], f"{where} envFrom"
    for volume in spec.get("volumes") or []:
        where = f"volume {volume['name']!r}"
        if volume.get("secret") and not volume["secret"].get("optional"):
            yield "Secret", volume["secret"]["secretName"], where
        if volume.get("configMap") and not volume["configMap"].get("optional"):
            yield "ConfigMap", volume["configMap"]["name"], where
        if volume.get("persistentVolumeClaim"):
            yield "PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"], where
        for source in dig(volume, "projected", "sources") or []:
            for key, kind in (("secret", "Secret"), ("configMap", "ConfigMap")):
                if source.get(key) and not source[key].get("optional"):
                    yield kind, source[key]["name"], f"{where} projected"


@pytest.mark.parametrize("env", ENVS)
def test_pod_references_resolve(synthesized, env):
    """A pod whose Secret, ConfigMap, PVC or ServiceAccount does not exist never starts (Pending or
    CreateContainerConfigError), and nothing at apply time says so."""
    e = Env.of(env, manifests(synthesized, env))
    problems = [
        f"{pod.where}: {where} -> {kind}/{name} is neither produced nor listed as a prerequisite"
        for pod in e.pods
        for kind, name, where in pod_references(pod)
        if not e.has(kind, e.ns(pod.owner), name)
    ]
    fail_on(env, problems)


@pytest.mark.parametrize("env", ENVS)
def test_volume_mounts_name_a_volume(synthesized, env):
    """A volumeMount whose volume (or StatefulSet volumeClaimTemplate) is missing is rejected at apply time
    for the whole workload."""
    problems = []
    for pod in Env.of(env, manifests(synthesized, env)).pods:
        volumes = {v["name"] for v in pod.spec.get("volumes") or []}
        volumes |= {t["metadata"]["name"] for t in pod.volume_claim_templates()}
        for role, c in pod.containers():
            for mount in c.get("volumeMounts") or []:
                if mount["name"] not in volumes:
                    problems.append(
                        f"{pod.where}: {role} {c.get('name')!r}: volumeMount {mount['name']!r} has no volume"
                    )
    fail_on(env, problems)


@pytest.mark.parametrize("env", ENVS)
def test_prerequisites_are_well_formed(synthesized, env):
    """The prerequisite list is what an operator reads before installing: each entry must be `Kind/name`
    and name something the output itself does not already create."""
    e = Env.of(env, manifests(synthesized, env))
    problems = []
    for item in sorted(e.prerequisites):
        kind, _, name = item.partition("/")
        if not kind or not name or "/" in name:
            problems.append(f"Namespace annotation mlflow-k8s/prerequisites: {item!r} is not Kind/name")
        elif kind == "Secret" and name in (generated := generated_keys(e.objs)):
            # the keygen Job adds only its keys: listed only while the pods read one it does not generate
            if not read_keys(e, name) - generated[name]:
                problems.append(f"Namespace annotation mlflow-k8s/prerequisites: {item}: the keygen Job makes all")
        elif any(k == kind and n == name for k, _, n in e.provided):
            problems.append(f"Namespace annotation mlflow-k8s/prerequisites: {item} is produced by the output itself")
    fail_on(env, problems)


def generated_keys(objs: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Secret -> the keys a keygen Job (`secrets.generate`) creates in it."""
    made: dict[str, set[str]] = {}
    for job in (o for o in objs if o.get("kind") == "Job"):
        secret, _, keys = (dig(job, "metadata", "annotations", GENERATES_SECRET_ANNOTATION) or "").partition(": ")
        if secret:
            made.setdefault(secret, set()).update(keys.split(", "))
    return made


def read_keys(e: Env, secret: str) -> set[str]:
    """The keys of ``secret`` the pods read as env vars."""
    return {
        dig(var, "valueFrom", "secretKeyRef", "key")
        for pod in e.pods
        for _, c in pod.containers()
        for var in c.get("env") or []
        if dig(var, "valueFrom", "secretKeyRef", "name") == secret
    }


# --- Services and what selects pods ---------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_service_selectors_match_pods(synthesized, env):
    """A Service whose selector matches no pod template has no endpoints: clients get connection refused."""
    e = Env.of(env, manifests(synthesized, env))
    problems = [
        f"{ident(s)}: spec.selector {s['spec']['selector']} matches no pod template"
        for s in e.of_kind("Service")
        if dig(s, "spec", "selector") and not e.pods_matching(e.ns(s), {"matchLabels": s["spec"]["selector"]})
    ]
    fail_on(env, problems)


@pytest.mark.parametrize("env", ENVS)
def test_service_target_ports_exist(synthesized, env):
    """A targetPort (name or number; default: the port) that a selected pod does not expose leaves that
    pod out of the Service's endpoints."""
    e = Env.of(env, manifests(synthesized, env))
    problems = []
    for s in e.of_kind("Service"):
        selector = dig(s, "spec", "selector")
        if not selector:
            continue
        for pod in e.pods_matching(e.ns(s), {"matchLabels": selector}):
            for port in dig(s, "spec", "ports") or []:
                target = port.get("targetPort", port.get("port"))
                found = target in port_names(pod) if isinstance(target, str) else target in port_numbers(pod)
                if not found:
                    problems.append(
                        f"{ident(s)}: port {port.get('name') or port.get('port')} targetPort {target!r} "
                        f"is not a containerPort of {pod.where}"
                    )
    fail_on(env, problems)


@pytest.mark.parametrize("env", ENVS)
def test_network_policy_selectors_match_pods(synthesized, env):
    """A NetworkPolicy whose podSelector, or whose same-namespace `from`/`to` podSelector, matches no pod
    protects or admits nothing: the intended traffic is then blocked, or the pods are left open."""
    e = Env.of(env, manifests(synthesized, env))
    problems = []
    for policy in e.of_kind("NetworkPolicy"):
        ns, spec = e.ns(policy), policy.get("spec") or {}
        selector = spec.get("podSelector") or {}
        if selector and not e.pods_matching(ns, selector):
            problems.append(f"{ident(policy)}: spec.podSelector {selector} matches no pod template")
        for direction, peers_key in (("ingress", "from"), ("egress", "to")):
            for i, rule in enumerate(spec.get(direction) or []):
                for peer in rule.get(peers_key) or []:
                    peer_selector = peer.get("podSelector")
                    if peer_selector and "namespaceSelector" not in peer and not e.pods_matching(ns, peer_selector):
                        problems.append(
                            f"{ident(policy)}: spec.{direction}[{i}].{peers_key} podSelector {peer_selector} "
                            "matches no pod template"
                        )
    fail_on(env, problems)


@pytest.mark.parametrize("env", ENVS)
def test_network_policy_named_ports_exist(synthesized, env):
    """An ingress rule's named port is looked up on the selected pods; a name none of them has opens nothing."""
    e = Env.of(env, manifests(synthesized, env))
    problems = []
    for policy in e.of_kind("NetworkPolicy"):
        pods = e.pods_matching(e.ns(policy), dig(policy, "spec", "podSelector") or {})
        if not pods:
            continue  # reported by test_network_policy_selectors_match_pods
        names = set().union(*(port_names(p) for p in pods))
        for i, rule in enumerate(dig(policy, "spec", "ingress") or []):
            for port in rule.get("ports") or []:
                if isinstance(port.get("port"), str) and port["port"] not in names:
                    problems.append(
                        f"{ident(policy)}: spec.ingress[{i}].ports: named port {port['port']!r} "
                        f"is not a containerPort of the selected pods ({sorted(names)})"
                    )
    fail_on(env, problems)


@pytest.mark.parametrize("env", ENVS)
def test_disruption_budgets_and_autoscalers_target_workloads(synthesized, env):
    """A PodDisruptionBudget that selects nothing protects nothing during node drains; an HPA whose
    scaleTargetRef names no workload never scales (and reports only in its status)."""
    e = Env.of(env, manifests(synthesized, env))
    problems = []
    for pdb in e.of_kind("PodDisruptionBudget"):
        selector = dig(pdb, "spec", "selector")
        if not selector or not e.pods_matching(e.ns(pdb), selector):
            problems.append(f"{ident(pdb)}: spec.selector {selector} matches no pod template")
    for hpa in e.of_kind("HorizontalPodAutoscaler"):
        target = dig(hpa, "spec", "scaleTargetRef") or {}
        matches = [
            o
            for o in e.objs
            if o.get("kind") == target.get("kind")
            and o.get("apiVersion") == target.get("apiVersion", o.get("apiVersion"))
            and o["metadata"]["name"] == target.get("name")
            and e.ns(o) == e.ns(hpa)
        ]
        if not matches:
            wanted = f"{target.get('apiVersion')} {target.get('kind')}/{target.get('name')}"
            problems.append(f"{ident(hpa)}: spec.scaleTargetRef {wanted} not in output")
    fail_on(env, problems)


# --- traffic entry points -------------------------------------------------------------------------------


def ingress_backends(ingress: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    spec = ingress.get("spec") or {}
    if dig(spec, "defaultBackend", "service"):
        yield "spec.defaultBackend", spec["defaultBackend"]["service"]
    for i, rule in enumerate(spec.get("rules") or []):
        for j, path in enumerate(dig(rule, "http", "paths") or []):
            if dig(path, "backend", "service"):
                yield f"spec.rules[{i}].http.paths[{j}]", path["backend"]["service"]


@pytest.mark.parametrize("env", ENVS)
def test_ingress_backends_exist(synthesized, env):
    """An Ingress backend naming a missing Service or port answers 503 for every request."""
    e = Env.of(env, manifests(synthesized, env))
    problems = []
    for ingress in e.of_kind("Ingress"):
        for where, backend in ingress_backends(ingress):
            port = backend.get("port") or {}
            wanted = port.get("number", port.get("name"))
            services = e.services(e.ns(ingress), backend["name"])
            if not services:
                problems.append(f"{ident(ingress)}: {where}: Service {backend['name']!r} not in output")
            elif not service_has_port(services[0], wanted):
                problems.append(f"{ident(ingress)}: {where}: Service {backend['name']!r} has no port {wanted!r}")
    fail_on(env, problems)


@pytest.mark.parametrize("env", ENVS)
def test_ingress_routes_reach_services(synthesized, env):
    """A Traefik IngressRoute whose service or port is missing, or whose middleware does not exist, is
    rejected by Traefik and the route silently disappears."""
    e = Env.of(env, manifests(synthesized, env))
    problems = []
    for route in e.of_kind("IngressRoute"):
        ns = e.ns(route)
        for i, rule in enumerate(dig(route, "spec", "routes") or []):
            for service in rule.get("services") or []:
                if service.get("kind", "Service") != "Service":
                    if not e.has(service["kind"], service.get("namespace") or ns, service["name"]):
                        problems.append(
                            f"{ident(route)}: routes[{i}]: {service['kind']}/{service['name']} not in output"
                        )
                    continue
                found = e.services(service.get("namespace") or ns, service["name"])
                if not found:
                    problems.append(f"{ident(route)}: routes[{i}]: Service {service['name']!r} not in output")
                elif not service_has_port(found[0], service.get("port")):
                    problems.append(
                        f"{ident(route)}: routes[{i}]: Service {service['name']!r} has no port {service.get('port')!r}"
                    )
            for middleware in rule.get("middlewares") or []:
                if not e.has("Middleware", middleware.get("namespace") or ns, middleware["name"]):
                    problems.append(f"{ident(route)}: routes[{i}]: Middleware {middleware['name']!r} not in output")
    fail_on(env, problems)


@pytest.mark.parametrize("env", ENVS)
def test_http_routes_reach_services(synthesized, env):
    """An HTTPRoute backendRef to a missing Service or port, or to another namespace without a ReferenceGrant,
    is marked unresolved by the Gateway, which answers 500 for every request on that rule."""
    e = Env.of(env, manifests(synthesized, env))
    problems = []
    for route in e.of_kind("HTTPRoute"):
        ns = e.ns(route)
        for i, rule in enumerate(dig(route, "spec", "rules") or []):
            for ref in rule.get("backendRefs") or []:
                where = f"{ident(route)}: rules[{i}]"
                if ref.get("group", "") != "" or ref.get("kind", "Service") != "Service":
                    problems.append(f"{where}: backend {ref.get('kind')}/{ref['name']} is not a Service")
                elif ref.get("namespace", ns) != ns:
                    problems.append(f"{where}: Service {ref['name']!r} in another namespace needs a ReferenceGrant")
                elif not (found := e.services(ns, ref["name"])):
                    problems.append(f"{where}: Service {ref['name']!r} not in output")
                elif not service_has_port(found[0], ref.get("port")):
                    problems.append(f"{where}: Service {ref['name']!r} has no port {ref.get('port')!r}")
    fail_on(env, problems)


@pytest.mark.parametrize("env", ENVS)
def test_service_monitors_select_named_ports(synthesized, env):
    """Prometheus scrapes a ServiceMonitor endpoint only through a *named* Service port of a Service its
    selector matches; otherwise the target never appears and nobody notices the missing metrics."""
    e = Env.of(env, manifests(synthesized, env))
    problems = []
    for monitor in e.of_kind("ServiceMonitor"):
        names = dig(monitor, "spec", "namespaceSelector", "matchNames") or [e.ns(monitor)]
        services = [
            s
            for s in e.of_kind("Service")
            if e.ns(s) in names
            and selector_matches(dig(monitor, "spec", "selector"), dig(s, "metadata", "labels") or {})
        ]
        if not services:
            problems.append(f"{ident(monitor)}: spec.selector matches no Service in {names}")
        for i, endpoint in enumerate(dig(monitor, "spec", "endpoints") or []):
            if "port" not in endpoint:
                problems.append(f"{ident(monitor)}: endpoints[{i}] has no named `port`")
                continue
            for s in services:
                if not service_has_port(s, str(endpoint["port"])):
                    problems.append(
                        f"{ident(monitor)}: endpoints[{i}].port {endpoint['port']!r} is not a port name of {ident(s)}"
                    )
    fail_on(env, problems)


# --- custom resources that point at each other ----------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_custom_resource_references_resolve(synthesized, env):
    """An ExternalSecret whose store is missing never syncs its Secret; a CloudNativePG Database whose
    Cluster is missing is never created."""
    e = Env.of(env, manifests(synthesized, env))
    problems = []
    for es in e.of_kind("ExternalSecret"):
        store = dig(es, "spec", "secretStoreRef") or {}
        kind = store.get("kind", "SecretStore")
        ns = e.ns(es) if kind == "SecretStore" else ""
        cluster_wide = kind == "ClusterSecretStore" and any(
            o["metadata"]["name"] == store.get("name") for o in e.of_kind("ClusterSecretStore")
        )
        if not (cluster_wide or e.has(kind, ns, store.get("name"))):
            problems.append(
                f"{ident(es)}: spec.secretStoreRef {kind}/{store.get('name')} not in output nor a prerequisite"
            )
    for db in e.of_kind("Database"):
        cluster = dig(db, "spec", "cluster", "name")
        if not e.has("Cluster", e.ns(db), cluster):
            problems.append(f"{ident(db)}: spec.cluster.name {cluster!r}: Cluster not in output nor a prerequisite")
    fail_on(env, problems)
