"""Every environment's output (config/ and examples/), locked as a reviewed YAML snapshot.

Environments are found the way synthesis finds them, so adding ``config/<name>.yaml`` needs no test edit:
``pytest tests/test_snapshots.py --snapshot-update`` writes its snapshot,
``tests/__snapshots__/test_snapshots/test_environment[<name>].yaml``, exactly the text written to dist/.
syrupy 7 reports the snapshot of a parameter that no longer exists only when every collected test ran: with
any deselection (``-m "not runtime"`` as ``make test-fast`` runs, ``-k``) it passes silently, so a snapshot
left behind by a removed environment is caught here instead.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import run_app
from repo_paths import ENVIRONMENT_DIRS, REPO, shipped_environments
from snapshot import YamlSnapshotExtension

from mlflow_constructs.synth import MIN_ENVS_PER_WORKER, OUTPUT_SUFFIX, synthesize

ENVS = shipped_environments()
ENVS_IN = {folder: [path.stem for path in folder.glob("*.yaml")] for folder in ENVIRONMENT_DIRS}
SNAPSHOTS = Path(__file__).parent / "__snapshots__" / Path(__file__).stem
UPDATE = "pytest tests/test_snapshots.py --snapshot-update"


def snapshot_file(env: str) -> Path:
    """The file syrupy reads and writes for ``test_environment[<env>]``."""
    return SNAPSHOTS / f"{test_environment.__name__}[{env}].{YamlSnapshotExtension.file_extension}"


@pytest.fixture
def snapshot_yaml(snapshot):
    return snapshot.use_extension(YamlSnapshotExtension)


@pytest.mark.parametrize("env", ENVS)
def test_environment(env, snapshot_yaml, synthesized_text):
    assert synthesized_text[env] == snapshot_yaml


def test_every_environment_has_a_snapshot():
    """A new environment would otherwise ship unreviewed."""
    missing = [env for env in ENVS if not snapshot_file(env).is_file()]
    assert not missing, f"no snapshot for: {', '.join(missing)}; run `{UPDATE}`, then review and commit " + ", ".join(
        str(snapshot_file(env).relative_to(REPO)) for env in missing
    )


def test_no_snapshot_outlives_its_environment():
    """A snapshot whose environment was removed or renamed locks nothing and misleads reviewers."""
    expected = {snapshot_file(env) for env in ENVS}
    stale = sorted(str(path.relative_to(REPO)) for path in SNAPSHOTS.iterdir() if path not in expected)
    assert not stale, (
        f"snapshots without an environment in config/ or examples/: {', '.join(stale)}; "
        f"delete them (git rm; `{UPDATE}` also does), or restore the environment"
    )


def test_output_is_deterministic(tmp_path, synthesized_text):
    """Re-synthesizing must not change a byte, or every run would produce a spurious diff."""
    for folder in ENVIRONMENT_DIRS:
        for path in synthesize(folder, tmp_path / folder.name):
            env = path.name.removesuffix(OUTPUT_SUFFIX)
            assert path.read_text() == synthesized_text[env], env


def test_parallel_synthesis_writes_the_same_bytes(tmp_path, synthesized_text):
    """`python app.py` splits many environments across worker processes; the files must not change."""
    for folder in ENVIRONMENT_DIRS:
        outdir = tmp_path / folder.name
        subprocess.run(
            [sys.executable, str(REPO / "app.py"), "--config-dir", str(folder), "--outdir", str(outdir)],
            check=True,
            capture_output=True,
        )
        written = {path.name.removesuffix(OUTPUT_SUFFIX): path for path in outdir.rglob(f"*{OUTPUT_SUFFIX}")}
        assert sorted(written) == sorted(ENVS_IN[folder]), folder
        for env, path in written.items():
            assert path.read_text() == synthesized_text[env], env


def test_parallel_synthesis_leaves_no_temporary_files(tmp_path):
    """Each worker's node runtime unpacks ~2 MB into the temporary folder; a GitOps runner synthesizing on
    every pull request must not fill its disk with them."""
    config_dir, temporary = tmp_path / "config", tmp_path / "tmp"
    config_dir.mkdir()
    temporary.mkdir()
    default = (REPO / "config" / "default.yaml").read_text()
    teams = 2 * MIN_ENVS_PER_WORKER  # two workers on two cores
    for index in range(teams):
        (config_dir / f"team{index}.yaml").write_text(default.replace("namespace: mlflow", f"namespace: team{index}"))
    outdir = tmp_path / "dist"
    args = ("--no-cache", "--config-dir", str(config_dir), "--outdir", str(outdir))
    result = run_app(*args, env={"TMPDIR": str(temporary)})
    assert result.returncode == 0, result.stderr
    assert len(list(outdir.glob(f"*{OUTPUT_SUFFIX}"))) == teams
    assert not list(temporary.iterdir())
