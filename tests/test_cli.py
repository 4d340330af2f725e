"""``python app.py``: what a user sees on success and on bad input."""

from __future__ import annotations

import hashlib
from pathlib import Path

from helpers import run_app


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
