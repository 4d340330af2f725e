"""Bundled MinIO: an S3 store for self-contained environments, with a Job that creates the bucket.

The Job creates the bucket, removes any anonymous access and adds a dedicated MLflow user limited to
read/write, so the server never holds the root credentials.
"""

from __future__ import annotations

from constructs import Construct

from mlflow_constructs.config.artifacts import MinioArtifacts
from mlflow_constructs.k8s.naming import Naming
from mlflow_constructs.k8s.objects import claim_template, run_once_job, service, stateful_set
from mlflow_constructs.k8s.pods import (
    TMP_MOUNT,
    Probes,
    container,
    empty_dir,
    env_values,
    fixed_resources,
    http_probe,
    mount,
    pod_template,
    resources,
)
from mlflow_constructs.secrets.source import SecretSource
from mlflow_constructs.storage.access import S3_KEYS, ArtifactAccess, s3_key_env, server_args

MINIO_PORT = 9000
ROOT_KEYS = ("minio_root_user", "minio_root_password")

# Runs in the mc image; every value comes from the environment, none is written here. Keys reach mc on
# stdin ("piped keys", as `mc alias set --help` and `mc admin user add --help` document), never in a URL or
# an argument. Every step is idempotent (a re-run changes nothing) and any other failure fails the Job.
BUCKET_SCRIPT = """\
set -eu
printf '%s\\n%s\\n' "${MINIO_ROOT_USER}" "${MINIO_ROOT_PASSWORD}" | mc alias set local "${MINIO_URL}" --api S3v4
until mc ready local >/dev/null 2>&1; do echo "waiting for MinIO"; sleep 2; done
mc mb --ignore-existing "local/${BUCKET}"
mc anonymous set none "local/${BUCKET}"
printf '%s\\n%s\\n' "${S3_ACCESS_KEY_ID}" "${S3_SECRET_ACCESS_KEY}" | mc admin user add local
if ! out="$(mc admin policy attach local readwrite --user "${S3_ACCESS_KEY_ID}" 2>&1)"; then
  case "${out}" in
    *"policy change is already in effect"*) echo "readwrite already attached" ;;
    *) echo "${out}" >&2; exit 1 ;;
  esac
fi
echo "bucket ${BUCKET} ready"
"""


class MinioArtifactStore(Construct):
    """A single-node MinIO StatefulSet, its Service and the bucket Job; ``access`` is MLflow's view."""

    def __init__(
        self, scope: Construct, id: str, *, config: MinioArtifacts, naming: Naming, secrets: SecretSource
    ) -> None:
        super().__init__(scope, id)
        component = naming.component("minio")
        self.service_name, self.selector, labels = component.name, component.selector, component.labels
        self.endpoint = f"http://{self.service_name}:{MINIO_PORT}"
        root = (secrets.env("MINIO_ROOT_USER", ROOT_KEYS[0]), secrets.env("MINIO_ROOT_PASSWORD", ROOT_KEYS[1]))
        service(self, "service", component=component, ports={"s3": MINIO_PORT})
        minio = container(
            "minio",
            config.image,
            args=["server", "/data", "--address", f":{MINIO_PORT}", "--certs-dir", "/tmp/certs"],
            ports={"s3": MINIO_PORT},
            env=[*root, *env_values({"MINIO_BROWSER": "off", "HOME": "/tmp"})],
            resources=resources(config.resources),
            probes=Probes(
                startup=http_probe("/minio/health/live", "s3", period=5, failures=30),
                liveness=http_probe("/minio/health/live", "s3", period=20, failures=3),
                readiness=http_probe("/minio/health/ready", "s3", period=10, failures=3),
            ),
            mounts=[mount("data", "/data"), TMP_MOUNT],
        )
        stateful_set(
            self,
            "statefulset",
            component=component,
            template=pod_template(labels, containers=[minio], volumes=[empty_dir("tmp", "64Mi")]),
            claims=[claim_template(size=config.storage_size, storage_class=config.storage_class, labels=labels)],
        )
        self.job_selector = naming.selector("minio-bucket")
        mc = container(
            "mc",
            config.client_image,
            command=["/bin/sh", "-c", BUCKET_SCRIPT],
            env=[
                *root,
                secrets.env("S3_ACCESS_KEY_ID", S3_KEYS[0]),
                secrets.env("S3_SECRET_ACCESS_KEY", S3_KEYS[1]),
                *env_values(
                    {
                        "BUCKET": config.bucket,
                        "MC_CONFIG_DIR": "/tmp/.mc",
                        "MINIO_URL": self.endpoint,
                    }
                ),
            ],
            resources=fixed_resources("10m", "32Mi", "200m", "128Mi"),
            mounts=[TMP_MOUNT],
        )
        job_labels = naming.labels("minio-bucket")
        run_once_job(
            self,
            "bucket",
            base_name=naming.name("minio-bucket"),
            labels=job_labels,
            template=pod_template(
                job_labels, containers=[mc], volumes=[empty_dir("tmp", "16Mi")], restart_policy="OnFailure"
            ),
            backoff_limit=10,
        )
        self.access = ArtifactAccess(
            args=server_args(f"s3://{config.bucket}", proxied=True),
            env=(*s3_key_env(secrets), *env_values({"MLFLOW_S3_ENDPOINT_URL": self.endpoint})),
            store_selector=self.selector,
            store_port=MINIO_PORT,
            store_clients=(self.job_selector,),
            secret_keys=(*ROOT_KEYS, *S3_KEYS),
            transfers_via_server=True,  # a Service only the MLflow pods may reach
        )
