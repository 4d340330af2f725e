"""Containers and pod specs with the project's defaults, as typed cdk8s-plus-27 L1 structs.

Every container gets the Pod Security "restricted" settings, every pod spec runs non-root with no API
token and no service links (a Service named ``mlflow`` would otherwise inject ``MLFLOW_PORT=tcp://...``,
which MLflow reads as its port). Helpers here build structs only; objects are made in ``objects.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from cdk8s_plus_27 import k8s

from mlflow_constructs.config.base import Image, Resources

# The non-root user and group every pod runs as.
DEFAULT_UID = 10001
# Ephemeral storage a container needs besides the emptyDirs it writes: its logs (the kubelet rotates them at
# 5 files of 10Mi by default); the root filesystem is read-only, so nothing else lands on the node's disk.
LOG_STORAGE_MIB = 64
_BINARY_SUFFIXES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_DECIMAL_SUFFIXES = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}

RUNTIME_DEFAULT_SECCOMP = k8s.SeccompProfile(type="RuntimeDefault")
RESTRICTED_CONTAINER = k8s.SecurityContext(
    allow_privilege_escalation=False,
    read_only_root_filesystem=True,
    run_as_non_root=True,
    privileged=False,
    capabilities=k8s.Capabilities(drop=["ALL"]),
    seccomp_profile=RUNTIME_DEFAULT_SECCOMP,
)


@dataclass(frozen=True)
class SecretRef:
    """One key of one Secret: what a pod reads, never the value."""

    name: str
    key: str


@cache
def quantity(value: str) -> k8s.Quantity:
    """One jsii object per distinct value and process: each is a round trip to node, and an environment uses
    ~50 of a handful of values; they are immutable, so every object and chart can share them."""
    made = k8s.Quantity.from_string(value)
    _QUANTITY_TEXT[made] = value
    return made


def quantity_text(value: k8s.Quantity) -> str:
    """The text of a quantity, without asking node when :func:`quantity` made it (``.value`` is a round trip)."""
    return _QUANTITY_TEXT.get(value) or value.value


_QUANTITY_TEXT: dict[k8s.Quantity, str] = {}


@cache
def int_or_string(value: int | str) -> k8s.IntOrString:
    """Shared per value and process, as :func:`quantity`."""
    return k8s.IntOrString.from_number(value) if isinstance(value, int) else k8s.IntOrString.from_string(value)


def port_ref(port: int | str) -> k8s.IntOrString:
    """A port by number or by the container port's name."""
    return int_or_string(port)


def resources(res: Resources) -> k8s.ResourceRequirements:
    return fixed_resources(res.requests.cpu, res.requests.memory, res.limits.cpu, res.limits.memory)


def fixed_resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> k8s.ResourceRequirements:
    """Resources of a helper container (init steps, Jobs) that are not configurable."""
    return k8s.ResourceRequirements(
        requests={"cpu": quantity(cpu), "memory": quantity(memory)},
        limits={"cpu": quantity(cpu_limit), "memory": quantity(memory_limit)},
    )


def env_values(values: Mapping[str, str]) -> list[k8s.EnvVar]:
    return [k8s.EnvVar(name=key, value=value) for key, value in values.items()]


def secret_env(name: str, ref: SecretRef) -> k8s.EnvVar:
    """An env var read from a Secret key."""
    return k8s.EnvVar(
        name=name, value_from=k8s.EnvVarSource(secret_key_ref=k8s.SecretKeySelector(name=ref.name, key=ref.key))
    )


def mount(volume: str, path: str, *, read_only: bool = False) -> k8s.VolumeMount:
    return k8s.VolumeMount(name=volume, mount_path=path, read_only=True if read_only else None)


TMP_MOUNT = mount("tmp", "/tmp")


def empty_dir(name: str, size: str = "256Mi", *, memory: bool = False) -> k8s.Volume:
    """A scratch volume; ``memory`` puts it on tmpfs (counted as the pod's memory, never on the node's disk)."""
    return k8s.Volume(
        name=name, empty_dir=k8s.EmptyDirVolumeSource(size_limit=quantity(size), medium="Memory" if memory else None)
    )


def claim_volume(name: str, claim: str) -> k8s.Volume:
    return k8s.Volume(name=name, persistent_volume_claim=k8s.PersistentVolumeClaimVolumeSource(claim_name=claim))


def config_map_volume(name: str, config_map: str) -> k8s.Volume:
    return k8s.Volume(name=name, config_map=k8s.ConfigMapVolumeSource(name=config_map))


def secret_volume(name: str, secret: str, items: Mapping[str, str], mode: int | None = None) -> k8s.Volume:
    """Secret keys as files (``key -> file name``)."""
    return k8s.Volume(
        name=name,
        secret=k8s.SecretVolumeSource(
            secret_name=secret,
            items=[k8s.KeyToPath(key=key, path=path) for key, path in items.items()],
            default_mode=mode,
        ),
    )


def http_probe(path: str, port: str, *, period: int, failures: int, timeout: int = 5) -> k8s.Probe:
    return k8s.Probe(
        http_get=k8s.HttpGetAction(path=path, port=port_ref(port)),
        period_seconds=period,
        timeout_seconds=timeout,
        failure_threshold=failures,
    )


def exec_probe(command: Sequence[str], *, period: int, failures: int, timeout: int = 5) -> k8s.Probe:
    return k8s.Probe(
        exec=k8s.ExecAction(command=list(command)),
        period_seconds=period,
        timeout_seconds=timeout,
        failure_threshold=failures,
    )


