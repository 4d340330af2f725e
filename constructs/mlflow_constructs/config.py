"""The typed model of one environment file (``config/<env>.yaml``).

Every key is documented here and in the README. Unknown keys, wrong types, bad values and impossible
combinations are rejected by :func:`load_environment` with a :class:`ConfigError` that names the file,
the key path and what would be valid.
"""

from __future__ import annotations

import difflib
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, HttpUrl, IPvAnyAddress, ValidationError, model_validator

from mlflow_constructs import images
from mlflow_constructs.config_auth import Auth
from mlflow_constructs.config_base import Image, Model, Resources, resources_of
from mlflow_constructs.config_errors import ConfigError
from mlflow_constructs.config_secrets import Secrets
from mlflow_constructs.types import (
    DnsLabel,
    DnsSubdomain,
    Duration,
    Hostname,
    Port,
    Quantity,
    SecretKey,
    StorageAccount,
)


class Autoscaling(Model):
    """A HorizontalPodAutoscaler on CPU; replaces ``server.replicas`` when enabled."""

    enabled: bool = False
    min_replicas: int = Field(2, ge=1)
    max_replicas: int = Field(5, ge=1)
    target_cpu_utilization: int = Field(70, ge=1, le=100)

    @model_validator(mode="after")
    def _bounds(self) -> Autoscaling:
        if self.max_replicas < self.min_replicas:
            raise ValueError("max_replicas must be >= min_replicas")
        return self


class Server(Model):
    """The ``mlflow server`` process."""

    image: Image = Field(default_factory=lambda: Image.of(images.MLFLOW))
    replicas: int = Field(1, ge=1, le=50)
    host: IPvAnyAddress = IPv4Address("0.0.0.0")
    port: Port = 5000
    workers: int = Field(1, ge=1, le=16)
    resources: Resources = Field(default_factory=lambda: resources_of("250m", "768Mi", "1", "1536Mi"))
    extra_allowed_hosts: tuple[str, ...] = ()
    cors_allowed_origins: tuple[HttpUrl, ...] = ()
    job_execution: bool = False
    autoscaling: Autoscaling = Field(default_factory=Autoscaling)
    service_account_annotations: dict[str, str] = Field(default_factory=dict)
    pod_annotations: dict[str, str] = Field(default_factory=dict)

    @property
    def max_pods(self) -> int:
        return self.autoscaling.max_replicas if self.autoscaling.enabled else self.replicas


class Metrics(Model):
    """Prometheus metrics from ``--expose-prometheus`` and a ServiceMonitor that scrapes them."""

    enabled: bool = False
    service_monitor: bool = True
    interval: Duration = "30s"
    service_monitor_labels: dict[str, str] = Field(default_factory=dict)
    scraper_namespace_labels: dict[str, str] = Field(
        default_factory=lambda: {"kubernetes.io/metadata.name": "monitoring"}
    )


class Tls(Model):
    secret_name: DnsSubdomain


class Ingress(Model):
    """How traffic reaches MLflow from outside the cluster."""

    enabled: bool = False
    kind: Literal["ingress", "traefik"] = "ingress"
    class_name: DnsSubdomain | None = None
    hosts: tuple[Hostname, ...] = ()
    tls: Tls | None = None
    annotations: dict[str, str] = Field(default_factory=dict)
    traefik_entry_points: tuple[str, ...] = ("websecure",)

    @model_validator(mode="after")
    def _hosts(self) -> Ingress:
        if self.enabled and not self.hosts:
            raise ValueError("hosts must list at least one host name when the ingress is enabled")
        return self

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"


class BundledPostgres(Model):
    image: Image = Field(default_factory=lambda: Image(registry="docker.io/library", name="postgres", tag="16.6"))
    storage_size: Quantity = "10Gi"
    storage_class: DnsSubdomain | None = None
    user: DnsLabel = "mlflow"
    resources: Resources = Field(default_factory=lambda: resources_of("100m", "256Mi", "1", "1Gi"))


class CloudNativePg(Model):
    instances: int = Field(1, ge=1, le=9)
    storage_size: Quantity = "10Gi"
    storage_class: DnsSubdomain | None = None
    image_name: str | None = None
    user: DnsLabel = "mlflow"
    resources: Resources = Field(default_factory=lambda: resources_of("100m", "256Mi", "1", "1Gi"))
    operator_namespace: DnsLabel = "cnpg-system"


class Database(Model):
    """The PostgreSQL database behind the tracking and model-registry stores."""

    type: Literal["bundled", "external", "cloudnativepg"] = "bundled"
    name: DnsLabel = "mlflow"
    bundled: BundledPostgres = Field(default_factory=BundledPostgres)
    cloudnativepg: CloudNativePg = Field(default_factory=CloudNativePg)

    @property
    def auth_name(self) -> str:
        """The auth database (basic-auth or the oidc plugin), beside the tracking one."""
        return f"{self.name}_auth"


