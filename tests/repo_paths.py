"""Where things are, for tests: the repository and its config/."""

from __future__ import annotations

from pathlib import Path

from mlflow_constructs.synth import discover

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "config"


def shipped_environments() -> list[str]:
    return list(discover(CONFIG))
