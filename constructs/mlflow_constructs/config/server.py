"""Config of the ``mlflow server`` process and its metrics."""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv4Network
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BeforeValidator,
    Field,
    GetJsonSchemaHandler,
    HttpUrl,
    IPvAnyAddress,
    PlainValidator,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from mlflow_constructs import images
from mlflow_constructs.config.base import Image, Model, Resources, resources_of
from mlflow_constructs.config.secrets import MountPath
from mlflow_constructs.config.types import (
    INT32_MAX,
    Annotations,
    DnsLabel,
    DnsSubdomain,
    EnvName,
    Labels,
    ListItem,
    PathPrefix,
    Port,
    PrometheusDuration,
    SecretKey,
    VolumeBytes,
    list_item,
)
from mlflow_constructs.k8s.quantities import quantity_of

# Pod networks of common clusters: RFC 1918 and the shared range 100.64.0.0/10 (e.g. EKS custom networking).
POD_NETWORKS = (
    IPv4Network("10.0.0.0/8"),
    IPv4Network("172.16.0.0/12"),
    IPv4Network("192.168.0.0/16"),
    IPv4Network("100.64.0.0/10"),
)


def decimal_range_globs(low: int, high: int) -> list[str]:
    """fnmatch patterns matching exactly the decimal spellings (no leading zeros) of ``low..high``.

    ``16..31`` gives ``1[6-9]``, ``2[0-9]``, ``3[0-1]``.
    """
    globs: list[str] = []
    for digits in range(len(str(low)), len(str(high)) + 1):
        lo, hi = max(low, 10 ** (digits - 1) if digits > 1 else 0), min(high, 10**digits - 1)
        globs += _same_length_globs(str(lo), str(hi))
    return globs


def _same_length_globs(lo: str, hi: str) -> list[str]:
    def digit(a: str, b: str) -> str:
        return a if a == b else f"[{a}-{b}]"

    if len(lo) == 1:
        return [digit(lo, hi)]
    if lo[0] == hi[0]:
        return [lo[0] + tail for tail in _same_length_globs(lo[1:], hi[1:])]
    rest = len(lo) - 1
    globs = []
    first, last = int(lo[0]), int(hi[0])
    if lo[1:] != "0" * rest:
        globs += [lo[0] + tail for tail in _same_length_globs(lo[1:], "9" * rest)]
        first += 1
    full_last = last if hi[1:] == "9" * rest else last - 1
    if first <= full_last:
        globs.append(digit(str(first), str(full_last)) + "[0-9]" * rest)
    if full_last < last:
        globs += [hi[0] + tail for tail in _same_length_globs("0" * rest, hi[1:])]
    return globs


def ipv4_host_patterns(network: IPv4Network) -> list[str]:
    """fnmatch patterns for MLflow's allowed hosts that accept ``<address>:<port>`` of every address in
    ``network`` and of no IPv4 address outside it.

    MLflow compares the whole Host header (with its port) to each pattern, by ``fnmatch`` when the pattern
    holds a ``*`` and by equality otherwise. The octets the prefix fixes are written out, the octet it
    splits becomes decimal-range globs (``172.1[6-9].``, ``172.2[0-9].``, ``172.3[0-1].``), each followed by
    ``.`` so ``10.`` never matches ``100.1.2.3``. The free octets are one ``*`` that must end in a digit
    right before the ``:`` of the port: any dotted quad there is inside the network, and a DNS name (a
    DNS-rebinding attempt such as ``10.evil.com:5000``) never ends in a digit, since a browser parses a
    host whose last label is numeric as an IPv4 address and no top-level domain ends in one.

    Only the ``address:port`` form is covered: requests to a pod IP (kubelet probes, Prometheus) carry the
    port, as the server never listens on port 80; a port-less ``*`` pattern would also match
    ``10.evil.com:5000``.
    """
    octets = str(network.network_address).split(".")
    fixed, split_bits = divmod(network.prefixlen, 8)
    prefixes = [".".join(octets[:fixed])] if fixed else [""]
    if split_bits:
        low = int(octets[fixed])
        high = low + 2 ** (8 - split_bits) - 1
        prefixes = [f"{p}.{glob}" if p else glob for p in prefixes for glob in decimal_range_globs(low, high)]
        fixed += 1
    tail = ":*" if fixed == 4 else ".*[0-9]:*"
    return [prefix + tail for prefix in prefixes]


