"""Every pod template meets the Pod Security Standards ("restricted", which includes "baseline") and the
project's own hardening rules, and no secret value is written into the output.

Pod templates: Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob and bare Pods; containers
include init and ephemeral containers unless a contract says otherwise.
Controls follow https://kubernetes.io/docs/concepts/security/pod-security-standards/ (policy v1.27+).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _k8s import (
    LONG_RUNNING_KINDS,
    NEEDS_API_TOKEN_ANNOTATION,
    PodTemplate,
    default_namespace,
    environment_names,
    ident,
    manifests,
    namespace_of,
    pod_templates,
)

ENVS = environment_names()

RESTRICTED_VOLUME_TYPES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
)
# Baseline "Sysctls": the safe set (Kubernetes 1.29+ list; the newer names are namespaced and safe anywhere).
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
SECCOMP_ALLOWED = frozenset({"RuntimeDefault", "Localhost"})
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


Violation = str


def check_pods(
    synthesized: dict[str, list[dict[str, Any]]],
    env: str,
    check: Callable[[PodTemplate], Iterator[Violation]],
) -> None:
    """Run ``check`` over every pod template of ``env`` and fail with every violation found."""
    templates = pod_templates(manifests(synthesized, env))
    problems = [f"{pod.where}: {v}" for pod in templates for v in check(pod)]
    assert not problems, f"env {env}:\n  " + "\n  ".join(problems)


def container_ctx(container: dict[str, Any]) -> dict[str, Any]:
    return container.get("securityContext") or {}


def pod_ctx(pod: PodTemplate) -> dict[str, Any]:
    return pod.spec.get("securityContext") or {}


def effective(pod: PodTemplate, container: dict[str, Any], field: str) -> Any:
    """A field the container may set and otherwise inherits from the pod's securityContext."""
    value = container_ctx(container).get(field)
    return pod_ctx(pod).get(field) if value is None else value


def label(role: str, container: dict[str, Any]) -> str:
    return f"{role} {container.get('name')!r}"


# --- Pod Security Standards: baseline -------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_no_host_namespaces(synthesized, env):
    """Baseline "Host Namespaces": sharing the node's network, PID or IPC namespace lets a pod see and reach
    every process and socket of the node."""

    def check(pod):
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            if pod.spec.get(field):
                yield f"spec.{field} is true"

    check_pods(synthesized, env, check)


@pytest.mark.parametrize("env", ENVS)
def test_not_privileged(synthesized, env):
    """Baseline "Privileged Containers": a privileged container has every device and capability of the node."""

    def check(pod):
        for role, c in pod.containers():
            if container_ctx(c).get("privileged"):
                yield f"{label(role, c)}: securityContext.privileged is true"

    check_pods(synthesized, env, check)


@pytest.mark.parametrize("env", ENVS)
def test_no_windows_host_process(synthesized, env):
    """Baseline "HostProcess": a Windows HostProcess container runs as a process on the node itself."""

    def check(pod):
        if (pod_ctx(pod).get("windowsOptions") or {}).get("hostProcess"):
            yield "securityContext.windowsOptions.hostProcess is true"
        for role, c in pod.containers():
            if (container_ctx(c).get("windowsOptions") or {}).get("hostProcess"):
                yield f"{label(role, c)}: securityContext.windowsOptions.hostProcess is true"

    check_pods(synthesized, env, check)


@pytest.mark.parametrize("env", ENVS)
def test_no_host_path_volumes(synthesized, env):
    """Baseline "HostPath Volumes": a hostPath mount reads or writes the node's file system."""

    def check(pod):
        for volume in pod.spec.get("volumes") or []:
            if "hostPath" in volume:
                yield f"volume {volume.get('name')!r}: hostPath {volume['hostPath'].get('path')!r}"

    check_pods(synthesized, env, check)


@pytest.mark.parametrize("env", ENVS)
def test_no_host_ports(synthesized, env):
    """Baseline "Host Ports": a hostPort binds the node's interface, bypassing Services and NetworkPolicies,
    and pins the pod to nodes where the port is free."""

    def check(pod):
        for role, c in pod.containers():
            for port in c.get("ports") or []:
                if port.get("hostPort"):
                    which = port.get("name") or port.get("containerPort")
                    yield f"{label(role, c)}: ports[{which}].hostPort is {port['hostPort']}"

    check_pods(synthesized, env, check)


