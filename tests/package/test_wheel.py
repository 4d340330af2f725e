"""The wheel is a construct library others install: built from this repository, installed into a fresh venv
outside it, and used from a cdk8s app of the user's own that has its own ``imports/`` package (every cdk8s
Python app has one), with no path back to the repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from readme_example import CHART, example_code
from repo_paths import CONFIG, EXAMPLES, REPO
from test_snapshots import snapshot_file

from mlflow_constructs.synth import OUTPUT_SUFFIX
from mlflow_constructs.version import VERSION

pytestmark = pytest.mark.package

# What `cdk8s import` writes into a user's own app: a top-level `imports` package with their CRD bindings.
USER_IMPORTS = {"imports/team_crds/__init__.py": 'WHO = "the user\'s own imports/"\n'}
# The user's app: their own bindings and this library side by side, then every environment of a folder.
USER_APP = """\
import sys
from pathlib import Path

import imports.team_crds
import mlflow_constructs
from mlflow_constructs.synth import synthesize

print(imports.team_crds.WHO)
print(Path(mlflow_constructs.__file__).resolve())
for folder in sys.argv[1:]:
    synthesize(Path(folder), Path("dist") / folder)
"""


def run(command: list[str | Path], cwd: Path) -> str:
    """Run as a user would in their own folder: no PYTHONPATH, no active venv of the repository."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "CDK8S_OUTDIR")}
    done = subprocess.run([str(p) for p in command], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built from the files git would commit (a copy: the build leaves nothing in the working tree)."""
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    listed = run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], REPO).split("\0")
    for name in filter(None, listed):
        if (REPO / name).exists() or (REPO / name).is_symlink():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name, follow_symlinks=False)
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--disable-pip-version-check"]
    run([*pip, "-w", out, source], out)
    (built,) = out.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def user_app(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder outside the repository: a fresh venv with the wheel installed, the user's ``imports/``, their
    environment files (copies of config/ and examples/) and their app."""
    app = tmp_path_factory.mktemp("team-app")
    run([sys.executable, "-m", "venv", app / ".venv"], app)
    run([app / ".venv/bin/pip", "install", "--quiet", "--disable-pip-version-check", wheel], app)
    for path, text in {**USER_IMPORTS, "app.py": USER_APP}.items():
        (app / path).parent.mkdir(parents=True, exist_ok=True)
        (app / path).write_text(text)
    for folder in (CONFIG, EXAMPLES):
        (app / folder.name).mkdir()
        for env_file in folder.glob("*.yaml"):
            shutil.copy(env_file, app / folder.name / env_file.name)
    return app


def test_wheel_installs_no_top_level_imports_package(wheel):
    """A top-level ``imports`` in site-packages would shadow, or be shadowed by, the user's own cdk8s bindings."""
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"mlflow_constructs"} and wheel.name.startswith(f"mlflow_k8s-{VERSION}-")
    assert [n for n in names if n.startswith("mlflow_constructs/imports/") and n.endswith(".jsii.tgz")]


def test_installed_library_synthesizes_every_environment_like_the_snapshots(user_app):
    """Installed from the wheel, next to the user's own ``imports/``, each environment's output is the reviewed one."""
    out = run([user_app / ".venv/bin/python", "app.py", CONFIG.name, EXAMPLES.name], user_app)
    who, package = out.splitlines()[:2]
    assert who == "the user's own imports/"
    assert Path(package).is_relative_to(user_app / ".venv")
    written = {path.name.removesuffix(OUTPUT_SUFFIX): path for path in (user_app / "dist").rglob(f"*{OUTPUT_SUFFIX}")}
    expected = [path.stem for folder in (CONFIG, EXAMPLES) for path in folder.glob("*.yaml")]
    assert sorted(written) == sorted(expected)
    for env, path in written.items():
        assert path.read_text() == snapshot_file(env).read_text(), env


def test_installed_command_checks_the_users_dist(user_app):
    """``mlflow-k8s`` is the repository's ``python app.py`` for an installed user: synth, then check is clean."""
    run([user_app / ".venv/bin/mlflow-k8s", "synth", "--outdir", "cli-dist"], user_app)
    assert (user_app / "cli-dist" / f"default{OUTPUT_SUFFIX}").read_text() == snapshot_file("default").read_text()
    assert "up to date" in run([user_app / ".venv/bin/mlflow-k8s", "check", "--outdir", "cli-dist"], user_app)


def test_readme_library_example_runs_from_the_installed_wheel(user_app, dist_files):
    """The README's example, copied into the user's app, gives the output it gives from a clone."""
    (user_app / "team_tracking.py").write_text(example_code())
    run([user_app / ".venv/bin/python", "team_tracking.py"], user_app)
    assert (user_app / "dist" / f"{CHART}{OUTPUT_SUFFIX}").read_text() == dist_files[CHART].read_text()
