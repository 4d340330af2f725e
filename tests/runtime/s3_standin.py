"""An S3-compatible server standing in for the bundled MinIO: ``moto_server`` from the client venv.

PyPI's ``minio`` is the client SDK, Debian packages only MinIO's Go libraries and npm has no server
build; the Go module proxy serves MinIO and ``mc`` at pseudo-versions, but the harness does not build
or run them yet (README, "Known limitations"), so the MinIO StatefulSet and its ``mc`` bucket Job are
not run here. ``moto[server]`` (PyPI) listens where the ``mlflow-minio`` Service points, and
:meth:`S3StandIn.provision` does what the bucket Job does (bucket, MLflow user and key, read-write
policy). Request authentication is then switched on, so the server checks every SigV4 signature
against the issued secret and the user's policy: MLflow's writes prove it got the Secret's keys.
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


class S3StandIn:
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

    def _as_user(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.credentials["access_key_id"],
            "AWS_SECRET_ACCESS_KEY": self.credentials["secret_access_key"],
        }

    def keys(self, bucket: str) -> list[str]:
        return run_client("s3_admin.py", "objects", self.endpoint, bucket, env=self._as_user())["keys"]

    def read(self, bucket: str, key: str) -> str:
        return run_client("s3_admin.py", "get", self.endpoint, bucket, key, env=self._as_user())["body"]

    def put(self, bucket: str, key: str, body: str) -> None:
        run_client("s3_admin.py", "put", self.endpoint, bucket, key, body, env=self._as_user())

    def wrong_secret_error(self, bucket: str) -> str | None:
        return run_client("s3_admin.py", "check-auth", self.endpoint, bucket, env=self._as_user())["wrong_secret"]

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
