"""Credentials generated in the cluster (``secrets.generate``): a one-shot Job that creates the environment's
Secret, or adds the keys it lacks, with random values for what the environment bundles.

The values exist only in the cluster: the Job's script (Python of the server image, ``urllib`` with the token
projected into its one container) draws them and sends them to the API server; nothing is written to the
output, the Job's args or its log. Create-if-absent: an existing key is never overwritten (a concurrent
writer makes the API server answer 409, and the Job reads the Secret again), so a re-apply, a new Job after a
config change or a second run changes nothing that exists. The Secret carries no owner reference and none of
the labels Argo CD or Flux track their objects by, so nothing that deletes the environment's objects deletes it.

Pods reading the Secret before it exists stay in ``CreateContainerConfigError`` and the kubelet retries them,
so ``kubectl apply -f dist`` all at once and Flux end the same way; Argo CD runs the Job as a Sync hook in
wave 0, beside the stores that read the Secret and before the migration Job (wave 1).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from cdk8s_plus_27 import k8s
from constructs import Construct

from mlflow_constructs.config.base import Image
from mlflow_constructs.k8s.naming import GENERATES_SECRET_ANNOTATION, PART_OF, Naming
from mlflow_constructs.k8s.objects import account_with_role, api_token_mount, api_token_volume, run_once_job
from mlflow_constructs.k8s.pods import TMP_MOUNT, container, empty_dir, env_values, fixed_resources, pod_template

# Logical keys a Job may generate -> the value's format (see ``FORMATS`` in the script): MinIO takes access keys
# of 3 to 20 characters and secret keys of 8 to 40; OAuth2-Proxy a cookie secret of 16, 24 or 32 bytes; values
# placed in URIs (the PostgreSQL and Redis passwords) must be URL-safe, and all are letters and digits. basic's
# admin is `admin` (MLflow's own default name), its password random: the user reads it from the Secret.
GENERATED = {
    "postgres_password": "password",
    "minio_root_user": "user",
    "minio_root_password": "password",
    "s3_access_key_id": "user",
    "s3_secret_access_key": "password",
    "kek_passphrase": "password",
    "admin_username": "admin",
    "admin_password": "password",
    "flask_secret_key": "password",
    "oidc_secret_key": "password",
    "redis_password": "password",
    "oauth2_proxy_cookie_secret": "cookie",
}
# Keys only the bundled MinIO makes meaningful: elsewhere the S3 keys are the cloud's, which the user brings.
MINIO_ONLY = ("s3_access_key_id", "s3_secret_access_key")

# Python in the server image. Reads SECRET_NAME, GENERATE (key -> format) and LABELS; prints key names only.
SCRIPT = r"""import base64, json, os, secrets, ssl, string, sys, urllib.error, urllib.request

# The pod's projected token, CA and namespace; SERVICE_ACCOUNT_DIR points elsewhere only where tests run this.
TOKEN_DIR = os.environ.get("SERVICE_ACCOUNT_DIR", "/var/run/secrets/kubernetes.io/serviceaccount")
FORMATS = {
    "user": (20, string.ascii_lowercase + string.digits),
    "password": (40, string.ascii_letters + string.digits),
    "cookie": (32, string.ascii_letters + string.digits),
}
name, wanted = os.environ["SECRET_NAME"], json.loads(os.environ["GENERATE"])
namespace = open(f"{TOKEN_DIR}/namespace").read().strip()
token = open(f"{TOKEN_DIR}/token").read().strip()
tls = ssl.create_default_context(cafile=f"{TOKEN_DIR}/ca.crt")
host = os.environ["KUBERNETES_SERVICE_HOST"]
host = f"[{host}]" if ":" in host else host
url = f"https://{host}:{os.environ['KUBERNETES_SERVICE_PORT']}/api/v1/namespaces/{namespace}/secrets"


def call(method, path="", body=None):
    kind = "application/merge-patch+json" if method == "PATCH" else "application/json"
    request = urllib.request.Request(
        url + path, method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": kind, "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, context=tls, timeout=30) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, None


def draw(form):
    if form == "admin":  # basic's admin user: the name MLflow itself defaults to
        return b"admin"
    size, alphabet = FORMATS[form]
    return "".join(secrets.choice(alphabet) for _ in range(size)).encode()


def values(keys):
    return {key: base64.b64encode(draw(wanted[key])).decode() for key in keys}


for _ in range(5):
    status, secret = call("GET", f"/{name}")
    if status == 404:
        metadata = {"name": name, "labels": json.loads(os.environ["LABELS"])}
        body = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": metadata, "data": values(wanted)}
        status, _ = call("POST", body=body)
        if status == 201:
            sys.exit(print(f"created Secret {name} with {', '.join(sorted(wanted))}", flush=True))
    elif status == 200:
        missing = sorted(set(wanted) - set(secret.get("data") or {}))
        if not missing:
            sys.exit(print(f"Secret {name} has {', '.join(sorted(wanted))}: nothing to do", flush=True))
        version = secret["metadata"]["resourceVersion"]  # a concurrent change makes the patch answer 409
        status, _ = call("PATCH", f"/{name}", {"metadata": {"resourceVersion": version}, "data": values(missing)})
        if status == 200:
            sys.exit(print(f"added {', '.join(missing)} to Secret {name}", flush=True))
    if status != 409:
        sys.exit(f"the API server answered {status} for Secret {name} in {namespace}")
sys.exit(f"Secret {name} kept changing while its keys were added; the Job retries")
"""


class GeneratedCredentials(Construct):
    """ServiceAccount, Role and RoleBinding ``<name>-keygen`` and the Job ``<name>-keygen-<hash>``
    that creates Secret ``secret`` with ``keys`` (Secret key -> format of ``GENERATED``) where absent. The Role
    may create Secrets (Kubernetes cannot limit ``create`` to a name) and get and patch only ``secret``."""

    def __init__(
        self, scope: Construct, id: str, *, naming: Naming, image: Image, secret: str, keys: Mapping[str, str]
    ) -> None:
        super().__init__(scope, id)
        name = naming.name("keygen")
        labels = naming.labels("keygen")
        account_with_role(
            self,
            name=name,
            labels=labels,
            why=f"the keygen Job creates Secret {secret} and adds the keys it lacks",
            rules=[
                k8s.PolicyRule(api_groups=[""], resources=["secrets"], verbs=["create"]),
                k8s.PolicyRule(api_groups=[""], resources=["secrets"], resource_names=[secret], verbs=["get", "patch"]),
            ],
        )
        generate = container(
            "generate",
            image,
            command=["python", "-c", SCRIPT],
            env=env_values(
                {
                    "SECRET_NAME": secret,
                    "GENERATE": json.dumps(dict(sorted(keys.items()))),
                    # not the labels Argo CD and Flux track and prune by: the Secret outlives them
                    "LABELS": json.dumps({"app.kubernetes.io/part-of": PART_OF}),
                }
            ),
            resources=fixed_resources("10m", "64Mi", "200m", "128Mi"),
            mounts=[TMP_MOUNT, api_token_mount()],
        )
        template = pod_template(
            labels,
            service_account=name,
            restart_policy="Never",
            containers=[generate],
            volumes=[empty_dir("tmp", "16Mi"), api_token_volume()],
        )
        run_once_job(
            self,
            "job",
            base_name=name,
            labels=labels,
            template=template,
            wave="0",
            annotations={GENERATES_SECRET_ANNOTATION: f"{secret}: {', '.join(sorted(keys))}"},
        )
