"""One virtual environment per container image, so the runtime tests run the images' programs.

The images and what they carry are declared once, in ``constructs/mlflow_constructs/images.py``
(``ImageSpec`` objects with ``ref``, ``python`` and ``requirements``). This module turns each of them
into a venv under ``<repo>/.runtime/venvs/<name>-<tag>`` (or ``$MLFLOW_K8S_RUNTIME_DIR/venvs``) and maps
image references to those venvs.

It is importable from the tests (``image_venvs()``, ``venv_for_image()``, ``venvs_ready()``) and
runnable as a script (``python tests/runtime/venvs.py [--check]``), which ``setup.sh`` does.

A venv is complete when its stamp file (``.runtime-stamp``) holds exactly the requirement lines it
was built from; the stamp is written last, so an interrupted install is redone on the next run, and a
changed ``requirements`` tuple rebuilds the venv.
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGES_PY = REPO_ROOT / "constructs" / "mlflow_constructs" / "images.py"
# MLFLOW_K8S_RUNTIME_DIR lets several clones (or CI runs) share one set of venvs.
RUNTIME_DIR = Path(os.environ.get("MLFLOW_K8S_RUNTIME_DIR") or REPO_ROOT / ".runtime")
VENVS_DIR = RUNTIME_DIR / "venvs"
STAMP_NAME = ".runtime-stamp"

# What the test clients (seeding experiments, logging a model, talking to S3) need. Kept in its own
# venv so the server venvs stay exactly what the images carry. `mlflow[auth]` brings the basic-auth
# client (AuthServiceClient); `moto[server]` stands in for S3 endpoints outside the manifests (s3_standin.py);
# `opentelemetry-exporter-otlp` is the OTLP exporter an OpenTelemetry application sends traces with, at the
# release of the opentelemetry-sdk that mlflow brings.
CLIENT_PYTHON = "3.11"
CLIENT_REQUIREMENTS: tuple[str, ...] = (
    "mlflow[auth]==3.17.2",
    "scikit-learn",
    "requests",
    "boto3",
    "moto[server]==5.2.5",
    "opentelemetry-exporter-otlp==1.45.2",
)

# Releases the upgrade scenarios (test_scenario_upgrades.py) populate a database with before the current
# image migrates it: the last MLflow 2.x, the first 3.x, and the previous major of the oidc plugin (which
# needs MLflow >= 3.16 and, like plugin 11, Python 3.12). Test-only venvs, not images. `mlflow[auth]`
# brings the basic-auth app; boto3 writes artifacts to the S3 stand-in.
OLD_RELEASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "mlflow-2.22.5": ("3.11", ("mlflow[auth]==2.22.5", "sqlalchemy<2.1", "psycopg2-binary", "boto3")),
    "mlflow-3.0.0": ("3.11", ("mlflow[auth]==3.0.0", "sqlalchemy<2.1", "psycopg2-binary", "boto3")),
    "mlflow-oidc-auth-10.2.1": ("3.12", ("mlflow==3.17.2", "mlflow-oidc-auth==10.2.1", "psycopg2-binary")),
}


@dataclass(frozen=True)
class VenvSpec:
    """A venv to build: a directory name, a Python version and pip requirement lines."""

    name: str
    python: str
    requirements: tuple[str, ...]
    image_ref: str | None = None

    @property
    def path(self) -> Path:
        return VENVS_DIR / self.name

    @property
    def bin_dir(self) -> Path:
        return self.path / "bin"

    @property
    def python_exe(self) -> Path:
        return self.bin_dir / "python"

    @property
    def stamp(self) -> str:
        return "\n".join((f"python={self.python}", *self.requirements)) + "\n"

    def is_ready(self) -> bool:
        """True when the venv exists and was completely built from these requirements."""
        stamp = self.path / STAMP_NAME
        return self.python_exe.exists() and stamp.exists() and stamp.read_text() == self.stamp


def _load_images_module() -> ModuleType:
    """Load images.py by path (no dependency on cdk8s or on how ``sys.path`` is set up)."""
    name = "_runtime_images"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, IMAGES_PY)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {IMAGES_PY}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def image_specs() -> dict[str, object]:
    """The Python ``ImageSpec`` objects declared in images.py (those with ``python``), by variable name."""
    module = _load_images_module()
    image_spec_cls = module.ImageSpec
    return {k: v for k, v in vars(module).items() if isinstance(v, image_spec_cls) and v.python}


def image_venvs() -> dict[str, VenvSpec]:
    """Image reference (``registry/name:tag``) -> the venv that stands in for that image."""
    result = {}
    for spec in image_specs().values():
        result[spec.ref] = VenvSpec(
            name=f"{spec.name}-{spec.tag}",
            python=spec.python,
            requirements=tuple(spec.requirements),
            image_ref=spec.ref,
        )
    return result


def client_venv() -> VenvSpec:
    """The venv for test clients (not an image)."""
    return VenvSpec(name="client", python=CLIENT_PYTHON, requirements=CLIENT_REQUIREMENTS)


def old_release_venv(name: str) -> VenvSpec:
    """The venv of an old release (a key of ``OLD_RELEASES``), for the upgrade scenarios."""
    python, requirements = OLD_RELEASES[name]
    return VenvSpec(name=name, python=python, requirements=requirements)


def all_venvs() -> list[VenvSpec]:
    return [*image_venvs().values(), client_venv(), *map(old_release_venv, OLD_RELEASES)]


def venv_for_image(image: str) -> VenvSpec | None:
    """The venv for an image reference, or None when no ImageSpec declares that image."""
    return image_venvs().get(image)


def missing_venvs() -> list[VenvSpec]:
    """Venvs that are not (completely) built yet."""
    return [v for v in all_venvs() if not v.is_ready()]


def venvs_ready() -> bool:
    return not missing_venvs()


def _python_version_of(exe: str) -> str | None:
    try:
        out = subprocess.run(
            [exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def find_python(version: str) -> str:
    """Find an interpreter for ``version`` (e.g. "3.12"): PATH, then pyenv, then pyenv's versions dir.

    A pyenv shim on PATH may exist and still fail (the version is not the active one), so every
    candidate is run and its version checked.
    """
    candidates: list[str] = []
    on_path = shutil.which(f"python{version}")
    if on_path:
        candidates.append(on_path)
    if shutil.which("pyenv"):
        out = subprocess.run(["pyenv", "which", f"python{version}"], capture_output=True, text=True, check=False)
        if out.returncode == 0 and out.stdout.strip():
            candidates.append(out.stdout.strip())
    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    for root in dict.fromkeys((pyenv_root, "/root/.pyenv")):
        candidates += sorted(glob.glob(f"{root}/versions/{version}.*/bin/python{version}"), reverse=True)
        candidates += sorted(glob.glob(f"{root}/versions/{version}/bin/python{version}"))
    for system in (f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"):
        candidates.append(system)
    for exe in dict.fromkeys(candidates):
        if os.path.exists(exe) and _python_version_of(exe) == version:
            return exe
    raise RuntimeError(f"no Python {version} found (looked at: {', '.join(dict.fromkeys(candidates))})")


def build_venv(venv: VenvSpec, log=print) -> float:
    """Create (or rebuild) one venv; returns the seconds it took (0 when already complete)."""
    if venv.is_ready():
        log(f"[venvs] {venv.name}: up to date")
        return 0.0
    started = time.monotonic()
    python = find_python(venv.python)
    log(f"[venvs] {venv.name}: building with {python} ({len(venv.requirements)} requirements)")
    if venv.path.exists():
        shutil.rmtree(venv.path)
    venv.path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([python, "-m", "venv", str(venv.path)], check=True)
    pip = [str(venv.python_exe), "-m", "pip", "install", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, *venv.requirements], check=True)
    subprocess.run([str(venv.python_exe), "-m", "pip", "check"], check=False)
    (venv.path / STAMP_NAME).write_text(venv.stamp)
    took = time.monotonic() - started
    log(f"[venvs] {venv.name}: done in {took:.0f} s")
    return took


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report which venvs are missing")
    parser.add_argument("--list", action="store_true", help="print image -> venv mapping")
    args = parser.parse_args(argv)
    if args.list or args.check:
        for venv in all_venvs():
            state = "ready" if venv.is_ready() else "MISSING"
            print(f"{venv.image_ref or '(test only)'} -> {venv.path} [{state}]")
        return 0 if (args.list or venvs_ready()) else 1
    total = 0.0
    for venv in all_venvs():
        total += build_venv(venv)
    print(f"[venvs] all venvs ready ({total:.0f} s spent building)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
