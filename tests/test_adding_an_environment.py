"""README "Adding an environment", walked as written: its command lines run one by one in a scratch clone of this
repository (the editor step scripted), then the CI recipe's gate and tests pass on the commit they leave.

The clone is ``git clone`` of this repository with the work tree's uncommitted changes on top (what is under
test) and this checkout's ``.venv`` (the steps start after ``make synth``). The recipe's tests are restricted
to the suites a new environment can fail (snapshots, pages, the committed dist/, the config reference and
schema), so the walk stays at a minute or two.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from repo_paths import REPO

README = REPO / "README.md"
WORKFLOW = REPO / "examples" / "ci" / "gitops-check.yml"
MARKER = "<!-- adding-an-environment:"
# The suites of the recipe's test command that an added environment can fail.
SUITES = "tests/test_snapshots.py tests/test_review_docs.py tests/test_gitops.py tests/test_reference.py"
# What the editor step does: the example deploys to a cluster of its own; this one goes to `eu-prod`.
EDITOR = "#!/bin/sh\nsed -i 's/^cluster: eks-s3 .*/cluster: eu-prod/' \"$1\"\n"


# A clone, `make`, the gate and a pytest run of its own: 30 s alone, the rest of `make test-fast` together.
pytestmark = pytest.mark.slow


def readme_steps() -> list[str]:
    """The command lines of the section's bash block, in order."""
    block = README.read_text().split(MARKER, 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def sh(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def git(cwd: Path, *args: str, stdin: bytes | None = None) -> bytes:
    return subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True, check=True).stdout


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    clone = tmp_path / "gitops"
    git(tmp_path, "clone", "-q", str(REPO), str(clone))
    changes = git(REPO, "diff", "HEAD", "--binary")
    if changes:
        git(clone, "apply", "--whitespace=nowarn", "-", stdin=changes)
    for path in git(REPO, "ls-files", "--others", "--exclude-standard", "-z").decode().split("\0"):
        if path:
            (clone / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / path, clone / path, follow_symlinks=False)
    git(clone, "add", "-A")
    git(
        clone, "-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-q", "--allow-empty", "-m", "wip"
    )
    (clone / ".venv").symlink_to(REPO / ".venv")
    return clone


def test_the_readme_steps_leave_a_commit_that_passes_the_ci_recipe(clone: Path, tmp_path: Path):
    editor = tmp_path / "editor"
    editor.write_text(EDITOR)
    editor.chmod(0o755)
    identity = {
        f"GIT_{who}_{what}": value
        for who in ("AUTHOR", "COMMITTER")
        for what, value in (("NAME", "t"), ("EMAIL", "t@example.com"))
    }
    tools = os.environ.get("TOOLS_DIR") or str(REPO / ".tools")  # the recipe installs them; here they are
    env = {**os.environ, **identity, "EDITOR": str(editor), "NO_COLOR": "1", "TOOLS_DIR": tools}
    env.pop("RUNTIME_TESTS", None)  # the recipe's run, not `make test`'s
    for step in readme_steps():
        result = sh(step, clone, env)
        assert result.returncode == 0, f"README step failed: {step}\n{result.stdout}\n{result.stderr}"
    status = git(clone, "status", "--porcelain", "--ignored=matching", "--", "config", "dist", "docs", "tests").decode()
    assert not [line for line in status.splitlines() if "__pycache__" not in line], f"left out of the commit:\n{status}"
    committed = git(clone, "show", "--name-only", "--format=", "HEAD").decode().split()
    for path in (
        "config/prod.yaml",
        "dist/eu-prod/prod.k8s.yaml",
        "docs/environments/prod.md",
        "tests/__snapshots__/test_snapshots/test_environment[prod].yaml",
    ):
        assert path in committed, (path, committed)

    workflow = yaml.safe_load(WORKFLOW.read_text())
    job = workflow["jobs"]["check"]
    steps = {step.get("id"): step for step in job["steps"]}
    gate = sh(steps["gate"]["run"], clone, env)
    assert gate.returncode == 0, f"the CI gate fails after the README steps\n{gate.stdout}\n{gate.stderr}"
    tests = sh(steps["tests"]["run"], clone, {**env, **job["env"], "PYTEST_ADDOPTS": SUITES})
    assert tests.returncode == 0, f"the CI tests fail after the README steps\n{tests.stdout[-5000:]}"
    assert "passed" in tests.stdout and " failed" not in tests.stdout