def tcp_probe(port: str, *, period: int, failures: int, timeout: int = 3) -> k8s.Probe:
    return k8s.Probe(
        tcp_socket=k8s.TcpSocketAction(port=port_ref(port)),
        period_seconds=period,
        timeout_seconds=timeout,
        failure_threshold=failures,
    )


@dataclass(frozen=True)
class Probes:
    """A container's probes (any may be None)."""

    startup: k8s.Probe | None = None
    liveness: k8s.Probe | None = None
    readiness: k8s.Probe | None = None


NO_PROBES = Probes()


def container(
    name: str,
    image: Image,
    *,
    resources: k8s.ResourceRequirements,
    command: Sequence[str] | None = None,
    args: Sequence[str] | None = None,
    env: Sequence[k8s.EnvVar] = (),
    env_from_config_map: str | None = None,
    ports: Mapping[str, int] | None = None,
    probes: Probes = NO_PROBES,
    mounts: Sequence[k8s.VolumeMount] = (),
    post_start: Sequence[str] | None = None,
) -> k8s.Container:
    """A container with the restricted security context; ``ports`` maps port names to numbers; ``post_start``
    a command run in it once it has started (kubelet holds it not-started until the command succeeds)."""
    return k8s.Container(
        name=name,
        image=image.ref,
        image_pull_policy=image.pull_policy,
        command=list(command) if command is not None else None,
        args=list(args) if args is not None else None,
        env=list(env) or None,
        env_from=[k8s.EnvFromSource(config_map_ref=k8s.ConfigMapEnvSource(name=env_from_config_map))]
        if env_from_config_map
        else None,
        ports=[k8s.ContainerPort(name=port_name, container_port=number) for port_name, number in ports.items()]
        if ports
        else None,
        resources=resources,
        security_context=RESTRICTED_CONTAINER,
        startup_probe=probes.startup,
        liveness_probe=probes.liveness,
        readiness_probe=probes.readiness,
        volume_mounts=list(mounts) or None,
        lifecycle=k8s.Lifecycle(post_start=k8s.LifecycleHandler(exec=k8s.ExecAction(command=list(post_start))))
        if post_start
        else None,
    )


def size_in_bytes(size: str) -> int:
    """A byte quantity (``256Mi``, ``2Gi``, ``500M``, ``1048576``) in bytes."""
    for suffix, factor in (_BINARY_SUFFIXES | _DECIMAL_SUFFIXES).items():
        if size.endswith(suffix):
            return int(size.removesuffix(suffix)) * factor
    return int(size)


def with_ephemeral_storage(c: k8s.Container, volumes: Sequence[k8s.Volume]) -> k8s.Container:
    """``c`` with an ephemeral-storage request and limit: the disk-backed emptyDirs it writes (their
    ``sizeLimit``) plus its logs. The kubelet evicts a pod whose containers write more than their limits add up
    to, so a container's limit must hold the emptyDirs it fills; requesting as much places the pod on a node
    with that much free disk."""
    scratch = {v.name: v.empty_dir for v in volumes if v.empty_dir is not None and v.empty_dir.medium != "Memory"}
    written = {m.name for m in c.volume_mounts or () if not m.read_only and m.name in scratch}
    mib = LOG_STORAGE_MIB + sum(-(-size_in_bytes(quantity_text(scratch[name].size_limit)) // 2**20) for name in written)
    storage = {"ephemeral-storage": quantity(f"{mib}Mi")}
    res = c.resources or k8s.ResourceRequirements()
    return k8s.Container(
        **{
            **c._values,  # a jsii struct keeps its fields here; copy them and replace the resources
            "resources": k8s.ResourceRequirements(
                requests={**(res.requests or {}), **storage}, limits={**(res.limits or {}), **storage}
            ),
        }
    )


def pod_security_context(uid: int = DEFAULT_UID) -> k8s.PodSecurityContext:
    return k8s.PodSecurityContext(
        run_as_non_root=True,
        run_as_user=uid,
        run_as_group=uid,
        fs_group=uid,
        fs_group_change_policy="OnRootMismatch",
        seccomp_profile=RUNTIME_DEFAULT_SECCOMP,
    )


def pod_template(
    labels: Mapping[str, str],
    *,
    containers: Sequence[k8s.Container],
    init_containers: Sequence[k8s.Container] = (),
    volumes: Sequence[k8s.Volume] = (),
    service_account: str | None = None,
    restart_policy: str | None = None,
    termination_grace_period: int | None = None,
    spread: Sequence[k8s.TopologySpreadConstraint] = (),
    annotations: Mapping[str, str] | None = None,
    affinity: k8s.Affinity | None = None,
) -> k8s.PodTemplateSpec:
    """A pod template with the restricted defaults: non-root, no API token, no service links, and every
    container's ephemeral storage requested and limited (:func:`with_ephemeral_storage`)."""
    return k8s.PodTemplateSpec(
        metadata=k8s.ObjectMeta(labels=dict(labels), annotations=dict(annotations) if annotations else None),
        spec=k8s.PodSpec(
            service_account_name=service_account,
            automount_service_account_token=False,
            enable_service_links=False,
            security_context=pod_security_context(),
            restart_policy=restart_policy,
            termination_grace_period_seconds=termination_grace_period,
            topology_spread_constraints=list(spread) or None,
            affinity=affinity,
            init_containers=[with_ephemeral_storage(c, volumes) for c in init_containers] or None,
            containers=[with_ephemeral_storage(c, volumes) for c in containers],
            volumes=list(volumes) or None,
        ),
    )