@pytest.mark.parametrize("env", ENVS)
def test_apparmor_not_disabled(synthesized, env):
    """Baseline "AppArmor": an `unconfined` profile switches off the runtime's default confinement."""

    def ok(profile_type: str | None) -> bool:
        return profile_type in (None, "RuntimeDefault", "Localhost")

    def check(pod):
        for key, value in pod.annotations.items():
            if key.startswith(APPARMOR_ANNOTATION) and not (
                value == "runtime/default" or value.startswith("localhost/")
            ):
                yield f"annotation {key}: {value!r}"
        if not ok((pod_ctx(pod).get("appArmorProfile") or {}).get("type")):
            yield f"securityContext.appArmorProfile.type is {pod_ctx(pod)['appArmorProfile']['type']!r}"
        for role, c in pod.containers():
            profile = container_ctx(c).get("appArmorProfile") or {}
            if not ok(profile.get("type")):
                yield f"{label(role, c)}: securityContext.appArmorProfile.type is {profile['type']!r}"

    check_pods(synthesized, env, check)


@pytest.mark.parametrize("env", ENVS)
def test_selinux_options_restricted(synthesized, env):
    """Baseline "SELinux": a custom SELinux user/role or a non-container type escapes the container policy."""

    def bad(options: dict[str, Any]) -> list[str]:
        found = [f"{k} is set" for k in ("user", "role") if options.get(k)]
        if options.get("type", "") not in SELINUX_TYPES:
            found.append(f"type is {options['type']!r}")
        return found

    def check(pod):
        for problem in bad(pod_ctx(pod).get("seLinuxOptions") or {}):
            yield f"securityContext.seLinuxOptions.{problem}"
        for role, c in pod.containers():
            for problem in bad(container_ctx(c).get("seLinuxOptions") or {}):
                yield f"{label(role, c)}: securityContext.seLinuxOptions.{problem}"

    check_pods(synthesized, env, check)


@pytest.mark.parametrize("env", ENVS)
def test_proc_mount_default(synthesized, env):
    """Baseline "/proc Mount Type": `Unmasked` exposes the host's /proc paths the runtime normally hides."""

    def check(pod):
        for role, c in pod.containers():
            mount = container_ctx(c).get("procMount")
            if mount not in (None, "Default"):
                yield f"{label(role, c)}: securityContext.procMount is {mount!r}"

    check_pods(synthesized, env, check)


@pytest.mark.parametrize("env", ENVS)
def test_only_safe_sysctls(synthesized, env):
    """Baseline "Sysctls": only namespaced, isolated sysctls may be set; others change the whole node."""

    def check(pod):
        for sysctl in pod_ctx(pod).get("sysctls") or []:
            if sysctl.get("name") not in SAFE_SYSCTLS:
                yield f"securityContext.sysctls: {sysctl.get('name')!r} is not in the safe set"

    check_pods(synthesized, env, check)


# --- Pod Security Standards: restricted -----------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_only_restricted_volume_types(synthesized, env):
    """Restricted "Volume Types": only volume types that cannot reach node or network storage directly."""

    def check(pod):
        for volume in pod.spec.get("volumes") or []:
            banned = sorted(set(volume) - {"name"} - RESTRICTED_VOLUME_TYPES)
            if banned:
                yield f"volume {volume.get('name')!r}: type {', '.join(banned)} not allowed"

    check_pods(synthesized, env, check)


@pytest.mark.parametrize("env", ENVS)
def test_no_privilege_escalation(synthesized, env):
    """Restricted "Privilege Escalation": without an explicit `allowPrivilegeEscalation: false` a setuid binary
    in the image can regain root."""

    def check(pod):
        for role, c in pod.containers():
            value = container_ctx(c).get("allowPrivilegeEscalation")
            if value is not False:
                yield f"{label(role, c)}: securityContext.allowPrivilegeEscalation must be false (is {value!r})"

    check_pods(synthesized, env, check)


@pytest.mark.parametrize("env", ENVS)
def test_run_as_non_root(synthesized, env):
    """Restricted "Running as Non-root": the kubelet then refuses to start a container whose image user is root."""

    def check(pod):
        for role, c in pod.containers():
            if effective(pod, c, "runAsNonRoot") is not True:
                yield f"{label(role, c)}: runAsNonRoot must be true on the pod or the container"

    check_pods(synthesized, env, check)


@pytest.mark.parametrize("env", ENVS)
def test_run_as_user_not_root(synthesized, env):
    """Restricted "Running as Non-root user": UID 0 is root whatever runAsNonRoot says."""

    def check(pod):
        if pod_ctx(pod).get("runAsUser") == 0:
            yield "securityContext.runAsUser is 0"
        for role, c in pod.containers():
            if container_ctx(c).get("runAsUser") == 0:
                yield f"{label(role, c)}: securityContext.runAsUser is 0"

    check_pods(synthesized, env, check)


