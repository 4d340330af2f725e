"""``python app.py diff`` and ``python app.py explain``: the review subcommands of ``app.py``.

The only module of this package that synthesizes (through :mod:`mlflow_constructs.synth`); the others
work on the resulting objects.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from mlflow_constructs.config.errors import ConfigError
from mlflow_constructs.review.baseline import DirectoryBaseline, GitBaseline
from mlflow_constructs.review.diff import diff_objects
from mlflow_constructs.review.environments import environment_files, outputs_in
from mlflow_constructs.review.objects import Obj, load_documents
from mlflow_constructs.review.render import EnvironmentReport, render
from mlflow_constructs.synth import RESERVED_NAMES, discover

SUBCOMMANDS = RESERVED_NAMES
DOCS_DIR = Path("docs") / "environments"


def synthesize_objects(sources: dict[str, Path]) -> dict[str, list[Obj]]:
    """Environment name -> its objects, exactly as ``python app.py`` would write them (in a temporary
    directory; nothing in ``dist/`` is touched)."""
    from mlflow_constructs.synth import synthesize  # noqa: PLC0415  (starts cdk8s only when needed)

    by_folder: dict[Path, list[str]] = defaultdict(list)
    for name, path in sources.items():
        by_folder[path.parent].append(name)
    with tempfile.TemporaryDirectory(prefix="mlflow-review-") as tmp:
        outdir = Path(tmp) / "dist"
        for folder, names in by_folder.items():
            synthesize(folder, outdir, names)
        written = outputs_in(outdir)
        return {name: load_documents(written[name].read_text()) for name in sources}


def _sources(root: Path, config_dir: Path | None) -> dict[str, Path]:
    return discover(config_dir) if config_dir else environment_files(root)


def diff(args: argparse.Namespace, root: Path) -> int:
    # What `python app.py` writes to dist/: config/ unless another folder is named.
    sources = discover(args.config_dir or root / "config")
    baseline = GitBaseline(args.outdir, args.base) if args.base else DirectoryBaseline(args.outdir)
    previous = baseline.names()
    if args.envs:
        unknown = [n for n in args.envs if n not in sources and n not in previous]
        if unknown:
            raise ConfigError(
                f"unknown environment(s) {', '.join(unknown)}: neither an environment file nor in the previous "
                f"output; available: {', '.join(sources)}"
            )
        names = list(dict.fromkeys(args.envs))
    else:
        names = [*sources, *(n for n in previous if n not in sources)]
    fresh = synthesize_objects({n: sources[n] for n in names if n in sources})
    reports = []
    for name in names:
        text = baseline.text(name)
        before = load_documents(text) if text is not None else []
        verdicts = diff_objects(before, fresh.get(name, []))
        reports.append(
            EnvironmentReport(name, baseline.describe(name), verdicts, new=text is None, gone=name not in fresh)
        )
    colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    sys.stdout.write(render(reports, colour=colour))
    return 1 if args.exit_code and any(r.verdicts for r in reports) else 0


def explain(args: argparse.Namespace, root: Path) -> int:
    from mlflow_constructs.review.explain import explain_environment  # noqa: PLC0415

    sources = _sources(root, args.config_dir)
    names = list(dict.fromkeys(args.envs)) or (list(sources) if args.write else [])
    if not names:
        raise ConfigError(f"name an environment (available: {', '.join(sources)}), or write them all with --write")
    unknown = [n for n in names if n not in sources]
    if unknown:
        raise ConfigError(f"unknown environment(s) {', '.join(unknown)}; available: {', '.join(sources)}")
    objects = synthesize_objects({n: sources[n] for n in names})
    if not args.write:
        for name in names:
            sys.stdout.write(explain_environment(name, objects[name], source=_display(sources[name], root)))
        return 0
    docs = args.docs_dir or root / DOCS_DIR
    docs.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = docs / f"{name}.md"
        path.write_text(explain_environment(name, objects[name], source=_display(sources[name], root)))
        print(f"wrote {_display(path, Path.cwd())}")
    return 0


def render_docs(root: Path) -> dict[str, str]:
    """File name in ``docs/environments/`` -> its text, for every environment (what ``--write`` writes)."""
    from mlflow_constructs.review.explain import explain_environment  # noqa: PLC0415

    sources = environment_files(root)
    objects = synthesize_objects(sources)
    return {f"{n}.md": explain_environment(n, objects[n], source=_display(p, root)) for n, p in sources.items()}


def _display(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(path)


def main(argv: list[str], *, root: Path, outdir: Path) -> int:
    """``argv`` starts with the subcommand."""
    parser = argparse.ArgumentParser(prog="app.py", description="Review synthesized environments.")
    sub = parser.add_subparsers(dest="command", required=True)
    diff_parser = sub.add_parser(
        "diff",
        help="what synthesizing now would change in dist/ (or at a git revision), object by object",
        description="Compare a fresh synthesis with dist/ and say what each change does to a live cluster.",
    )
    diff_parser.add_argument("envs", nargs="*", help="environment names (default: all)")
    diff_parser.add_argument("--base", metavar="REV", help="compare with dist/ as it is at this git revision")
    diff_parser.add_argument("--exit-code", action="store_true", help="exit 1 when anything changed")
    explain_parser = sub.add_parser(
        "explain",
        help="what an environment deploys and needs, as Markdown with a Mermaid diagram",
        description="Describe an environment from its synthesized objects.",
    )
    explain_parser.add_argument("envs", nargs="*", help="environment names")
    explain_parser.add_argument("--write", action="store_true", help=f"write {DOCS_DIR}/<env>.md (default: all)")
    explain_parser.add_argument("--docs-dir", type=Path, help=f"where --write writes (default: {DOCS_DIR})")
    for p in (diff_parser, explain_parser):
        p.add_argument("--config-dir", type=Path, help="only the environments of this folder")
    diff_parser.add_argument("--outdir", type=Path, default=outdir, help="the output to compare with (dist/)")
    args = parser.parse_args(argv)
    try:
        return {"diff": diff, "explain": explain}[args.command](args, root)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
