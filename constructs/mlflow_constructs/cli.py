"""The command line of ``app.py``: one parser, four subcommands (``synth`` when none is named).

    python app.py [synth] [env ...]         write dist/[<cluster>/]<env>.k8s.yaml and docs/environments/<env>.md
    python app.py check [env ...]           are they what synthesis writes? (also: python app.py --check)
    python app.py diff [env ...]            what the change does to a live cluster, object by object
    python app.py explain <env> | --write   what an environment deploys and needs

:data:`EXIT_CODES` is the one list of exit codes (the README table and ``--help`` show it).
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from mlflow_constructs.config.errors import ConfigError
from mlflow_constructs.review.commands import DOCS_DIR, EXIT_DATA_LOSS, diff, explain, page_drift, write_pages
from mlflow_constructs.synth import RESERVED_NAMES, Drift, check, select, synthesize
from mlflow_constructs.synth_cache import CACHE_ENV, cache_for
from mlflow_constructs.typing_memo import remember_subscriptions

SUBCOMMANDS = RESERVED_NAMES  # no environment may take these names
EXIT_CODES = {
    0: "done; `check`: up to date; `diff --exit-code`: no change",
    1: "`check`: dist/ or docs/environments/ is out of date; `diff --exit-code`: changes, none losing data",
    2: "bad config (file, key and fix printed; nothing written), unknown environment or git revision, bad usage",
    EXIT_DATA_LOSS: "`diff --exit-code`: a change loses data (a PVC, database or artifact store pruned, replaced or "
    "switched)",
}
HELP_WIDTH = 100
HELP_EPILOG = "exit codes:\n" + "\n".join(
    textwrap.fill(text, HELP_WIDTH, initial_indent=f"  {code}  ", subsequent_indent="     ")
    for code, text in EXIT_CODES.items()
)


def docs_dir_for(outdir: Path) -> Path:
    """Environment pages go to ``docs/environments/`` beside ``dist/``."""
    return outdir.parent / DOCS_DIR


def run_synth(args: argparse.Namespace, root: Path) -> int:
    if args.check:
        return run_check(args, root)
    cache = cache_for(root, disabled=args.no_cache)
    written = synthesize(args.config_dir, args.outdir, args.envs or None, cache=cache)
    sources = select(args.config_dir, args.envs or None)
    pages = write_pages(written, sources, args.docs_dir or docs_dir_for(args.outdir), root, cache)
    for path in [*written, *pages]:
        print(f"wrote {os.path.relpath(path)}")
    return 0


def run_check(args: argparse.Namespace, root: Path) -> int:
    """Print what differs between ``dist/`` (and the environment pages) and a fresh synthesis; 1 if anything does."""
    cache = cache_for(root, disabled=args.no_cache)
    drift = check(args.config_dir, args.outdir, args.envs or None, cache=cache)
    docs = args.docs_dir or docs_dir_for(args.outdir)
    pages = page_drift(drift, select(args.config_dir, args.envs or None), docs, root, cache)
    where, pages_at = os.path.relpath(args.outdir), os.path.relpath(docs)
    if not drift and not pages:
        print(f"{where}/ and {pages_at}/ are up to date ({drift.checked} environment(s))")
        return 0
    report_drift(drift, where)
    for name, state in pages.items():
        print(f"{state + ':':8} {name} ({pages_at}/{name}.md)")
    print(f"{where}/ or {pages_at}/ is out of date: run `python app.py` and commit the result", file=sys.stderr)
    return 1


def report_drift(drift: Drift, where: str) -> None:
    for name, path in drift.changed.items():
        print(f"changed: {name} ({where}/{path})")
    for name, path in drift.missing.items():
        print(f"missing: {name} ({where}/{path})")
    for path in drift.stale:
        print(f"stale:   {where}/{path} (no environment writes it)")


def parser(root: Path, outdir: Path) -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="app.py",
        description=textwrap.fill(
            "Synthesize MLflow environments (config/<env>.yaml) into Kubernetes YAML (dist/) and review the result. "
            "Without a subcommand, `synth` runs: `python app.py`, `python app.py <env> ...`, `python app.py --check`.",
            HELP_WIDTH,
        ),
        epilog=HELP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = top.add_subparsers(dest="command", metavar="{synth,check,diff,explain}", required=True)
    commands: dict[str, tuple[str, str, Callable[[argparse.Namespace, Path], int]]] = {
        "synth": (
            "write dist/[<cluster>/]<env>.k8s.yaml and docs/environments/<env>.md (the default)",
            "Validate every selected environment, then write its manifests to dist/ (atomically: on any error "
            "dist/ stays as it was) and its page to docs/environments/.",
            run_synth,
        ),
        "check": (
            "is dist/ (and each page) what synthesis writes? exit 1 if not; writes nothing (the CI gate)",
            "Synthesize into a scratch folder and compare with dist/ and docs/environments/: changed, missing and "
            "stale files.",
            run_check,
        ),
        "diff": (
            "what synthesizing now would do to a live cluster: data loss, recreated, rollout, in place",
            "Compare a fresh synthesis with dist/ (or dist/ at a git revision) object by object and classify each "
            "change by its consequence, worst first.",
            diff,
        ),
        "explain": (
            "what an environment deploys and needs, as Markdown with a Mermaid diagram",
            "Describe an environment from its synthesized objects; --write regenerates docs/environments/ for "
            "every environment of config/ and examples/.",
            explain,
        ),
    }
    for name, (summary, description, handler) in commands.items():
        command = sub.add_parser(
            name,
            help=summary,
            description=textwrap.fill(description, HELP_WIDTH),
            epilog=HELP_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.set_defaults(handler=handler)
        command.add_argument(
            "envs", nargs="*", metavar="env", help="environment names (file names without .yaml); default: all"
        )
        default_dir = root / "config" if name in ("synth", "check") else None
        where = "config/ and examples/" if name == "explain" else "config/"
        command.add_argument(
            "--config-dir", type=Path, default=default_dir, help=f"folder of environment files (default: {where})"
        )
        if name != "explain":
            command.add_argument("--outdir", type=Path, default=outdir, help="the output folder (default: dist/)")
        command.add_argument(
            "--no-cache",
            action="store_true",
            help=f"synthesize every environment, even one unchanged since the last run (or {CACHE_ENV}=off)",
        )
        if name in ("synth", "check", "explain"):
            command.add_argument(
                "--docs-dir", type=Path, help="where environment pages go (default: docs/environments/ beside dist/)"
            )
    synth, diff_command, explain_command = sub.choices["synth"], sub.choices["diff"], sub.choices["explain"]
    synth.add_argument("--check", action="store_true", help="same as `python app.py check`")
    diff_command.add_argument("--base", metavar="REV", help="compare with dist/ as it is at this git revision")
    diff_command.add_argument(
        "--exit-code",
        action="store_true",
        help=f"exit {EXIT_DATA_LOSS} when a change loses data, 1 when anything else changed",
    )
    explain_command.add_argument("--write", action="store_true", help=f"write {DOCS_DIR}/<env>.md (default: all)")
    return top


def main(argv: list[str] | None, *, root: Path) -> int:
    # jsii prints a banner about the Node release on every start; the output is meant to stay clean. Set before
    # synthesis starts node (and before its worker processes fork, which inherit it).
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,19,20,21")
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    remember_subscriptions()  # a fifth of synthesis' time (see typing_memo)
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or (argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help")):
        argv.insert(0, "synth")  # `python app.py`, `python app.py prod`, `python app.py --check`
    outdir = Path(os.environ.get("CDK8S_OUTDIR", root / "dist"))
    args = parser(root, outdir).parse_args(argv)
    if not args.envs and args.command in ("synth", "check"):
        args.envs = [n.strip() for n in os.environ.get("MLFLOW_ENVS", "").split(",") if n.strip()]
    try:
        return args.handler(args, root)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