@pytest.mark.parametrize("env", ENVS)
def test_seccomp_profile(synthesized, env):
    """Restricted "Seccomp": without RuntimeDefault (or a Localhost profile) every syscall is open to the process."""

    def check(pod):
        pod_type = (pod_ctx(pod).get("seccompProfile") or {}).get("type")
        if pod_type is not None and pod_type not in SECCOMP_ALLOWED:
            yield f"securityContext.seccompProfile.type is {pod_type!r}"
        for role, c in pod.containers():
            kind = (container_ctx(c).get("seccompProfile") or {}).get("type") or pod_type
            if kind not in SECCOMP_ALLOWED:
                yield f"{label(role, c)}: seccompProfile.type must be RuntimeDefault or Localhost (is {kind!r})"

    check_pods(synthesized, env, check)


@pytest.mark.parametrize("env", ENVS)
def test_capabilities_drop_all(synthesized, env):
    """Restricted "Capabilities": drop ALL and add back at most NET_BIND_SERVICE, so a compromised process
    holds no kernel privileges."""

    def check(pod):
        for role, c in pod.containers():
            caps = container_ctx(c).get("capabilities") or {}
            if "ALL" not in (caps.get("drop") or []):
                yield f"{label(role, c)}: securityContext.capabilities.drop must include ALL (is {caps.get('drop')!r})"
            extra = set(caps.get("add") or []) - {"NET_BIND_SERVICE"}
            if extra:
                yield f"{label(role, c)}: securityContext.capabilities.add has {sorted(extra)}"

    check_pods(synthesized, env, check)


# --- project hardening rules ----------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_read_only_root_filesystem(synthesized, env):
    """A writable root file system lets an attacker drop tools into the image; writable paths must be explicit
    emptyDir/PVC mounts."""

    def check(pod):
        for role, c in pod.containers():
            if container_ctx(c).get("readOnlyRootFilesystem") is not True:
                yield f"{label(role, c)}: securityContext.readOnlyRootFilesystem must be true"

    check_pods(synthesized, env, check)


@pytest.mark.parametrize("env", ENVS)
def test_resources_requests_and_limits(synthesized, env):
    """Without requests the scheduler overcommits the node; without limits one leaking process (an MLflow
    worker, a migration) starves its neighbours or the node."""

    def check(pod):
        for role, c in pod.containers():
            res = c.get("resources") or {}
            missing = [
                f"{kind}.{what}"
                for kind in ("requests", "limits")
                for what in ("cpu", "memory")
                if not (res.get(kind) or {}).get(what)
            ]
            if missing:
                yield f"{label(role, c)}: resources missing {', '.join(missing)}"

    check_pods(synthesized, env, check)


@pytest.mark.parametrize("env", ENVS)
def test_long_running_containers_have_probes(synthesized, env):
    """Without a readinessProbe a Service sends traffic to a pod that is still starting (MLflow takes 6-18 s);
    without a livenessProbe a hung server is never restarted. Jobs and init containers run to completion."""

    def check(pod):
        if pod.kind not in LONG_RUNNING_KINDS:
            return
        for role, c in pod.containers(init=False):
            for probe in ("readinessProbe", "livenessProbe"):
                if not c.get(probe):
                    yield f"{label(role, c)}: {probe} missing"

    check_pods(synthesized, env, check)


def image_problem(image: str | None) -> str | None:
    if not image:
        return "image missing"
    if "@" in image:  # pinned by digest: immutable whatever the tag says
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image {image!r} has no tag (means :latest)"
    if last.rsplit(":", 1)[1] == "latest":
        return f"image {image!r} uses the mutable tag latest"
    return None


@pytest.mark.parametrize("env", ENVS)
def test_images_pinned(synthesized, env):
    """`latest` or no tag makes every restart a silent upgrade and replicas run different code."""

    def check(pod):
        for role, c in pod.containers():
            problem = image_problem(c.get("image"))
            if problem:
                yield f"{label(role, c)}: {problem}"

    check_pods(synthesized, env, check)


