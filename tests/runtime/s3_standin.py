"""An S3-compatible server standing in for an S3 endpoint outside the manifests: ``moto_server`` from the client venv.

The bundled MinIO runs as synthesized (bundled_minio.py); an ``artifacts.s3.endpoint_url`` store (the backup
scenario's) is no object of the manifests, so ``moto[server]`` (PyPI) listens where that host points, and
:meth:`S3StandIn.provision` gives it what its owner would (bucket, MLflow user and key, read-write policy).
Request authentication is then switched on, so the server checks every SigV4 signature against the issued
secret and the user's policy: MLflow's writes prove it got the Secret's keys.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import requests
from client_venv import client_bin, client_env, run_client
from s3_access import S3Access


class S3StandIn(S3Access):
    """moto_server on 127.0.0.1:<port> (context manager)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.endpoint = f"http://127.0.0.1:{port}"
        self._proc: subprocess.Popen | None = None
        self._log = Path(tempfile.mkstemp(prefix="s3-standin-", suffix=".log")[1])
        self.credentials: dict[str, str] = {}

    def start(self, timeout: float = 60) -> S3StandIn:
        with open(self._log, "w") as log:
            self._proc = subprocess.Popen(
                [client_bin("moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
                env=client_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"moto_server exited {self._proc.returncode}:\n{self.log()}")
            try:
                if requests.get(f"{self.endpoint}/moto-api/", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"moto_server did not answer on {self.endpoint}:\n{self.log()}")

    def log(self) -> str:
        return self._log.read_text(errors="replace") if self._log.exists() else ""

    def provision(self, bucket: str, user: str) -> dict[str, str]:
        """Bucket + user + key + read-write policy, then authentication on; returns the key."""
        self.credentials = run_client("s3_admin.py", "provision", self.endpoint, bucket, user, timeout=120)
        return self.credentials

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait(5)
        self._proc = None

    def __enter__(self) -> S3StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._log.unlink(missing_ok=True)
