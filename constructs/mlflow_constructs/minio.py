"""Bundled MinIO: an S3 store for self-contained environments, with a Job that creates the bucket.

The Job creates the bucket, removes any anonymous access and adds a dedicated MLflow user limited to
read/write, so the server never holds the root credentials.
"""

from __future__ import annotations

from constructs import Construct

from mlflow_constructs.config import Environment
from mlflow_constructs.credentials import Credentials
from mlflow_constructs.naming import Naming
from mlflow_constructs.security import (
    CONTAINER_SECURITY_CONTEXT,
    empty_dir,
    fixed_resources,
    http_probe,
    literal_env,
    resources,
    secret_env,
)
from mlflow_constructs.workloads import claim_template, pod_spec, pod_template, run_once_job, service, stateful_set

MINIO_PORT = 9000

# Runs in the mc image; every value comes from the environment, none is written here.
BUCKET_SCRIPT = """\
set -eu
until mc ready local >/dev/null 2>&1; do echo "waiting for MinIO"; sleep 2; done
mc mb --ignore-existing "local/${BUCKET}"
mc anonymous set none "local/${BUCKET}"
mc admin user add local "${S3_ACCESS_KEY_ID}" "${S3_SECRET_ACCESS_KEY}"
mc admin policy attach local readwrite --user "${S3_ACCESS_KEY_ID}" || true
echo "bucket ${BUCKET} ready"
"""


class BundledMinio(Construct):
    """A single-node MinIO StatefulSet, its Service and the bucket-creation Job."""

    def __init__(
        self, scope: Construct, id: str, *, env: Environment, naming: Naming, credentials: Credentials
    ) -> None:
        super().__init__(scope, id)
        cfg = env.artifacts.minio
        self.service_name = naming.name("minio")
        self.selector = naming.selector("minio")
        self.endpoint = f"http://{self.service_name}:{MINIO_PORT}"
        self.bucket = cfg.bucket
        labels = naming.labels("minio")
        root_user = credentials.ref("minio_root_user")
        root_password = credentials.ref("minio_root_password")
        service(
            self, "service", name=self.service_name, labels=labels, selector=self.selector, ports={"s3": MINIO_PORT}
        )
        container = {
            "name": "minio",
            "image": cfg.image.ref,
            "imagePullPolicy": cfg.image.pull_policy,
            "args": ["server", "/data", "--address", f":{MINIO_PORT}", "--certs-dir", "/tmp/certs"],
            "ports": [{"name": "s3", "containerPort": MINIO_PORT}],
            "env": [
                secret_env("MINIO_ROOT_USER", root_user),
                secret_env("MINIO_ROOT_PASSWORD", root_password),
                *literal_env({"MINIO_BROWSER": "off", "HOME": "/tmp"}),
            ],
            "resources": resources(cfg.resources),
            "securityContext": CONTAINER_SECURITY_CONTEXT,
            "startupProbe": http_probe("/minio/health/live", "s3", period=5, failures=30),
            "livenessProbe": http_probe("/minio/health/live", "s3", period=20, failures=3),
            "readinessProbe": http_probe("/minio/health/ready", "s3", period=10, failures=3),
            "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "tmp", "mountPath": "/tmp"}],
        }
        stateful_set(
            self,
            "statefulset",
            name=self.service_name,
            labels=labels,
            selector=self.selector,
            template=pod_template(labels, pod_spec(containers=[container], volumes=[empty_dir("tmp", "64Mi")])),
            claims=[claim_template(size=cfg.storage_size, storage_class=cfg.storage_class, labels=labels)],
        )
        self.job_selector = naming.selector("minio-bucket")
        mc = {
            "name": "mc",
            "image": cfg.client_image.ref,
            "imagePullPolicy": cfg.client_image.pull_policy,
            "command": ["/bin/sh", "-c", BUCKET_SCRIPT],
            "env": [
                secret_env("MINIO_ROOT_USER", root_user),
                secret_env("MINIO_ROOT_PASSWORD", root_password),
                secret_env("S3_ACCESS_KEY_ID", credentials.ref("s3_access_key_id")),
                secret_env("S3_SECRET_ACCESS_KEY", credentials.ref("s3_secret_access_key")),
                *literal_env(
                    {
                        "BUCKET": cfg.bucket,
                        "MC_CONFIG_DIR": "/tmp/.mc",
                        "MC_HOST_local": f"http://$(MINIO_ROOT_USER):$(MINIO_ROOT_PASSWORD)@{self.service_name}:{MINIO_PORT}",
                    }
                ),
            ],
            "resources": fixed_resources("10m", "32Mi", "200m", "128Mi"),
            "securityContext": CONTAINER_SECURITY_CONTEXT,
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        }
        job_labels = naming.labels("minio-bucket")
        run_once_job(
            self,
            "bucket",
            base_name=naming.name("minio-bucket"),
            labels=job_labels,
            template=pod_template(
                job_labels,
                pod_spec(containers=[mc], volumes=[empty_dir("tmp", "16Mi")], restartPolicy="OnFailure"),
            ),
            backoff_limit=10,
        )
