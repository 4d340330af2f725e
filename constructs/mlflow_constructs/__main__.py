"""``python -m mlflow_constructs`` / ``mlflow-k8s``: the same command line as ``python app.py``, run from the folder
that holds ``config/`` (``dist/`` and ``docs/environments/`` are written beside it)."""

from __future__ import annotations

import sys
from pathlib import Path

from mlflow_constructs import cli


def run() -> int:
    return cli.main(None, root=Path.cwd())


if __name__ == "__main__":
    sys.exit(run())
