"""The keygen Job (``secrets.generate``) against a real kube-apiserver: the default environment's Secret made
in the cluster, once, with least privilege.

Its script runs as synthesized: the ``generate`` container's command and literal env from the default
environment's Job, the MLflow image's venv (``tests/runtime/venvs.py``), and a token that ``kubectl create
token`` issues for the ServiceAccount ``<name>-keygen``, whose Role and RoleBinding are applied as synthesized.

- a first run creates the Secret with exactly the keys the Job names, in their formats, and logs no value;
- a second run changes nothing (same resourceVersion);
- a Secret made beforehand keeps every key it has (the user's values win), and gets only the missing ones;
- the ServiceAccount may create Secrets and get and patch its one Secret, nothing else.
"""

from __future__ import annotations

import base64
import json
import shutil
import string
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cluster import REPO, Cluster, dump, namespace_for, namespaces_of, rename_namespaces

sys.path.insert(0, str(REPO / "tests" / "validity"))
sys.path.append(str(REPO / "tests" / "runtime"))
from _k8s import manifests  # noqa: E402
from venvs import venv_for_image  # noqa: E402

ENV = "default"
SECRET = "mlflow-credentials"
ALNUM = set(string.ascii_letters + string.digits)
LENGTHS = {"user": 20, "password": 40, "cookie": 32}


@dataclass
class Keygen:
    """The keygen Job's account applied into a namespace of its own, and what its container runs with."""

    cluster: Cluster
    namespace: str
    account: str
    image: str
    command: list[str]
    env: dict[str, str]  # the container's literal env values

    @property
    def wanted(self) -> dict[str, str]:
        return json.loads(self.env["GENERATE"])

    def run(self, workdir: Path) -> subprocess.CompletedProcess[str]:
        """The container's command with the image's venv, as the ServiceAccount, against the API server."""
        venv = venv_for_image(self.image)
        assert venv is not None, f"no venv stands in for {self.image} (constructs/mlflow_constructs/images.py)"
        if not venv.is_ready():
            pytest.skip(f"run `bash tests/runtime/setup.sh` first; missing: venv {venv.name} ({venv.path})")
        token_dir = workdir / "serviceaccount"
        token_dir.mkdir(parents=True, exist_ok=True)
        token = self.cluster.kubectl("create", "token", self.account, "-n", self.namespace, check=True).stdout
        (token_dir / "token").write_text(token.strip())
        (token_dir / "namespace").write_text(self.namespace)
        shutil.copyfile(self.cluster.ca_file, token_dir / "ca.crt")
        api = urlsplit(self.cluster.server)
        env = {
            "PATH": "/usr/bin:/bin",
            **self.env,
            "KUBERNETES_SERVICE_HOST": api.hostname or "",
            "KUBERNETES_SERVICE_PORT": str(api.port),
            "SERVICE_ACCOUNT_DIR": str(token_dir),
        }
        assert self.command[0] == "python", self.command
        argv = [str(venv.python_exe), *self.command[1:]]
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)

    def secret(self) -> dict[str, Any]:
        got = self.cluster.kubectl("get", "secret", SECRET, "-n", self.namespace, "-o", "json", check=True)
        return json.loads(got.stdout)

    def values(self) -> dict[str, str]:
        return {k: base64.b64decode(v).decode() for k, v in (self.secret().get("data") or {}).items()}

    def can_i(self, verb: str, resource: str) -> bool:
        subject = f"--as=system:serviceaccount:{self.namespace}:{self.account}"
        got = self.cluster.kubectl("auth", "can-i", verb, resource, subject, "-n", self.namespace)
        assert got.stdout.strip() in ("yes", "no"), str(got)
        return got.stdout.strip() == "yes"


@pytest.fixture
def keygen(cluster: Cluster, synthesized, request, tmp_path: Path) -> Keygen:
    """The default environment's keygen account, applied into a namespace of this test's own."""
    return keygen_account(cluster, manifests(synthesized, ENV), request.node.name, tmp_path)


def keygen_account(cluster: Cluster, objs: list[dict[str, Any]], test: str, tmp_path: Path) -> Keygen:
    """An environment's keygen account, applied into a namespace named after ``test``."""
    (job,) = [o for o in objs if o["kind"] == "Job" and o["metadata"]["name"].startswith("mlflow-keygen-")]
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    account = pod["serviceAccountName"]
    rbac = [
        o for o in objs if o["kind"] in ("ServiceAccount", "Role", "RoleBinding") and o["metadata"]["name"] == account
    ]
    assert sorted(o["kind"] for o in rbac) == ["Role", "RoleBinding", "ServiceAccount"], rbac
    chosen = [o for o in objs if o["kind"] == "Namespace"] + rbac
    tag = test.removeprefix("test_")[:30].rstrip("_")
    rename = {ns: namespace_for(ns, tag) for ns in namespaces_of(chosen)}
    path = tmp_path / "keygen-account.k8s.yaml"
    path.write_text(dump(rename_namespaces(chosen, rename)))
    cluster.kubectl("apply", "--server-side", "--field-manager=mlflow-k8s", "-f", str(path), check=True)
    return Keygen(
        cluster=cluster,
        namespace=rename[job["metadata"]["namespace"]],
        account=account,
        image=container["image"],
        command=container["command"],
        env={e["name"]: e["value"] for e in container["env"] if "value" in e},
    )


