"""The migration Job's pre-upgrade CloudNativePG ``Backup``, taken for real against kube-apiserver.

With ``database.type: cloudnativepg`` and backups on, the Job's ``upgrade`` container (the MLflow image)
creates an on-demand ``Backup`` through the Kubernetes API with the token of the ServiceAccount
``<name>-migrate``, then waits for the operator to finish it (``cloudnativepg_backup()`` in
``schema_scripts/upgrade.py``). Here that function runs as synthesized: the script from the env's
``<name>-schema`` ConfigMap, the literal env of the Job's ``upgrade`` container, the MLflow image's venv
(``tests/runtime/venvs.py``), and a token that ``kubectl create token`` issues for the ServiceAccount, whose
Role and RoleBinding are applied as synthesized. kube-apiserver runs no CloudNativePG operator, so a thread
plays it and writes the Backup's status (status subresource), as the operator and its plugin do.

- completed: the call returns the Backup, stored with the Cluster, ``method: plugin`` and the Barman Cloud
  Plugin the README names (also at the longest name and namespace the config accepts);
- failed: the call raises with the operator's error;
- deleted while waited for: the call raises naming the Backup and the API server's answer;
- least privilege: the ServiceAccount may create and get Backups in its namespace, nothing else.

The venv comes from ``bash tests/runtime/setup.sh`` (``make tools``); without it these tests are skipped,
and ``RUNTIME_TESTS=require`` (``make test``) turns that skip into a failure.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from cluster import REPO, Cluster, dump, namespace_for, namespaces_of, rename_namespaces

sys.path.insert(0, str(REPO / "tests" / "validity"))
sys.path.append(str(REPO / "tests" / "runtime"))
from _k8s import manifests  # noqa: E402
from venvs import venv_for_image  # noqa: E402

from mlflow_constructs.config import parse_environment
from mlflow_constructs.environment.chart import environment_objects
from mlflow_constructs.environment.limits import longest_accepted  # noqa: E402
from mlflow_constructs.synth import build_app  # noqa: E402

ENV = "aks-azure"  # examples/aks-azure.yaml: CloudNativePG, backups through the Barman Cloud Plugin
PLUGIN = "barman-cloud.cloudnative-pg.io"  # README, "Back up now"
BACKUPS = "backups.postgresql.cnpg.io"
# CloudNativePG with backups on, at the longest `namespace` (63) and `name` the config accepts (see
# `longest_objects`).
LONGEST = {
    "namespace": "n" * 63,
    "database": {
        "type": "cloudnativepg",
        "backup": {"object_store": {"destination_path": "s3://backups/mlflow", "credentials": "workload-identity"}},
    },
}


# --- the environment's part: the migration Job and its ServiceAccount ------------------------------------
@dataclass
class MigrateAccount:
    """The Namespace and ``<name>-migrate`` ServiceAccount, Role and RoleBinding of one environment, applied
    into a namespace of its own; what the migration Job's ``upgrade`` container runs with."""

    cluster: Cluster
    namespace: str
    account: str
    image: str
    env: dict[str, str]  # the container's literal env values
    scripts: dict[str, str]  # the <name>-schema ConfigMap: file name -> text
    cnpg_cluster: str  # the Cluster the environment defines

    def token_dir(self, path: Path) -> Path:
        """What a pod of the ServiceAccount finds in /var/run/secrets/kubernetes.io/serviceaccount."""
        token = self.cluster.kubectl("create", "token", self.account, "-n", self.namespace, check=True).stdout
        path.mkdir(parents=True, exist_ok=True)
        (path / "token").write_text(token.strip())
        (path / "namespace").write_text(self.namespace)
        shutil.copyfile(self.cluster.ca_file, path / "ca.crt")
        return path

    def backups(self) -> list[dict[str, Any]]:
        got = self.cluster.kubectl("get", BACKUPS, "-n", self.namespace, "-o", "json", check=True)
        return json.loads(got.stdout)["items"]

    def can_i(self, verb: str, resource: str, namespace: str | None = None) -> bool:
        subject = f"--as=system:serviceaccount:{self.namespace}:{self.account}"
        got = self.cluster.kubectl("auth", "can-i", verb, resource, subject, "-n", namespace or self.namespace)
        assert got.stdout.strip() in ("yes", "no"), str(got)
        return got.stdout.strip() == "yes"


