"""``python app.py``: what a user sees on success and on bad input, and the subcommands they can discover."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import run_app
from repo_paths import REPO

from mlflow_constructs.cli import EXIT_CODES, SUBCOMMANDS


def tree_digest(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def test_synthesizes_the_named_environment_only(tmp_path):
    result = run_app("default", "--outdir", str(tmp_path / "dist"))
    assert result.returncode == 0, result.stderr
    assert [p.name for p in (tmp_path / "dist").iterdir()] == ["default.k8s.yaml"]
    assert result.stderr == "", "the output must stay clean (no jsii banner)"


def test_bad_config_exits_nonzero_without_traceback_and_keeps_dist(tmp_path):
    config = tmp_path / "config"
    config.mkdir()
    (config / "good.yaml").write_text("namespace: good\n")
    dist = tmp_path / "dist"
    assert run_app("--config-dir", str(config), "--outdir", str(dist)).returncode == 0
    before = tree_digest(dist)
    (config / "broken.yaml").write_text("server:\n  replicas: 0\n")
    result = run_app("--config-dir", str(config), "--outdir", str(dist))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert str(config / "broken.yaml") in result.stderr and "server.replicas" in result.stderr
    assert tree_digest(dist) == before


def test_unknown_environment_lists_the_available_ones(tmp_path):
    result = run_app("nope", "--outdir", str(tmp_path / "dist"))
    assert result.returncode == 2
    assert "available: " in result.stderr and "default" in result.stderr.split("available: ")[1]


def test_help_lists_every_subcommand_and_the_exit_codes():
    """`python app.py --help` is where a user discovers diff and explain."""
    result = run_app("--help")
    assert result.returncode == 0
    for command in SUBCOMMANDS:
        assert f"\n    {command} " in result.stdout, command
    for code in EXIT_CODES:
        assert f"\n  {code}  " in result.stdout


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_each_subcommand_has_its_help(command):
    result = run_app(command, "--help")
    assert result.returncode == 0 and result.stdout.startswith(f"usage: app.py {command} ")
    assert "exit codes:" in result.stdout


def test_without_a_subcommand_synthesis_runs_and_writes_the_page(tmp_path):
    """`python app.py <env>` keeps working; the environment's page is written beside dist/ with it."""
    result = run_app("default", "--outdir", str(tmp_path / "dist"))
    assert result.returncode == 0, result.stderr
    page = tmp_path / "docs" / "environments" / "default.md"
    assert page.read_text() == (REPO / "docs" / "environments" / "default.md").read_text()
    assert f"wrote {os.path.relpath(page, REPO)}" in result.stdout


def test_check_is_a_subcommand_and_an_option(tmp_path):
    assert run_app("default", "--outdir", str(tmp_path / "dist")).returncode == 0
    for args in (["check", "default"], ["--check", "default"]):
        result = run_app(*args, "--outdir", str(tmp_path / "dist"))
        assert result.returncode == 0 and "up to date" in result.stdout, result


def test_check_reports_a_page_that_synthesis_would_change(tmp_path):
    """A hand-edited or stale page fails the CI gate with the command that rewrites it."""
    assert run_app("default", "--outdir", str(tmp_path / "dist")).returncode == 0
    page = tmp_path / "docs" / "environments" / "default.md"
    page.write_text(page.read_text() + "edited\n")
    result = run_app("check", "--outdir", str(tmp_path / "dist"))
    assert result.returncode == 1
    assert "changed: default (" in result.stdout and "docs/environments/default.md" in result.stdout
    assert "run `python app.py` and commit the result" in result.stderr
    page.unlink()
    assert "missing: default" in run_app("check", "--outdir", str(tmp_path / "dist")).stdout


def test_a_usage_error_exits_2():
    result = run_app("diff", "--no-such-option")
    assert result.returncode == 2 and "unrecognized arguments: --no-such-option" in result.stderr


def test_outdir_with_files_synthesis_did_not_write_is_refused_and_kept(tmp_path):
    """`--outdir myproject` must not replace a user's sources: synthesis replaces --outdir as a whole."""
    project = tmp_path / "myproject"
    (project / "src").mkdir(parents=True)
    (project / "src" / "main.py").write_text("print('mine')\n")
    (project / "README").write_text("mine\n")
    before = {p.relative_to(project): p.read_bytes() for p in project.rglob("*") if p.is_file()}
    result = run_app("default", "--outdir", str(project))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "holds files synthesis did not write (README, src/main.py)" in result.stderr, result.stderr
    assert "give --outdir a new or empty folder" in result.stderr
    assert {p.relative_to(project): p.read_bytes() for p in project.rglob("*") if p.is_file()} == before


def test_outdir_that_is_a_file_is_refused_and_stays_a_file(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    result = run_app("default", "--outdir", str(notes))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{notes} is a file, not a folder" in result.stderr, result.stderr
    assert notes.is_file() and notes.read_text() == "my notes\n"


@pytest.mark.parametrize("outdir", [".", "config", "config/out"])
def test_outdir_at_around_or_inside_the_config_folder_is_refused(tmp_path, outdir):
    """`--config-dir cfg --outdir .` once deleted cfg/: the environments a user wrote are never output."""
    config = tmp_path / "config"
    config.mkdir()
    (config / "default.yaml").write_text("namespace: mlflow\n")
    result = run_app("--config-dir", str(config), "--outdir", str(tmp_path / outdir))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"the config folder {config} is at, inside or around it" in result.stderr, result.stderr
    assert [p.name for p in config.iterdir()] == ["default.yaml"]


def test_outdir_holding_only_synthesized_files_is_replaced(tmp_path):
    """Today's dist/ (only <env>.k8s.yaml files, also in cluster folders) stays synthesis' own."""
    dist = tmp_path / "dist"
    (dist / "eu").mkdir(parents=True)
    (dist / "eu" / "old.k8s.yaml").write_text("{}\n")
    result = run_app("default", "--outdir", str(dist))
    assert result.returncode == 0, result.stderr
    assert sorted(str(p.relative_to(dist)) for p in dist.rglob("*")) == ["default.k8s.yaml", "eu", "eu/old.k8s.yaml"]


def test_app_skips_jsii_type_checks_unless_asked(tmp_path):
    """jsii's Python-side argument checks are half of synthesis' CPU time: `python app.py` restarts under -O
    (the tests, in-process, keep them on and the snapshots prove the same bytes); MLFLOW_K8S_TYPE_CHECKS=1
    keeps them for someone changing the constructs."""
    probe = (
        "import atexit, runpy, sys; sys.argv = sys.argv[1:]\n"
        "atexit.register(lambda: print('optimize', sys.flags.optimize, file=sys.stderr))\n"
        "runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    command = [sys.executable, "-c", probe, str(REPO / "app.py"), "--help"]
    for checks, optimize in (("", "1"), ("1", "0")):
        env = {**os.environ, "MLFLOW_K8S_TYPE_CHECKS": checks}
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        assert result.stderr.strip().splitlines()[-1] == f"optimize {optimize}", result.stderr
