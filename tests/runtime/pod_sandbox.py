"""Run one container's program in a private mount/PID/UTS/IPC namespace (bubblewrap + overlayfs).

Layout of a sandbox, from the outside in:

    unshare --mount --propagation private      (private mount namespace, as root)
      sh: mount a tmpfs at <layer>, then overlayfs  lowerdir=/  upperdir=<layer>/upper  -> <layer>/root
      bwrap --bind <layer>/root /               (the host root as the image, writes go to the tmpfs)
            --proc /proc --dev /dev --ro-bind /sys /sys --tmpfs /tmp --tmpfs /dev/shm
            --ro-bind <venv> <venv> ...         (the image's programs, in case they sit on another mount)
            --bind/--ro-bind <volume> <mountPath> ...   (parents first; configMap/secret read-only)
            --remount-ro /                      (only with readOnlyRootFilesystem: true)
            --unshare-pid --as-pid-1            (the program is PID 1, as in a container)
            --unshare-uts --hostname <pod>  --unshare-ipc  --die-with-parent
            --clearenv --setenv ...  --chdir <workingDir>
        [setpriv --reuid --regid --groups]      (runAsUser / runAsGroup / fsGroup / supplementalGroups)
          <command> <args>

The host network is shared, so servers listen on 127.0.0.1 and the tests reach them there. Nothing is
created on the host outside the runner's temp dir: mount points live in the overlay's tmpfs.

Why not plain ``bwrap --bind / /``: bwrap 0.8 (Debian 12) has no ``--overlay``; with the host root bound
read-write, mount points such as /mlflow/tmp would be created on the host, and a container's writes to
its root filesystem would land on the host.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pod_volumes import Mount

BWRAP = "/usr/bin/bwrap"
UNSHARE = "/usr/bin/unshare"
SETPRIV = "/usr/bin/setpriv"
NSENTER = "/usr/bin/nsenter"

_LAYER_SCRIPT = r"""
set -e
layer=$1; shift
mount -t tmpfs -o mode=0755 podrunner-layer "$layer"
mkdir "$layer/upper" "$layer/work" "$layer/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$layer/upper,workdir=$layer/work" "$layer/root"
exec "$@"
"""

_LIVE: weakref.WeakSet[ContainerProcess] = weakref.WeakSet()


@atexit.register
def _kill_leftovers() -> None:
    for proc in list(_LIVE):
        proc.kill()


def _start_time(pid: int) -> str | None:
    """A process's start time (field 22 of /proc/PID/stat), to tell a PID from a reused one."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def reap_stale_sandboxes(tmp_root: Path = Path("/tmp")) -> list[int]:
    """Kill sandboxes whose runner died without cleaning up (e.g. SIGKILL), and remove their dirs.

    ``--die-with-parent`` covers root containers, but not a ``runAsUser`` one: bwrap drops its
    capabilities and can then not deliver the parent-death signal to another uid. Each sandbox
    records its runner and PID 1 in ``sandbox.json``; this sweeps them. Returns the PIDs killed.
    """
    killed = []
    for record in tmp_root.glob("podrunner-*/containers/*/sandbox.json"):
        try:
            info = json.loads(record.read_text())
        except (OSError, ValueError):
            continue
        if _start_time(info["runner_pid"]) == info["runner_start"]:
            continue  # its runner is alive
        pid = info.get("init_pid")
        if pid and _start_time(pid) == info.get("init_start"):
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except ProcessLookupError:
                pass
        record.unlink(missing_ok=True)
        pod_dir = record.parents[2]
        if not any(pod_dir.glob("containers/*/sandbox.json")):
            time.sleep(0.2)  # let the mount namespace go before removing its mount point
            shutil.rmtree(pod_dir, ignore_errors=True)
    return killed


@dataclass
class SandboxSpec:
    """Everything needed to start one container's program."""

    argv: list[str]
    env: dict[str, str]
    mounts: list[Mount]
    workdir: str = "/"
    hostname: str = "pod"
    read_only_root: bool = False
    uid: int = 0
    gid: int = 0
    groups: list[int] = field(default_factory=list)
    ro_binds: tuple[Path, ...] = ()