def _pod_network(value: object) -> IPv4Network:
    try:
        value = IPv4Network(value)
    except ValueError:
        try:
            hint = f"write its network address, {IPv4Network(value, strict=False)}"
        except ValueError:
            hint = "write an IPv4 CIDR such as 10.244.0.0/16"
        raise ValueError(f"{value!r} is not an IPv4 network; {hint}") from None
    if value.prefixlen < 8:
        raise ValueError(f"{value} is wider than a /8; list the cluster's pod CIDRs (e.g. 10.0.0.0/8)")
    return value


class Autoscaling(Model):
    """A HorizontalPodAutoscaler on CPU; replaces ``server.replicas`` when enabled."""

    enabled: bool = False
    """Create an HPA (autoscaling/v2, CPU)."""
    min_replicas: int = Field(2, ge=1, le=INT32_MAX)
    """HPA minimum."""
    max_replicas: int = Field(5, ge=1, le=INT32_MAX)
    """HPA maximum (>= min)."""
    target_cpu_utilization: int = Field(70, ge=1, le=100)
    """HPA CPU target, percent."""

    @model_validator(mode="after")
    def _bounds(self) -> Autoscaling:
        if self.max_replicas < self.min_replicas:
            raise ValueError("max_replicas must be >= min_replicas")
        return self


class ApiBase(Model):
    """Where the AI gateway may send requests: the ``api_base`` of the provider keys users store in it,
    checked by MLflow when a key is stored and again when the gateway connects (after DNS, no redirects)."""

    allowed_schemes: tuple[Literal["https", "http"], ...] = Field(("https",), min_length=1)
    """`MLFLOW_GATEWAY_API_BASE_ALLOWED_SCHEMES`: the URL schemes an `api_base` may use. `https` only: provider
    keys and prompts never travel in clear text; add `http` only for an upstream inside your network (with
    `allow_private_addresses`)."""
    allow_private_addresses: bool = False
    """`MLFLOW_GATEWAY_API_BASE_ALLOW_PRIVATE_IPS`: whether an `api_base` may name or resolve to a private,
    loopback or link-local address. `false`: a user who may store a key cannot make the server call the
    database, other pods or the cloud metadata endpoint (`169.254.169.254`) in its name (SSRF); `true` only
    for an in-cluster model server (vLLM, a private endpoint)."""


class Switch(Model):
    """A section a bare boolean may stand for: `true`/`false` is `enabled: true`/`false`."""

    FLAG: ClassVar[str]  # what the boolean means, for the JSON schema

    @model_validator(mode="before")
    @classmethod
    def _from_flag(cls, data: Any) -> Any:
        return {"enabled": data} if isinstance(data, bool) else data

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"anyOf": [{"type": "boolean", "description": cls.FLAG}, handler(core_schema)]}


