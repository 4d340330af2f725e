"""Run a synthesized pod template's containers on this machine, as a container runtime would.

    objects = load_manifests(yaml_text)               # everything `cdk8s synth` wrote
    deploy = find_object(objects, "Deployment", "mlflow")
    with run_pod(deploy, objects, secret_values={"mlflow-db": {"uri": pg_uri}}) as pod:
        pod.wait_for_probe()                          # startupProbe, then readinessProbe
        requests.get(pod.url("http") + "/health")

What is honoured (see the pod_* modules for details):

- init containers run in order, each must exit 0 (``InitContainerFailed`` with its log tail);
  native sidecars (init containers with ``restartPolicy: Always``) are started and left running;
- env: ``value`` with ``$(VAR)``, ``configMapKeyRef``/``secretKeyRef`` (``optional``), ``fieldRef``,
  ``resourceFieldRef``, ``envFrom`` with ``prefix``, Service link variables (``enableServiceLinks``);
  ``$(VAR)`` in ``command``/``args``; the image's ENV, then HOSTNAME, under the pod's variables;
- volumes: ``emptyDir``, ``configMap``, ``secret``, ``projected``, ``downwardAPI``, PVCs (and
  StatefulSet ``volumeClaimTemplates``) as directories, mounted at ``mountPath`` (``subPath``,
  ``subPathExpr``, ``readOnly``), plus the automounted service account token unless disabled;
- /etc/hosts: localhost, the pod's name, ``hostAliases``, and every Service's DNS names on 127.0.0.1
  (pods share the host network and there is no cluster DNS: a test gives each Service the port its
  target container listens on);
- ``workingDir``; ``securityContext`` (pod and container): ``readOnlyRootFilesystem`` (root remounted
  read-only: fully honoured), ``runAsUser``/``runAsGroup``/``fsGroup``/``supplementalGroups`` (setpriv),
  ``runAsNonRoot`` (refused like the kubelet when the effective user is 0). Capabilities, seccomp,
  ``allowPrivilegeEscalation`` and resource limits are not enforced.
- the container ``image`` maps to a venv or helper (pod_images.py); unknown images raise.

Every process is stopped at the end (SIGTERM to PID 1, SIGKILL after the grace period), also when
the body raises; an ``atexit`` hook kills what a failing test left, and ``reap_stale_sandboxes`` (run
by conftest at session start) what a killed test run left.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pod_env import ApiServer, CreateContainerConfigError, ObjectStore, PodInfo, expand_command, resolve_env
from pod_images import ImageRuntime, UnknownImage, resolve_image
from pod_probes import ProbeError, probe_budget, probe_once, resolve_port
from pod_sandbox import ContainerProcess, SandboxSpec
from pod_volumes import Mount, UnsupportedVolume, VolumeSet

__all__ = [
    "ContainerFailed",
    "CreateContainerConfigError",
    "ImageRuntime",
    "InitContainerFailed",
    "PodRun",
    "ProbeError",
    "UnknownImage",
    "UnsupportedVolume",
    "find_object",
    "load_manifests",
    "pod_template",
    "run_job",
    "run_pod",
]

SA_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
DEFAULT_GRACE_CAP = 10.0


class ContainerFailed(RuntimeError):
    """A container exited with a non-zero code where it had to succeed."""


class InitContainerFailed(ContainerFailed):
    """An init container exited non-zero (the pod would be stuck in Init:Error)."""


# --------------------------------------------------------------------------------------------------
# Manifests
# --------------------------------------------------------------------------------------------------


def load_manifests(source: str | Path | Iterable[dict]) -> list[dict]:
    """Objects from YAML text, a YAML file, a directory of YAML files, or an iterable of dicts."""
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source and Path(source).exists()):
        path = Path(source)
        files = sorted(path.glob("*.y*ml")) if path.is_dir() else [path]
        return [obj for f in files for obj in yaml.safe_load_all(f.read_text()) if obj]
    if isinstance(source, str):
        return [obj for obj in yaml.safe_load_all(source) if obj]
    return [obj for obj in source if obj]


def find_object(objects: Iterable[dict], kind: str, name: str | None = None) -> dict:
    """The one object of ``kind`` (and ``name``); raises when there is none or several."""
    found = [o for o in objects if o.get("kind") == kind and (name is None or o["metadata"]["name"] == name)]
    if len(found) != 1:
        names = [o["metadata"]["name"] for o in objects if o.get("kind") == kind]
        raise LookupError(f"expected one {kind} {name or ''}, found {len(found)} (all {kind}s: {names})")
    return found[0]


def pod_template(workload: dict) -> dict:
    """The pod template (``{"metadata": ..., "spec": ...}``) of a Pod/Deployment/StatefulSet/Job/..."""
    kind = workload.get("kind")
    if kind == "Pod":
        return {"metadata": workload.get("metadata", {}), "spec": workload["spec"]}
    if kind == "CronJob":
        return workload["spec"]["jobTemplate"]["spec"]["template"]
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        return workload["spec"]["template"]
    if "spec" in workload and "containers" in workload["spec"]:
        return {"metadata": workload.get("metadata", {}), "spec": workload["spec"]}
    raise ValueError(f"not a workload: kind {kind!r}")


def _pod_name(workload: dict) -> str:
    name = workload.get("metadata", {}).get("name", "pod")
    digest = hashlib.sha1(name.encode()).hexdigest()
    kind = workload.get("kind")
    if kind == "StatefulSet":
        return f"{name}-0"
    if kind in ("Deployment", "ReplicaSet"):
        return f"{name}-{digest[:9]}-{digest[9:14]}"
    if kind in ("Job", "CronJob", "DaemonSet"):
        return f"{name}-{digest[:5]}"
    return name


# --------------------------------------------------------------------------------------------------
# Users
# --------------------------------------------------------------------------------------------------


def _image_user(user: str) -> tuple[int, int | None]:
    name, _, group = user.partition(":")
    if name.isdigit():
        uid = int(name)
        gid = int(group) if group.isdigit() else None
    else:
        try:
            entry = pwd.getpwnam(name)
        except KeyError as exc:
            raise CreateContainerConfigError(f"image USER {name!r} is unknown on this machine") from exc
        uid, gid = entry.pw_uid, (int(group) if group.isdigit() else entry.pw_gid)
    return uid, gid


def _identity(container: dict, pod_spec: dict, image: ImageRuntime) -> tuple[int, int, list[int]]:
    """uid, gid and supplementary groups, with runAsNonRoot checked (pod context < container context)."""
    psc, csc = pod_spec.get("securityContext") or {}, container.get("securityContext") or {}
    image_uid, image_gid = _image_user(image.user)
    uid = csc.get("runAsUser", psc.get("runAsUser", image_uid))
    gid = csc.get("runAsGroup", psc.get("runAsGroup", image_gid if image_gid is not None else 0))
    if csc.get("runAsNonRoot", psc.get("runAsNonRoot", False)) and uid == 0:
        raise CreateContainerConfigError(f"container {container.get('name')}: runAsNonRoot and image will run as root")
    groups = list(psc.get("supplementalGroups") or [])
    if psc.get("fsGroup") is not None:
        groups.append(int(psc["fsGroup"]))
    return int(uid), int(gid), groups


def _home(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_dir
    except KeyError:
        return "/"


# --------------------------------------------------------------------------------------------------
# The running pod
# --------------------------------------------------------------------------------------------------


@dataclass
class PodRun:
    """A pod whose containers run on this machine."""

    workload: dict
    template: dict
    info: PodInfo
    scratch: Path
    volumes: VolumeSet
    init_containers: list[ContainerProcess] = field(default_factory=list)
    containers: dict[str, ContainerProcess] = field(default_factory=dict)

    @property
    def spec(self) -> dict:
        return self.template["spec"]

    def container(self, name: str | None = None) -> ContainerProcess:
        """A running main container (or native sidecar); the first main container by default."""
        if name is None:
            main = [c["name"] for c in self.spec["containers"] if c["name"] in self.containers]
            if not main:
                raise LookupError("no main container is running")
            name = main[0]
        return self.containers[name]

    def port(self, port: int | str, container: str | None = None) -> int:
        return resolve_port(self.container(container).container, port)

    def url(self, port: int | str, container: str | None = None, scheme: str = "http") -> str:
        """``http://127.0.0.1:<port>`` for a container port number or name."""
        return f"{scheme}://127.0.0.1:{self.port(port, container)}"

    def logs(self, container: str | None = None) -> str:
        return self.container(container).log()

    def all_log_tails(self, lines: int = 40) -> str:
        procs = [*self.init_containers, *self.containers.values()]
        return "\n".join(p.log_tail(lines) for p in procs)

    def wait_for_probe(
        self,
        container: str | None = None,
        kinds: tuple[str, ...] = ("startupProbe", "readinessProbe"),
        timeout: float = 180.0,
        interval: float = 0.5,
    ) -> float:
        """Poll the container's probes (in ``kinds`` order, those it has) until each succeeds.

        Returns the seconds from container start to the last success. Raises ``ProbeError`` with the
        container's log tail on timeout or when the container exits. ``timeout`` is this machine's
        budget, not the manifest's (compare the result with ``probe_budget`` for that).
        """
        proc = self.container(container)
        probes = [(k, proc.container[k]) for k in kinds if proc.container.get(k)]
        if not probes:
            raise ProbeError(f"container {proc.name} has none of the probes {kinds}")
        deadline = time.monotonic() + timeout
        for kind, probe in probes:
            last = "not tried"
            while True:
                if not proc.running:
                    raise ProbeError(
                        f"container {proc.name} exited with {proc.returncode} while waiting for "
                        f"its {kind} ({last})\n{proc.log_tail()}"
                    )
                result = probe_once(
                    proc.container,
                    probe,
                    self.info.pod_ip,
                    exec_fn=lambda argv, t: proc.exec(argv, timeout=max(t, 5)).returncode,
                )
                last = result.detail
                if result.ok:
                    break
                if time.monotonic() > deadline:
                    raise ProbeError(
                        f"container {proc.name}: {kind} failed for {timeout:.0f} s ({last}; the "
                        f"manifest allows {probe_budget(probe):.0f} s)\n{proc.log_tail()}"
                    )
                time.sleep(interval)
        return time.monotonic() - proc.started_at

    def wait_ready(self, timeout: float = 180.0) -> dict[str, float]:
        """Wait for every running container that has a startup or readiness probe."""
        return {
            name: self.wait_for_probe(name, timeout=timeout)
            for name, proc in self.containers.items()
            if proc.container.get("startupProbe") or proc.container.get("readinessProbe")
        }

    def exec(self, argv: list[str], container: str | None = None, **kwargs) -> subprocess.CompletedProcess:
        return self.container(container).exec(argv, **kwargs)

    def stop(self, grace: float | None = None) -> dict[str, int | None]:
        """Stop every container; returns exit codes. ``grace`` defaults to the pod's
        terminationGracePeriodSeconds (30 if unset) capped at ``DEFAULT_GRACE_CAP`` to keep tests fast;
        each ``ContainerProcess`` records ``stop_seconds`` and ``killed``."""
        if grace is None:
            grace = min(float(self.spec.get("terminationGracePeriodSeconds", 30)), DEFAULT_GRACE_CAP)
        codes = {}
        for name, proc in reversed(list(self.containers.items())):
            codes[name] = proc.stop(grace)
        for proc in self.init_containers:
            proc.kill()
        return codes


