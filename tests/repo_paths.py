"""Where things are, for tests: the repository, its config/ and the shared folder beside it."""

from __future__ import annotations

from pathlib import Path

from mlflow_constructs.synth import discover

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "config"
SHARED = REPO.parent / "shared"


def shipped_environments() -> list[str]:
    return list(discover(CONFIG))
