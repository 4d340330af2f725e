"""The text of a ``python app.py diff`` report: one line per verdict, grouped by environment."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mlflow_constructs.review.diff import ADDED, IMMUTABLE, IN_PLACE, REMOVED, Verdict

_RED, _YELLOW, _GREEN, _BOLD, _RESET = "\033[31m", "\033[33m", "\033[32m", "\033[1m", "\033[0m"
_COLOURS = {IMMUTABLE: _RED, REMOVED: _RED, ADDED: _GREEN, IN_PLACE: ""}
LABEL_WIDTH = 24


@dataclass(frozen=True)
class EnvironmentReport:
    name: str
    baseline: str  # where the previous output came from, e.g. dist/default.k8s.yaml or HEAD:dist/...
    verdicts: Sequence[Verdict]
    new: bool = False  # not in the baseline
    gone: bool = False  # in the baseline only


def _paint(text: str, colour: str, enabled: bool) -> str:
    return f"{colour}{text}{_RESET}" if enabled and colour else text


def render(reports: Sequence[EnvironmentReport], *, colour: bool = False) -> str:
    """The report; ANSI colours only when ``colour`` (the caller checks for a terminal and NO_COLOR)."""
    lines: list[str] = []
    for report in reports:
        if report.new:
            state = f"new environment (not in {report.baseline})"
        elif report.gone:
            state = f"environment removed (only in {report.baseline})"
        else:
            state = f"compared with {report.baseline}"
        count = len(report.verdicts)
        summary = f"{count} change{'s' if count != 1 else ''}" if count else "no change"
        lines.append(_paint(f"{report.name}: {summary}, {state}", _BOLD, colour))
        for verdict in report.verdicts:
            label = _paint(verdict.label.ljust(LABEL_WIDTH), _COLOURS.get(verdict.kind, _YELLOW), colour)
            lines.append(f"  {label} {verdict.ref}: {verdict.detail}")
    changed = [r for r in reports if r.verdicts]
    failing = sum(v.kind == IMMUTABLE for r in reports for v in r.verdicts)
    total = f"{len(reports)} environment{'s' if len(reports) != 1 else ''}: "
    total += f"{len(changed)} changed" if changed else "nothing changed"
    if failing:
        total += _paint(f", {failing} immutable field change(s): the apply will fail until resolved", _RED, colour)
    lines.append(total)
    return "\n".join(lines) + "\n"
