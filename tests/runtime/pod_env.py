"""Container environment resolution, the way the kubelet does it.

Follows ``kubelet_pods.go`` (``makeEnvironmentVariables``) and the forked ``expansion`` package:

1. ``envFrom`` sources in order (ConfigMaps and Secrets, optional ``prefix``); later sources win.
   Keys that cannot be env var names (empty, or containing ``=``) are skipped, as the kubelet does.
2. ``env`` entries in order, overriding step 1. A literal ``value`` has ``$(VAR)`` references expanded
   against the variables defined so far plus the service variables; ``valueFrom`` values are **not**
   expanded. An ``optional`` reference to a missing object or key leaves the variable out; a
   non-optional one is a ``CreateContainerConfigError``.
3. Service link variables (``<SVC>_SERVICE_HOST``, ``<SVC>_PORT``, ...) for the Services of the pod's
   namespace unless ``enableServiceLinks: false``, plus the ``kubernetes`` master Service variables
   always; a declared variable is never overwritten by them.

``$(VAR)`` in ``command``/``args`` is expanded against the final environment; ``$$`` is a literal
``$``; an unknown ``$(VAR)`` stays as written.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal


class CreateContainerConfigError(RuntimeError):
    """The kubelet could not build the container's config (missing ConfigMap/Secret/key, ...)."""


# --------------------------------------------------------------------------------------------------
# $(VAR) expansion (k8s.io/kubernetes/third_party/forked/golang/expansion)
# --------------------------------------------------------------------------------------------------


def mapping_func_for(*contexts: Mapping[str, str]) -> Callable[[str], str]:
    """Look a name up in the contexts in order; an unknown name expands to ``$(name)`` unchanged."""

    def mapping(name: str) -> str:
        for context in contexts:
            if name in context:
                return context[name]
        return f"$({name})"

    return mapping


def expand(text: str, mapping: Callable[[str], str]) -> str:
    """Expand ``$(VAR)`` references in ``text`` exactly like Kubernetes.

    ``$$`` -> ``$``; ``$(`` without a closing ``)`` and ``$x`` are copied through unchanged.
    """
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    while cursor < len(text):
        if text[cursor] == "$" and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            read, is_var, advance = _try_read_variable_name(text[cursor + 1 :])
            out.append(mapping(read) if is_var else read)
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    return "".join(out) + text[checkpoint:]


def _try_read_variable_name(rest: str) -> tuple[str, bool, int]:
    if rest[0] == "$":
        return "$", False, 1
    if rest[0] == "(":
        for i in range(1, len(rest)):
            if rest[i] == ")":
                return rest[1:i], True, i + 1
        return "$(", False, 1
    return "$" + rest[0], False, 1


# --------------------------------------------------------------------------------------------------
# Objects the pod refers to
# --------------------------------------------------------------------------------------------------


def _b64decode(value: str) -> bytes:
    return base64.b64decode(value.encode())


CLUSTER_CA_CONFIGMAP = "kube-root-ca.crt"
CLUSTER_CA_PLACEHOLDER = (
    b"-----BEGIN CERTIFICATE-----\n(the cluster CA: no API server runs here)\n-----END CERTIFICATE-----\n"
)


@dataclass(frozen=True)
class ApiServer:
    """A real API server the pod talks to (``tests/apiserver``'s kube-apiserver) instead of none: the address the
    ``kubernetes`` Service's env gives, the CA ``kube-root-ca.crt`` holds, and the tokens it issued
    (ServiceAccount -> token) that projected ``serviceAccountToken`` sources hold."""

    host: str
    port: int
    ca: bytes
    tokens: dict[str, str] = field(default_factory=dict)


