"""Kubelet-style probes against a container that runs on 127.0.0.1.

``httpGet``: success is a status in [200, 400) (the kubelet's rule; redirects are not followed). The
request goes to 127.0.0.1:<port>, but its ``Host`` header is ``<pod IP>:<port>`` as the kubelet sends
it (override with ``httpHeaders``), so a server's Host-header check sees what it would in a cluster.
Named ports are resolved through the container's ``ports``. ``tcpSocket``: a TCP connect. ``exec``:
run inside the container's namespaces (see ``ContainerProcess.exec``). ``grpc`` is not supported.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass

import requests
import urllib3

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)


class ProbeError(RuntimeError):
    """A probe did not succeed in time, or the container exited first."""


def resolve_port(container: dict, port: int | str) -> int:
    """A probe/target port: a number, a numeric string or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    if str(port).isdigit():
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    raise ProbeError(f"container {container.get('name')}: no port named {port!r}")


@dataclass
class ProbeResult:
    ok: bool
    detail: str


def probe_once(
    container: dict, probe: dict, pod_ip: str = "127.0.0.1", exec_fn: Callable[[list[str], float], int] | None = None
) -> ProbeResult:
    """Run one probe attempt (timeoutSeconds from the probe, default 1 s like the kubelet)."""
    timeout = float(probe.get("timeoutSeconds", 1))
    if "httpGet" in probe:
        http = probe["httpGet"]
        port = resolve_port(container, http["port"])
        scheme = http.get("scheme", "HTTP").lower()
        path = http.get("path", "/")
        headers = {"Host": f"{http.get('host') or pod_ip}:{port}", "User-Agent": "kube-probe/1.31"}
        headers.update({h["name"]: h["value"] for h in http.get("httpHeaders") or []})
        url = f"{scheme}://127.0.0.1:{port}{path if path.startswith('/') else '/' + path}"
        try:
            response = requests.get(url, headers=headers, timeout=timeout, allow_redirects=False, verify=False)
        except requests.RequestException as exc:
            return ProbeResult(False, f"GET {url}: {type(exc).__name__}")
        return ProbeResult(200 <= response.status_code < 400, f"GET {url}: {response.status_code}")
    if "tcpSocket" in probe:
        port = resolve_port(container, probe["tcpSocket"]["port"])
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=timeout):
                return ProbeResult(True, f"tcp {port}: open")
        except OSError as exc:
            return ProbeResult(False, f"tcp {port}: {exc}")
    if "exec" in probe:
        if exec_fn is None:
            raise ProbeError("exec probe needs a running container")
        code = exec_fn(list(probe["exec"]["command"]), timeout)
        return ProbeResult(code == 0, f"exec {probe['exec']['command']}: exit {code}")
    raise ProbeError(f"unsupported probe {sorted(probe)}")


def probe_budget(probe: dict) -> float:
    """Seconds the kubelet would allow before giving up: initialDelay + failureThreshold * period."""
    return float(probe.get("initialDelaySeconds", 0)) + float(probe.get("failureThreshold", 3)) * float(
        probe.get("periodSeconds", 10)
    )
