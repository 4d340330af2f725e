"""Synthesize MLflow environments (``config/<env>.yaml``) into Kubernetes YAML (``dist/<env>.k8s.yaml``) and
review the result; ``python app.py --help`` lists the subcommands (see :mod:`mlflow_constructs.cli`).

    python app.py                 # every environment in config/ (dist/<cluster>/<env>.k8s.yaml with `cluster:`)
    python app.py default prod    # only these (others already in dist/ are kept)
    python app.py check           # is dist/ what synthesis writes? exit 1 if not; writes nothing (or --check)
    python app.py diff [env ...] [--base REV] [--exit-code]   # what the change does to a live cluster
    python app.py explain <env> | --write                      # what an environment deploys and needs

A config error prints what to fix and exits 2; dist/ is then left exactly as it was.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT / "constructs"), str(ROOT)]

from mlflow_constructs import cli  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    return cli.main(argv, root=ROOT)


if __name__ == "__main__":
    sys.exit(main())