def resolve_target(path: str) -> str:
    """Resolve symlinks in a mount path against the host root (the overlay's lower layer).

    bwrap does not follow absolute symlinks inside the new root (``/var/run`` -> ``/run``), while
    container runtimes do; resolving here gives the runtime's behaviour.
    """
    return os.path.realpath(path)


FRESH_TMPFS = ("/tmp", "/dev/shm")


def _mount_point_dirs(target: str, made: set[str]) -> list[str]:
    """Create missing parent directories of a mount point with mode 0755, as container runtimes do
    (bwrap would make them 0700, which a non-root user cannot traverse)."""
    args: list[str] = []
    parents = list(PurePosixPath(target).parents)[::-1][1:]  # without "/"
    for parent in map(str, parents):
        # /tmp and /dev/shm are fresh tmpfs mounts in the sandbox: nothing of the host's is there.
        shadowed = any(parent == d or parent.startswith(f"{d}/") for d in FRESH_TMPFS)
        if parent not in made and (shadowed or not os.path.lexists(parent)):
            args += ["--perms", "0755", "--dir", parent]
            made.add(parent)
    return args


def bwrap_args(spec: SandboxSpec) -> list[str]:
    """The bwrap arguments after the root bind (see the module docstring)."""
    args = [
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--ro-bind",
        "/sys",
        "/sys",
        "--perms",
        "1777",
        "--tmpfs",
        "/tmp",
        "--perms",
        "1777",
        "--tmpfs",
        "/dev/shm",
    ]
    made: set[str] = set()
    # Real paths: a runtime dir may link the venvs and images of another clone (MLFLOW_K8S_RUNTIME_DIR); the
    # links themselves resolve inside the sandbox, whose root is the host's.
    ro_binds = [Path(path).resolve() for path in spec.ro_binds]
    for path in ro_binds:  # before /tmp turns read-only: a checkout under /tmp puts the venvs there
        args += [*_mount_point_dirs(str(path), made), "--ro-bind", str(path), str(path)]
    if spec.read_only_root:
        args += ["--remount-ro", "/tmp"]
    if spec.uid != 0:
        args += ["--chmod", "0711", "/root"]  # pyenv interpreters live under /root
    targets = []
    for mount in spec.mounts:
        target = resolve_target(mount.target)
        targets.append(target)
        args += _mount_point_dirs(target, made)
        args += ["--ro-bind" if mount.read_only else "--bind", str(mount.source), target]
    for path in ro_binds:  # a volume mounted over a parent (e.g. an emptyDir at /tmp) hid it again
        if any(str(path).startswith(f"{target.rstrip('/')}/") for target in targets):
            args += [*_mount_point_dirs(str(path), set()), "--ro-bind", str(path), str(path)]
    if spec.read_only_root:
        args += ["--remount-ro", "/"]
    args += [
        "--unshare-pid",
        "--as-pid-1",
        "--unshare-uts",
        "--hostname",
        spec.hostname,
        "--unshare-ipc",
        "--die-with-parent",
        "--clearenv",
    ]
    for key, value in spec.env.items():
        args += ["--setenv", key, value]
    args += ["--chdir", spec.workdir, "--"]
    if spec.uid != 0 or spec.gid != 0 or spec.groups:
        groups = ",".join(str(g) for g in spec.groups)
        # Changing uid clears the parent-death signal that --die-with-parent set: set it again.
        args += [
            SETPRIV,
            f"--reuid={spec.uid}",
            f"--regid={spec.gid}",
            f"--groups={groups}" if groups else "--clear-groups",
            "--pdeathsig=SIGKILL",
            "--",
        ]
    return args + spec.argv