def _automount_token(pod_spec: dict, store: ObjectStore) -> bool:
    if "automountServiceAccountToken" in pod_spec:
        return bool(pod_spec["automountServiceAccountToken"])
    sa_name = pod_spec.get("serviceAccountName") or "default"
    for obj in store.objects:
        if obj.get("kind") == "ServiceAccount" and obj["metadata"]["name"] == sa_name:
            return obj.get("automountServiceAccountToken", True) is not False
    return True


def _sa_token_volume() -> dict:
    return {
        "name": "kube-api-access",
        "projected": {
            "defaultMode": 0o644,
            "sources": [
                {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
            ],
        },
    }


def _write_hosts_file(path: Path, pod: PodInfo, spec: dict, store: ObjectStore, extra_hosts: Mapping[str, str]) -> Path:
    """The pod's /etc/hosts: what the kubelet writes (localhost, the pod's own name, ``hostAliases``),
    plus every Service of ``objects`` under its DNS names on 127.0.0.1, since pods share the host
    network here (there is no cluster DNS), plus ``extra_hosts`` (name -> IP)."""
    lines = [
        "# Kubernetes-managed hosts file (pod runner).",
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        f"{pod.pod_ip}\t{pod.name}",
    ]
    for alias in spec.get("hostAliases") or []:
        lines.append(f"{alias['ip']}\t" + " ".join(alias.get("hostnames") or []))
    lines.append("# Services (all on 127.0.0.1 here).")
    for svc in store.services():
        name, ns = svc["metadata"]["name"], svc["metadata"].get("namespace") or pod.namespace
        names = [f"{name}.{ns}.svc.cluster.local", f"{name}.{ns}.svc", f"{name}.{ns}"]
        lines.append("127.0.0.1\t" + " ".join(names + ([name] if ns == pod.namespace else [])))
    lines += [f"{ip}\t{host}" for host, ip in extra_hosts.items()]
    path.write_text("\n".join(lines) + "\n")
    os.chmod(path, 0o644)
    return path


class _Pod:
    """Builds the sandboxes of one pod (used by ``run_pod`` / ``run_job``)."""

    def __init__(
        self,
        workload: dict,
        objects: Iterable[dict],
        secret_values: Mapping[str, Mapping[str, str]] | None,
        *,
        namespace: str | None,
        images: Mapping[str, ImageRuntime] | None,
        pvc_dirs: Mapping[str, Path] | None,
        scratch: Path,
        skip_containers: Iterable[str],
        pod_ip: str,
        extra_hosts: Mapping[str, str] | None = None,
        api_server: ApiServer | None = None,
    ) -> None:
        self.workload = workload
        self.template = copy.deepcopy(pod_template(workload))
        spec = self.template["spec"]
        meta = self.template.get("metadata") or {}
        self.namespace = namespace or workload.get("metadata", {}).get("namespace") or "default"
        values = {k: dict(v) for k, v in (secret_values or {}).items()}
        self.store = ObjectStore(list(objects), values, self.namespace, api_server)
        name = spec.get("hostname") or _pod_name(workload)
        self.info = PodInfo(
            name=name,
            namespace=self.namespace,
            labels=dict(meta.get("labels") or {}),
            annotations=dict(meta.get("annotations") or {}),
            service_account=spec.get("serviceAccountName") or "default",
            pod_ip=pod_ip,
        )
        self.images = dict(images or {})
        self.skip = set(skip_containers)
        self.scratch = scratch
        self.token = _automount_token(spec, self.store)
        if self.token:
            spec.setdefault("volumes", []).append(_sa_token_volume())
        if workload.get("kind") == "StatefulSet":
            for claim in workload["spec"].get("volumeClaimTemplates") or []:
                claim_name = f"{claim['metadata']['name']}-{self.info.name}"
                spec.setdefault("volumes", []).append(
                    {"name": claim["metadata"]["name"], "persistentVolumeClaim": {"claimName": claim_name}}
                )
        self.hosts_file = _write_hosts_file(scratch / "etc-hosts", self.info, spec, self.store, extra_hosts or {})
        all_containers = [*(spec.get("initContainers") or []), *spec["containers"]]
        fs_group = (spec.get("securityContext") or {}).get("fsGroup")
        self.volumes = VolumeSet(
            spec,
            self.store,
            self.info,
            scratch,
            pvc_dirs=dict(pvc_dirs or {}),
            containers=all_containers,
            fs_group=int(fs_group) if fs_group is not None else None,
        )

    def sandbox(self, container: dict) -> SandboxSpec:
        spec = self.template["spec"]
        image = resolve_image(container["image"], self.images)
        env = resolve_env(container, self.store, self.info, spec.get("enableServiceLinks", True) is not False)
        command, args = expand_command(container, env)
        argv = image.argv(command, args)
        if not argv:
            raise CreateContainerConfigError(f"container {container['name']}: no command and the image has none")
        uid, gid, groups = _identity(container, spec, image)
        # Like containerd: HOSTNAME and (unless the image sets it) HOME, under the image's ENV, then the pod's.
        full_env = {"PATH": image.path, "HOME": _home(uid), **image.env, "HOSTNAME": self.info.name, **env}
        mounts = self.volumes.mounts_for(container, env)
        if self.token and not any(m.target.rstrip("/") == SA_TOKEN_PATH for m in mounts):
            mounts.append(Mount(self.volumes.dirs["kube-api-access"], SA_TOKEN_PATH, True))
        if not any(m.target == "/etc/hosts" for m in mounts):
            mounts.append(Mount(self.hosts_file, "/etc/hosts", True))
        csc = container.get("securityContext") or {}
        return SandboxSpec(
            argv=argv,
            env=full_env,
            mounts=mounts,
            workdir=container.get("workingDir") or image.workdir,
            hostname=self.info.name,
            read_only_root=bool(csc.get("readOnlyRootFilesystem", False)),
            uid=uid,
            gid=gid,
            groups=groups,
            ro_binds=image.ro_binds,
        )

    def start(self, container: dict, index: int) -> ContainerProcess:
        proc = ContainerProcess(
            container["name"],
            self.sandbox(container),
            self.scratch / "containers" / f"{index:02d}-{container['name']}",
            container,
        )
        return proc.start()


@contextlib.contextmanager
def run_pod(
    workload: dict,
    objects: Iterable[dict] = (),
    secret_values: Mapping[str, Mapping[str, str]] | None = None,
    *,
    namespace: str | None = None,
    images: Mapping[str, ImageRuntime] | None = None,
    pvc_dirs: Mapping[str, Path] | None = None,
    skip_containers: Iterable[str] = (),
    start_main: bool = True,
    init_timeout: float = 300.0,
    pod_ip: str = "127.0.0.1",
    extra_hosts: Mapping[str, str] | None = None,
    keep_scratch: bool = False,
    grace: float | None = None,
    api_server: ApiServer | None = None,
) -> Iterator[PodRun]:
    """Run ``workload``'s pod: init containers to completion, then its containers in the background.

    ``objects``: the other synthesized objects (ConfigMaps, Secrets, Services, ServiceAccounts);
    ``secret_values``: name -> {key: value} for Secrets the manifests only reference;
    ``images``: extra image -> ``ImageRuntime`` mappings; ``pvc_dirs``: claim name -> host dir to keep
    data across runs; ``skip_containers``: container names not to run (e.g. an unmapped sidecar);
    ``extra_hosts``: name -> IP added to the pods' /etc/hosts (Service names are there already, on
    127.0.0.1); ``api_server``: a real API server the pod's token, CA and ``KUBERNETES_SERVICE_*`` point at;
    ``start_main=False`` runs only the init containers. Yields a ``PodRun``; everything is stopped
    (and the scratch dir removed unless ``keep_scratch``) when the block ends.
    """
    scratch = Path(tempfile.mkdtemp(prefix="podrunner-"))
    run: PodRun | None = None
    try:
        pod = _Pod(
            workload,
            objects,
            secret_values,
            namespace=namespace,
            images=images,
            pvc_dirs=pvc_dirs,
            scratch=scratch,
            skip_containers=skip_containers,
            pod_ip=pod_ip,
            extra_hosts=extra_hosts,
            api_server=api_server,
        )
        run = PodRun(workload, pod.template, pod.info, scratch, pod.volumes)
        index = 0
        for container in pod.template["spec"].get("initContainers") or []:
            index += 1
            if container["name"] in pod.skip:
                continue
            proc = pod.start(container, index)
            if container.get("restartPolicy") == "Always":  # native sidecar
                run.containers[container["name"]] = proc
                if container.get("startupProbe"):
                    run.wait_for_probe(container["name"], kinds=("startupProbe",), timeout=init_timeout)
                continue
            run.init_containers.append(proc)
            code = proc.wait(init_timeout)
            if code != 0:
                raise InitContainerFailed(f"init container {proc.name} exited {code}\n{proc.log_tail()}")
        if start_main:
            for container in pod.template["spec"]["containers"]:
                index += 1
                if container["name"] not in pod.skip:
                    run.containers[container["name"]] = pod.start(container, index)
        yield run
    finally:
        if run is not None:
            run.stop(grace)
        if not keep_scratch:
            shutil.rmtree(scratch, ignore_errors=True)


@dataclass
class JobResult:
    """Outcome of a Job-like pod run to completion."""

    exit_codes: dict[str, int]
    logs: dict[str, str]
    seconds: float

    @property
    def succeeded(self) -> bool:
        return all(code == 0 for code in self.exit_codes.values())


def run_job(
    workload: dict,
    objects: Iterable[dict] = (),
    secret_values: Mapping[str, Mapping[str, str]] | None = None,
    *,
    timeout: float = 600.0,
    check: bool = True,
    **kwargs,
) -> JobResult:
    """Run a Job's (or any workload's) pod to completion: init containers, then every main container
    until it exits. With ``check`` a non-zero exit raises ``ContainerFailed`` with the log tail."""
    started = time.monotonic()
    with run_pod(workload, objects, secret_values, init_timeout=timeout, **kwargs) as pod:
        codes, logs = {}, {}
        sidecars = {c["name"] for c in pod.spec.get("initContainers") or []}
        for name, proc in pod.containers.items():
            if name in sidecars:
                continue
            codes[name] = proc.wait(timeout)
            logs[name] = proc.log()
        result = JobResult(codes, logs, time.monotonic() - started)
        if check and not result.succeeded:
            failed = [n for n, c in codes.items() if c != 0]
            raise ContainerFailed(
                f"job {workload['metadata']['name']}: containers {failed} failed {codes}\n"
                + "\n".join(pod.container(n).log_tail() for n in failed)
            )
        return result