class AiGateway(Switch):
    """MLflow's AI gateway (on by default in MLflow 3.17): the provider API keys users store in it are
    encrypted with a key derived from ``MLFLOW_CRYPTO_KEK_PASSPHRASE``, taken here from the environment's
    Secret (``secrets.keys.kek_passphrase``), never MLflow's public default. ``server.ai_gateway: false``
    turns it off."""

    FLAG = "`false`: the AI gateway off (same as `enabled: false`)"
    enabled: bool = True
    """`MLFLOW_ENABLE_AI_GATEWAY`. On: the server container reads `MLFLOW_CRYPTO_KEK_PASSPHRASE` from
    `secrets.keys.kek_passphrase`. `false` (or `server.ai_gateway: false`): MLflow answers 501
    (`NOT_IMPLEMENTED`) on the gateway's endpoints, secrets, models and budgets, the UI hides it, and no
    passphrase is read."""
    allowed_providers: tuple[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")], ...] = ()
    """`MLFLOW_GATEWAY_ALLOWED_PROVIDERS`: the only providers users may create endpoints for (e.g. `[openai,
    anthropic]`); empty: every provider MLflow knows."""
    api_base: ApiBase = Field(default_factory=ApiBase)
    """Where the gateway may send requests (SSRF protection; always written out, so a change of MLflow's
    defaults cannot relax it unseen)."""
    kek_version: int = Field(1, ge=1, le=INT32_MAX)
    """`MLFLOW_CRYPTO_KEK_VERSION`: the version of the passphrase in `secrets.keys.kek_passphrase`, which MLflow
    folds into the key it derives from it and records with every stored key. Raise it by one with each
    rotation (`rotate_kek`), and never lower it: the server pods wait, rather than serve, while a stored key
    is wrapped under another version or passphrase."""
    rotate_kek: bool = False
    """Rotate the passphrase: the migration Job runs `mlflow crypto rotate-kek`, re-wrapping every stored key
    from version `kek_version - 1` under `secrets.keys.previous_kek_passphrase` to `kek_version` under
    `secrets.keys.kek_passphrase`, with the running servers fenced and the new ones held until it is done
    (README "Rotating the AI gateway's passphrase"). Needs `kek_version` >= 2."""

    @model_validator(mode="after")
    def _only_when_on(self) -> AiGateway:
        stray = sorted(self.model_fields_set - {"enabled"}) if not self.enabled else []
        if stray:
            raise ValueError(
                f"{', '.join(stray)}: the AI gateway is off (enabled: false), so MLflow would ignore "
                f"{'it' if len(stray) == 1 else 'them'}; remove {'it' if len(stray) == 1 else 'them'}, or turn the "
                "gateway on"
            )
        return self

    @model_validator(mode="after")
    def _rotation_needs_a_version(self) -> AiGateway:
        if self.rotate_kek and self.kek_version < 2:
            raise ValueError(
                "rotate_kek: the rotation re-wraps the stored keys from version kek_version - 1 to kek_version; "
                f"set kek_version: {self.kek_version + 1} (one more than the version they are wrapped under now)"
            )
        return self


# Names whose literal value would put a secret in the output (`dist/`): such a variable reads a Secret instead.
SECRET_LOOKING = re.compile(r"PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|KEY|CREDENTIAL|PRIVATE")


def _env_text(value: Any) -> Any:
    """A YAML scalar as the text of an env var (``4`` -> ``"4"``, ``true`` -> ``"true"``); mappings pass on."""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value) if isinstance(value, int | float) else value


EnvText = Annotated[str, BeforeValidator(_env_text)]


class KeyRef(Model):
    """One key of a Secret or ConfigMap in the environment's namespace (created by you: a prerequisite)."""

    name: DnsSubdomain
    """Name of the Secret or ConfigMap."""
    key: SecretKey
    """Its key."""


class EnvFrom(Model):
    """An env var read from a key of a Secret or of a ConfigMap (exactly one)."""

    secret_key_ref: KeyRef | None = None
    """`valueFrom.secretKeyRef`: the value of a Secret key (never in the output)."""
    config_map_key_ref: KeyRef | None = None
    """`valueFrom.configMapKeyRef`: the value of a ConfigMap key."""

    @model_validator(mode="after")
    def _one(self) -> EnvFrom:
        if (self.secret_key_ref is None) == (self.config_map_key_ref is None):
            raise ValueError("give exactly one of secret_key_ref and config_map_key_ref, each with name and key")
        return self


class ConfigMapVolume(Model):
    name: DnsSubdomain
    """The ConfigMap (yours: a prerequisite)."""


class SecretVolume(Model):
    secret_name: DnsSubdomain
    """The Secret (yours: a prerequisite)."""


class EmptyDirVolume(Model):
    size_limit: VolumeBytes = "256Mi"
    """`sizeLimit`; on disk, counted in the container's ephemeral storage when it writes there."""
    medium: Literal["", "Memory"] = ""
    """`Memory`: tmpfs, counted as the pod's memory."""


class ClaimVolume(Model):
    claim_name: DnsSubdomain
    """The PersistentVolumeClaim (yours: a prerequisite)."""
    read_only: bool = False
    """Attach it read-only."""