class ContainerProcess:
    """A container's program running in its sandbox; output goes to ``log_path``."""

    def __init__(self, name: str, spec: SandboxSpec, scratch: Path, container: dict) -> None:
        self.name = name
        self.spec = spec
        self.container = container
        self.scratch = Path(scratch)
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.log_path = self.scratch / "log.txt"
        self.layer = self.scratch / "layer"
        self.layer.mkdir(exist_ok=True)
        self.popen: subprocess.Popen | None = None
        self.init_pid: int | None = None
        self.started_at = 0.0
        self.stopped = False
        self.killed = False
        self.stop_seconds: float | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def command_line(self) -> list[str]:
        return [
            UNSHARE,
            "--mount",
            "--propagation",
            "private",
            "--",
            "/bin/sh",
            "-c",
            _LAYER_SCRIPT,
            "sh",
            str(self.layer),
            BWRAP,
            "--bind",
            str(self.layer / "root"),
            "/",
            *bwrap_args(self.spec),
        ]

    def start(self) -> ContainerProcess:
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                self.command_line(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
                cwd="/",
            )
        self.started_at = time.monotonic()
        _LIVE.add(self)
        self.init_pid = self._find_init_pid()
        self._record()
        return self

    def _record(self) -> None:
        """Write sandbox.json for ``reap_stale_sandboxes``."""
        info = {
            "runner_pid": os.getpid(),
            "runner_start": _start_time(os.getpid()),
            "init_pid": self.init_pid,
            "init_start": _start_time(self.init_pid) if self.init_pid else None,
        }
        (self.scratch / "sandbox.json").write_text(json.dumps(info))

    def _find_init_pid(self, timeout: float = 5.0) -> int | None:
        """The host PID of the program (PID 1 of the sandbox): the child of the bwrap process."""
        assert self.popen is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                children = Path(f"/proc/{self.popen.pid}/task/{self.popen.pid}/children").read_text().split()
            except OSError:
                return None
            if children and Path(f"/proc/{self.popen.pid}/exe").resolve().name == "bwrap":
                return int(children[0])
            if self.popen.poll() is not None:
                return None
            time.sleep(0.01)
        return None

    @property
    def returncode(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the program to exit; returns its exit code (bwrap passes PID 1's status through)."""
        assert self.popen is not None
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            raise TimeoutError(f"container {self.name} still running after {timeout} s\n{self.log_tail()}") from exc

    def stop(self, grace: float = 10.0) -> int | None:
        """SIGTERM to the program (PID 1, as the kubelet does), SIGKILL to everything after ``grace``.

        Sets ``stop_seconds`` and ``killed`` (True when the grace period ran out), so a test can
        check for a graceful shutdown. Note that a PID 1 without a SIGTERM handler ignores SIGTERM
        (``sh``, a plain ``python``): exactly what happens in a container.
        """
        if self.popen is None or self.stopped:
            return self.returncode
        started = time.monotonic()
        if self.popen.poll() is None and self.init_pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.init_pid, signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                self.killed = True
        self.kill()
        self.stop_seconds = time.monotonic() - started
        return self.returncode

    def kill(self) -> None:
        """SIGKILL the sandbox's PID 1 (which ends the whole PID namespace) and the process group."""
        if self.popen is None or self.stopped:
            return
        for pid in (self.init_pid,):
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)
        self.stopped = True
        _LIVE.discard(self)
        (self.scratch / "sandbox.json").unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.layer.rmdir()  # the tmpfs went away with the mount namespace

    # -- inspection ------------------------------------------------------------------------------
    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 60) -> str:
        tail = self.log().splitlines()[-lines:]
        return f"--- last {len(tail)} log lines of container {self.name} ---\n" + "\n".join(tail)

    def exec(
        self, argv: list[str], timeout: float = 60.0, env: dict[str, str] | None = None, check: bool = False
    ) -> subprocess.CompletedProcess:
        """Run a command inside the running container's namespaces (like ``kubectl exec``)."""
        if not self.running or not self.init_pid:
            raise RuntimeError(f"container {self.name} is not running")
        cmd = [NSENTER, f"--target={self.init_pid}", "--mount", "--pid", "--uts", "--ipc", f"--wd={self.spec.workdir}"]
        if self.spec.uid != 0 or self.spec.gid != 0:
            cmd += [f"--setuid={self.spec.uid}", f"--setgid={self.spec.gid}"]
        return subprocess.run(
            [*cmd, "--", *argv],
            env=env if env is not None else self.spec.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )
