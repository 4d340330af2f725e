"""Which environments a repository has, and where each one's output goes."""

from __future__ import annotations

from pathlib import Path

from mlflow_constructs.config.errors import ConfigError
from mlflow_constructs.synth import OUTPUT_SUFFIX, discover

# Folders of environment files, in order; missing ones are skipped.
ENVIRONMENT_DIRS = ("config", "examples")


def environment_files(root: Path) -> dict[str, Path]:
    """Environment name -> file, for every environment of the repository at ``root``."""
    found: dict[str, Path] = {}
    for folder in ENVIRONMENT_DIRS:
        if not (root / folder).is_dir():
            continue
        for name, path in discover(root / folder).items():
            if name in found:
                raise ConfigError(f"environment {name!r} is defined twice: {found[name]} and {path}; rename one")
            found[name] = path
    return found


def output_files(paths: list[str]) -> dict[str, str]:
    """Environment name -> output path, for the paths (relative to ``dist/``) that are environment files:
    ``<env>.k8s.yaml`` or ``<cluster>/<env>.k8s.yaml``."""
    found = {}
    for path in sorted(paths):
        parts = path.split("/")
        if len(parts) <= 2 and parts[-1].endswith(OUTPUT_SUFFIX):
            found[parts[-1].removesuffix(OUTPUT_SUFFIX)] = path
    return found


def outputs_in(outdir: Path) -> dict[str, Path]:
    """Environment name -> its file in ``outdir`` (top level or one cluster folder down)."""
    if not outdir.is_dir():
        return {}
    paths = [p.relative_to(outdir).as_posix() for p in outdir.rglob(f"*{OUTPUT_SUFFIX}")]
    return {name: outdir / path for name, path in output_files(paths).items()}