def ran(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"the keygen script failed\n{result.stdout}{result.stderr}"
    return result.stdout + result.stderr


def test_first_run_creates_the_secret_with_the_generated_keys(keygen: Keygen, tmp_path: Path) -> None:
    """A first install needs no hand-made Secret: the Job creates it with every key it names, each in its
    format (MinIO's 3-20 character users, 40-character passwords, letters and digits only so they fit in URIs),
    and its log names keys, never a value."""
    log = ran(keygen.run(tmp_path))
    values = keygen.values()
    assert (
        set(values)
        == set(keygen.wanted)
        == {
            "postgres-password",
            "minio-root-user",
            "minio-root-password",
            "s3-access-key-id",
            "s3-secret-access-key",
            "kek-passphrase",
        }
    )
    for key, value in values.items():
        assert len(value) == LENGTHS[keygen.wanted[key]] and set(value) <= ALNUM, key
        assert value not in log
    assert len(set(values.values())) == len(values), "every value is drawn on its own"
    assert keygen.secret()["metadata"]["labels"] == {"app.kubernetes.io/part-of": "mlflow"}
    assert "ownerReferences" not in keygen.secret()["metadata"]


def test_second_run_changes_nothing(keygen: Keygen, tmp_path: Path) -> None:
    """Re-applying (Argo CD re-runs its hook, a new Job after a change) never rotates a credential the stores
    were initialised with: the Secret is not even written again."""
    ran(keygen.run(tmp_path))
    before = keygen.secret()
    assert "nothing to do" in ran(keygen.run(tmp_path))
    after = keygen.secret()
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["data"] == before["data"]


def test_existing_keys_are_kept(keygen: Keygen, tmp_path: Path) -> None:
    """A value the user set beforehand (or a key the Job does not generate, like basic's admin) stays as it
    is; only the missing keys are added."""
    keygen.cluster.kubectl(
        "create", "secret", "generic", SECRET, "-n", keygen.namespace,
        "--from-literal=postgres-password=chosen-by-the-user", "--from-literal=admin-password=mine-too",
        check=True,
    )  # fmt: skip
    log = ran(keygen.run(tmp_path))
    values = keygen.values()
    assert values["postgres-password"] == "chosen-by-the-user" and values["admin-password"] == "mine-too"
    assert set(values) == {*keygen.wanted, "admin-password"}
    assert f"added {', '.join(sorted(set(keygen.wanted) - {'postgres-password'}))} to Secret {SECRET}" in log


def test_basic_admin_is_admin_with_a_generated_password(cluster: Cluster, synthesized, tmp_path: Path) -> None:
    """basic-auth (examples/gateway-api.yaml): the admin MLflow creates at first start is `admin`, with a password
    of 40 letters and digits (MLflow refuses fewer than 12) the user reads from the Secret."""
    account = keygen_account(cluster, manifests(synthesized, "gateway-api"), "test_basic_admin", tmp_path)
    ran(account.run(tmp_path))
    values = account.values()
    assert values["admin-username"] == "admin"
    assert len(values["admin-password"]) == 40 and set(values["admin-password"]) <= ALNUM
    assert set(values) == set(account.wanted)


def test_keygen_account_may_only_create_secrets_and_change_its_own(keygen: Keygen) -> None:
    """The token projected into the Job is worth as little as possible if it leaks: create Secrets (RBAC cannot
    restrict create to a name), get and patch the one Secret, nothing else (no list, no other Secret, no delete,
    no Pods)."""
    allowed = {("create", "secrets"), ("get", f"secrets/{SECRET}"), ("patch", f"secrets/{SECRET}")}
    asked = [
        *allowed,
        ("get", "secrets/other"),
        ("patch", "secrets/other"),
        ("list", "secrets"),
        ("watch", "secrets"),
        ("update", f"secrets/{SECRET}"),
        ("delete", f"secrets/{SECRET}"),
        ("create", "configmaps"),
        ("list", "pods"),
        ("create", "pods/exec"),
    ]
    granted = {(verb, resource) for verb, resource in asked if keygen.can_i(verb, resource)}
    assert granted == allowed
