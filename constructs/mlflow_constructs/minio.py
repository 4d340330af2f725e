"""Bundled MinIO: an S3 store for self-contained environments, with a Job that creates the bucket.

The Job creates the bucket, removes any anonymous access and adds a dedicated MLflow user limited to
read/write, so the server never holds the root credentials.
"""

from __future__ import annotations

from typing import Any

from constructs import Construct

from mlflow_constructs.config import Environment
from mlflow_constructs.credentials import Credentials
from mlflow_constructs.naming import Naming
from mlflow_constructs.objects import k8s_object
from mlflow_constructs.security import (
    CONTAINER_SECURITY_CONTEXT,
    empty_dir,
    http_probe,
    literal_env,
    pod_security_context,
    resources,
    secret_env,
)

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

    def __init__(self, scope: Construct, id: str, *, env: Environment, naming: Naming, credentials: Credentials) -> None:
        super().__init__(scope, id)
        cfg = env.artifacts.minio
        self.service_name = naming.name("minio")
        self.selector = naming.selector("minio")
        self.endpoint = f"http://{self.service_name}:{MINIO_PORT}"
        self.bucket = cfg.bucket
        labels = naming.labels("minio")
        root_user = credentials.ref("minio_root_user")
        root_password = credentials.ref("minio_root_password")
        k8s_object(
            self,
            "service",
            api_version="v1",
            kind="Service",
            name=self.service_name,
            labels=labels,
            spec={
                "selector": self.selector,
                "ports": [{"name": "s3", "port": MINIO_PORT, "targetPort": "s3"}],
            },
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
        claim: dict[str, Any] = {
            "metadata": {"name": "data", "labels": labels},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": cfg.storage_size}}},
        }
        if cfg.storage_class:
            claim["spec"]["storageClassName"] = cfg.storage_class
        k8s_object(
            self,
            "statefulset",
            api_version="apps/v1",
            kind="StatefulSet",
            name=self.service_name,
            labels=labels,
            spec={
                "serviceName": self.service_name,
                "replicas": 1,
                "selector": {"matchLabels": self.selector},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "automountServiceAccountToken": False,
                        "enableServiceLinks": False,
                        "securityContext": pod_security_context(),
                        "containers": [container],
                        "volumes": [empty_dir("tmp", "64Mi")],
                    },
                },
                "volumeClaimTemplates": [claim],
            },
        )
        self.job_selector = naming.selector("minio-bucket")
        job_labels = naming.labels("minio-bucket")
        k8s_object(
            self,
            "bucket",
            api_version="batch/v1",
            kind="Job",
            name=naming.name("minio-bucket"),
            labels=job_labels,
            annotations={"argocd.argoproj.io/sync-wave": "1"},
            spec={
                "backoffLimit": 10,
                "ttlSecondsAfterFinished": 86400,
                "template": {
                    "metadata": {"labels": job_labels},
                    "spec": {
                        "restartPolicy": "OnFailure",
                        "automountServiceAccountToken": False,
                        "enableServiceLinks": False,
                        "securityContext": pod_security_context(),
                        "containers": [
                            {
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
                                            "MC_HOST_local": (
                                                f"http://$(MINIO_ROOT_USER):$(MINIO_ROOT_PASSWORD)@"
                                                f"{self.service_name}:{MINIO_PORT}"
                                            ),
                                        }
                                    ),
                                ],
                                "resources": {
                                    "requests": {"cpu": "10m", "memory": "32Mi"},
                                    "limits": {"cpu": "200m", "memory": "128Mi"},
                                },
                                "securityContext": CONTAINER_SECURITY_CONTEXT,
                                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                            }
                        ],
                        "volumes": [empty_dir("tmp", "16Mi")],
                    },
                },
            },
        )
