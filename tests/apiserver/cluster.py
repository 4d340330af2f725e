"""A real, minimal Kubernetes control plane on 127.0.0.1: etcd and kube-apiserver, driven with kubectl.

No controller-manager, scheduler or kubelet: nothing reconciles, so objects stay exactly as applied. What
the API server enforces on its own is all there: schema and CEL validation of built-in and custom
resources, defaulting, admission (PodSecurity included), server-side apply and immutable fields.

Binaries come from ``tests/apiserver/install.sh`` (``.runtime/apiserver/<version>/``).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CRDS = REPO / "crds"
BINARIES = ("kube-apiserver", "kubectl", "etcd")


def kubernetes_version() -> str:
    """The k8s.io/kubernetes version pinned in build/go.mod (the cache key of the binaries)."""
    match = re.search(r"^\s*k8s\.io/kubernetes (v\S+)", (HERE / "build" / "go.mod").read_text(), re.M)
    assert match, "tests/apiserver/build/go.mod does not require k8s.io/kubernetes"
    return match.group(1)


def binary_dir() -> Path:
    runtime = Path(os.environ.get("MLFLOW_K8S_RUNTIME_DIR") or REPO / ".runtime")
    return runtime / "apiserver" / kubernetes_version()


def missing_tools() -> list[str]:
    bindir = binary_dir()
    missing = [str(bindir / b) for b in BINARIES if not os.access(bindir / b, os.X_OK)]
    if not shutil.which("openssl"):
        missing.append("openssl (generates the serving certificate and service-account key)")
    return missing


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Result:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"$ kubectl {' '.join(self.args)}\nexit {self.returncode}\n{self.stdout}{self.stderr}"


@dataclass
class Cluster:
    """A running etcd + kube-apiserver pair, and kubectl pointed at it."""

    workdir: Path
    bindir: Path = field(default_factory=binary_dir)
    procs: list[tuple[str, subprocess.Popen]] = field(default_factory=list)
    server: str = ""
    kubeconfig: Path | None = None
    startup_seconds: float = 0.0

    @property
    def ca_file(self) -> Path:
        """The API server's self-signed serving certificate: the CA a client of ``server`` trusts."""
        return self.workdir / "pki" / "serving.crt"

    # --- lifecycle -------------------------------------------------------------------------------------
    def start(self, timeout: float = 120) -> None:
        began = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        pki = self.workdir / "pki"
        pki.mkdir(exist_ok=True)
        self._openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=kube-apiserver",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", pki / "serving.key", "-out", pki / "serving.crt",
        )  # fmt: skip
        self._openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", pki / "sa.key")
        self._openssl("pkey", "-in", pki / "sa.key", "-pubout", "-out", pki / "sa.pub")
        token = secrets.token_hex(16)
        # The token's user is in system:masters: RBAC is on, as in a real cluster, and lets it do anything.
        (pki / "tokens.csv").write_text(f'{token},mlflow-k8s-test,mlflow-k8s-test,"system:masters"\n')

        etcd_port, etcd_peer, api_port = free_port(), free_port(), free_port()
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        self._spawn(
            "etcd",
            [
                self.bindir / "etcd", "--name", "test", "--data-dir", self.workdir / "etcd",
                "--listen-client-urls", etcd_url, "--advertise-client-urls", etcd_url,
                "--listen-peer-urls", f"http://127.0.0.1:{etcd_peer}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{etcd_peer}",
                "--initial-cluster", f"test=http://127.0.0.1:{etcd_peer}",
                "--unsafe-no-fsync", "--log-level", "warn",
            ],
        )  # fmt: skip
        self.server = f"https://127.0.0.1:{api_port}"
        self._spawn(
            "kube-apiserver",
            [
                self.bindir / "kube-apiserver",
                "--etcd-servers", etcd_url,
                "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
                # No kubernetes Service endpoints for a loopback address (nothing runs in this cluster anyway).
                "--endpoint-reconciler-type", "none",
                "--secure-port", str(api_port), "--cert-dir", pki,
                "--tls-cert-file", pki / "serving.crt", "--tls-private-key-file", pki / "serving.key",
                "--token-auth-file", pki / "tokens.csv",
                "--authorization-mode", "Node,RBAC",
                # The defaults already include PodSecurity; named so that a change of defaults cannot drop it.
                "--enable-admission-plugins", "NamespaceLifecycle,ServiceAccount,PodSecurity,LimitRanger,"
                "ResourceQuota,DefaultStorageClass,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,"
                "ValidatingAdmissionPolicy",
                "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
                "--service-account-key-file", pki / "sa.pub",
                "--service-account-signing-key-file", pki / "sa.key",
                "--api-audiences", "https://kubernetes.default.svc.cluster.local",
                "--service-cluster-ip-range", "10.96.0.0/16",
                "--allow-privileged=true", "--profiling=false", "--v=1",
            ],
        )  # fmt: skip

        self.kubeconfig = self.workdir / "kubeconfig"
        ca = str(pki / "serving.crt")
        self.kubeconfig.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "test", "cluster": {"server": self.server, "certificate-authority": ca}}],
                    "users": [{"name": "test", "user": {"token": token}}],
                    "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
                    "current-context": "test",
                }
            )
        )
        self._wait_ready(token, pki / "serving.crt", began + timeout)
        self.startup_seconds = time.monotonic() - began

    def stop(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for _, proc in reversed(self.procs):
            try:
                proc.wait(timeout=3)  # throwaway data: no need to wait for a graceful shutdown
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()

    def _openssl(self, *args: Any) -> None:
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)

    def _spawn(self, name: str, argv: list[Any]) -> None:
        log = (self.workdir / f"{name}.log").open("wb")
        proc = subprocess.Popen([str(a) for a in argv], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.procs.append((name, proc))

    def log_tail(self, lines: int = 40) -> str:
        out = []
        for name, _ in self.procs:
            text = (self.workdir / f"{name}.log").read_text(errors="replace").splitlines()
            out.append(f"--- {name}.log (last {lines} lines)\n" + "\n".join(text[-lines:]))
        return "\n".join(out)

    def _wait_ready(self, token: str, ca: Path, deadline: float) -> None:
        last = ""
        while time.monotonic() < deadline:
            for name, proc in self.procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}\n{self.log_tail()}")
            try:
                r = requests.get(
                    f"{self.server}/readyz", headers={"Authorization": f"Bearer {token}"}, verify=str(ca), timeout=5
                )
                if r.status_code == 200:
                    return
                last = f"/readyz {r.status_code}: {r.text[-500:]}"
            except requests.RequestException as exc:
                last = repr(exc)
            time.sleep(0.5)
        raise RuntimeError(f"kube-apiserver not ready: {last}\n{self.log_tail()}")

    # --- kubectl ---------------------------------------------------------------------------------------
    def kubectl(self, *args: str, stdin: str | None = None, check: bool = False, timeout: float = 120) -> Result:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "KUBECTL_EXTERNAL_DIFF": "diff -u -N"}
        proc = subprocess.run(
            [str(self.bindir / "kubectl"), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )
        result = Result(list(args), proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(str(result))
        return result

    def install_crds(self) -> None:
        """The upstream CRDs the project keeps in crds/, applied server-side, then waited for."""
        files = sorted(CRDS.glob("*.yaml"))
        assert files, f"no CRD manifests in {CRDS}"
        args = [a for f in files for a in ("-f", str(f))]
        self.kubectl("apply", "--server-side", "--field-manager=mlflow-k8s-test", *args, check=True)
        self.kubectl("wait", "--for=condition=Established", "--timeout=60s", *args, check=True)


# --- manifests -------------------------------------------------------------------------------------------
def dump(objs: Iterable[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(list(objs), sort_keys=False)


def rename_namespaces(objs: list[dict[str, Any]], rename: dict[str, str]) -> list[dict[str, Any]]:
    """A deep copy of ``objs`` with each namespace in ``rename`` renamed: Namespace objects, every
    ``metadata.namespace``, and any other ``namespace:`` field naming it (e.g. RBAC subjects).

    Several environments share ``namespace: mlflow``; giving each test its own namespace gives it an empty
    one without a namespace controller (which kube-apiserver alone does not run, so deleting a namespace
    would never finish)."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: rename.get(v, v) if k == "namespace" and isinstance(v, str) else walk(v) for k, v in node.items()
            }
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    out = []
    for original in objs:
        obj = walk(original)
        if obj.get("kind") == "Namespace" and obj.get("apiVersion") == "v1":
            obj["metadata"]["name"] = rename.get(obj["metadata"]["name"], obj["metadata"]["name"])
        out.append(obj)
    return out


def namespaces_of(objs: Iterable[dict[str, Any]]) -> set[str]:
    names = {o["metadata"]["name"] for o in objs if o.get("kind") == "Namespace"}
    names |= {o["metadata"]["namespace"] for o in objs if o.get("metadata", {}).get("namespace")}
    return names


def namespace_for(ns: str, tag: str) -> str:
    """``<tag>-<ns>``, a valid namespace name (DNS label, at most 63 characters)."""
    return re.sub(r"[^a-z0-9-]", "-", f"{tag}-{ns}".lower())[:63].strip("-")
