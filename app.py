"""Synthesize MLflow environments (``config/<env>.yaml``) into Kubernetes YAML (``dist/<env>.k8s.yaml``).

    python app.py                 # every environment in config/ (dist/<cluster>/<env>.k8s.yaml with `cluster:`)
    python app.py default prod    # only these (others already in dist/ are kept)
    MLFLOW_ENVS=prod python app.py
    python app.py diff [env ...] [--base REV] [--exit-code]   # what the change does to a live cluster
    python app.py explain <env> | --write                      # what an environment deploys and needs
    python app.py --config-dir examples --outdir /tmp/examples   # the shipped examples
    python app.py --check         # is dist/ what synthesis writes? exit 1 if not; writes nothing

A config error prints what to fix and exits 2; dist/ is then left exactly as it was.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# jsii prints a banner about the Node release on every start; the output is meant to stay clean.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,19,20,21")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

ROOT = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT / "constructs"), str(ROOT)]

from mlflow_constructs.config import ConfigError  # noqa: E402
from mlflow_constructs.review.commands import SUBCOMMANDS  # noqa: E402
from mlflow_constructs.review.commands import main as review_main  # noqa: E402
from mlflow_constructs.synth import Drift, check, synthesize  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # --- review subcommands (diff, explain); everything else is synthesis as before ---
    if argv and argv[0] in SUBCOMMANDS:
        return review_main(argv, root=ROOT, outdir=Path(os.environ.get("CDK8S_OUTDIR", ROOT / "dist")))
    # --- end of review subcommands ---
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("envs", nargs="*", help="environment names (file names in config/ without .yaml)")
    parser.add_argument("--config-dir", type=Path, default=ROOT / "config")
    parser.add_argument("--outdir", type=Path, default=Path(os.environ.get("CDK8S_OUTDIR", ROOT / "dist")))
    parser.add_argument(
        "--check", action="store_true", help="compare dist/ with what would be written; exit 1 if it differs"
    )
    args = parser.parse_args(argv)
    names = args.envs or [n for n in os.environ.get("MLFLOW_ENVS", "").split(",") if n.strip()]
    selected = [n.strip() for n in names] or None
    try:
        if args.check:
            return report_drift(check(args.config_dir, args.outdir, selected), args.outdir)
        written = synthesize(args.config_dir, args.outdir, selected)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {os.path.relpath(path)}")
    return 0


def report_drift(drift: Drift, outdir: Path) -> int:
    """Print what differs between ``outdir`` and the synthesis (the CI gate); 1 if anything does."""
    where = os.path.relpath(outdir)
    if not drift:
        print(f"{where}/ is up to date ({drift.checked} environment(s))")
        return 0
    for name, path in drift.changed.items():
        print(f"changed: {name} ({where}/{path})")
    for name, path in drift.missing.items():
        print(f"missing: {name} ({where}/{path})")
    for path in drift.stale:
        print(f"stale:   {where}/{path} (no environment writes it)")
    print(f"{where}/ is out of date: run `python app.py` and commit the result", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
