"""The synthesis cache (``.cache/synth/``): an unchanged environment is written from it, byte for byte what
synthesis writes, and anything the output depends on changing is a miss."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys

import pytest
from helpers import run_app
from repo_paths import REPO

from mlflow_constructs import synth, synth_cache
from mlflow_constructs.review import commands
from mlflow_constructs.review.commands import expected_pages, page_drift, write_pages
from mlflow_constructs.synth import check, synthesize
from mlflow_constructs.synth_cache import CACHE_ENV, SynthCache, fingerprint


@pytest.fixture
def config_dir(tmp_path):
    folder = tmp_path / "config"
    folder.mkdir()
    shutil.copy(REPO / "config" / "default.yaml", folder / "default.yaml")
    return folder


@pytest.fixture
def cache(tmp_path):
    return SynthCache(tmp_path / "cache", fingerprint(REPO / "app.py"))


def refuse_synthesis(monkeypatch):
    def synthesized(*_):
        raise AssertionError("synthesized although the cache held the environment")

    monkeypatch.setattr(synth, "_write", synthesized)


def test_a_hit_writes_what_synthesis_writes_without_synthesizing(config_dir, cache, tmp_path, monkeypatch):
    """The cache may only save time: the files in dist/ are the same bytes with or without it."""
    (fresh,) = synthesize(config_dir, tmp_path / "fresh")
    (missed,) = synthesize(config_dir, tmp_path / "miss", cache=cache)
    refuse_synthesis(monkeypatch)
    (hit,) = synthesize(config_dir, tmp_path / "hit", cache=cache)
    assert hit.read_bytes() == missed.read_bytes() == fresh.read_bytes()


def test_a_changed_config_file_misses(config_dir, cache, tmp_path):
    """An edited environment must be synthesized again, not served from its previous entry."""
    synthesize(config_dir, tmp_path / "before", cache=cache)
    config = config_dir / "default.yaml"
    config.write_text(config.read_text().replace("namespace: mlflow", "namespace: other"))
    (after,) = synthesize(config_dir, tmp_path / "after", cache=cache)
    assert "namespace: other" in after.read_text()


def test_a_source_change_misses(tmp_path, monkeypatch):
    """Any file of the package (a construct, a schema script, a CRD binding) changing changes every key."""
    package = tmp_path / "mlflow_constructs"
    (package / "server").mkdir(parents=True)
    (package / "server" / "deployment.py").write_text("REPLICAS = 1\n")
    monkeypatch.setattr(synth_cache, "PACKAGE", package)
    before = fingerprint.__wrapped__(REPO / "app.py")
    (package / "server" / "deployment.py").write_text("REPLICAS = 2\n")
    assert fingerprint.__wrapped__(REPO / "app.py") != before


@pytest.mark.parametrize("dependency", synth_cache.DEPENDENCIES)
def test_a_dependency_version_change_misses(dependency, monkeypatch):
    """A new cdk8s (or any library that builds or prints the objects) may print other bytes."""
    before = fingerprint.__wrapped__(REPO / "app.py")
    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "999.0" if name == dependency else real(name))
    assert fingerprint.__wrapped__(REPO / "app.py") != before


def test_check_catches_a_hand_edited_dist_with_the_cache_warm(config_dir, cache, tmp_path):
    """`python app.py check` is the CI gate: a warm cache must not make it trust dist/."""
    (written,) = synthesize(config_dir, tmp_path / "dist", cache=cache)
    assert not check(config_dir, tmp_path / "dist", cache=cache)
    written.write_text(written.read_text().replace("replicas: 1", "replicas: 3", 1))
    assert check(config_dir, tmp_path / "dist", cache=cache).changed == {"default": written.relative_to(written.parent)}


def test_a_damaged_entry_is_a_miss(config_dir, cache, tmp_path):
    """A truncated or edited entry is synthesized again instead of copied to dist/."""
    (fresh,) = synthesize(config_dir, tmp_path / "fresh", cache=cache)
    (entry,) = cache.folder.glob("[!.]*")
    entry.write_bytes(entry.read_bytes()[:-100])
    (again,) = synthesize(config_dir, tmp_path / "again", cache=cache)
    assert again.read_bytes() == fresh.read_bytes()


def test_turned_off_by_the_environment_or_the_flag(config_dir, tmp_path):
    """CI and anyone distrusting the cache can synthesize everything: nothing is read or written."""
    folder = tmp_path / "cache"
    dist = ("--config-dir", str(config_dir), "--outdir", str(tmp_path / "dist"))
    assert run_app(*dist, env={CACHE_ENV: "off"}).returncode == 0
    assert run_app(*dist, "--no-cache", env={CACHE_ENV: str(folder)}).returncode == 0
    assert not folder.exists()
    assert run_app(*dist, env={CACHE_ENV: str(folder)}).returncode == 0
    assert len(list(folder.glob("[!.]*"))) == 2  # the environment's manifests and its page


def test_a_fully_cached_run_never_starts_node(config_dir, tmp_path):
    """Node and the jsii assemblies are most of a run's start-up; an unchanged repository needs neither."""
    env = {CACHE_ENV: str(tmp_path / "cache")}
    dist = ("--config-dir", str(config_dir), "--outdir", str(tmp_path / "dist"))
    assert run_app(*dist, env=env).returncode == 0
    probe = (
        "import runpy, sys; sys.argv = sys.argv[1:]\n"
        "try:\n    runpy.run_path(sys.argv[0], run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print('jsii started' if 'jsii' in sys.modules else 'jsii not started', file=sys.stderr)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(REPO / "app.py"), *dist],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=True,
    )
    assert result.stderr.strip() == "jsii not started"


