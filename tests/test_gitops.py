"""The GitOps layout: config/ holds the user's environments, examples/ the shipped ones; `cluster:` folders;
environments that would overwrite each other's objects are refused; `python app.py --check` is the CI gate.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
import yaml
from repo_paths import CONFIG, EXAMPLES, REPO

import app
from mlflow_constructs.config import ConfigError, load_environment
from mlflow_constructs.synth import discover, object_keys, output_path

WORKFLOW = EXAMPLES / "ci" / "gitops-check.yml"


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
    assert sorted(digest(tmp_path / "dist")) == [f"{name}.k8s.yaml" for name in discover(CONFIG)]


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


def test_ci_recipe_is_a_workflow_that_runs_the_check():
    """examples/ci/gitops-check.yml is what a GitOps repository copies: valid YAML, gated on `--check`."""
    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    assert any("python app.py --check" in step.get("run", "") for step in steps)
