"""The bundled MinIO run as synthesized: the ``<name>-minio`` StatefulSet's pod, then its bucket Job's pod.

Both images map to the programs go_images.py builds from MinIO's and mc's Go modules (pod_images.py), so
the StatefulSet's container starts from its own args, env (root credentials from the Secret) and mounts,
with ``/data`` on the pod's PVC stand-in: a directory kept across :meth:`BundledMinio.stop` and
:meth:`BundledMinio.start`, as the pod's restart keeps its volume. The bucket Job's script then runs
against it (``mc ready``, ``mb``, ``anonymous set none``, ``admin user add``, ``admin policy attach``),
and the S3 key it creates is the Secret's ``s3-access-key-id``/``s3-secret-access-key``, the server's.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import quote

import go_images
import requests
from podrunner import ContainerFailed, JobResult, PodRun, pod_template, run_job, run_pod
from s3_access import S3Access
from scenario import container_of, hashed_job, literal_env, require_free_port, service_port

BUCKET_JOB = "minio-bucket"


def _secret_env(container: dict, name: str, secret_values: Mapping[str, Mapping[str, str]]) -> str:
    """The value ``name`` gets in ``container`` from its ``secretKeyRef`` (a test value of ``secret_values``)."""
    ref = next(e for e in container["env"] if e["name"] == name)["valueFrom"]["secretKeyRef"]
    return secret_values[ref["name"]][ref["key"]]


class BundledMinio(S3Access):
    """The MinIO StatefulSet's pod on its Service port (context manager: started and its bucket Job run, then
    stopped); S3 access as the MLflow user with the Secret's key."""

    def __init__(
        self, objects: list[dict], secret_values: Mapping[str, Mapping[str, str]], data_dir: Path | None = None
    ) -> None:
        self.objects, self.secret_values = objects, secret_values
        self.statefulset = next(
            o for o in objects if o["kind"] == "StatefulSet" and o["metadata"]["name"].endswith("-minio")
        )
        name = self.statefulset["metadata"]["name"]
        self.bucket_job = hashed_job(objects, name.removesuffix("-minio") + f"-{BUCKET_JOB}")
        self.port = service_port(objects, self.statefulset["spec"]["serviceName"])
        self.endpoint = f"http://127.0.0.1:{self.port}"
        (claim,) = self.statefulset["spec"]["volumeClaimTemplates"]
        # Without data_dir the claim's directory goes with the pod's scratch directory at stop().
        self.pvc_dirs = {f"{claim['metadata']['name']}-{name}-0": data_dir} if data_dir else {}
        job_container = pod_template(self.bucket_job)["spec"]["containers"][0]
        self.bucket = literal_env(job_container)["BUCKET"]
        self.credentials = {
            "access_key_id": _secret_env(job_container, "S3_ACCESS_KEY_ID", secret_values),
            "secret_access_key": _secret_env(job_container, "S3_SECRET_ACCESS_KEY", secret_values),
        }
        server = container_of(self.statefulset, "minio")
        self.root = (
            _secret_env(server, "MINIO_ROOT_USER", secret_values),
            _secret_env(server, "MINIO_ROOT_PASSWORD", secret_values),
        )
        self.pod: PodRun | None = None
        self.ready_seconds = 0.0
        self.bucket_setup: JobResult | None = None
        self._running = ExitStack()

    def start(self, timeout: float = 120) -> BundledMinio:
        """The StatefulSet's pod, waited for until its startup and readiness probes pass."""
        require_free_port(self.port, "MinIO")
        self.pod = self._running.enter_context(
            run_pod(self.statefulset, self.objects, self.secret_values, pvc_dirs=self.pvc_dirs)
        )
        try:
            self.ready_seconds = self.pod.wait_for_probe(timeout=timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """SIGTERM to MinIO, as the kubelet stops the pod; the data directory stays."""
        self._running.close()
        self.pod = None

    def run_bucket_job(self, secret_values: Mapping[str, Mapping[str, str]] | None = None) -> JobResult:
        """One run of the bucket Job's pod to its exit (``check`` off: the caller asserts the outcome)."""
        return run_job(self.bucket_job, self.objects, secret_values or self.secret_values, timeout=120, check=False)

    def admin(self, *args: str) -> subprocess.CompletedProcess:
        """``mc <args>`` on this machine as MinIO's root user, the alias ``local`` naming this server."""
        mc = go_images.go_images()[pod_template(self.bucket_job)["spec"]["containers"][0]["image"]].binary
        user, password = (quote(part, safe="") for part in self.root)
        with tempfile.TemporaryDirectory(prefix="mc-") as config:
            env = {
                **os.environ,
                "MC_CONFIG_DIR": config,
                "MC_HOST_local": f"http://{user}:{password}@127.0.0.1:{self.port}",
            }
            return subprocess.run([str(mc), *args], env=env, capture_output=True, text=True, timeout=60, check=False)

    def anonymous_status(self) -> int:
        """The HTTP status of an unsigned listing of the bucket (403 when it is private)."""
        return requests.get(f"{self.endpoint}/{self.bucket}/", timeout=10).status_code

    def __enter__(self) -> BundledMinio:
        """MinIO started, then the bucket Job run once; it must succeed."""
        self.start()
        self.bucket_setup = self.run_bucket_job()
        if not self.bucket_setup.succeeded:
            self.stop()
            raise ContainerFailed(f"the bucket Job failed {self.bucket_setup.exit_codes}:\n{self.bucket_setup.logs}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