class CsiVolume(Model):
    driver: DnsSubdomain
    """The CSI driver, e.g. `secrets-store.csi.k8s.io`."""
    read_only: bool = True
    """Read-only."""
    volume_attributes: dict[str, str] = Field(default_factory=dict)
    """`volumeAttributes` the driver reads (e.g. `secretProviderClass`)."""


class ExtraVolume(Model):
    """A volume of the server pod the model does not name: exactly one of the sources Pod Security "restricted"
    allows (and no `hostPath`)."""

    name: DnsLabel
    """Volume name, unique in the pod (the environment's own volumes are refused)."""
    config_map: ConfigMapVolume | None = None
    """A ConfigMap's keys as files."""
    secret: SecretVolume | None = None
    """A Secret's keys as files."""
    empty_dir: EmptyDirVolume | None = None
    """Scratch space."""
    persistent_volume_claim: ClaimVolume | None = None
    """A PersistentVolumeClaim."""
    csi: CsiVolume | None = None
    """An inline CSI volume (e.g. the Secrets Store CSI driver)."""

    @model_validator(mode="after")
    def _one_source(self) -> ExtraVolume:
        given = [key for key in VOLUME_SOURCES if getattr(self, key) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one source of {', '.join(VOLUME_SOURCES)}, not {len(given)}")
        return self


VOLUME_SOURCES = ("config_map", "secret", "empty_dir", "persistent_volume_claim", "csi")


class ExtraMount(Model):
    """Where the server container mounts one of `server.extra_volumes`."""

    name: DnsLabel
    """The volume (a name of `server.extra_volumes`)."""
    mount_path: MountPath
    """Absolute folder; not where the environment mounts its own volumes or an image folder."""
    read_only: bool = True
    """Read-only (the default); `false` for an emptyDir or claim the server writes."""


WORKSPACES_SINCE = (3, 10)  # the MLflow release that brought --enable-workspaces
_RELEASE_TAG = re.compile(r"^v?(\d+)\.(\d+)(?:[.-]|$)")


def image_release(image: Image) -> tuple[int, int] | None:
    """The MLflow ``(major, minor)`` an image's tag names (``v3.17.2-full``, ``3.17.2-oidc11.0.2``); ``None``
    for a tag that names no release (or a digest alone): nothing to check."""
    match = _RELEASE_TAG.match(image.tag or "") if image.digest is None else None
    return (int(match[1]), int(match[2])) if match else None


class Workspaces(Switch):
    """MLflow's workspaces (MLflow 3.10 or newer): experiments, registered models, prompts and their runs,
    traces and artifacts belong to one workspace each, and each user sees only the workspaces granted to them.
    ``server.workspaces: true`` turns them on."""

    FLAG = "`true`: workspaces on (same as `enabled: true`)"
    enabled: bool = False
    """`MLFLOW_ENABLE_WORKSPACES` (`--enable-workspaces`), for the server, its plugin and the migration Job. Needs
    an auth mode that grants per user (`basic` or `oidc`): with `none` or `oauth2-proxy` every user would see
    every workspace. Data logged before stays in the workspace `default`; each workspace's artifacts go to
    `<artifact root>/workspaces/<workspace>/<experiment id>` (MLflow's per-workspace root; a workspace created
    with its own `default_artifact_root` uses that instead). Workspaces and who may use them are managed at
    runtime (MLflow's workspace API, basic-auth's workspace permissions, the oidc plugin's admin pages)."""


class Server(Model):
    """The ``mlflow server`` process."""

    image: Image = Field(default_factory=lambda: Image.of(images.MLFLOW))
    """Server image (see "Images"): a reference such as `ghcr.io/mlflow/mlflow:v3.17.2-full` (or
    `...@sha256:<digest>`), or a mapping with `registry`, `name`, `tag`, `digest` and `pull_policy`
    (`IfNotPresent`, `Always` or `Never`). A digest, when set, is used instead of the tag. Required with
    `auth.mode: oidc`: an image built from `images/mlflow-oidc` (no public image carries the plugin)."""
    replicas: int = Field(1, ge=1, le=50)
    """Pods (1-50). Ignored when autoscaling is on. >1 adds a PDB and topology spread."""
    host: IPvAnyAddress = IPv4Address("0.0.0.0")
    """`--host`."""
    port: Port = 5000
    """`--port`, container and Service port (named `http`)."""
    static_prefix: PathPrefix | None = None
    """`--static-prefix`: serve MLflow under a path, e.g. `/mlflow`, to share a host name with other
    applications. The route's path, the probes (`<prefix>/health`: under a prefix MLflow 3.17 answers 404 on
    `/health`) and OAuth2-Proxy's upstream, callback (`<prefix>/oauth2/callback`) and cookie path move with it;
    clients use `https://<host><prefix>` as tracking URI. The metrics stay at `/metrics` of their own port.
    Not with `auth.mode: oidc`, whose plugin keeps its login, callback and admin pages at the root."""
    workers: Annotated[int, Field(ge=1, le=16)] | Literal["auto"] = "auto"
    """`--workers` (uvicorn), 1-16, or `auto` (default): the whole CPUs of `server.resources.limits.cpu` (at
    least 1; 1 with the default limit). One worker is one process and uses at most one core; it runs as the
    container's only process, where MLflow is imported once without `metrics.enabled` (`/health` ~5 s after start).
    Several need uvicorn's supervisor next to them and ~250 MB each (raise `resources` with them). Measured
    (docs/measurements.md, "Runtime performance"): CPU per request is about the same with 1, 2 or 4 workers,
    so N workers in one pod cost what N one-worker pods cost; replicas also outlive a node."""
    resources: Resources = Field(default_factory=lambda: resources_of("100m", "384Mi", "1", "1536Mi"))
    """Container resources (`requests`/`limits`, each `cpu` and `memory`). The defaults fit one worker: it
    uses ~250 MB RSS after warm-up and a few millicores idle (see docs/measurements.md, "Runtime performance"); the
    limits leave room for large uploads and bursts."""
    tmp_size: VolumeBytes = "2Gi"
    """Size of the server's `/tmp`, an emptyDir on the node's disk. MLflow 3.17 spools every proxied artifact
    download, and every upload to a store other than `pvc`, through a temporary file there
    (`mlflow/server/artifact_router.py`, `download_artifact` / `upload_artifact`), so it must hold the largest
    artifact times the transfers a pod runs at once. The container requests and is limited to as much
    ephemeral storage (plus 64Mi for logs); a pod that writes more is evicted (README, "Scratch space")."""
    telemetry: bool = False
    """MLflow's usage telemetry (anonymous usage data sent to MLflow's maintainers). Off by default:
    `MLFLOW_DISABLE_TELEMETRY=true` and `DO_NOT_TRACK=true` in the server's settings and in the migration
    Job's MLflow containers. `true` leaves MLflow's own default (on, unless the environment says otherwise)."""
    extra_env: dict[EnvName, EnvText | EnvFrom] = Field(default_factory=dict)
    """More env vars for the server container, for settings this model does not name (e.g. the oidc plugin's
    `SESSION_TYPE: cachelib`): name -> a literal value, or `{secret_key_ref: {name, key}}` /
    `{config_map_key_ref: {name, key}}` (that Secret or ConfigMap is yours to create: a prerequisite). Refused:
    a name the environment already sets (its settings ConfigMap and the container's env, see `python app.py
    explain`), and a literal value for a name that looks secret (`*PASSWORD*`, `*SECRET*`, `*TOKEN*`, `*KEY*`,
    ...), which would be written to `dist/`: read it from a Secret."""
    extra_volumes: tuple[ExtraVolume, ...] = Field((), max_length=32)
    """More volumes of the server pod (`configMap`, `secret`, `emptyDir`, `persistentVolumeClaim`, `csi`), for
    `server.extra_mounts`; the ConfigMaps, Secrets and claims are prerequisites."""
    extra_mounts: tuple[ExtraMount, ...] = Field((), max_length=32)
    """Where the server container mounts `server.extra_volumes` (read-only unless `read_only: false`)."""
    extra_allowed_hosts: tuple[ListItem, ...] = ()
    """More Host headers to accept (fnmatch patterns)."""
    cors_allowed_origins: tuple[HttpUrl, ...] = ()
    """More CORS origins (URLs); ingress hosts are always allowed."""
    job_execution: bool = False
    """MLflow's job execution (costs ~2 GB RAM); periodic tasks off when >1 pod."""
    ai_gateway: AiGateway = Field(default_factory=AiGateway)
    """MLflow's AI gateway and the passphrase of the secrets stored in it (`false`: off)."""
    workspaces: Workspaces = Field(default_factory=Workspaces)
    """MLflow's workspaces, isolated per user by the auth mode (`true`: on; see "Workspaces")."""
    autoscaling: Autoscaling = Field(default_factory=Autoscaling)
    """A HorizontalPodAutoscaler on CPU; replaces `server.replicas` when enabled."""
    service_account_annotations: Annotations = Field(default_factory=dict)
    """e.g. `eks.amazonaws.com/role-arn`, `azure.workload.identity/client-id`, `iam.gke.io/gcp-service-account`."""
    pod_annotations: Annotations = Field(default_factory=dict)
    """Extra pod template annotations."""
    pod_networks: tuple[
        Annotated[
            IPv4Network,
            PlainValidator(_pod_network),
            WithJsonSchema({"type": "string", "pattern": r"^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$"}),
        ],
        ...,
    ] = POD_NETWORKS
    """Pod CIDRs (IPv4); requests addressed to a pod IP in them (probes, Prometheus) pass the Host check."""

    @field_validator("extra_env")
    @classmethod
    def _no_inline_secret(cls, env: dict[str, str | EnvFrom]) -> dict[str, str | EnvFrom]:
        for name, value in env.items():
            if isinstance(value, str) and SECRET_LOOKING.search(name.upper()):
                raise ValueError(
                    f"{name}: looks like a secret, and a literal value would be written to dist/; put it in a "
                    f"Secret and write {name}: {{secret_key_ref: {{name: <secret>, key: <key>}}}} (a value that is no "
                    "secret: a ConfigMap, config_map_key_ref)"
                )
        return env

    @field_validator("cors_allowed_origins")
    @classmethod
    def _one_origin_each(cls, origins: tuple[HttpUrl, ...]) -> tuple[HttpUrl, ...]:
        for origin in origins:
            list_item(str(origin))
        return origins

    @property
    def pod_ip_host_patterns(self) -> list[str]:
        """Allowed-host patterns for requests addressed to a pod IP (kubelet probes, Prometheus scrapes)."""
        return [pattern for network in self.pod_networks for pattern in ipv4_host_patterns(network)]

    @property
    def worker_count(self) -> int:
        """``workers``, with ``auto`` resolved from the CPU limit."""
        if self.workers != "auto":
            return self.workers
        return max(1, min(16, int(quantity_of(self.resources.limits.cpu))))

    @property
    def max_pods(self) -> int:
        return self.autoscaling.max_replicas if self.autoscaling.enabled else self.replicas


class Metrics(Model):
    """Prometheus metrics from ``--expose-prometheus`` and a ServiceMonitor that scrapes them."""

    enabled: bool = False
    """`--expose-prometheus` into an emptyDir, served at `/metrics` on the `metrics` port by a container beside
    MLflow, in every auth mode (MLflow's own `/metrics` on the `http` port is behind its login: basic-auth answers
    401)."""
    port: Port = 9090
    """Port of the metrics container, and of the Service port `metrics` (not `server.port`)."""
    service_monitor: bool = True
    """With metrics on, a ServiceMonitor (Prometheus Operator) scraping the `metrics` port."""
    interval: PrometheusDuration = "30s"
    """Scrape interval, a Prometheus duration (`30s`, `1m`)."""
    service_monitor_labels: Labels = Field(default_factory=dict)
    """Labels your Prometheus selects ServiceMonitors by (e.g. `release: kube-prometheus-stack`)."""
    scraper_namespace_labels: Labels = Field(default_factory=lambda: {"kubernetes.io/metadata.name": "monitoring"})
    """With NetworkPolicies on, the namespaces allowed to reach the `metrics` port (and nothing else of MLflow's)."""
