"""The GitOps layout: config/ holds the user's environments, examples/ the shipped ones; `cluster:` folders;
environments that would overwrite each other's objects are refused; `python app.py --check` is the CI gate.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from helpers import require_tool
from repo_paths import CONFIG, EXAMPLES, REPO

import app
from mlflow_constructs.config import ConfigError, load_environment
from mlflow_constructs.synth import discover, object_keys, output_path
from mlflow_constructs.synth_cache import CACHE_DIR

WORKFLOW = EXAMPLES / "ci" / "gitops-check.yml"
_spec = importlib.util.spec_from_file_location("review_comment", EXAMPLES / "ci" / "review_comment.py")
review_comment = importlib.util.module_from_spec(_spec)  # examples/ci/ is not a package: load the script
_spec.loader.exec_module(review_comment)


def digest(directory: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file below ``directory`` (sub-folders included)."""
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def write_configs(folder: Path, **configs: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in configs.items():
        (folder / f"{name}.yaml").write_text(text)
    return folder


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = app.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# --- layout ---------------------------------------------------------------------------------------------


def test_config_holds_the_users_environments_and_examples_the_rest():
    """A fresh clone's `python app.py` (and `cdk8s synth`, `make synth-all`) writes config/ only: `kubectl
    apply -f dist` must not apply ten variants of the same objects."""
    assert "default" in discover(CONFIG)  # `make synth`; your own environments join it
    assert len(discover(EXAMPLES)) >= 9
    assert "python app.py" in (REPO / "cdk8s.yaml").read_text()


def test_dist_is_not_ignored():
    """The README says to commit dist/: an ignore rule would make `git add dist/` refuse it and the CI gate fail."""
    ignored = subprocess.run(
        ["git", "check-ignore", "dist/default.k8s.yaml"], cwd=REPO, capture_output=True, check=False
    )
    assert ignored.returncode == 1, ignored.stdout


def test_the_committed_dist_is_what_config_synthesizes(synthesized_text):
    """The repository follows its own README: `python app.py --check` passes on a fresh clone."""
    for name, path in discover(CONFIG).items():
        committed = REPO / "dist" / output_path(name, load_environment(path))
        assert committed.is_file() and committed.read_text() == synthesized_text[name], (
            f"{committed.relative_to(REPO)} is out of date: run `python app.py` and commit dist/"
        )


def test_default_run_writes_exactly_the_config_environments(tmp_path, capsys):
    code, out, err = run(capsys, "--outdir", str(tmp_path / "dist"))
    assert code == 0, err
    expected = [str(output_path(name, load_environment(path))) for name, path in discover(CONFIG).items()]
    assert sorted(digest(tmp_path / "dist")) == sorted(expected)


def test_a_name_in_two_folders_is_an_error_naming_both_files(tmp_path):
    first = write_configs(tmp_path / "config", prod="namespace: a\n")
    second = write_configs(tmp_path / "examples", prod="namespace: b\n")
    with pytest.raises(ConfigError) as error:
        discover(first, second)
    assert str(first / "prod.yaml") in str(error.value) and str(second / "prod.yaml") in str(error.value)


# --- cluster folders ------------------------------------------------------------------------------------


def test_cluster_writes_into_its_own_folder(tmp_path, capsys):
    config = write_configs(tmp_path / "config", prod="cluster: eu-prod\nnamespace: mlflow\n", dev="namespace: dev\n")
    code, _, err = run(capsys, "--config-dir", str(config), "--outdir", str(tmp_path / "dist"))
    assert code == 0, err
    assert sorted(digest(tmp_path / "dist")) == ["dev.k8s.yaml", "eu-prod/prod.k8s.yaml"]


def test_cluster_must_be_a_dns_label(tmp_path, capsys):
    config = write_configs(tmp_path / "config", prod="cluster: EU_prod\n")
    code, _, err = run(capsys, "--config-dir", str(config), "--outdir", str(tmp_path / "dist"))
    assert code == 2 and "cluster" in err and "DNS label" in err


def test_moving_an_environment_to_a_cluster_moves_its_file(tmp_path, capsys):
    """With a subset selected, the environment's old file (before `cluster:` was set) does not linger."""
    config = write_configs(tmp_path / "config", prod="namespace: prod\n", dev="namespace: dev\n")
    dist = tmp_path / "dist"
    assert run(capsys, "--config-dir", str(config), "--outdir", str(dist))[0] == 0
    write_configs(config, prod="cluster: eu-prod\nnamespace: prod\n")
    assert run(capsys, "prod", "--config-dir", str(config), "--outdir", str(dist))[0] == 0
    assert sorted(digest(dist)) == ["dev.k8s.yaml", "eu-prod/prod.k8s.yaml"]


# --- collision guard ------------------------------------------------------------------------------------


def test_colliding_environments_are_refused_and_dist_is_kept(tmp_path, capsys):
    config = write_configs(tmp_path / "config", default="namespace: mlflow\n")
    dist = tmp_path / "dist"
    assert run(capsys, "--config-dir", str(config), "--outdir", str(dist))[0] == 0
    before = digest(dist)
    write_configs(config, copy="namespace: mlflow\n")  # a copied example, namespace and name unchanged
    code, _, err = run(capsys, "--config-dir", str(config), "--outdir", str(dist))
    assert code == 2
    assert "Traceback" not in err
    assert str(config / "copy.yaml") in err and str(config / "default.yaml") in err
    assert "Namespace mlflow" in err and "ServiceAccount mlflow/mlflow" in err and " more" in err
    assert "different `namespace`" in err and "`name` alone" in err and "different `cluster`" in err
    assert digest(dist) == before


def test_a_different_name_in_the_same_namespace_does_not_collide_but_the_namespace_does(tmp_path, capsys):
    """The Namespace object is cluster-scoped: two environments creating it still collide."""
    config = write_configs(tmp_path / "config", a="namespace: team\nname: a\n", b="namespace: team\nname: b\n")
    code, _, err = run(capsys, "--config-dir", str(config), "--outdir", str(tmp_path / "dist"))
    assert code == 2
    collision = next(line for line in err.splitlines() if "write the same objects" in line).split("): ")[-1]
    assert "Namespace team" in collision and "Deployment" not in collision


def test_the_same_objects_in_different_clusters_do_not_collide(tmp_path, capsys):
    config = write_configs(tmp_path / "config", eu="cluster: eu\n", us="cluster: us\n")
    code, _, err = run(capsys, "--config-dir", str(config), "--outdir", str(tmp_path / "dist"))
    assert code == 0, err


def test_the_examples_do_not_collide_with_each_other(tmp_path, capsys):
    """`python app.py --config-dir examples` works: each example is its own cluster."""
    code, _, err = run(capsys, "--config-dir", str(EXAMPLES), "--outdir", str(tmp_path / "dist"))
    assert code == 0, err


def test_object_keys_read_identity_only():
    text = (
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns\n  labels:\n    a: b\n---\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: 'web'\n  namespace: ns\n"
        "spec:\n  template:\n    metadata:\n      name: inner\n---\n"
    )
    assert [str(k) for k in object_keys(text)] == ["Namespace ns", "Deployment ns/web"]
    assert object_keys(text)[1].api_group == "apps"


# --- --check --------------------------------------------------------------------------------------------


@pytest.fixture
def synthesized_repo(tmp_path, capsys) -> tuple[Path, Path]:
    config = write_configs(tmp_path / "config", dev="namespace: dev\n", prod="cluster: eu\nnamespace: prod\n")
    dist = tmp_path / "dist"
    assert run(capsys, "--config-dir", str(config), "--outdir", str(dist))[0] == 0
    return config, dist


def test_check_passes_on_a_dist_that_synthesis_wrote(synthesized_repo, capsys):
    config, dist = synthesized_repo
    before = digest(dist)
    code, out, _ = run(capsys, "--check", "--config-dir", str(config), "--outdir", str(dist))
    assert code == 0 and "up to date" in out
    assert digest(dist) == before


def test_check_names_the_environment_whose_config_changed(synthesized_repo, capsys):
    config, dist = synthesized_repo
    before = digest(dist)
    write_configs(config, prod="cluster: eu\nnamespace: prod\nserver:\n  replicas: 2\n")
    code, out, err = run(capsys, "--check", "--config-dir", str(config), "--outdir", str(dist))
    assert code == 1
    assert "changed: prod" in out and "eu/prod.k8s.yaml" in out and "dev" not in out
    assert "python app.py" in err
    assert digest(dist) == before


def test_check_reports_stale_and_missing_files(synthesized_repo, capsys):
    config, dist = synthesized_repo
    (config / "dev.yaml").rename(config / "staging.yaml")  # dev's file stays behind, staging's is missing
    before = digest(dist)
    code, out, _ = run(capsys, "--check", "--config-dir", str(config), "--outdir", str(dist))
    assert code == 1
    assert "stale:" in out and "dev.k8s.yaml" in out
    assert "missing: staging" in out
    assert digest(dist) == before


def test_check_reports_a_missing_dist(tmp_path, capsys):
    config = write_configs(tmp_path / "config", dev="namespace: dev\n")
    code, out, _ = run(capsys, "--check", "--config-dir", str(config), "--outdir", str(tmp_path / "dist"))
    assert code == 1 and "missing: dev" in out
    assert not (tmp_path / "dist").exists()


def test_check_refuses_a_bad_config_like_synthesis(synthesized_repo, capsys):
    config, dist = synthesized_repo
    write_configs(config, prod="server:\n  replica: 2\n")
    code, _, err = run(capsys, "--check", "--config-dir", str(config), "--outdir", str(dist))
    assert code == 2 and "server.replica" in err


# --- CI recipe ------------------------------------------------------------------------------------------


def workflow_steps() -> dict[str, dict]:
    """The recipe's steps by id (and by name for those without one)."""
    workflow = yaml.safe_load(WORKFLOW.read_text())
    return {step.get("id", step.get("name", step.get("uses"))): step for step in workflow["jobs"]["check"]["steps"]}


def test_ci_recipe_gates_on_check_and_names_the_suites_it_leaves_out():
    """The gate is `python app.py check`; the tests are the fast suite, and the log and comment say what is not run."""
    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps, env = workflow_steps(), workflow["jobs"]["check"]["env"]
    assert steps["gate"]["run"].startswith(".venv/bin/python app.py check")
    assert '-m "$TEST_MARKERS"' in steps["tests"]["run"] and "$LEFT_OUT" in steps["tests"]["run"]
    fast = re.search(r'test-fast:.*\n\t\$\(BIN\)/python -m pytest -m "([^"]+)"', (REPO / "Makefile").read_text())
    assert fast and env["TEST_MARKERS"] == fast.group(1), "the recipe runs what `make test-fast` runs"
    for suite in ("runtime", "API-server", "browser"):
        assert suite in env["LEFT_OUT"]
    assert "root" in env["LEFT_OUT"] and "make tools" in env["LEFT_OUT"]


def test_ci_recipe_comments_on_every_run_and_keeps_failures_failing():
    """Reviewers need the comment most when the gate or the tests fail; the job must still fail then, and a
    failing `diff` must fail it too (nothing after it hides its exit status)."""
    steps = workflow_steps()
    comment = steps["Comment on the pull request"]
    assert "always()" in comment["if"] and comment.get("continue-on-error") is True
    for step in ("gate", "tests", "diff"):
        assert "continue-on-error" not in steps[step], step
    for step in ("tests", "diff"):
        assert "!cancelled()" in steps[step]["if"], "runs after a failed gate, so the comment has everything"
    assert steps["diff"]["run"].count("\n") <= 1 and not re.search(r"\|\||;|echo", steps["diff"]["run"])
    assert yaml.safe_load(WORKFLOW.read_text())["defaults"]["run"]["shell"] == "bash", "pipefail for `| tee`"


def test_ci_recipe_edits_one_comment_found_by_its_marker():
    run = workflow_steps()["Comment on the pull request"]["run"]
    assert f'startswith("{review_comment.MARKER}")' in run
    assert '--method PATCH "repos/$REPOSITORY/issues/comments/$comment"' in run
    assert '--method POST "repos/$REPOSITORY/issues/$PR_NUMBER/comments"' in run


def test_ci_recipe_caches_pip_on_the_pinned_dependencies():
    setup = workflow_steps()["actions/setup-python@v5"]["with"]
    assert setup["cache"] == "pip" and (REPO / setup["cache-dependency-path"]).is_file()
    assert "==" in (REPO / setup["cache-dependency-path"]).read_text(), "pinned versions key the cache"


def test_ci_recipe_keeps_the_synthesis_cache_between_runs():
    """A pull request re-synthesizes only the environments it changes: the cache folder app.py uses is restored
    from any earlier run (its entries are keyed on their inputs, so none can be stale) and saved after."""
    cache = workflow_steps()["actions/cache@v4"]["with"]
    assert cache["path"] == str(CACHE_DIR) and cache["restore-keys"] == "synth-"
    assert cache["key"].startswith("synth-")


def test_review_comment_never_leaves_a_fence_open():
    """A report longer than a comment is cut inside its fence, at a line end, and the fence is closed."""
    diff = "".join(f"  in place  ConfigMap/mlflow/c{i}: changed: data.x ``` a -> b\n" for i in range(5000))
    env = {"GATE": "failure", "TESTS": "success", "DIFF": "success", "TEST_MARKERS": "not runtime", "LEFT_OUT": "x"}
    text = review_comment.body(diff, {"GATE": "changed: prod\n" * 9000, "TESTS": "ok\n"}, env)
    assert text.startswith(review_comment.MARKER + "\n") and len(text) < 65536
    fences = re.findall(r"^(`{3,})(text)?$", text, flags=re.MULTILINE)
    assert fences == [("```", "text"), ("```", ""), ("````", "text"), ("````", "")], "each opened and closed"
    diff_block = text.split("````text\n", 1)[1].split("\n````", 1)[0]
    assert diff_block.endswith(" more lines in the job log") and "``` a -> b" in diff_block, "longer than ``` inside"
    assert "more lines in the job log" in text and "earlier lines in the job log" in text
    assert "- `python app.py check` (dist/ and docs/environments/ are what config/ synthesizes): FAILED" in text
    assert 'tests, `pytest -m "not runtime"`: passed; left out: x' in text


def actionlint() -> str | None:
    local = Path(os.environ.get("TOOLS_DIR") or REPO / ".tools") / "actionlint" / "actionlint"
    return str(local) if local.is_file() else shutil.which("actionlint")


def test_ci_recipe_passes_actionlint():
    """actionlint checks the workflow's structure, expressions and step references (and, with shellcheck on
    PATH, its scripts) as GitHub would read them."""
    binary = require_tool(
        actionlint(), "actionlint not found in .tools/actionlint or on PATH: run tests/validity/install-tools.sh"
    )
    result = subprocess.run([binary, str(WORKFLOW)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
