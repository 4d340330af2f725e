"""Where things are, for tests: the repository, its config/ (the user's environments) and examples/."""

from __future__ import annotations

from pathlib import Path

from mlflow_constructs.synth import discover

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "config"
EXAMPLES = REPO / "examples"
# Every folder of environments the tests synthesize, each as its own run (as `python app.py --config-dir`).
ENVIRONMENT_DIRS = (CONFIG, EXAMPLES)


def shipped_environments() -> list[str]:
    """Every environment in config/ and examples/ (names are unique across both: a clash is an error)."""
    return list(discover(*ENVIRONMENT_DIRS))


def environment_file(name: str) -> Path:
    """``config/<name>.yaml`` or ``examples/<name>.yaml``, wherever the environment is."""
    return discover(*ENVIRONMENT_DIRS)[name]
