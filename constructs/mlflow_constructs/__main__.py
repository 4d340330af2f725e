"""``python -m mlflow_constructs`` / ``mlflow-k8s``: the same command line as ``python app.py``, run from the folder
that holds ``config/`` (``dist/`` and ``docs/environments/`` are written beside it)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mlflow_constructs import cli


def run() -> int:
    # jsii prints a banner about the Node release on every start; the output is meant to stay clean.
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,19,20,21")
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    return cli.main(None, root=Path.cwd())


if __name__ == "__main__":
    sys.exit(run())
