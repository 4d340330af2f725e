"""``python app.py``: what a user sees on success and on bad input, and the subcommands they can discover."""

from __future__ import annotations

import hashlib
import os
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
