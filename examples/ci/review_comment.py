"""The pull-request comment of examples/ci/gitops-check.yml, printed to stdout.

    GATE=success TESTS=failure DIFF=success TEST_MARKERS=... LEFT_OUT=... RUN_URL=... \
        python3 examples/ci/review_comment.py review-diff.txt gate.log tests.log > review-comment.md

It starts with a hidden marker (the workflow finds its earlier comment by it and edits that one), says how
each step ended, which test suites ran and which were left out, shows the end of a failing step's log and
then the review diff. Every block is a code fence longer than any run of backticks inside it, cut at a line end
and closed, so a long report never leaves a fence open; the body stays under GitHub's 65536 characters.
Standard library only: it runs before (or without) the project's virtual environment.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

MARKER = "<!-- mlflow-k8s-review -->"
LIMIT = 60000  # for the diff; GitHub refuses comment bodies over 65536 characters
LOG_LIMIT = 2000  # for the end of a failing step's log
OUTCOMES = {"success": "passed", "failure": "FAILED", "skipped": "skipped", "cancelled": "cancelled", "": "not run"}


def fenced(text: str, limit: int, *, tail: bool = False) -> str:
    """``text`` in a closed code fence, cut at a line end to at most ``limit`` characters (its end when
    ``tail``), saying how many lines were left out."""
    if len(text) > limit:
        if tail:
            kept = text[text.find("\n", len(text) - limit) + 1 :]
            text = f"... {text[: len(text) - len(kept)].count(chr(10))} earlier lines in the job log\n{kept}"
        else:
            kept = text[: text.rfind("\n", 0, limit) + 1]
            text = f"{kept}... {text[len(kept) :].count(chr(10))} more lines in the job log\n"
    if text and not text.endswith("\n"):
        text += "\n"
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return f"{fence}text\n{text}{fence}"


def read(path: str) -> str:
    file = Path(path)
    return file.read_text(errors="replace") if file.is_file() else "(no output)\n"


def body(diff: str, logs: dict[str, str], env: dict[str, str]) -> str:
    def outcome(step: str) -> str:
        return OUTCOMES.get(env.get(step, ""), env.get(step, ""))

    lines = [
        MARKER,
        "### gitops-check",
        "",
        f"- `python app.py check` (dist/ and docs/environments/ are what config/ synthesizes): {outcome('GATE')}",
        f'- tests, `pytest -m "{env.get("TEST_MARKERS", "")}"`: {outcome("TESTS")}; '
        f"left out: {env.get('LEFT_OUT', '')}",
        f"- `python app.py diff`: {outcome('DIFF')}; [job log]({env.get('RUN_URL', '')})",
        "",
    ]
    for step, log in logs.items():
        if env.get(step) == "failure":
            lines += [
                f"<details><summary>{step.lower()}: end of the log</summary>",
                "",
                fenced(log, LOG_LIMIT, tail=True),
            ]
            lines += ["", "</details>", ""]
    lines += ["#### What this pull request does to a live cluster", "", fenced(diff, LIMIT), ""]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    diff, gate, tests = argv
    sys.stdout.write(body(read(diff), {"GATE": read(gate), "TESTS": read(tests)}, dict(os.environ)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
