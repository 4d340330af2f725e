"""Tiny helpers for contract tests: synthesize one config in memory and find objects in it."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from repo_paths import REPO

from mlflow_constructs.config import ConfigError, parse_environment
from mlflow_constructs.review.objects import load_documents
from mlflow_constructs.synth import build_app

INGRESS = {"enabled": True, "hosts": ["mlflow.example.com"], "tls": {"secret_name": "tls"}}
OIDC = {"mode": "oidc", "oidc": {"discovery_url": "https://idp.example.com/.well-known/openid-configuration"}}
# The oidc mode needs an image carrying the plugin (built from images/mlflow-oidc).
OIDC_SERVER = {"image": "registry.example.com/mlflow/mlflow-oidc:3.17.2-oidc11.0.2"}
# The keys of the default environment's Secret: bundled PostgreSQL and MinIO, and the AI gateway's passphrase.
DEFAULT_SECRET_KEYS = (
    "postgres-password",
    "minio-root-user",
    "minio-root-password",
    "s3-access-key-id",
    "s3-secret-access-key",
    "kek-passphrase",
)


def synth(config: dict[str, Any], tmp_path) -> list[dict[str, Any]]:
    """Manifests for one environment given as a dict (as it would be read from config/<env>.yaml)."""
    env = parse_environment(config, source="test.yaml")
    text = build_app({"test": env}, tmp_path).synth_yaml()
    return load_documents(text)


def config_error(config: dict[str, Any]) -> str:
    """The message a config is refused with (the test fails if it is accepted)."""
    with pytest.raises(ConfigError) as info:
        parse_environment(config, source="config/bad.yaml")
    return str(info.value)


def find(objs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


def find_all(objs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] == kind]


def container(pod_owner: dict[str, Any], name: str) -> dict[str, Any]:
    spec = pod_owner["spec"]["template"]["spec"]
    for c in [*spec.get("initContainers", []), *spec["containers"]]:
        if c["name"] == name:
            return c
    raise AssertionError(f"no container {name}")


def env_of(c: dict[str, Any]) -> dict[str, Any]:
    """Env var name -> literal value, or the valueFrom body."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of this pytest run, shared by its pytest-xdist workers (each worker's is inside it)."""
    run = tmp_path_factory.getbasetemp()
    return run.parent if os.environ.get("PYTEST_XDIST_WORKER") else run


def once_per_run(tmp_path_factory: pytest.TempPathFactory, name: str, compute: Callable[[], Any]) -> Any:
    """``compute()`` (a JSON value), computed by the first worker of the run to ask and read by the others: a
    costly module fixture runs once per run, not once per worker that runs one of its module's tests."""
    run = run_dir(tmp_path_factory)
    result = run / f"{name}.json"
    with (run / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not result.exists():
            partial = result.with_suffix(".partial")
            partial.write_text(json.dumps(compute()))
            partial.replace(result)
    return json.loads(result.read_text())


def run_app(*args: str, cwd=REPO, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python app.py <args>`` as a user runs it (a new process), with its output captured."""
    return subprocess.run(
        [sys.executable, str(REPO / "app.py"), *args],
        check=False,
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )


def require_tool(binary: str | None, message: str) -> str:
    """``binary``; if it is missing, skip (fail in CI, ``CI=true``, where a skipped check would look like a pass)."""
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return binary


def mark_suite(items: list[pytest.Item], folder, mark: str, missing: list[str], fix: str) -> None:
    """Mark every test collected below ``folder`` with ``mark``; when tools are ``missing``, skip them all
    saying what to run (``RUNTIME_TESTS=require``, as `make test` runs, turns those skips into failures)."""
    ours = [item for item in items if item.path.is_relative_to(folder)]
    for item in ours:
        item.add_marker(mark)
    if ours and missing:
        skip = pytest.mark.skip(reason=f"{fix}; missing: {', '.join(missing)}")
        for item in ours:
            item.add_marker(skip)
