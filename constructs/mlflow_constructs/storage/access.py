"""What the server pod needs for its artifact store: the handle every store construct exposes."""

from __future__ import annotations

from dataclasses import dataclass, field

from cdk8s_plus_27 import k8s

from mlflow_constructs.k8s.pods import SecretRef, secret_env
from mlflow_constructs.secrets.source import SecretSource

ARTIFACTS_ROOT = "mlflow-artifacts:/"


@dataclass(frozen=True)
class ArtifactAccess:
    """``mlflow server`` flags that select the store, the env and mounts its client library needs
    (credentials only by reference), and who must be allowed to reach a store this project runs."""

    args: tuple[str, ...]
    env: tuple[k8s.EnvVar, ...] = ()
    volumes: tuple[k8s.Volume, ...] = ()
    mounts: tuple[k8s.VolumeMount, ...] = ()
    pod_labels: dict[str, str] = field(default_factory=dict)  # e.g. Azure workload identity
    store_selector: dict[str, str] | None = None  # store pods this project runs (for NetworkPolicies)
    store_port: int | None = None
    store_clients: tuple[dict[str, str], ...] = ()  # pods besides the server that reach the store
    single_attach: bool = False  # one ReadWriteOnce volume: pods must be replaced, not rolled
    secret_keys: tuple[str, ...] = ()  # logical keys read from the environment's Secret
    secret_refs: tuple[SecretRef, ...] = ()  # keys of a Secret named in the store's own section
    # Clients cannot reach the store (e.g. in-cluster MinIO): the server must proxy every transfer and
    # never hand out presigned URLs of the store (see server/transfers_hook.py).
    transfers_via_server: bool = False

    @property
    def proxied(self) -> bool:
        """Whether clients reach the artifacts through MLflow (``mlflow-artifacts:/`` URIs)."""
        return "--serve-artifacts" in self.args

    @property
    def destination(self) -> str:
        """The store URI the server writes artifacts to (``--artifacts-destination`` or the default root)."""
        flag = "--artifacts-destination" if "--artifacts-destination" in self.args else "--default-artifact-root"
        return self.args[self.args.index(flag) + 1]


def server_args(destination: str, *, proxied: bool) -> tuple[str, ...]:
    """Proxied: clients talk only to MLflow, which reads and writes ``destination``."""
    if proxied:
        return ("--serve-artifacts", "--artifacts-destination", destination, "--default-artifact-root", ARTIFACTS_ROOT)
    return ("--no-serve-artifacts", "--default-artifact-root", destination)


def join(base: str, prefix: str) -> str:
    prefix = prefix.strip("/")
    return f"{base}/{prefix}" if prefix else base


S3_KEYS = ("s3_access_key_id", "s3_secret_access_key")


def s3_key_env(secrets: SecretSource, refs: tuple[SecretRef, SecretRef] | None = None) -> tuple[k8s.EnvVar, ...]:
    """The S3 access key pair MLflow's boto3 client reads: from the environment's Secret, or from ``refs``
    (access key id, secret access key) of a Secret named for the store."""
    access_key_id, secret_access_key = refs or (secrets.ref("s3_access_key_id"), secrets.ref("s3_secret_access_key"))
    return (secret_env("AWS_ACCESS_KEY_ID", access_key_id), secret_env("AWS_SECRET_ACCESS_KEY", secret_access_key))
