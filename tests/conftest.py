"""Shared fixtures: every environment (config/ and examples/) synthesized once per test session.

Under ``RUNTIME_TESTS=require`` (how ``make test`` runs pytest) a skipped test fails the run: a suite that
did not run is not a suite that passed.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,19,20,21")

from type_hints import evaluate_stub_hints_once  # noqa: E402

from mlflow_constructs.typing_memo import remember_subscriptions  # noqa: E402

evaluate_stub_hints_once()
remember_subscriptions()  # as `python app.py` runs

from helpers import run_dir  # noqa: E402
from readme_example import CHART, run_example  # noqa: E402
from repo_paths import ENVIRONMENT_DIRS, REPO, shipped_environments  # noqa: E402

from mlflow_constructs.review.objects import load_documents  # noqa: E402
from mlflow_constructs.synth import OUTPUT_SUFFIX, synthesize  # noqa: E402
from mlflow_constructs.synth_cache import cache_for  # noqa: E402


@pytest.fixture(scope="session")
def dist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh folder holding, for each environment folder (config/, examples/), the ``dist/`` its own run of
    the real synthesis path writes (``dist/config/``, ``dist/examples/``), and the chart of the README's
    library example (``dist/library/``, so every validity check covers it too).

    Written once per run: pytest-xdist's workers (``make test-fast``) share the folder of the run, and the
    first to take the lock synthesizes for all of them, through the synthesis cache (``.cache/synth/``: an
    environment is synthesized again when it or the code changed; tests/test_synth_cache.py holds that a hit
    is the bytes a miss writes)."""
    run = run_dir(tmp_path_factory)
    outdir, done = run / "synth" / "dist", run / "synth" / "done"
    with (run / "synth.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(outdir, ignore_errors=True)  # a worker that failed half-way
            for folder in ENVIRONMENT_DIRS:
                synthesize(folder, outdir / folder.name, cache=cache_for(REPO))
            run_example(outdir / "library")
            done.touch()
    return outdir


@pytest.fixture(scope="session")
def dist_files(dist_dir: Path) -> dict[str, Path]:
    """Environment name (and the library example's chart) -> its file in ``dist_dir``."""
    return {path.name.removesuffix(OUTPUT_SUFFIX): path for path in sorted(dist_dir.rglob(f"*{OUTPUT_SUFFIX}"))}


@pytest.fixture(scope="session")
def synthesized_text(dist_files: dict[str, Path]) -> dict[str, str]:
    """Environment name -> the exact text of its ``dist/[<cluster>/]<env>.k8s.yaml``."""
    return {name: dist_files[name].read_text() for name in shipped_environments()}


@pytest.fixture(scope="session")
def synthesized(dist_files: dict[str, Path], synthesized_text: dict[str, str]) -> dict[str, list[dict]]:
    """Environment name (and the library example's chart) -> its manifests, in output order."""
    texts = {**synthesized_text, CHART: dist_files[CHART].read_text()}
    return {name: load_documents(text) for name, text in texts.items()}


def _require_every_test(config: pytest.Config) -> list[str]:
    """``nodeid: reason`` of each skipped test when skips are refused, else []. An xfail is not a skip."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if os.environ.get("RUNTIME_TESTS") != "require" or reporter is None:
        return []
    reports = reporter.stats.get("skipped", [])
    return [f"{r.nodeid}: {r.longrepr[2] if isinstance(r.longrepr, tuple) else r.longrepr}" for r in reports]


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _require_every_test(session.config) and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    skipped = _require_every_test(config)
    if skipped:
        terminalreporter.section("skipped tests fail the run (RUNTIME_TESTS=require)", sep="!", red=True)
        for line in skipped:
            terminalreporter.write_line(line)