@pytest.mark.parametrize("env", ENVS)
def test_service_account_token_not_mounted(synthesized, env):
    """None of these programs calls the Kubernetes API; a mounted token would hand an attacker API access.
    A pod that needs it says why in the `mlflow-k8s/needs-api-token` annotation (on the pod template or
    on its ServiceAccount)."""
    objs = manifests(synthesized, env)
    default_ns = default_namespace(objs)
    accounts = {
        (namespace_of(o, default_ns), o["metadata"]["name"]): o for o in objs if o.get("kind") == "ServiceAccount"
    }

    def check(pod):
        if pod.spec.get("automountServiceAccountToken") is False:
            return
        account = accounts.get((namespace_of(pod.owner, default_ns), pod.spec.get("serviceAccountName") or "default"))
        reasons = [
            (pod.annotations.get(NEEDS_API_TOKEN_ANNOTATION) or "").strip(),
            ((account or {}).get("metadata", {}).get("annotations", {}).get(NEEDS_API_TOKEN_ANNOTATION) or "").strip(),
        ]
        if not any(reasons):
            yield (
                "spec.automountServiceAccountToken must be false (or give the reason in the "
                f"{NEEDS_API_TOKEN_ANNOTATION} annotation)"
            )

    check_pods(synthesized, env, check)


# --- secret values never in the output ------------------------------------------------------------------

SECRET_NAME_WORDS = frozenset(
    {"PASSWORD", "PASSWD", "PWD", "SECRET", "TOKEN", "KEY", "APIKEY", "CREDENTIALS", "CREDENTIAL"}
)
# A name ending like this holds where a secret is, not the secret (CONFIG_K8S_SECRETS_PATH, ..._KEY_FILE).
NOT_A_VALUE_SUFFIXES = frozenset({"FILE", "PATH", "DIR", "ENABLED", "NAME", "REF", "TTL", "SECONDS"})
SECRET_FLAG = re.compile(r"^--?[\w.-]*(password|passwd|secret|token|api[-_]?key|credentials?)$", re.IGNORECASE)
SECRET_FLAG_WITH_VALUE = re.compile(
    r"^--?[\w.-]*(password|passwd|secret|token|api[-_]?key|credentials?)=(.+)$", re.IGNORECASE
)
URI_CREDENTIALS = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:([^@\s/]+)@")
ONLY_REFERENCE = re.compile(
    r"^\$\([A-Za-z_][A-Za-z0-9_]*\)$"
)  # "$(VAR)": filled in by the kubelet from another env var
FILE_PATH = re.compile(r"^/[\w.@/-]+$")  # where a mounted secret is (GOOGLE_APPLICATION_CREDENTIALS=/var/run/...)


def is_literal(value: str) -> bool:
    return bool(value) and not ONLY_REFERENCE.match(value)


def looks_secret(env_name: str) -> bool:
    words = env_name.upper().split("_")
    return bool(SECRET_NAME_WORDS & set(words)) and words[-1] not in NOT_A_VALUE_SUFFIXES


def secret_literals(container: dict[str, Any]) -> Iterator[str]:
    for var in container.get("env") or []:
        value = var.get("value")
        if not isinstance(value, str):
            continue
        if looks_secret(var["name"]) and is_literal(value) and not FILE_PATH.match(value):
            yield f"env {var['name']} has a literal value (use valueFrom.secretKeyRef)"
        for password in URI_CREDENTIALS.findall(value):
            if is_literal(password):
                yield f"env {var['name']} holds a URI with an inline password"
    for field in ("command", "args"):
        items = [str(a) for a in container.get(field) or []]
        for i, arg in enumerate(items):
            if any(is_literal(p) for p in URI_CREDENTIALS.findall(arg)):
                yield f"{field}[{i}] holds a URI with an inline password"
            flag = SECRET_FLAG_WITH_VALUE.match(arg)
            if flag and is_literal(flag.group(2)):
                yield f"{field}[{i}] passes a literal value to {arg.split('=', 1)[0]}"
            if SECRET_FLAG.match(arg) and i + 1 < len(items) and is_literal(items[i + 1]):
                yield f"{field}[{i + 1}] is a literal value after {arg}"


@pytest.mark.parametrize("env", ENVS)
def test_no_secret_values_in_containers(synthesized, env):
    """A value written into env, command or args is stored in plain text in Git, in the Deployment and in
    `kubectl describe`; secrets must come from a Secret (valueFrom, envFrom or a mounted file)."""

    def check(pod):
        for role, c in pod.containers():
            for problem in secret_literals(c):
                yield f"{label(role, c)}: {problem}"

    check_pods(synthesized, env, check)


@pytest.mark.parametrize("env", ENVS)
def test_secrets_carry_no_values(synthesized, env):
    """The output is committed and reviewed: a Secret in it must not carry data. Secret values come from an
    ExternalSecret, a SealedSecret or a prerequisite Secret created outside this repository."""
    problems = [
        f"{ident(o)}: has {field}"
        for o in manifests(synthesized, env)
        if o.get("kind") == "Secret"
        for field in ("data", "stringData")
        if o.get(field)
    ]
    assert not problems, f"env {env}:\n  " + "\n  ".join(problems)
