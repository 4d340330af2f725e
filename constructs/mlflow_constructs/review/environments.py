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


def output_file(outdir: Path, name: str) -> Path:
    """Where ``python app.py`` writes an environment (relative to ``outdir``)."""
    return outdir / f"{name}{OUTPUT_SUFFIX}"


def output_names(files: list[str]) -> list[str]:
    """Environment names of output file names (the inverse of :func:`output_file`)."""
    return sorted(f.removesuffix(OUTPUT_SUFFIX) for f in files if f.endswith(OUTPUT_SUFFIX))
