"""Contracts of `secrets.generate`: a Job makes the bundled components' credentials in the cluster, only those,
with the least privilege, before what reads them, and nothing of their values reaches the output."""

from __future__ import annotations

import json

import pytest
from helpers import DEFAULT_SECRET_KEYS, config_error, container, env_of, find, find_all, synth

from mlflow_constructs.config import ConfigError
from mlflow_constructs.secrets.generated import SCRIPT

BASIC = {"mode": "basic"}
S3 = {"type": "s3", "s3": {"bucket": "team-ml", "region": "eu-west-1"}}


def keygen(objs):
    jobs = [job for job in find_all(objs, "Job") if job["metadata"]["name"].startswith("mlflow-keygen-")]
    assert len(jobs) == 1, f"expected one keygen Job, found {len(jobs)}"
    return jobs[0]


def generated(objs) -> dict[str, str]:
    return json.loads(env_of(container(keygen(objs), "generate"))["GENERATE"])


def prerequisites(objs) -> str | None:
    return (find(objs, "Namespace")["metadata"].get("annotations") or {}).get("mlflow-k8s/prerequisites")


def test_default_needs_no_hand_made_secret(tmp_path):
    """A first install of the default environment works with nothing created by hand: the Job generates every
    key the pods read, and the Namespace lists no prerequisite."""
    objs = synth({"database": {"type": "bundled"}, "artifacts": {"type": "minio"}}, tmp_path)
    assert set(generated(objs)) == set(DEFAULT_SECRET_KEYS)
    assert prerequisites(objs) is None


def test_formats_fit_what_reads_them(tmp_path):
    """MinIO takes access keys of 3 to 20 characters: users and access keys get the short format, passwords the
    long one, OAuth2-Proxy's cookie secret 32 characters (a valid AES key length)."""
    assert generated(synth({"artifacts": {"type": "minio"}}, tmp_path)) == {
        "kek-passphrase": "password",
        "minio-root-password": "password",
        "minio-root-user": "user",
        "postgres-password": "password",
        "s3-access-key-id": "user",
        "s3-secret-access-key": "password",
    }
    assert '"user": (20,' in SCRIPT and '"password": (40,' in SCRIPT and '"cookie": (32,' in SCRIPT


def test_keys_only_the_user_knows_are_not_generated(tmp_path):
    """A cloud's S3 keys are the user's: not generated, so the Secret stays a prerequisite, while the bundled
    database's password and basic's admin and Flask secret are generated (the admin named `admin`, as MLflow's
    own default, the user reading its password from the Secret)."""
    objs = synth({"auth": BASIC, "database": {"type": "bundled"}, "artifacts": S3}, tmp_path)
    assert generated(objs) == {
        "admin-password": "password",
        "admin-username": "admin",
        "flask-secret-key": "password",
        "kek-passphrase": "password",
        "postgres-password": "password",
    }
    assert prerequisites(objs) == "Secret/mlflow-credentials"


def test_off_without_a_bundled_store_or_when_disabled(tmp_path):
    """Unset, generation follows what the environment bundles; `generate: false` keeps the Secret entirely
    the user's (no Job, no RBAC)."""
    for config in (
        {"database": {"type": "external"}, "artifacts": S3},
        {"secrets": {"generate": False}},
    ):
        objs = synth(config, tmp_path)
        assert not [o for o in objs if o["metadata"]["name"].startswith("mlflow-keygen")]
        assert prerequisites(objs) == "Secret/mlflow-credentials"


def test_generate_needs_an_existing_secret_provider():
    """A provider that produces the Secret itself would replace generated keys: refused, naming the key."""
    message = config_error(
        {
            "secrets": {
                "generate": True,
                "provider": "external-secrets",
                "external_secrets": {"store_ref": {"name": "vault"}},
            }
        }
    )
    assert "generate: true needs provider existing-secret" in message


def test_generate_with_nothing_to_generate_is_refused(tmp_path):
    """`generate: true` where the pods read no generatable key is a contradiction, not a silent no-op."""
    config = {
        "secrets": {"generate": True},
        "database": {"type": "external"},
        "artifacts": S3,
        "server": {"ai_gateway": False},
    }
    with pytest.raises(ConfigError, match="secrets.generate"):
        synth(config, tmp_path)


def test_role_allows_only_what_the_job_needs(tmp_path):
    """create on Secrets (RBAC cannot restrict create to a name), get and patch of the one Secret, nothing else;
    the token is projected into the Job's one container and no other pod of the account exists."""
    objs = synth({}, tmp_path)
    role = find(objs, "Role", "mlflow-keygen")
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]},
        {
            "apiGroups": [""],
            "resourceNames": ["mlflow-credentials"],
            "resources": ["secrets"],
            "verbs": ["get", "patch"],
        },
    ]
    binding = find(objs, "RoleBinding", "mlflow-keygen")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "mlflow-keygen"}]
    pod = keygen(objs)["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False and pod["serviceAccountName"] == "mlflow-keygen"
    templates = [o for o in objs if "template" in o.get("spec", {})]
    runs_as = [o for o in templates if o["spec"]["template"]["spec"].get("serviceAccountName") == "mlflow-keygen"]
    assert runs_as == [keygen(objs)]


def test_no_value_in_the_output(tmp_path):
    """Values are drawn in the cluster: the Job's command is the script and its env names keys and formats only."""
    job = container(keygen(synth({}, tmp_path)), "generate")
    assert job["command"] == ["python", "-c", SCRIPT] and "args" not in job
    assert set(env_of(job)) == {"SECRET_NAME", "GENERATE", "LABELS"}
    assert set(generated(synth({}, tmp_path)).values()) <= {"user", "password", "cookie"}


def test_argo_runs_it_before_the_migration(tmp_path):
    """Argo CD: the Job is a Sync hook in wave 0, with the stores that read the Secret, so the migration Job
    (wave 1) and the server (wave 2) start after it; the Secret it makes carries no label Argo CD prunes by."""
    objs = synth({}, tmp_path)
    annotations = keygen(objs)["metadata"]["annotations"]
    assert annotations["argocd.argoproj.io/hook"] == "Sync"
    assert annotations["argocd.argoproj.io/sync-wave"] == "0"
    labels = json.loads(env_of(container(keygen(objs), "generate"))["LABELS"])
    assert labels == {"app.kubernetes.io/part-of": "mlflow"}