class SecretFileRef(Model):
    """A key of the environment's Secret, mounted as a file."""

    key: SecretKey


class PvcArtifacts(Model):
    size: Quantity = "20Gi"
    storage_class: DnsSubdomain | None = None
    access_mode: Literal["ReadWriteOnce", "ReadWriteMany", "ReadWriteOncePod"] = "ReadWriteOnce"


class S3Artifacts(Model):
    bucket: DnsSubdomain
    prefix: str = ""
    endpoint_url: HttpUrl | None = None
    region: str | None = None
    credentials: Literal["secret", "irsa"] = "secret"


class MinioArtifacts(Model):
    bucket: DnsSubdomain = "mlflow"
    image: Image = Field(
        default_factory=lambda: Image(registry="quay.io/minio", name="minio", tag="RELEASE.2025-04-22T22-12-26Z")
    )
    client_image: Image = Field(
        default_factory=lambda: Image(registry="quay.io/minio", name="mc", tag="RELEASE.2025-04-16T18-13-26Z")
    )
    storage_size: Quantity = "20Gi"
    storage_class: DnsSubdomain | None = None
    resources: Resources = Field(default_factory=lambda: resources_of("100m", "256Mi", "1", "1Gi"))


class AzureArtifacts(Model):
    container: DnsLabel
    storage_account: StorageAccount
    prefix: str = ""
    credentials: Literal["secret", "workload-identity"] = "secret"


class GcsArtifacts(Model):
    bucket: DnsSubdomain
    prefix: str = ""
    credentials: Literal["secret", "workload-identity"] = "secret"


class Artifacts(Model):
    """Where run artifacts and models are stored, and whether MLflow proxies them."""

    type: Literal["pvc", "s3", "minio", "azure", "gcs"] = "minio"
    proxied: bool = True
    pvc: PvcArtifacts = Field(default_factory=PvcArtifacts)
    s3: S3Artifacts | None = None
    minio: MinioArtifacts = Field(default_factory=MinioArtifacts)
    azure: AzureArtifacts | None = None
    gcs: GcsArtifacts | None = None

    @property
    def identity(self) -> str:
        """``<type>:<credentials>`` of the selected cloud backend (``""`` for pvc and minio)."""
        backend = getattr(self, self.type) if self.type in ("s3", "azure", "gcs") else None
        return f"{self.type}:{backend.credentials}" if backend else ""

    @model_validator(mode="after")
    def _selected_backend_configured(self) -> Artifacts:
        if self.type in ("s3", "azure", "gcs") and getattr(self, self.type) is None:
            raise ValueError(f"type is {self.type!r} but the '{self.type}' section is missing")
        if self.type == "pvc" and not self.proxied:
            raise ValueError("pvc artifacts are only reachable through the server: set proxied: true")
        return self


class NetworkPolicies(Model):
    """NetworkPolicies: deny ingress by default, admit only the traffic each pod needs."""

    enabled: bool = True
    ingress_from_namespaces: dict[str, str] = Field(default_factory=dict)