def upgrade_job(objs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The migration Job that takes a CloudNativePG Backup, and its ``upgrade`` container."""
    for obj in objs:
        if obj["kind"] != "Job":
            continue
        for c in obj["spec"]["template"]["spec"]["containers"]:
            if c["name"] == "upgrade" and {"name": "BACKUP", "value": "cloudnativepg"} in c.get("env", []):
                return obj, c
    raise AssertionError("no migration Job takes a CloudNativePG Backup in this environment")


def migrate_account(cluster: Cluster, objs: list[dict[str, Any]], tag: str | None, workdir: Path) -> MigrateAccount:
    """Apply the account's objects, each namespace renamed ``<tag>-<namespace>`` (kept as is without ``tag``)."""
    job, container = upgrade_job(objs)
    pod = job["spec"]["template"]["spec"]
    account = pod["serviceAccountName"]
    mounts = {m["name"]: m["mountPath"] for m in container.get("volumeMounts", [])}
    assert mounts.get("api-token") == "/var/run/secrets/kubernetes.io/serviceaccount", "no token for the upgrade"
    kinds = ("ServiceAccount", "Role", "RoleBinding")
    rbac = [o for o in objs if o["kind"] in kinds and o["metadata"]["name"] == account]
    assert sorted(o["kind"] for o in rbac) == ["Role", "RoleBinding", "ServiceAccount"], rbac
    chosen = [o for o in objs if o["kind"] == "Namespace"] + rbac
    rename = {ns: namespace_for(ns, tag) if tag else ns for ns in namespaces_of(chosen)}
    path = workdir / "migrate-account.k8s.yaml"
    path.write_text(dump(rename_namespaces(chosen, rename)))
    cluster.kubectl("apply", "--server-side", "--field-manager=mlflow-k8s", "-f", str(path), check=True)
    config_map = next(o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-schema"))
    return MigrateAccount(
        cluster=cluster,
        namespace=rename[job["metadata"]["namespace"]],
        account=account,
        image=container["image"],
        env={e["name"]: e["value"] for e in container["env"] if "value" in e},
        scripts=config_map["data"],
        cnpg_cluster=next(o["metadata"]["name"] for o in objs if o["kind"] == "Cluster"),
    )


# --- the container's part: cloudnativepg_backup() with the image's Python --------------------------------
def run_backup(account: MigrateAccount, workdir: Path, stamp: str) -> subprocess.CompletedProcess[str]:
    """``cloudnativepg_backup(stamp)`` of the ConfigMap's upgrade.py, with the image's venv, against the API
    server, as the ServiceAccount; prints what it returns."""
    venv = venv_for_image(account.image)
    assert venv is not None, f"no venv stands in for {account.image} (constructs/mlflow_constructs/images.py)"
    if not venv.is_ready():
        pytest.skip(f"run `bash tests/runtime/setup.sh` first; missing: venv {venv.name} ({venv.path})")
    scripts = workdir / "schema"
    scripts.mkdir()
    for name, text in account.scripts.items():
        (scripts / name).write_text(text)
    api = urlsplit(account.cluster.server)
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(scripts),
        **account.env,
        "KUBERNETES_SERVICE_HOST": api.hostname,
        "KUBERNETES_SERVICE_PORT": str(api.port),
        "SERVICE_ACCOUNT_DIR": str(account.token_dir(workdir / "serviceaccount")),
        "DUMP_TIMEOUT_SECONDS": "60",
    }
    code = "import sys, upgrade; print(upgrade.cloudnativepg_backup(sys.argv[1]))"
    return subprocess.run(
        [str(venv.python_exe), "-c", code, stamp], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def stamp() -> str:
    """The stamp ``take_backup`` gives it."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


# --- the operator's part ---------------------------------------------------------------------------------
def status(**fields: Any) -> Callable[[str], list[str]]:
    """An answer of the operator: write ``fields`` into the Backup's status (status subresource)."""
    patch = json.dumps({"status": fields})
    return lambda name: ["patch", BACKUPS, name, "--subresource=status", "--type=merge", "-p", patch]


def delete(name: str) -> list[str]:
    return ["delete", BACKUPS, name, "--wait=false"]


class Operator(threading.Thread):
    """Plays CloudNativePG: waits for the first Backup in the namespace, then answers it, one kubectl
    command a second. ``name`` and ``error`` say what happened."""

    def __init__(self, account: MigrateAccount, *answers: Callable[[str], list[str]]) -> None:
        super().__init__(daemon=True)
        self.account, self.answers = account, answers
        self.name_seen: str | None = None
        self.error: str | None = None

    def run(self) -> None:
        deadline = time.monotonic() + 60
        try:
            while not (found := self.account.backups()):
                if time.monotonic() > deadline:
                    self.error = "no Backup was created in 60 s"
                    return
                time.sleep(0.2)
            self.name_seen = found[0]["metadata"]["name"]
            for answer in self.answers:
                got = self.account.cluster.kubectl(*answer(self.name_seen), "-n", self.account.namespace)
                if got.returncode != 0:
                    self.error = str(got)
                    return
                time.sleep(1)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.error = repr(exc)

    def finish(self) -> str:
        self.join(timeout=90)
        assert not self.is_alive() and self.error is None, f"operator: {self.error or 'still running'}"
        assert self.name_seen is not None
        return self.name_seen


def backup_with(account: MigrateAccount, workdir: Path, *answers: Callable[[str], list[str]]):
    """Run the call while the operator answers; (its result, the Backup's name)."""
    operator = Operator(account, *answers)
    operator.start()
    result = run_backup(account, workdir, stamp())
    return result, operator.finish()


# --- fixtures --------------------------------------------------------------------------------------------
@pytest.fixture
def example(cluster: Cluster, synthesized, request, tmp_path: Path) -> MigrateAccount:
    """The CloudNativePG example's migration account, applied into a namespace of this test's own."""
    tag = request.node.name.removeprefix("test_")[:30].rstrip("_")
    return migrate_account(cluster, manifests(synthesized, ENV), tag, tmp_path)


def longest_objects(tmp_path: Path) -> list[dict[str, Any]]:
    env = parse_environment(LONGEST, source="longest.yaml")
    env = env.model_copy(update={"name": "m" * longest_accepted(env, "name", environment_objects)})
    return [d for d in yaml.safe_load_all(build_app({"longest": env}, tmp_path / "out").synth_yaml()) if d]


# --- tests -----------------------------------------------------------------------------------------------
def check_completed(account: MigrateAccount, workdir: Path) -> None:
    result, name = backup_with(account, workdir, status(phase="started"), status(phase="completed"))
    assert result.returncode == 0, f"cloudnativepg_backup failed\n{result.stdout}{result.stderr}"
    assert result.stdout.splitlines()[-1] == f"Backup/{name}", result.stdout
    (stored,) = account.backups()
    assert stored["metadata"]["name"] == name
    assert stored["spec"] == {
        "cluster": {"name": account.cnpg_cluster},
        "method": "plugin",
        "pluginConfiguration": {"name": PLUGIN},
    }, stored["spec"]
    assert stored["status"]["phase"] == "completed"


def test_completed_backup_is_returned(example: MigrateAccount, tmp_path: Path) -> None:
    """The migration goes on only once the operator reports the Backup ``completed``, and the Backup it
    asked for is the one the README describes: of the environment's Cluster, ``method: plugin``, through
    the Barman Cloud Plugin (what ``kubectl cnpg backup ... --method=plugin`` creates). The ServiceAccount's
    own token, Role and RoleBinding are enough for it."""
    check_completed(example, tmp_path)


def test_completed_backup_at_longest_names(cluster: Cluster, tmp_path: Path) -> None:
    """The Backup's name (``<name>-db-pre-upgrade-<stamp>``) and everything around it are accepted at the
    longest ``name`` and ``namespace`` the config accepts."""
    objs = longest_objects(tmp_path)
    account = migrate_account(cluster, objs, None, tmp_path)  # a namespace no other test uses
    assert len(account.namespace) == 63 and len(account.cnpg_cluster) > 40
    check_completed(account, tmp_path)


def test_failed_backup_raises_with_operator_error(example: MigrateAccount, tmp_path: Path) -> None:
    """A failed Backup stops the migration (nothing is migrated without a backup) and the Job's log says
    why, in the operator's words."""
    error = f"requested plugin is not available: {PLUGIN}"
    result, name = backup_with(example, tmp_path, status(phase="started"), status(phase="failed", error=error))
    assert result.returncode != 0, f"cloudnativepg_backup returned\n{result.stdout}"
    assert f"RuntimeError: Backup {name} failed: {error}" in result.stderr, result.stderr


def test_deleted_backup_raises_with_api_answer(example: MigrateAccount, tmp_path: Path) -> None:
    """A Backup deleted while the Job waits for it (by hand, or pruned by a GitOps tool) ends the wait
    at once with an error naming it and the API server's answer, not an obscure exception."""
    result, name = backup_with(example, tmp_path, status(phase="started"), delete)
    assert result.returncode != 0, f"cloudnativepg_backup returned\n{result.stdout}"
    assert f"RuntimeError: reading Backup {name}: HTTP 404" in result.stderr, result.stderr


def test_migrate_account_may_only_create_and_get_backups(example: MigrateAccount) -> None:
    """The token mounted into the migration pod is worth as little as possible if it leaks: create and
    get Backups in its own namespace, nothing else (no delete, no other Backup rights, no Secrets, no Pods,
    no other namespace)."""
    allowed = {(verb, BACKUPS) for verb in ("create", "get")}
    asked = [
        *allowed,
        *((verb, BACKUPS) for verb in ("list", "watch", "update", "patch", "delete")),
        ("patch", f"{BACKUPS}/status"),
        ("create", "clusters.postgresql.cnpg.io"),
        ("get", "secrets"),
        ("list", "pods"),
        ("create", "pods/exec"),
    ]
    granted = {(verb, resource) for verb, resource in asked if example.can_i(verb, resource)}
    assert granted == allowed
    assert not example.can_i("create", BACKUPS, namespace="default")
