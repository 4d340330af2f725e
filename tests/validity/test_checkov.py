"""checkov's Kubernetes policies pass on every environment's output, with a short, justified skip list.

checkov lives in its own virtual environment (.tools/checkov, made by tests/validity/install-tools.sh)
so its many dependencies cannot clash with the project's pins.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from _k8s import REPO, environment_names
from helpers import once_per_run, require_tool

from mlflow_constructs.synth import OUTPUT_SUFFIX

# Every check skipped for the whole output, with the reason. Nothing else may be skipped: in-manifest
# `checkov.io/skip*` annotations are refused below, so this dict is the one place to review.
SKIPPED_CHECKS = {
    "CKV_K8S_15": (
        "Image Pull Policy Always: images are pinned to exact version tags (or digests), so Always adds no "
        "integrity and makes every pod start depend on the registry being reachable"
    ),
    "CKV_K8S_43": (
        "Image digest: images are pinned to exact version tags; a digest is set per environment through "
        "config `image.digest`, since digests differ between registry mirrors and cannot be resolved here"
    ),
    "CKV_K8S_35": (
        "Secrets as files: MLflow, MinIO and mc read their store URIs and credentials from environment "
        "variables only; the values come from secretKeyRef, never literals (test_pod_security checks that)"
    ),
}

TIMEOUT_SECONDS = 300


def checkov_binary() -> str | None:
    local = REPO / ".tools" / "checkov" / "bin" / "checkov"
    return str(local) if local.is_file() else shutil.which("checkov")


@pytest.fixture(scope="module")
def checkov() -> str:
    return require_tool(
        checkov_binary(), "checkov not found in .tools/checkov/bin or on PATH: run tests/validity/install-tools.sh"
    )


@pytest.fixture(scope="module")
def checkov_results(checkov, dist_dir: Path, tmp_path_factory) -> dict[str, list[dict]]:
    """One checkov run over the whole synthesized output, once per run (start-up dominates: ~8 s per run);
    results by category (passed_checks, failed_checks, skipped_checks, parsing_errors)."""
    return once_per_run(tmp_path_factory, "checkov", lambda: run_checkov(checkov, dist_dir))


def run_checkov(checkov: str, dist_dir: Path) -> dict[str, list[dict]]:
    run = subprocess.run(
        [
            checkov,
            "--framework",
            "kubernetes",
            "-d",
            str(dist_dir),
            "--output",
            "json",
            "--compact",
            "--skip-download",  # no network: no guideline links or platform policies
            "--skip-check",
            ",".join(sorted(SKIPPED_CHECKS)),
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
        check=False,
    )
    # Exit 1 just means failed checks; anything else (or unparsable output) is checkov itself failing.
    assert run.returncode in (0, 1), f"checkov exited {run.returncode}:\n{run.stderr[-3000:]}"
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov printed no JSON report:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
    reports = report if isinstance(report, list) else [report]
    merged: dict[str, list] = {}
    for r in reports:
        for category, items in r["results"].items():
            merged.setdefault(category, []).extend(items)
    return merged


def of_file(items: list, name: str) -> list:
    return [i for i in items if Path(i["file_path"] if isinstance(i, dict) else i).name == name]


@pytest.mark.parametrize("env", environment_names())
def test_checkov_kubernetes_policies_pass(checkov_results, env):
    """checkov encodes the CIS / NSA hardening advice reviewers expect; a new failure means the manifests
    drifted from it, and the fix belongs in the constructs or, with a reason, in SKIPPED_CHECKS."""
    name = f"{env}{OUTPUT_SUFFIX}"
    assert not of_file(checkov_results.get("parsing_errors", []), name), f"env {env}: checkov could not parse {name}"
    assert of_file(checkov_results.get("passed_checks", []), name) or of_file(
        checkov_results.get("failed_checks", []), name
    ), f"env {env}: checkov found no Kubernetes resources in {name}"

    failed = of_file(checkov_results.get("failed_checks", []), name)
    assert not failed, f"env {env}: {len(failed)} failed checkov check(s):\n  " + "\n  ".join(
        f"{c['check_id']} {c['check_name']} | {c['resource']}" for c in failed
    )
    suppressed = of_file(checkov_results.get("skipped_checks", []), name)
    assert not suppressed, f"env {env}: checks suppressed by checkov.io/skip annotations in the manifests:\n  " + (
        "\n  ".join(f"{c['check_id']} | {c['resource']}" for c in suppressed)
        + "\nput each skip, with its reason, in SKIPPED_CHECKS instead"
    )