@dataclass
class ObjectStore:
    """The ConfigMaps, Secrets and Services of the pod's environment.

    ``secret_values`` stands in for Secrets that the manifests only reference (created by an
    operator, an ExternalSecret, ...): name -> {key: value}. A name that is both a Secret object and
    in ``secret_values`` is an error (which one would the cluster hold?).
    """

    objects: list[dict] = field(default_factory=list)
    secret_values: dict[str, dict[str, str | bytes]] = field(default_factory=dict)
    namespace: str | None = None
    api_server: ApiServer | None = None

    def __post_init__(self) -> None:
        clash = set(self.secret_values) & {o["metadata"]["name"] for o in self._of_kind("Secret")}
        if clash:
            raise ValueError(f"Secrets both synthesized and given as test values: {sorted(clash)}")

    def _of_kind(self, kind: str) -> Iterable[dict]:
        for obj in self.objects:
            if not obj or obj.get("kind") != kind:
                continue
            ns = obj.get("metadata", {}).get("namespace")
            if self.namespace and ns and ns != self.namespace:
                continue
            yield obj

    def _named(self, kind: str, name: str) -> dict | None:
        for obj in self._of_kind(kind):
            if obj["metadata"]["name"] == name:
                return obj
        return None

    def configmap(self, name: str) -> dict[str, bytes] | None:
        """ConfigMap data as bytes (``data`` and ``binaryData``), or None when absent. ``kube-root-ca.crt``
        is in every namespace of a cluster (its controller-manager publishes the cluster CA there): a
        placeholder stands in for it."""
        obj = self._named("ConfigMap", name)
        if obj is None and name == CLUSTER_CA_CONFIGMAP:
            return {"ca.crt": self.api_server.ca if self.api_server else CLUSTER_CA_PLACEHOLDER}
        if obj is None:
            return None
        data = {k: str(v).encode() for k, v in (obj.get("data") or {}).items()}
        data.update({k: _b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
        return data

    def secret(self, name: str) -> dict[str, bytes] | None:
        """Secret data as bytes (``data`` base64, ``stringData`` wins), or test values, or None."""
        if name in self.secret_values:
            return {k: v if isinstance(v, bytes) else str(v).encode() for k, v in self.secret_values[name].items()}
        obj = self._named("Secret", name)
        if obj is None:
            return None
        data = {k: _b64decode(v) for k, v in (obj.get("data") or {}).items()}
        data.update({k: str(v).encode() for k, v in (obj.get("stringData") or {}).items()})
        return data

    def services(self) -> list[dict]:
        return list(self._of_kind("Service"))


# --------------------------------------------------------------------------------------------------
# Pod facts used by the downward API and service links
# --------------------------------------------------------------------------------------------------

NODE_CPU = 2
NODE_MEMORY = 24 * 1024**3


@dataclass
class PodInfo:
    """What the downward API can tell a container about its pod."""

    name: str
    namespace: str
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    service_account: str = "default"
    node_name: str = "runtime-node"
    pod_ip: str = "127.0.0.1"
    host_ip: str = "127.0.0.1"

    @property
    def uid(self) -> str:
        digest = hashlib.sha1(f"{self.namespace}/{self.name}".encode()).hexdigest()
        return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"

    def field(self, path: str) -> str:
        """Resolve a ``fieldRef.fieldPath``."""
        match = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
        if match:
            source = self.labels if match.group(1) == "labels" else self.annotations
            return source.get(match.group(2), "")
        simple = {
            "metadata.name": self.name,
            "metadata.namespace": self.namespace,
            "metadata.uid": self.uid,
            "spec.nodeName": self.node_name,
            "spec.serviceAccountName": self.service_account,
            "status.podIP": self.pod_ip,
            "status.podIPs": self.pod_ip,
            "status.hostIP": self.host_ip,
            "status.hostIPs": self.host_ip,
        }
        if path in simple:
            return simple[path]
        if path in ("metadata.labels", "metadata.annotations"):
            source = self.labels if path == "metadata.labels" else self.annotations
            return "\n".join(f'{k}="{v}"' for k, v in sorted(source.items()))
        raise CreateContainerConfigError(f"unsupported fieldRef.fieldPath {path!r}")


_QUANTITY_SUFFIXES = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
}


def parse_quantity(value: str | int | float) -> Decimal:
    """Parse a Kubernetes resource quantity ("500m", "1Gi", "2", "1e3") into a Decimal."""
    text = str(value).strip()
    match = re.fullmatch(r"([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?", text)
    if not match:
        raise ValueError(f"not a quantity: {value!r}")
    return Decimal(match.group(1)) * Decimal(_QUANTITY_SUFFIXES[match.group(2) or ""])


def resource_field(container: dict, ref: dict) -> str:
    """Resolve a ``resourceFieldRef`` (limits default to the node's allocatable, as the kubelet does)."""
    resource = ref["resource"]
    kind, _, name = resource.partition(".")
    resources = container.get("resources") or {}
    raw = (resources.get(kind) or {}).get(name)
    if raw is None and kind == "requests":
        raw = (resources.get("limits") or {}).get(name)  # requests default to limits
    if raw is None:
        value = Decimal(NODE_CPU if name == "cpu" else NODE_MEMORY) if kind == "limits" else Decimal(0)
    else:
        value = parse_quantity(raw)
    divisor = parse_quantity(ref.get("divisor", "1"))
    return str(int(math.ceil(value / divisor)))


# --------------------------------------------------------------------------------------------------
# Service links
# --------------------------------------------------------------------------------------------------

MASTER_SERVICE = {
    "metadata": {"name": "kubernetes", "namespace": "default"},
    "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]},
}


def master_service(api_server: ApiServer | None) -> dict:
    """The ``kubernetes`` Service: the real API server's address when there is one."""
    if api_server is None:
        return MASTER_SERVICE
    ports = [{"name": "https", "port": api_server.port, "protocol": "TCP"}]
    return {**MASTER_SERVICE, "spec": {"clusterIP": api_server.host, "ports": ports}}


def _fake_cluster_ip(name: str) -> str:
    digest = hashlib.sha1(name.encode()).digest()
    return f"10.96.{digest[0]}.{max(digest[1], 2)}"


def service_env(services: Iterable[dict]) -> dict[str, str]:
    """Docker-link style variables for Services (headless and ExternalName ones are skipped)."""
    env: dict[str, str] = {}
    for svc in services:
        spec = svc.get("spec") or {}
        if spec.get("type") == "ExternalName" or spec.get("clusterIP") == "None":
            continue
        ports = spec.get("ports") or []
        if not ports:
            continue
        ip = spec.get("clusterIP") or _fake_cluster_ip(svc["metadata"]["name"])
        prefix = svc["metadata"]["name"].upper().replace("-", "_")
        first = ports[0]
        env[f"{prefix}_SERVICE_HOST"] = ip
        env[f"{prefix}_SERVICE_PORT"] = str(first["port"])
        for port in ports:
            if port.get("name"):
                env[f"{prefix}_SERVICE_PORT_{port['name'].upper().replace('-', '_')}"] = str(port["port"])
        env[f"{prefix}_PORT"] = f"{first.get('protocol', 'TCP').lower()}://{ip}:{first['port']}"
        for port in ports:
            proto = port.get("protocol", "TCP")
            base = f"{prefix}_PORT_{port['port']}_{proto.upper()}"
            env[base] = f"{proto.lower()}://{ip}:{port['port']}"
            env[f"{base}_PROTO"] = proto.lower()
            env[f"{base}_PORT"] = str(port["port"])
            env[f"{base}_ADDR"] = ip
    return env


# --------------------------------------------------------------------------------------------------
# The container environment
# --------------------------------------------------------------------------------------------------


def _valid_env_name(name: str) -> bool:
    return bool(name) and "=" not in name


def _lookup(store: ObjectStore, kind: str, ref: dict, what: str) -> str | None:
    """Resolve a configMapKeyRef/secretKeyRef; None when optional and missing."""
    name, key, optional = ref.get("name", ""), ref["key"], bool(ref.get("optional", False))
    data = store.configmap(name) if kind == "configMap" else store.secret(name)
    if data is None:
        if optional:
            return None
        raise CreateContainerConfigError(f"{what}: {kind} {name!r} not found")
    if key not in data:
        if optional:
            return None
        raise CreateContainerConfigError(f"{what}: key {key!r} not found in {kind} {name!r}")
    return data[key].decode("utf-8", errors="surrogateescape")


def resolve_env(container: dict, store: ObjectStore, pod: PodInfo, enable_service_links: bool = True) -> dict[str, str]:
    """The environment the kubelet gives ``container`` (without the image's own ENV)."""
    cname = container.get("name", "?")
    env = _env_from(container, store)
    services = service_env(store.services()) if enable_service_links else {}
    services = {**services, **service_env([master_service(store.api_server)])}
    mapping = mapping_func_for(env, services)  # sees `env` as it grows, like the kubelet's tmpEnv
    for var in container.get("env") or []:
        name = var["name"]
        if var.get("value", "") != "":
            env[name] = expand(str(var["value"]), mapping)
            continue
        source = var.get("valueFrom")
        if not source:
            env[name] = ""
            continue
        value = _value_from(source, container, store, pod, f"container {cname}: env {name}")
        if value is not None:
            env[name] = value

    for name, value in services.items():
        env.setdefault(name, value)
    return env


def _env_from(container: dict, store: ObjectStore) -> dict[str, str]:
    """The variables of the container's ``envFrom`` ConfigMaps and Secrets, in order (later ones win)."""
    env: dict[str, str] = {}
    cname = container.get("name", "?")
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            kind, ref = "configMap", source["configMapRef"]
            data = store.configmap(ref["name"])
        else:
            kind, ref = "secret", source["secretRef"]
            data = store.secret(ref["name"])
        if data is None:
            if ref.get("optional"):
                continue
            raise CreateContainerConfigError(f"container {cname}: envFrom {kind} {ref['name']!r} not found")
        for key, value in data.items():
            if _valid_env_name(prefix + key):
                env[prefix + key] = value.decode("utf-8", errors="surrogateescape")
    return env


def _value_from(source: dict, container: dict, store: ObjectStore, pod: PodInfo, what: str) -> str | None:
    """One ``env[].valueFrom``; None when an optional key or object is missing."""
    if "configMapKeyRef" in source:
        return _lookup(store, "configMap", source["configMapKeyRef"], what)
    if "secretKeyRef" in source:
        return _lookup(store, "secret", source["secretKeyRef"], what)
    if "fieldRef" in source:
        return pod.field(source["fieldRef"]["fieldPath"])
    if "resourceFieldRef" in source:
        return resource_field(container, source["resourceFieldRef"])
    raise CreateContainerConfigError(f"{what}: unsupported valueFrom {sorted(source)}")


def expand_command(container: dict, env: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """``command`` and ``args`` with ``$(VAR)`` expanded against the final environment."""
    mapping = mapping_func_for(env)
    command = [expand(str(c), mapping) for c in container.get("command") or []]
    args = [expand(str(a), mapping) for a in container.get("args") or []]
    return command, args