class Environment(Model):
    """One deployment target: everything ``config/<env>.yaml`` may hold."""

    namespace: DnsLabel = "mlflow"
    name: DnsLabel = "mlflow"
    cluster_domain: DnsSubdomain = "cluster.local"
    labels: dict[str, str] = Field(default_factory=dict)
    server: Server = Field(default_factory=Server)
    metrics: Metrics = Field(default_factory=Metrics)
    ingress: Ingress = Field(default_factory=Ingress)
    secrets: Secrets = Field(default_factory=Secrets)
    database: Database = Field(default_factory=Database)
    artifacts: Artifacts = Field(default_factory=Artifacts)
    network_policies: NetworkPolicies = Field(default_factory=NetworkPolicies)
    auth: Auth = Field(default_factory=Auth)

    @model_validator(mode="before")
    @classmethod
    def _image_for_mode(cls, data: Any) -> Any:
        """The oidc mode needs an image that carries the plugin; default to it unless one is named."""
        if isinstance(data, dict) and isinstance(data.get("auth"), dict) and data["auth"].get("mode") == "oidc":
            server = data.get("server")
            if server is None or (isinstance(server, dict) and "image" not in server):
                oidc_image = Image.of(images.MLFLOW_OIDC).model_dump(exclude_defaults=True)
                data = {**data, "server": {**(server or {}), "image": oidc_image}}
        return data

    @model_validator(mode="after")
    def _combinations(self) -> Environment:
        pods = self.server.max_pods
        if self.artifacts.type == "pvc" and pods > 1 and self.artifacts.pvc.access_mode != "ReadWriteMany":
            raise ValueError(
                "artifacts.pvc.access_mode: several server pods cannot share a "
                f"{self.artifacts.pvc.access_mode} volume; set access_mode: ReadWriteMany "
                "(and a storage_class that supports it), or use s3/minio/azure/gcs artifacts, or one replica"
            )
        self._check_auth(pods)
        self._check_secrets()
        identity = _WORKLOAD_IDENTITY.get(self.artifacts.identity)
        if identity and identity[0] not in self.server.service_account_annotations:
            annotation, what = identity
            raise ValueError(
                f"artifacts.{self.artifacts.type}.credentials: {what} needs the ServiceAccount annotation "
                f"'{annotation}'; add it under server.service_account_annotations, or use credentials: secret"
            )
        return self

    def _check_auth(self, pods: int) -> None:
        oidc = self.auth.oidc
        if self.auth.mode == "oidc" and oidc is not None:
            if oidc.redirect_uri is None and not self.ingress.enabled:
                raise ValueError(
                    "auth.oidc.redirect_uri: cannot be derived without an ingress; set it "
                    "(https://<public host>/callback) or enable the ingress with its hosts"
                )
            if pods > 1 and oidc.cache.type == "none":
                raise ValueError(
                    "auth.oidc.cache.type: with more than one server pod the login callback can land on another "
                    "pod than the login started on, and the session is lost; set cache.type: bundled (or "
                    "external with the redis_url Secret key), or run one replica"
                )
        if self.auth.mode == "oauth2-proxy" and not self.ingress.enabled:
            raise ValueError(
                "auth.oauth2_proxy: needs ingress.enabled with hosts, since the login callback URL "
                "(https://<host>/oauth2/callback) is derived from the first ingress host"
            )

    def _check_secrets(self) -> None:
        secrets = self.secrets
        if secrets.plugin_delivery != "env" and self.auth.mode != "oidc":
            what = (
                "secrets.mount_as_files" if secrets.mount_as_files.enabled else f"secrets.provider {secrets.provider!r}"
            )
            raise ValueError(
                f"{what}: only the oidc plugin reads its settings from files or cloud providers; "
                "use auth.mode: oidc, or provider existing-secret/external-secrets/sealed-secrets with env delivery"
            )
        needed = {
            "aws-secrets-manager": ("eks.amazonaws.com/role-arn", "IRSA"),
            "aws-parameter-store": ("eks.amazonaws.com/role-arn", "IRSA"),
            "azure-key-vault": ("azure.workload.identity/client-id", "Azure workload identity"),
        }.get(secrets.provider)
        if needed and needed[0] not in self.server.service_account_annotations:
            raise ValueError(
                f"secrets.provider: {secrets.provider!r} reads the store with {needed[1]}; add the ServiceAccount "
                f"annotation '{needed[0]}' under server.service_account_annotations"
            )


# Workload identity -> (ServiceAccount annotation it relies on, name in messages).
_WORKLOAD_IDENTITY = {
    "s3:irsa": ("eks.amazonaws.com/role-arn", "IRSA"),
    "azure:workload-identity": ("azure.workload.identity/client-id", "Azure workload identity"),
    "gcs:workload-identity": ("iam.gke.io/gcp-service-account", "GKE workload identity"),
}


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if not str(p).startswith("function-")]
    return ".".join(parts) or "(top level)"


def _known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys valid at ``loc`` (the parent of an unknown key), for a did-you-mean hint."""
    current: Any = model
    for part in loc[:-1]:
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        annotation = fields[part].annotation
        args = [a for a in getattr(annotation, "__args__", ()) if isinstance(a, type)]
        current = args[0] if args else annotation
    return list(getattr(current, "model_fields", {}))


def _describe(error: dict[str, Any]) -> str:
    loc = tuple(error["loc"])
    if error["type"] == "extra_forbidden":
        known = _known_keys(Environment, loc)
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"valid keys here: {', '.join(known)}"
        return f"{_location(loc)}: unknown key; {hint}"
    if error["type"] == "missing":
        return f"{_location(loc)}: required key is missing; add it"
    message = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    if not isinstance(value, (dict, list)) and repr(value) not in message:
        message += f" (got {value!r})"
    return f"{_location(loc)}: {message}" if loc else message


def parse_environment(data: Any, *, source: str) -> Environment:
    """Validate already-parsed YAML; ``source`` names the file in error messages."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: (top level) must be a mapping of keys such as 'namespace: mlflow' "
            "(see README, 'Configuration reference')"
        )
    try:
        return Environment.model_validate(data)
    except ValidationError as exc:
        lines = [_describe(e) for e in exc.errors()]
        raise ConfigError(f"{source}: invalid configuration\n" + "\n".join(f"  - {line}" for line in lines)) from None


def load_environment(path: Path) -> Environment:
    """Read and validate ``config/<env>.yaml``."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None
    return parse_environment(data, source=str(path))