def test_the_cache_stays_out_of_git(config_dir, cache, tmp_path):
    """`mlflow-k8s` run from a GitOps repository writes .cache/synth/ there: it must not show up as new files."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    synthesize(config_dir, tmp_path / "dist", cache=cache)
    status = subprocess.run(
        ["git", "-C", str(tmp_path), "status", "--porcelain", "--untracked-files=all"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert status.stdout and "cache/" not in status.stdout


def refuse_rendering(monkeypatch):
    def rendered(*_):
        raise AssertionError("rendered a page although the cache held it")

    monkeypatch.setattr(commands, "_render_page", rendered)


def test_a_page_from_the_cache_is_the_page_rendered(config_dir, cache, tmp_path, monkeypatch):
    """docs/environments/<env>.md is the same text with or without the cache, and a hit renders nothing."""
    (manifests,) = synthesize(config_dir, tmp_path / "dist", cache=cache)
    sources = {"default": config_dir / "default.yaml"}
    (fresh,) = write_pages([manifests], sources, tmp_path / "fresh", REPO)
    (missed,) = write_pages([manifests], sources, tmp_path / "miss", REPO, cache)
    refuse_rendering(monkeypatch)
    (hit,) = write_pages([manifests], sources, tmp_path / "hit", REPO, cache)
    assert hit.read_bytes() == missed.read_bytes() == fresh.read_bytes()


def test_a_page_follows_its_manifests(config_dir, cache, tmp_path):
    """Other manifests (a changed environment or construct) are another page, not the cached one."""
    (manifests,) = synthesize(config_dir, tmp_path / "dist", cache=cache)
    sources = {"default": config_dir / "default.yaml"}
    before = expected_pages({"default": manifests.read_bytes()}, sources, REPO, cache)["default"]
    changed = manifests.read_text().replace("mlflow:v3.17.2-full", "mlflow:v3.17.3-full").encode()
    after = expected_pages({"default": changed}, sources, REPO, cache)["default"]
    assert after != before
    assert after == expected_pages({"default": changed}, sources, REPO)["default"]


def test_check_catches_a_hand_edited_page_with_the_cache_warm(config_dir, cache, tmp_path):
    """The CI gate compares each page on disk with the expected text, cached or not."""
    (written,) = synthesize(config_dir, tmp_path / "dist", cache=cache)
    sources = {"default": config_dir / "default.yaml"}
    (page,) = write_pages([written], sources, tmp_path / "docs", REPO, cache)
    drift = check(config_dir, tmp_path / "dist", cache=cache)
    assert page_drift(drift, sources, tmp_path / "docs", REPO, cache) == {}
    page.write_text(page.read_text() + "edited by hand\n")
    assert page_drift(drift, sources, tmp_path / "docs", REPO, cache) == {"default": "changed"}
