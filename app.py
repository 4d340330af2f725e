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

import os
import sys
from pathlib import Path

# jsii's Python bindings check the type of every argument of every cdk8s call (typeguard) when assertions are
# on: about half of synthesis' CPU time. Our calls are checked by the test suite, which runs with them; a run
# of app.py restarts itself with -O (skipping them and our asserts, which never do the work of a check) unless
# MLFLOW_K8S_TYPE_CHECKS=1. Before any import, so the restart costs only the interpreter's start.
if __name__ == "__main__" and __debug__ and sys.executable and os.environ.get("MLFLOW_K8S_TYPE_CHECKS") != "1":
    os.execv(sys.executable, [sys.executable, "-O", *sys.orig_argv[1:]])

ROOT = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT / "constructs"), str(ROOT)]

from mlflow_constructs import cli  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    return cli.main(argv, root=ROOT)


if __name__ == "__main__":
    sys.exit(main())
