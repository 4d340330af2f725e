"""Ingress-NGINX's data plane for one synthesized Ingress: Debian's nginx with the directives the controller
writes for it.

Not the controller: no Lua balancer, no configuration read from the API server, no TLS. What is real is nginx
enforcing the request body limit: the controller turns ``nginx.ingress.kubernetes.io/proxy-body-size`` into
``client_max_body_size`` in the Ingress path's ``location`` (``1m`` without the annotation, its default) and
answers a larger body itself with nginx's ``413 Request Entity Too Large``, before MLflow sees it. The rest
follows the controller's template: a ``Prefix`` path as ``location <path>``, the request buffered before it is
proxied, ``Host`` and ``X-Forwarded-*`` passed on. It listens on a free port of 127.0.0.1, plain HTTP.

    with NginxIngress(ingress, backend=5000, workdir=tmp) as front:
        front.url        # http://<host>:<port>, resolve <host> to 127.0.0.1 in the client
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import requests
from postgres import free_port

NGINX = "/usr/sbin/nginx"
BODY_SIZE = "nginx.ingress.kubernetes.io/proxy-body-size"
DEFAULT_BODY_SIZE = "1m"  # Ingress-NGINX's proxy-body-size when neither annotation nor ConfigMap sets it


def nginx_missing() -> str | None:
    """Why nginx cannot run here, or None."""
    return None if shutil.which(NGINX) else f"{NGINX} is not installed (run: bash tests/runtime/setup.sh)"


class NginxIngress:
    """nginx serving ``ingress`` (a synthesized Ingress) on 127.0.0.1, proxying to ``backend`` (context manager)."""

    def __init__(self, ingress: dict, backend: int, workdir: Path) -> None:
        (rule,) = ingress["spec"]["rules"]
        (path,) = rule["http"]["paths"]
        assert path["pathType"] == "Prefix", path
        self.host, self.path = rule["host"], path["path"]
        self.body_size = (ingress["metadata"].get("annotations") or {}).get(BODY_SIZE, DEFAULT_BODY_SIZE)
        self.backend, self.port = backend, free_port()
        self.workdir = workdir
        self._proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def config(self) -> str:
        temp = self.workdir / "temp"
        # Workers as the user running the test (root here): they write request bodies to the test's directory.
        return f"""daemon off;
user root;
worker_processes 1;
pid {self.workdir}/nginx.pid;
error_log {self.workdir}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {self.workdir}/access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    server {{
        listen 127.0.0.1:{self.port};
        server_name {self.host};
        location {self.path} {{
            client_max_body_size {self.body_size};
            proxy_request_buffering on;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_set_header X-Forwarded-Port $server_port;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 120s;
            proxy_pass http://127.0.0.1:{self.backend};
        }}
    }}
}}
"""

    def start(self, timeout: float = 15.0) -> NginxIngress:
        missing = nginx_missing()
        if missing:
            raise RuntimeError(missing)
        (self.workdir / "temp").mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "nginx.conf"
        conf.write_text(self.config())
        self._proc = subprocess.Popen(
            [NGINX, "-p", str(self.workdir), "-c", str(conf), "-e", str(self.workdir / "error.log")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            try:
                requests.get(f"http://127.0.0.1:{self.port}/", timeout=1)
                return self
            except requests.ConnectionError:
                time.sleep(0.05)
        log = self.log()
        self.stop()
        raise RuntimeError("nginx did not start:\n" + log)

    def log(self) -> str:
        path = self.workdir / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def requests_answered(self, status: int) -> list[str]:
        """``<method> <path> <user agent>`` of each request nginx answered with ``status`` (its access log)."""
        path = self.workdir / "access.log"
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        found = []
        for line in lines:
            request, code, agent = line.split('"')[1], line.split('"')[2].split()[0], line.split('"')[5]
            if code == str(status):
                found.append(f"{' '.join(request.split()[:2])} {agent}")
        return found

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self._proc = None

    def __enter__(self) -> NginxIngress:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
