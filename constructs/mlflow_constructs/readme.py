"""README sections generated from the code, so they cannot drift from it: the table of contents, the command
line (subcommands, options, exit codes: :mod:`mlflow_constructs.cli`), the verdict table of ``python app.py diff``
(the rule table, :mod:`mlflow_constructs.review.rules`) and its example reports, each a real run on
``config/default.yaml``.

``python -m mlflow_constructs.readme --write`` rewrites them (``make docs``); ``--check`` exits 1 when one differs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from mlflow_constructs.cli import EXIT_CODES, parser
from mlflow_constructs.review.rules import CLASSES, RULES

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
COMMAND = "python -m mlflow_constructs.readme --write"
S3_EXAMPLE = {"type": "s3", "s3": {"bucket": "team-ml", "prefix": "mlflow", "region": "eu-west-1"}}
# The diff examples: what is changed in config/default.yaml, and how the README introduces it.
EXAMPLES: dict[str, tuple[str, Callable[[dict[str, Any]], None]]] = {
    "diff example upgrade": (
        "`server.image: ghcr.io/mlflow/mlflow:v3.18.0-full` and `database.bundled.storage_size: 20Gi`",
        lambda c: c.update(
            server={**c.get("server", {}), "image": "ghcr.io/mlflow/mlflow:v3.18.0-full"},
            database={"bundled": {"storage_size": "20Gi"}},
        ),
    ),
    "diff example data loss": (
        "`artifacts: {type: s3, s3: {bucket: team-ml, prefix: mlflow, region: eu-west-1}}` (the bundled MinIO "
        "replaced by S3)",
        lambda c: c.update(artifacts=S3_EXAMPLE),
    ),
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _help_cell(text: str) -> str:
    """Help text as a table cell: paths (``dist/[<cluster>/]<env>.k8s.yaml``) as code, so Markdown keeps ``<>``."""
    return _cell(re.sub(r"(?<![`\w])([\w.\[\]<>-]*/[\w.\[\]<>/-]*)", r"`\1`", text))


def cli_section() -> str:
    """The subcommands with their options, then the exit codes."""
    top = parser(ROOT, ROOT / "dist")
    lines = ["| command | what it does | options |", "| --- | --- | --- |"]
    for action in top._subparsers._group_actions:  # noqa: SLF001  (argparse keeps them here)
        for choice in action._choices_actions:  # noqa: SLF001
            command = action.choices[choice.dest]
            options = [
                f"`{', '.join(a.option_strings)}`{f' {a.metavar}' if a.metavar else ''}: {a.help}"
                for a in command._actions  # noqa: SLF001
                if a.option_strings and a.dest != "help"
            ]
            usage = f"`python app.py {choice.dest} [env ...]`"
            lines.append(f"| {usage} | {_help_cell(choice.help or '')} | {_help_cell('; '.join(options))} |")
    lines += ["", "| exit | when |", "| --- | --- |"]
    lines += [f"| {code} | {_help_cell(text)} |" for code, text in EXIT_CODES.items()]
    return "\n".join(lines)


def verdict_section() -> str:
    lines = ["| class | verdict | when |", "| --- | --- | --- |"]
    for cls in CLASSES:
        lines += [f"| `{cls}` | {rule.label} | {_cell(rule.when)} |" for rule in RULES if rule.cls == cls]
    return "\n".join(lines)


def diff_example(change: Callable[[dict[str, Any]], None]) -> str:
    """``python app.py diff default`` after ``change`` to config/default.yaml, run in a scratch copy whose dist/
    is what synthesis writes now."""
    from mlflow_constructs import cli  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="mlflow-readme-") as tmp:
        work = Path(tmp)
        (work / "config").mkdir()
        shutil.copy(ROOT / "config" / "default.yaml", work / "config" / "default.yaml")
        paths = ["--config-dir", str(work / "config"), "--outdir", str(work / "dist")]
        with contextlib.chdir(work), contextlib.redirect_stdout(io.StringIO()):
            if cli.main(["synth", "default", *paths], root=ROOT) != 0:
                raise RuntimeError("config/default.yaml does not synthesize: fix it before regenerating the README")
        config = yaml.safe_load((work / "config" / "default.yaml").read_text()) or {}
        change(config)
        (work / "config" / "default.yaml").write_text(yaml.safe_dump(config))
        out = io.StringIO()
        with contextlib.chdir(work), contextlib.redirect_stdout(out):
            cli.main(["diff", "default", *paths], root=ROOT)
    return "```text\n$ python app.py diff default\n" + out.getvalue() + "```"


def sections() -> dict[str, str]:
    found = {"cli": cli_section(), "diff verdicts": verdict_section()}
    found.update({name: diff_example(change) for name, (_, change) in EXAMPLES.items()})
    return found


def begin(name: str) -> str:
    return f"<!-- BEGIN GENERATED {name.upper()} ({COMMAND}) -->"


def end(name: str) -> str:
    return f"<!-- END GENERATED {name.upper()} -->"


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as ``-``."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def contents_section(readme: str) -> str:
    """The table of contents: every ``##`` heading, with its ``###`` headings nested (code blocks skipped)."""
    lines, fenced = [], False
    for line in readme.splitlines():
        fenced = fenced != line.startswith("```")
        level = len(line) - len(line.lstrip("#")) if not fenced and line.startswith("##") else 0
        title = line[level:].strip()
        if level in (2, 3) and title != "Contents":
            lines.append(f"{'  ' * (level - 2)}- [{title}](#{anchor(title)})")
    return "\n".join(lines)


def _replace(current: str, name: str, body: str) -> str:
    start, stop = current.index(begin(name)), current.index(end(name))
    return current[: start + len(begin(name))] + "\n\n" + body + "\n\n" + current[stop:]


def readme_text(current: str, generated: dict[str, str] | None = None) -> str:
    """``current`` with every generated section replaced by what the code says now, then its contents."""
    for name, body in (generated or sections()).items():
        current = _replace(current, name, body)
    return _replace(current, "contents", contents_section(current))


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = args.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite the README's generated sections")
    mode.add_argument("--check", action="store_true", help="exit 1 when a generated section is stale")
    options = args.parse_args(argv)
    current = README.read_text(encoding="utf-8")
    expected = readme_text(current)
    if options.check:
        if expected != current:
            print(f"README.md: generated sections are stale; run: {COMMAND} (or make docs)", file=sys.stderr)
            return 1
        return 0
    README.write_text(expected, encoding="utf-8")
    print(f"wrote {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
